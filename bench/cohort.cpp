// bench/cohort: score and explain a synthetic cohort of full-size (198³) subjects on the CPU, and the
// same subjects with their tensors already in memory, in one run:
//
//   pipeline   `explain --cohort` as users run it: readers decode NIfTI, the device runs LRP, writers
//              map back and gzip — wall time, subjects/s, the time the device waited for input, peak RSS
//              (timed after one untimed read and write that initialise the NIfTI I/O)
//   compute    the same subjects read and prepared first (not timed), then only LRP — the pure compute
//
// for cohorts of 20 and 60 subjects (--subjects 20,60), so the ratio wall / compute (target ≤ 1.1: the
// pipeline hides I/O) and peak RSS against cohort size (target: flat) are printed side by side. Each
// measurement runs in a child process (this program with --phase) for an honest peak RSS; the two
// phases alternate --repeats times (default 3) and the medians are printed with the ratios' range.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/cohort.h"
#include "engine/cpu_allocator.h"
#include "engine/model_loader.h"
#include "engine/phantom.h"
#include "engine/subject.h"
#include "io/cohort.h"
#include "io/keras_config.h"
#include "io/manifest.h"
#include "io/volume.h"
#include "models/mrinet.h"

using namespace mlens;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The model, the manifest and max(subjects) phantoms, made once and kept in `dir` for later runs.
void prepare_data(const std::string& dir, int64_t size, int subjects) {
  fs::create_directories(dir);
  if (!fs::exists(dir + "/m.h5")) io::write_keras_model(dir + "/m.h5", models::mrinet({size, size, size}, 7).keras);
  std::ofstream(dir + "/m.mlens.json") << json{{"input", {{"shape", {size, size, size}}}}, {"members", {{{"model", "m.h5"}}}}}.dump();
  for (int s = 1; s <= subjects; ++s) {
    const std::string path = dir + "/sub-" + std::to_string(s) + ".nii.gz";
    if (!fs::exists(path)) io::write_volume(path, engine::phantom({size, size, size}, static_cast<uint64_t>(s)));
  }
}

std::string cohort_csv(const std::string& dir, int n) {
  const std::string path = dir + "/cohort-" + std::to_string(n) + ".csv";
  std::ofstream csv(path);
  csv << "id,flair,age\n";
  for (int s = 1; s <= n; ++s) csv << "sub-" << s << ",sub-" << s << ".nii.gz," << 20 + s % 60 << "\n";
  return path;
}

json run_phase(const std::string& phase, const std::string& dir, int n, int threads) {
  engine::Runtime runtime;
  runtime.threads = threads;
  runtime.activate();
  const io::EnsembleSpec spec = io::read_manifest(dir + "/m.mlens.json");
  const models::Ensemble model = engine::load_ensemble(spec, runtime);
  const engine::PreprocessSpec preprocess = engine::preprocess_spec(spec);
  const std::vector<io::Subject> cohort = io::read_cohort(cohort_csv(dir, n));
  const lrp::Composite composite = lrp::parse_composite("preset-a");
  json out{{"phase", phase}, {"subjects", n}};
  if (phase == "pipeline") {
    engine::CohortOptions o;
    o.out_dir = dir + "/out-" + std::to_string(n);
    o.explain = true;
    o.force = true;
    o.composite = composite;
    // One-time initialisation of the NIfTI reader and writer (ITK, gzip, the heap growing to hold a
    // volume: ~0.3 s here) is paid before the clock, as in the compute phase, whose process has read
    // every input before its clock starts. Reported separately.
    const auto warm = std::chrono::steady_clock::now();
    fs::create_directories(o.out_dir);
    io::write_volume(o.out_dir + "/warm-up.nii.gz", io::read_volume(cohort.front().flair));
    fs::remove(o.out_dir + "/warm-up.nii.gz");
    out["io_warmup_seconds"] = seconds_since(warm);
    const auto t = std::chrono::steady_clock::now();
    const engine::CohortSummary s =
        engine::run_cohort(cohort, cohort, model, preprocess, runtime, o, [](const std::string&) {}, [](const engine::CohortProgress&) {});
    out["seconds"] = seconds_since(t);
    out["device_wait_seconds"] = s.device_wait_seconds;
    out["failed"] = s.failed;
  } else {
    std::vector<engine::Prepared> inputs;
    for (const io::Subject& s : cohort) inputs.push_back(engine::prepare(io::read_volume(s.flair), preprocess, nullptr, s.flair));
    // Timed from the first explanation on, as in the pipeline (oneDNN builds its kernels on first use
    // in both): the two differ only in the I/O.
    double seconds = 0;
    for (const engine::Prepared& p : inputs) {
      const auto t = std::chrono::steady_clock::now();
      const lrp::EnsembleExplanation e = engine::explain(model, p.model_input, composite, runtime, "bench");
      (void)e.relevance.sum().item<double>();
      seconds += seconds_since(t);
    }
    out["seconds"] = seconds;
  }
  out["peak_rss_mib"] = peak_rss_mib();
  const engine::CpuAllocatorStats a = engine::cpu_allocator_stats();
  out["fresh_blocks"] = a.fresh_blocks;
  out["reused_blocks"] = a.reused_blocks;
  return out;
}

