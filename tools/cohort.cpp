// The cohort mode shared by predict and explain: --cohort, --shard, --force, --bias-model, --mni, and a
// progress display (a bar on a terminal, one line per subject otherwise).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <cstdio>
#include <iostream>
#include <optional>

#include "engine/cohort.h"
#include "io/cohort.h"
#include "io/json.h"
#include "io/output_dir.h"
#include "tools/options.h"

namespace mlens::tools {

void add_cohort_options(po::options_description& o) {
  o.add_options()("cohort", po::value<std::string>()->value_name("CSV"),
                  "score a cohort instead of one volume: a CSV with id, flair[, age, sex, wml, transform] (paths "
                  "relative to it) or a BIDS dataset directory; --out is then a directory. A classifier's table holds "
                  "every output; a multi-channel --model reads a 4D NIfTI per subject (docs/cohorts.md)")(
      "shard", po::value<std::string>()->value_name("I/N"), "run only subjects I, I+N, I+2N, ... (1-based) of the cohort")(
      "force", "recompute subjects whose outputs are complete (default: skip them)")(
      "bias-model", po::value<std::string>()->value_name("JSON"),
      "age-bias model to apply (a bias_model.json from a reference cohort); default: fit on this cohort")(
      "bias-method", po::value<std::string>()->default_value("delange")->value_name("M"),
      "age-bias correction: delange (de Lange & Cole 2020) or cole (Cole 2018)")(
      "mni", po::value<std::string>()->value_name("REF"),
      "explain --cohort: also warp each map onto REF's grid (e.g. MNI152 2 mm) with the cohort's transform column");
  add_pipeline_options(o);
}

void add_pipeline_options(po::options_description& o) {
  o.add_options()("batch", po::value<int>()->default_value(1)->value_name("N"),
                  "subjects per pass on the device, for predictions and explanations alike; a batch of explanations "
                  "must fit in the device's memory (refused otherwise, with what it needs)")(
      "memory", po::value<double>()->value_name("GIB"),
      "memory a batch may use on the device (default: what the device has available; on a shared node, e.g. "
      "Slurm's --mem, give the job's share)")(
      "readers", po::value<int>()->default_value(1)->value_name("N"), "threads reading and preprocessing subjects ahead")(
      "store", po::value<std::string>()->value_name("H5"),
      "also write the table and maps of every completed subject into one HDF5 file (h5py: f['relevance_mni'][k])")(
      "writers", po::value<int>()->default_value(1)->value_name("N"), "threads mapping back, warping and writing results");
}

engine::CohortOptions cohort_options(const po::variables_map& vm, const LoadedModel& loaded, bool explain,
                                     const lrp::Composite& composite) {
  engine::CohortOptions o;
  o.out_dir = vm["out"].as<std::string>();
  o.explain = explain;
  o.members = vm.count("members") > 0;
  o.force = vm.count("force") > 0;
  o.composite = composite;
  if (vm.count("store")) o.store = vm["store"].as<std::string>();
  o.batch = vm["batch"].as<int>();
  if (vm.count("memory")) o.memory_limit = static_cast<int64_t>(vm["memory"].as<double>() * 1024 * 1024 * 1024);
  o.readers = vm["readers"].as<int>();
  o.writers = vm["writers"].as<int>();
  if (o.batch < 1 || o.readers < 1 || o.writers < 1) throw UsageError("--batch, --readers and --writers must be at least 1");
  try {
    o.bias_method = stats::parse_age_bias_method(vm["bias-method"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (vm.count("bias-model")) {
    const std::string path = vm["bias-model"].as<std::string>();
    std::ifstream in(path);
    if (!in) throw std::runtime_error("\"" + path + "\": cannot open the bias model");
    stats::AgeBiasModel m;
    try {
      const nlohmann::json j = io::parse_json(in, "\"" + path + "\"");
      m.slope = j.at("slope").get<double>();
      m.intercept = j.at("intercept").get<double>();
      m.n = j.value("n", std::size_t{0});
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error("\"" + path + "\": expected a bias model (JSON with numbers \"slope\" and \"intercept\", as "
                               "summary.json's bias_model): " + e.what());
    }
    if (!std::isfinite(m.slope) || !std::isfinite(m.intercept) || m.slope == 0)
      throw std::runtime_error("\"" + path + "\": the bias model's slope and intercept must be finite and the slope non-zero");
    o.bias_model = m;
  }
  o.training_age_range = loaded.training_age_range;
  o.configuration["model"] = loaded.files;
  if (vm.count("mni")) {
    if (!explain) throw UsageError("--mni warps relevance maps: use it with explain --cohort");
    o.mni_reference = vm["mni"].as<std::string>();
  }
  return o;
}

std::optional<Shard> shard_from(const po::variables_map& vm, const std::vector<io::Subject>& cohort) {
  if (!vm.count("shard")) return std::nullopt;
  const std::string text = vm["shard"].as<std::string>();
  const auto slash = text.find('/');
  Shard s;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    s.index = std::stoi(text.substr(0, slash));
    s.count = std::stoi(text.substr(slash + 1));
  } catch (const std::exception&) {
    throw UsageError("--shard " + text + ": expected I/N, e.g. 2/10");
  }
  try {
    s.subjects = io::shard(cohort, s.index, s.count);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--shard: ") + e.what());
  }
  s.tag = "shard-" + std::to_string(s.index) + "-of-" + std::to_string(s.count);
  s.label = "shard " + std::to_string(s.index) + "/" + std::to_string(s.count);
  return s;
}

std::function<void(const engine::CohortProgress&)> progress_display(const std::string& label) {
  // A progress bar with rate and ETA on a terminal; one plain line per subject otherwise (logs, Slurm).
  const bool terminal = ::isatty(2) == 1;
  const std::string prefix = label.empty() ? "" : label + " ";
  return [terminal, prefix](const engine::CohortProgress& p) {
    char line[256];
    const int eta = static_cast<int>(p.eta_seconds);
    if (terminal) {
      const int width = 30, filled = static_cast<int>(width * p.done / std::max<std::size_t>(p.total, 1));
      std::snprintf(line, sizeof line, "\r%s[%s%s] %zu/%zu %.1f subjects/min, ETA %d:%02d  %-24.24s", prefix.c_str(),
                    std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), p.done, p.total,
                    p.subjects_per_minute, eta / 60, eta % 60, p.id.c_str());
      std::cerr << line << (p.done == p.total ? "\n" : "") << std::flush;
      if (p.status.rfind("FAILED", 0) == 0) std::cerr << "\n" << p.id << ": " << p.status << "\n";
    } else {
      std::snprintf(line, sizeof line, " (%.1f subjects/min, ETA %d:%02d)", p.subjects_per_minute, eta / 60, eta % 60);
      log(prefix + "[" + std::to_string(p.done) + "/" + std::to_string(p.total) + "] " + p.id + ": " + p.status + line);
    }
  };
}

int run_cohort(const po::variables_map& vm, const engine::Runtime& runtime, const LoadedModel& loaded, bool explain,
               const lrp::Composite& composite) {
  engine::check_cohort_model(loaded.model);
  const std::string cohort_path = vm["cohort"].as<std::string>();
  const std::vector<io::Subject> cohort = io::read_cohort(cohort_path);
  engine::CohortOptions o = cohort_options(vm, loaded, explain, composite);
  const std::optional<Shard> shard = shard_from(vm, cohort);
  const std::vector<io::Subject>& todo = shard ? shard->subjects : cohort;
  if (shard) o.shard_tag = shard->tag;
  log((explain ? "explaining " : "scoring ") + std::to_string(todo.size()) + " of " + std::to_string(cohort.size()) +
      " subjects from " + cohort_path + " into " + o.out_dir);
  engine::check_batch_fits(loaded.model, runtime, o, todo.size());  // before the lock creates the directory
  const io::OutputDirLock lock(o.out_dir, o.shard_tag);
  const engine::CohortSummary s = engine::run_cohort(cohort, todo, loaded.model, loaded.preprocess, runtime, o, log,
                                                       progress_display(shard ? shard->label : ""));
  char waited[32];
  std::snprintf(waited, sizeof waited, "%.1f", s.device_wait_seconds);
  std::cout << s.computed << " computed, " << s.skipped << " skipped (done earlier), " << s.failed << " failed; "
            << s.completed << " of " << s.cohort << " subjects complete in " << o.out_dir << "/predictions.csv; the device "
            << "waited " << waited << " s for input\n";
  return s.failed ? kExitSomeFailed : kExitOk;
}

}  // namespace mlens::tools
