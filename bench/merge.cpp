// bench/merge: how `mlens run --merge` (engine::merge_study) grows with the cohort. For each size
// (--subjects 100,1000,10000) a study directory of completed subjects is synthesised once (what the
// shards leave: prediction.json, subject and MNI maps, WML row per subject; the maps are hard links to
// one 2 mm MNI-grid volume, so 10⁴ subjects take seconds and little disk, but as many files and
// directories as a real study), then the merge runs in a child process --repeats times: wall time,
// per-subject time, peak RSS, and the growth against the previous size. With --store SIZES the HDF5
// store (every MNI map into one file) is timed on those sizes too: it reads and compresses every map.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/overlay.h"
#include "engine/study.h"
#include "io/table.h"
#include "io/volume.h"

using namespace mlens;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) values.push_back(std::stoi(item));
  return values;
}

// The MNI152 2 mm grid (91 × 109 × 91), RAS origin as FSL's template has it.
io::Volume mni_grid(float value_scale, uint32_t seed) {
  io::Volume v;
  v.shape = {91, 109, 91};
  v.geometry.spacing = {2, 2, 2};
  v.geometry.origin = {90, 126, -72};
  v.geometry.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  v.voxels.resize(static_cast<std::size_t>(v.size()));
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 1);
  for (float& x : v.voxels) x = value_scale * noise(rng);
  return v;
}

// A study directory as the shards leave it, with `n` complete subjects; returns the cohort CSV.
std::string synthesise(const std::string& dir, int n) {
  const std::string csv = dir + "/cohort.csv", shared = dir + "/shared";
  if (fs::exists(dir + "/ready")) return csv;
  fs::remove_all(dir);
  fs::create_directories(shared);
  io::Volume flair = mni_grid(1, 1), lesion = mni_grid(0, 2), map = mni_grid(1e-4f, 3);
  for (float& x : flair.voxels) x = 300 + 50 * x;
  for (int64_t k = 0; k < lesion.size(); k += 97) lesion.voxels[static_cast<std::size_t>(k)] = 1;
  io::write_volume(shared + "/flair.nii.gz", flair, io::StoredAs::Int16);
  io::write_volume(shared + "/lesion.nii.gz", lesion, io::StoredAs::UInt8);
  io::write_volume(shared + "/relevance.nii.gz", map);
  io::write_volume(shared + "/mni.nii.gz", mni_grid(0, 4));
  std::ofstream cohort(csv);
  cohort << "id,flair,age,wml,transform\n";
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> age(20, 80), gap(-8, 8);
  for (int s = 1; s <= n; ++s) {
    char id[32];
    std::snprintf(id, sizeof id, "sub-%06d", s);
    const std::string sub = dir + "/results/" + id;
    fs::create_directories(sub);
    for (const char* f : {"/relevance.nii.gz", "/relevance_mni.nii.gz"}) fs::create_hard_link(shared + "/relevance.nii.gz", sub + f);
    const double a = age(rng), ba = a + gap(rng);
    json members = json::array();
    for (int m = 1; m <= 3; ++m) members.push_back({{"name", "m" + std::to_string(m)}, {"coefficient", 1.0 / 3}, {"prediction", ba + m - 2}});
    std::ofstream(sub + "/prediction.json") << json{{"id", id}, {"input", shared + "/flair.nii.gz"}, {"age", a}, {"brain_age", ba},
                                                   {"members", members}, {"qc", {{"flags", json::array()}}}}.dump(2) << "\n";
    io::Table row;
    row.columns = engine::overlay_columns();
    std::vector<std::string> cells{id};
    for (std::size_t c = 1; c < row.columns.size(); ++c) cells.push_back(io::csv_number(c == 1 ? 40.0 + s % 50 : (c * 1e-6) * (1 + gap(rng) / 100)));
    row.rows.push_back(cells);
    io::write_csv(sub + "/wml.csv", row);
    cohort << id << "," << shared << "/flair.nii.gz," << a << "," << shared << "/lesion.nii.gz," << shared << "/mni.nii.gz\n";
  }
  cohort.close();
  std::ofstream(dir + "/ready") << n << "\n";
  return csv;
}

struct Measured {
  double seconds = 0, peak_mib = 0;
};

// One merge in a child process: its wall time and its own peak RSS.
Measured merge_once(const std::string& dir, const std::string& csv, bool store) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child == 0) {
    try {
      const std::vector<io::Subject> cohort = io::read_cohort(csv);
      engine::StudyOptions o;
      o.cohort.out_dir = dir + "/results";
      o.cohort.composite = lrp::parse_composite("preset-a");
      o.cohort.mni_reference = dir + "/shared/mni.nii.gz";
      if (store) o.cohort.store = dir + "/results/store.h5";
      o.manifest = "synthetic";
      const engine::StudyResult r = engine::merge_study(cohort, engine::Runtime(), o, nullptr, [](const std::string&) {});
      _exit(r.completed == cohort.size() ? 0 : 3);
    } catch (const std::exception& e) {
      std::cerr << "merge: " << e.what() << "\n";
      _exit(2);
    }
  }
  int status = 0;
  rusage usage{};
  wait4(child, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("the merge failed (status " + std::to_string(status) + ")");
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), static_cast<double>(usage.ru_maxrss) / 1024.0};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes{100, 1000, 10000}, store_sizes{100};
  std::string root = "/tmp/mlens-bench-merge";
  int repeats = 3;
  for (int a = 1; a + 1 < argc; a += 2) {
    const std::string key = argv[a], value = argv[a + 1];
    if (key == "--subjects") sizes = parse_list(value);
    else if (key == "--store") store_sizes = value == "none" ? std::vector<int>{} : parse_list(value);
    else if (key == "--dir") root = value;
    else if (key == "--repeats") repeats = std::max(1, std::stoi(value));
    else {
      std::cerr << "usage: bench/merge [--subjects 100,1000,10000] [--store 100|none] [--dir DIR] [--repeats 3]\n";
      return 2;
    }
  }
  std::printf("mlens run --merge over completed subjects (synthetic; MNI 2 mm maps; %d repeats, medians)\n\n", repeats);
  std::printf("%9s %6s %10s %14s %10s %16s\n", "subjects", "store", "merge s", "ms / subject", "peak MiB", "time vs previous");
  for (const bool store : {false, true}) {
    double previous = 0;
    int previous_n = 0;
    for (int n : store ? store_sizes : sizes) {
      const std::string dir = root + "/n" + std::to_string(n);
      const std::string csv = synthesise(dir, n);
      std::vector<double> seconds, peaks;
      for (int r = 0; r < repeats; ++r) {
        const Measured m = merge_once(dir, csv, store);
        seconds.push_back(m.seconds);
        peaks.push_back(m.peak_mib);
      }
      const double s = median(seconds);
      char growth[64] = "";
      if (previous > 0) std::snprintf(growth, sizeof growth, "%.1fx for %.0fx", s / previous, static_cast<double>(n) / previous_n);
      std::printf("%9d %6s %10.2f %14.2f %10.0f %16s\n", n, store ? "yes" : "no", s, 1000 * s / n, median(peaks), growth);
      std::fflush(stdout);
      previous = s;
      previous_n = n;
    }
  }
  return 0;
}