json run_child(const std::string& self, const std::string& phase, const std::string& dir, int n, int threads) {
  const std::string cmd = self + " --phase " + phase + " --dir " + dir + " --n " + std::to_string(n) + " --threads " +
                          std::to_string(threads);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cmd);
  std::string text;
  char buf[4096];
  while (size_t k = fread(buf, 1, sizeof buf, pipe)) text.append(buf, k);
  if (pclose(pipe) != 0) throw std::runtime_error(phase + " failed:\n" + text);
  return json::parse(text);
}

}  // namespace

int main(int argc, char** argv) {
  std::string phase, dir = "/tmp/mlens-bench-cohort", list = "20,60";
  int64_t size = 198;
  int threads = 0, n = 0, repeats = 3;
  const auto usage = [] {
    std::cerr << "usage: cohort [--subjects 20,60] [--size 198] [--threads N (0 = all cores)] [--repeats N] [--dir DIR]\n";
    return 2;
  };
  if (argc % 2 == 0) return usage();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--phase") phase = argv[i + 1];
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--n") n = std::stoi(argv[i + 1]);
    else if (a == "--subjects") list = argv[i + 1];
    else if (a == "--size") size = std::stoll(argv[i + 1]);
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--repeats") repeats = std::max(1, std::stoi(argv[i + 1]));
    else return usage();
  }
  if (!phase.empty()) {
    std::cout << run_phase(phase, dir, n, threads).dump() << "\n";
    return 0;
  }
  std::vector<int> sizes;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) sizes.push_back(std::stoi(item));
  int largest = 0;
  for (int k : sizes) largest = std::max(largest, k);
  engine::Runtime rt;
  rt.threads = threads;
  std::printf("bench/cohort: MRInet %lld³ + preset-a per subject, CPU, %d threads; data in %s\n", static_cast<long long>(size),
              rt.thread_count(), dir.c_str());
  const auto t = std::chrono::steady_clock::now();
  prepare_data(dir, size, largest);
  std::printf("data ready (%.0f s)\n\n", seconds_since(t));
  std::printf("%8s %10s %10s %10s %12s %11s %12s %13s %12s\n", "subjects", "wall s", "compute s", "wall/comp",
              "(min-max)", "subjects/s", "dev. wait s", "pipeline MiB", "compute MiB");
  // The phases alternate `repeats` times and the medians are reported: on a shared machine the noise
  // between two runs of the same phase is larger than the target's margin.
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  for (int k : sizes) {
    std::vector<double> wall, compute, ratio, wait, warmup;
    double pipeline_rss = 0, compute_rss = 0;
    for (int r = 0; r < repeats; ++r) {
      const json p = run_child(argv[0], "pipeline", dir, k, threads);
      const json c = run_child(argv[0], "compute", dir, k, threads);
      wall.push_back(p["seconds"]);
      compute.push_back(c["seconds"]);
      ratio.push_back(wall.back() / compute.back());
      wait.push_back(p["device_wait_seconds"]);
      warmup.push_back(p["io_warmup_seconds"]);
      pipeline_rss = std::max(pipeline_rss, p["peak_rss_mib"].get<double>());
      compute_rss = std::max(compute_rss, c["peak_rss_mib"].get<double>());
    }
    const auto [lo, hi] = std::minmax_element(ratio.begin(), ratio.end());
    std::printf("%8d %10.1f %10.1f %10.3f %5.2f-%-6.2f %11.3f %12.1f %13.0f %12.0f\n", k, median(wall), median(compute),
                median(ratio), *lo, *hi, k / median(wall), median(wait), pipeline_rss, compute_rss);
    std::printf("%8s (the pipeline's clock started after an untimed NIfTI read and write: %.2f s)\n", "", median(warmup));
  }
  std::printf("\ntargets: wall / compute <= 1.1 (the pipeline hides I/O); pipeline peak RSS flat in the cohort size\n"
              "(compute holds every subject in memory by design, so its peak grows).\n");
  return 0;
}
