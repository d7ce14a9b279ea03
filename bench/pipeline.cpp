// bench/pipeline: the cohort's pipeline on a device with its subjects in memory: what copying inputs to the
// device and maps back costs once the copies overlap the computation. Needs LibTorch only, so the
// core-only build on a bare GPU machine has it (scripts/gpu-check); bench/cohort measures the whole
// pipeline with NIfTI files on the CPU.
//
//   pipeline   engine::BatchPipeline and engine::Transfers as `explain --cohort` runs them: readers copy
//              each subject's volume into host memory a copy starts from (pinned on a GPU) and upload it on
//              the copy stream, the device explains batches (MRInet, preset A, float32), writers receive
//              each map and read it once (its sum)
//   compute    the same subjects already on the device: only the explanations, the maps left there
//
// Prints wall, compute, wall / compute (the GPU issue's target: ≤ 1.2) and the seconds the device waited
// for input. The phases alternate --rounds times after one untimed batch; the best round of each is
// reported, with the range of the per-round ratios. The volumes are phantoms made once before the clock:
// decoding and preprocessing are bench/cohort's to measure.
#include <ATen/ATen.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "engine/batch_pipeline.h"
#include "engine/phantom.h"
#include "engine/runtime.h"
#include "engine/transfers.h"
#include "lrp/explain.h"
#include "models/mrinet.h"

using namespace mlens;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Config {
  std::string device = "cpu";
  int64_t size = 198;
  int batch = 1, subjects = 16, readers = 4, writers = 2, rounds = 3, threads = 0;
};

struct Subject {
  std::size_t index = 0;
  engine::Transfer input, map;
};

struct Round {
  double seconds = 0, device_wait = 0;
};

class Bench {
 public:
  Bench(const Config& cfg, const engine::Runtime& runtime)
      : cfg_(cfg),
        runtime_(runtime),
        net_(models::mrinet({cfg.size, cfg.size, cfg.size}, 7).net.to(runtime.device, runtime.dtype)),
        preset_a_(lrp::parse_composite("preset-a")),
        transfers_(runtime.device) {
    transfers_.make_current();
    // Four distinct volumes, reused in turn: the readers' work is the copy, not making phantoms.
    for (uint64_t seed = 1; seed <= 4; ++seed) volumes_.push_back(engine::phantom({cfg.size, cfg.size, cfg.size}, seed));
  }

  // Untimed, a batch of each phase: cuDNN's algorithm choice, the allocators' first blocks (pinned ones too).
  void warm_up() {
    compute_round(cfg_.batch);
    pipeline_round(cfg_.batch);
  }

  Round pipeline_round() { return pipeline_round(cfg_.subjects); }
  Round compute_round() { return compute_round(cfg_.subjects); }

 private:
  Round pipeline_round(int subjects) {
    engine::BatchPipeline<Subject> pipeline;
    pipeline.batch = cfg_.batch;
    pipeline.readers = cfg_.readers;
    pipeline.writers = cfg_.writers;
    pipeline.thread_start = [&] { transfers_.make_current(); };
    pipeline.read = [&](std::size_t k) {
      auto s = std::make_unique<Subject>();
      s->index = k;
      s->input = transfers_.to_device({host_volume(k)});
      return s;
    };
    pipeline.compute = [&](std::vector<std::unique_ptr<Subject>>& batch) {
      std::vector<at::Tensor> inputs;
      for (auto& s : batch) inputs.push_back(s->input.on_device()[0]);
      const lrp::Explanation e = lrp::explain(net_, at::cat(inputs).to(runtime_.dtype), preset_a_);
      for (std::size_t q = 0; q < batch.size(); ++q) batch[q]->map = transfers_.to_host({e.relevance[static_cast<int64_t>(q)]});
      sink_ += e.prediction.sum().item<double>();  // as the cohort reads each prediction
    };
    pipeline.write = [&](std::unique_ptr<Subject> s) { (void)s->map.on_host()[0].sum().item<double>(); };
    const auto start = std::chrono::steady_clock::now();
    Round r;
    r.device_wait = pipeline.run(static_cast<std::size_t>(subjects));
    r.seconds = seconds_since(start);
    return r;
  }

  at::Tensor host_volume(std::size_t k) const {
    const io::Volume& v = volumes_[k % volumes_.size()];
    at::Tensor host = transfers_.host_tensor({1, 1, cfg_.size, cfg_.size, cfg_.size}, at::kFloat);
    std::copy(v.voxels.begin(), v.voxels.end(), host.data_ptr<float>());
    return host;
  }

  Round compute_round(int subjects) {
    std::vector<at::Tensor> inputs;
    for (int k = 0; k < subjects; ++k) inputs.push_back(host_volume(static_cast<std::size_t>(k)).to(runtime_.device, runtime_.dtype));
    (void)inputs.back().sum().item<double>();  // every input on the device before the clock
    const auto start = std::chrono::steady_clock::now();
    for (int first = 0; first < subjects; first += cfg_.batch) {
      const int end = std::min(subjects, first + cfg_.batch);
      const std::vector<at::Tensor> batch(inputs.begin() + first, inputs.begin() + end);
      const lrp::Explanation e = lrp::explain(net_, at::cat(batch), preset_a_);
      sink_ += e.prediction.sum().item<double>();
    }
    Round r;
    r.seconds = seconds_since(start);
    return r;
  }

  const Config cfg_;
  const engine::Runtime runtime_;
  const models::Sequential net_;
  const lrp::Composite preset_a_;
  const engine::Transfers transfers_;
  std::vector<io::Volume> volumes_;
  double sink_ = 0;  // keeps the reads of results from being optimised away
};

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string json_path;
  const auto usage = [] {
    std::cerr << "usage: pipeline [--device cpu|cuda[:N] (cpu)] [--size N (198)] [--batch N (1)] [--subjects N (16)]\n"
                 "                [--readers N (4)] [--writers N (2)] [--rounds N (3)] [--threads N (0 = all cores)] [--json FILE]\n";
    return 2;
  };
  if (argc % 2 == 0) return usage();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--device") cfg.device = v;
    else if (a == "--size") cfg.size = std::stoll(v);
    else if (a == "--batch") cfg.batch = std::max(1, std::stoi(v));
    else if (a == "--subjects") cfg.subjects = std::max(1, std::stoi(v));
    else if (a == "--readers") cfg.readers = std::max(1, std::stoi(v));
    else if (a == "--writers") cfg.writers = std::max(1, std::stoi(v));
    else if (a == "--rounds") cfg.rounds = std::max(1, std::stoi(v));
    else if (a == "--threads") cfg.threads = std::stoi(v);
    else if (a == "--json") json_path = v;
    else return usage();
  }
  engine::Runtime runtime;
  try {
    runtime = engine::Runtime::parse(cfg.device, "float32", cfg.threads);
  } catch (const std::exception& e) {
    std::cerr << "bench/pipeline: " << e.what() << "\n";
    return 1;
  }
  runtime.activate();
  std::printf("bench/pipeline: MRInet %lld³, preset A, float32, %s, batch %d, %d subjects, %d readers, %d writers, "
              "%d CPU threads, LibTorch %s, best of %d rounds\n\n",
              static_cast<long long>(cfg.size), runtime.device_name().c_str(), cfg.batch, cfg.subjects, cfg.readers,
              cfg.writers, runtime.thread_count(), TORCH_VERSION, cfg.rounds);
  Bench bench(cfg, runtime);
  bench.warm_up();
  Round pipeline, compute;
  std::vector<double> ratios;
  for (int r = 0; r < cfg.rounds; ++r) {
    const Round p = bench.pipeline_round(), c = bench.compute_round();
    ratios.push_back(p.seconds / c.seconds);
    if (r == 0 || p.seconds < pipeline.seconds) pipeline = p;
    if (r == 0 || c.seconds < compute.seconds) compute = c;
  }
  const double ratio = pipeline.seconds / compute.seconds;
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  std::printf("%-10s %10s %12s %14s\n", "phase", "seconds", "subjects/s", "device wait s");
  std::printf("%-10s %10.3f %12.2f %14.3f\n", "pipeline", pipeline.seconds, cfg.subjects / pipeline.seconds, pipeline.device_wait);
  std::printf("%-10s %10.3f %12.2f %14s\n", "compute", compute.seconds, cfg.subjects / compute.seconds, "");
  std::printf("\nwall / compute %.3f (rounds %.3f-%.3f; target on a GPU <= 1.2: the copies overlap the computation)\n", ratio,
              *lo, *hi);
  if (!json_path.empty())
    std::ofstream(json_path) << "{\"device\": \"" << runtime.device_name() << "\", \"size\": " << cfg.size
                             << ", \"batch\": " << cfg.batch << ", \"subjects\": " << cfg.subjects
                             << ", \"pipeline_seconds\": " << pipeline.seconds << ", \"compute_seconds\": " << compute.seconds
                             << ", \"device_wait_seconds\": " << pipeline.device_wait << ", \"wall_over_compute\": " << ratio
                             << ", \"wall_over_compute_min\": " << *lo << ", \"wall_over_compute_max\": " << *hi << "}\n";
  return 0;
}
