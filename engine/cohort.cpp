#include "engine/cohort.h"

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "engine/bounded_queue.h"
#include "engine/subject.h"
#include "io/atomic_file.h"
#include "io/cohort_store.h"
#include "io/output_dir.h"
#include "io/table.h"
#include "io/volume.h"
#include "io/warp.h"

namespace mlens::engine {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string subject_dir(const CohortOptions& o, const std::string& id) { return o.out_dir + "/" + id; }

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// A subject on its way through the pipeline: read and prepared by a reader, computed on the device,
// written by a writer. `error` set at any stage sends it straight to the failures.
struct Work {
  std::size_t index = 0;  // in the run's list of subjects
  const io::Subject* subject = nullptr;
  bool skipped = false;   // completed by an earlier run
  std::string error;
  std::optional<Prepared> prepared;
  double brain_age = 0;
  json members = json::array();
  lrp::EnsembleExplanation explanation;  // with explain: maps on the CPU
};

// Readers and writers run at a lower CPU priority (nice +10, Linux: per thread), so they fill the cycles
// the device leaves idle instead of taking cycles from it; they still progress when it is busy.
void lower_thread_priority() {
#ifdef __linux__
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
}

void read_subject(Work& w, const PreprocessSpec& preprocess) {
  const io::Subject& s = *w.subject;
  w.prepared = prepare(io::read_volume(s.flair), preprocess, nullptr, s.flair);
}

void check_finite(double brain_age) {
  if (!std::isfinite(brain_age)) throw std::runtime_error("the prediction is not finite (" + std::to_string(brain_age) + ")");
}

// The model inputs of a batch's subjects, [N, 1, D, H, W]; a subject whose volume does not fit gets its error
// and is left out of `ready`.
at::Tensor batch_input(std::vector<Work*>& batch, const models::Ensemble& model, const Runtime& runtime,
                       std::vector<Work*>& ready) {
  std::vector<at::Tensor> inputs;
  for (Work* w : batch) {
    try {
      inputs.push_back(to_input(w->prepared->model_input, model.input_shape(), runtime, w->subject->flair));
      ready.push_back(w);
    } catch (const std::exception& e) {
      w->error = e.what();
    }
  }
  return inputs.empty() ? at::Tensor() : at::cat(inputs);
}

void record_prediction(Work& w, double brain_age) {
  w.brain_age = brain_age;
  try {
    check_finite(brain_age);
  } catch (const std::exception& e) {
    w.error = e.what();
  }
}

// Predictions for a batch of prepared subjects in one forward pass.
void predict_batch(std::vector<Work*>& batch, const models::Ensemble& model, const Runtime& runtime) {
  std::vector<Work*> ready;
  const at::Tensor x = batch_input(batch, model, runtime, ready);
  if (ready.empty()) return;
  std::vector<models::MemberPrediction> parts;
  const at::Tensor y = model.predict(x, &parts).to(at::kCPU, at::kDouble);
  for (std::size_t q = 0; q < ready.size(); ++q) {
    Work& w = *ready[q];
    for (const auto& m : parts)
      w.members.push_back({{"name", m.name}, {"coefficient", m.coefficient}, {"prediction", m.prediction[q].item<double>()}});
    record_prediction(w, y[q].item<double>());
  }
}

// Explanations for a batch of prepared subjects in one LRP pass (--batch N): each subject's map, prediction
// and conservation account are its own (lrp::sample), equal to what a batch of one gives to float rounding.
void explain_batch(std::vector<Work*>& batch, const models::Ensemble& model, const Runtime& runtime, const CohortOptions& o) {
  std::vector<Work*> ready;
  const at::Tensor x = batch_input(batch, model, runtime, ready);
  if (ready.empty()) return;
  lrp::EnsembleExplanation all = lrp::explain(model, x, o.composite, o.members);
  for (std::size_t q = 0; q < ready.size(); ++q) {
    Work& w = *ready[q];
    lrp::EnsembleExplanation e = ready.size() == 1 ? std::move(all) : lrp::sample(all, static_cast<int64_t>(q));
    e.relevance = e.relevance.to(at::kCPU);
    for (auto& m : e.members) {
      w.members.push_back({{"name", m.name}, {"coefficient", m.coefficient}, {"prediction", m.prediction[0].item<double>()}});
      if (m.relevance.defined()) m.relevance = m.relevance.to(at::kCPU);
    }
    record_prediction(w, e.prediction[0].item<double>());
    w.explanation = std::move(e);
  }
}

// Maps back to the subject's grid (and MNI), files, and prediction.json last: it marks completion.
void write_subject(const Work& w, const PreprocessSpec& preprocess, const CohortOptions& o, const io::Volume* mni) {
  const io::Subject& s = *w.subject;
  const Prepared& prepared = *w.prepared;
  const std::string dir = subject_dir(o, s.id);
  fs::create_directories(dir);
  if (o.explain) {
    const lrp::EnsembleExplanation& e = w.explanation;
    const auto subject_map = [&](const at::Tensor& map) {
      return to_subject_space(to_volume(map, prepared.model_input), prepared);
    };
    // Subject-space maps of a float64 run are float64 NIfTI; the MNI map is warped (and written) in float32.
    const auto write_map = [&](const std::string& path, const at::Tensor& map) {
      if (map.scalar_type() == at::kDouble)
        io::write_volume(path, to_subject_space(to_volume64(map, prepared.model_input), prepared));
      else
        io::write_volume(path, subject_map(map));
    };
    if (mni) {
      if (s.transforms.empty())
        throw std::runtime_error("no transform to the template for \"" + s.id + "\" (the cohort's transform column is empty)");
      io::write_volume(dir + "/relevance_mni.nii.gz", io::warp(subject_map(e.relevance), *mni, io::TransformChain::read(s.transforms),
                                                               io::Interpolation::Linear));
    }
    write_map(dir + "/relevance.nii.gz", e.relevance);
    json accounts = json::array();
    for (std::size_t k = 0; k < e.members.size(); ++k) {
      const auto& m = e.members[k];
      if (o.members) write_map(dir + "/relevance_member-" + std::to_string(k + 1) + ".nii.gz", m.relevance);
      json rows = json::array();
      for (const auto& a : m.accounts.at(0))
        rows.push_back({{"layer", a.layer}, {"rule", a.rule}, {"relevance_out", a.relevance_out},
                        {"relevance_in", a.relevance_in}, {"small_denominators", a.small_denominators}});
      accounts.push_back({{"member", m.name}, {"layers", rows}});
    }
    io::write_text_atomically(dir + "/relevance.json",
                              json{{"id", s.id}, {"input", s.flair}, {"prediction", w.brain_age},
                                   {"relevance_sum", e.relevance.sum().item<double>()},
                                   {"rule", to_json(o.composite)},
                                   {"conservation", accounts}}
                                      .dump(2) + "\n");
  }
  io::write_text_atomically(dir + "/prediction.json",
                            json{{"id", s.id}, {"input", s.flair}, {"age", number_or_null(s.age)}, {"brain_age", w.brain_age},
                                 {"members", w.members},
                                 {"qc", {{"intensity_max", prepared.intensity_max}, {"brain_extent", prepared.brain_extent},
                                         {"flags", qc_flags(prepared, preprocess)}}}}
                                    .dump(2) + "\n");
}

}  // namespace

bool subject_completed(const CohortOptions& o, const std::string& id) {
  const std::string dir = subject_dir(o, id);
  if (!fs::exists(dir + "/prediction.json")) return false;
  if (o.explain && !fs::exists(dir + "/relevance.nii.gz")) return false;
  return o.mni_reference.empty() || fs::exists(dir + "/relevance_mni.nii.gz");
}

json cohort_configuration(const CohortOptions& o, const Runtime& runtime) {
  json configuration = o.configuration;
  configuration["dtype"] = runtime.dtype_name();
  if (o.explain) configuration["rule"] = to_json(o.composite);
  if (!o.mni_reference.empty()) configuration["mni_reference"] = io::file_fingerprint(o.mni_reference);
  return configuration;
}

std::size_t write_cohort_tables(const std::vector<io::Subject>& cohort, const CohortOptions& o,
                                const std::function<void(const std::string&)>& log) {
  struct Row {
    std::string id;
    double age, brain_age;
    std::vector<double> members;
    std::vector<std::string> flags;  // input QC flags from prediction.json
  };
  std::vector<Row> rows;
  std::vector<std::string> member_names;
  for (const auto& s : cohort) {
    const std::string path = subject_dir(o, s.id) + "/prediction.json";
    if (!fs::exists(path)) continue;
    std::ifstream in(path);
    const json j = json::parse(in);
    Row r{s.id, s.age, j.at("brain_age").get<double>(), {}, {}};
    if (j.contains("qc"))
      for (const auto& f : j.at("qc").at("flags")) r.flags.push_back(f.get<std::string>());
    std::vector<std::string> names;
    for (const auto& m : j.at("members")) {
      r.members.push_back(m.at("prediction").get<double>());
      names.push_back(m.at("name").get<std::string>());
    }
    if (member_names.empty()) member_names = names;
    rows.push_back(std::move(r));
  }
  std::vector<double> ages, predictions;
  for (const auto& r : rows) {
    ages.push_back(r.age);
    predictions.push_back(r.brain_age);
  }
  json bias = nullptr;
  std::optional<stats::AgeBiasModel> model = o.bias_model;
  std::string bias_source = "given (--bias-model)";
  if (!model) {
    try {
      model = stats::fit_age_bias(ages, predictions);
      bias_source = "fitted on this cohort (n = " + std::to_string(model->n) + "): its corrected gaps are not independent of it";
    } catch (const std::invalid_argument&) {
      bias_source = "none (fewer than 3 subjects with age)";
    }
  }
  if (model) {
    bias = {{"slope", model->slope}, {"intercept", model->intercept}, {"n", model->n}, {"method", stats::to_string(o.bias_method)},
            {"source", bias_source}};
    if (!o.bias_model) io::write_text_atomically(o.out_dir + "/bias_model.json", bias.dump(2) + "\n");
  }

  io::Table t;
  t.columns = {"id", "age", "brain_age", "gap", "corrected_brain_age", "corrected_gap", "members_sd", "flags"};
  for (std::size_t k = 0; k < member_names.size(); ++k) t.columns.push_back("member_" + std::to_string(k + 1));
  const bool range_known = o.training_age_range[0] <= o.training_age_range[1];
  std::map<std::string, int> flag_counts;
  for (const auto& r : rows) {
    const double corrected = model && std::isfinite(r.age) ? stats::corrected_brain_age(*model, o.bias_method, r.age, r.brain_age)
                                                           : std::nan("");
    double mean = 0, sd = 0;
    for (double m : r.members) mean += m / static_cast<double>(r.members.size());
    for (double m : r.members) sd += (m - mean) * (m - mean);
    sd = r.members.size() > 1 ? std::sqrt(sd / static_cast<double>(r.members.size() - 1)) : std::nan("");
    std::vector<std::string> all_flags = r.flags;
    if (range_known && (r.brain_age < o.training_age_range[0] || r.brain_age > o.training_age_range[1]))
      all_flags.push_back("outside_training_range");
    std::string flags;
    for (const auto& f : all_flags) {
      flags += (flags.empty() ? "" : ";") + f;
      ++flag_counts[f];
    }
    std::vector<std::string> cells{r.id,
                                   io::csv_number(r.age),
                                   io::csv_number(r.brain_age),
                                   io::csv_number(r.brain_age - r.age),
                                   io::csv_number(corrected),
                                   io::csv_number(corrected - r.age),
                                   io::csv_number(sd),
                                   flags};
    for (double m : r.members) cells.push_back(io::csv_number(m));
    t.rows.push_back(cells);
  }
  io::write_csv(o.out_dir + "/predictions.csv", t);

  // Only what the completed subjects determine: a resumed, sharded or merged run writes the same bytes.
  json summary_json{{"cohort", cohort.size()}, {"completed", rows.size()}, {"age_bias", bias}, {"members", member_names}};
  for (const auto& [flag, count] : flag_counts) summary_json["qc"]["flagged"][flag] = count;
  if (!flag_counts.empty()) log("QC: " + std::to_string(flag_counts.size()) + " kind(s) of flags; see predictions.csv (flags)");
  try {
    const stats::Accuracy acc = stats::accuracy(ages, predictions);
    summary_json["accuracy"] = {{"n", acc.n}, {"mae", acc.mae}, {"r", acc.r}, {"r2", acc.r2}};
  } catch (const std::invalid_argument&) {
  }
  if (predictions.size() >= 5) {
    double mean = 0, var = 0;
    for (double p : predictions) mean += p / static_cast<double>(predictions.size());
    for (double p : predictions) var += (p - mean) * (p - mean) / static_cast<double>(predictions.size() - 1);
    // A model that predicts (almost) the same age for everyone is broken input or preprocessing, not a
    // young or old cohort: say so loudly.
    if (std::sqrt(var) < 1.0) {
      summary_json["qc"]["near_constant_predictions"] = std::sqrt(var);
      log("WARNING: predictions are nearly constant across the cohort (SD " + std::to_string(std::sqrt(var)) +
          " years): check the preprocessing and the inputs");
    }
  }
  io::write_text_atomically(o.out_dir + "/summary.json", summary_json.dump(2) + "\n");
  if (!o.store.empty()) {
    io::StoreMaps maps;
    if (o.explain) {
      const bool mni = !o.mni_reference.empty();
      maps.name = mni ? "relevance_mni" : "relevance";
      maps.common_grid = mni;
      maps.load = [&, mni](std::size_t k) {  // mni by value: the lambda outlives this block
        return io::read_volume(subject_dir(o, t.rows[k][0]) + (mni ? "/relevance_mni.nii.gz" : "/relevance.nii.gz"));
      };
    }
    io::write_cohort_store(o.store, t, maps);
    log("cohort store: " + o.store + " (" + std::to_string(t.rows.size()) + " subjects)");
  }
  return rows.size();
}

namespace {

// Batches larger than the run are never formed, so they are not refused either.
int effective_batch(const CohortOptions& o, std::size_t subjects) {
  return static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(std::max(1, o.batch)), std::max<std::size_t>(1, subjects)));
}

}  // namespace

void check_batch_fits(const models::Ensemble& model, const Runtime& runtime, const CohortOptions& o, std::size_t subjects) {
  const int batch = effective_batch(o, subjects);
  if (!o.explain || batch == 1) return;
  const int64_t device = runtime.available_memory();
  const int64_t available = o.memory_limit > 0 && (device <= 0 || o.memory_limit < device) ? o.memory_limit : device;
  if (available <= 0) return;  // unknown: LibTorch's own out-of-memory error names the batch's subjects
  const double per_subject = static_cast<double>(lrp::explanation_bytes(model, o.composite, runtime.options(), o.members));
  if (per_subject * batch <= static_cast<double>(available)) return;
  const auto gib = [](double bytes) {
    std::ostringstream s;
    s.precision(3);
    s << bytes / (1024.0 * 1024.0 * 1024.0) << " GiB";
    return s.str();
  };
  const int fits = static_cast<int>(static_cast<double>(available) / per_subject);
  throw std::invalid_argument("--batch " + std::to_string(batch) + ": explaining " + std::to_string(batch) +
                              " subjects at once needs about " + gib(per_subject * batch) + " on " + runtime.device_name() +
                              " (" + gib(per_subject) + " each), but " + gib(static_cast<double>(available)) +
                              (available == device ? " are available" : " are allowed (--memory)") + "; use --batch " + std::to_string(std::max(fits, 1)) +
                              (fits < 1 ? " (even one subject may not fit)" : ""));
}

CohortSummary run_cohort(const std::vector<io::Subject>& cohort, const std::vector<io::Subject>& todo,
                         const models::Ensemble& model, const PreprocessSpec& preprocess, const Runtime& runtime,
                         const CohortOptions& o, const std::function<void(const std::string&)>& log,
                         const std::function<void(const CohortProgress&)>& progress) {
  check_batch_fits(model, runtime, o, todo.size());
  const int batch = effective_batch(o, todo.size());
  fs::create_directories(o.out_dir);
  io::require_configuration(o.out_dir, cohort_configuration(o, runtime), o.force);
  if (o.shard_tag.empty()) io::remove_stray_temporaries(o.out_dir);  // a shard leaves the shared files to their writers
  for (const io::Subject& s : todo) io::remove_stray_temporaries(subject_dir(o, s.id));
  CohortSummary summary;
  summary.cohort = cohort.size();
  summary.todo = todo.size();
  io::Table& failures = summary.failures;
  failures.columns = {"id", "input", "error"};
  std::optional<io::Volume> mni;
  if (!o.mni_reference.empty()) mni = io::read_volume(o.mni_reference);
  const auto start = std::chrono::steady_clock::now();

  // readers ─(loaded, ≤ 2·batch)─▶ device (this thread) ─(computed, ≤ 2·batch)─▶ writers
  BoundedQueue<std::unique_ptr<Work>> loaded(2 * batch), computed(2 * batch);
  std::atomic<std::size_t> next{0};
  std::mutex done_mutex;  // summary, failures, progress
  std::size_t finished = 0;
  double waiting = 0;     // seconds the device waited for input
  const auto finish = [&](const Work& w) {
    std::lock_guard<std::mutex> lock(done_mutex);
    CohortProgress step{++finished, todo.size(), w.subject->id, "done"};
    if (w.skipped) {
      ++summary.skipped;
      step.status = "skipped (done earlier)";
    } else if (!w.error.empty()) {
      ++summary.failed;
      failures.rows.push_back({w.subject->id, w.subject->flair, w.error});
      step.status = "FAILED: " + w.error;
    } else {
      ++summary.computed;
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    step.subjects_per_minute = elapsed > 0 ? 60.0 * static_cast<double>(finished) / elapsed : 0;
    step.eta_seconds = step.subjects_per_minute > 0 ? 60.0 * static_cast<double>(todo.size() - finished) / step.subjects_per_minute : 0;
    progress(step);
  };

  const auto reader = [&] {
    lower_thread_priority();
    for (std::size_t k; (k = next++) < todo.size();) {
      auto w = std::make_unique<Work>();
      w->index = k;
      w->subject = &todo[k];
      w->skipped = !o.force && subject_completed(o, w->subject->id);
      if (!w->skipped) {
        try {
          read_subject(*w, preprocess);
        } catch (const std::exception& e) {
          w->error = e.what();
        }
      }
      if (!loaded.push(std::move(w))) return;  // the device gave up
    }
  };
  const auto writer = [&] {
    lower_thread_priority();
    while (auto w = computed.pop()) {
      if (!(*w)->skipped && (*w)->error.empty()) {
        try {
          write_subject(**w, preprocess, o, mni ? &*mni : nullptr);
        } catch (const std::exception& e) {
          (*w)->error = e.what();
        }
      }
      finish(**w);
    }
  };
  std::vector<std::thread> readers, writers;
  for (int r = 0; r < std::max(1, o.readers); ++r) readers.emplace_back(reader);
  for (int r = 0; r < std::max(1, o.writers); ++r) writers.emplace_back(writer);
  std::thread closer([&] {
    for (auto& t : readers) t.join();
    loaded.close();
  });

  // The device: batch b holds the subjects at positions [b·batch, (b+1)·batch) of the run's list, whatever
  // order the readers deliver them in. A batch's maps can differ from single ones in the last bits (a
  // primitive may take another path for another batch), so fixed batches keep the bytes reproducible.
  try {
    std::map<std::size_t, std::unique_ptr<Work>> arrived;
    for (std::size_t start = 0; start < todo.size();) {
      const std::size_t end = std::min(todo.size(), start + static_cast<std::size_t>(batch));
      // Every subject before `start` has left `arrived`: the batch is complete when it holds end − start keys below `end`.
      while (static_cast<std::size_t>(std::distance(arrived.begin(), arrived.lower_bound(end))) < end - start) {
        const auto wait_start = std::chrono::steady_clock::now();
        auto w = loaded.pop();
        waiting += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
        if (!w) throw std::logic_error("the cohort's readers stopped before delivering every subject");
        const std::size_t index = (*w)->index;
        arrived.emplace(index, std::move(*w));
      }
      std::vector<std::unique_ptr<Work>> items;
      for (std::size_t k = start; k < end; ++k) {
        items.push_back(std::move(arrived.at(k)));
        arrived.erase(k);
      }
      start = end;
      std::vector<Work*> ready;
      for (auto& w : items)
        if (!w->skipped && w->error.empty()) ready.push_back(w.get());
      if (!ready.empty()) {
        try {
          if (o.explain)
            explain_batch(ready, model, runtime, o);
          else
            predict_batch(ready, model, runtime);
        } catch (const std::exception& e) {
          for (Work* w : ready) w->error = e.what();
        }
      }
      for (auto& w : items) {
        if (w->prepared) w->prepared->model_input.voxels = std::vector<float>();  // the writer needs only the grid
        computed.push(std::move(w));
      }
    }
  } catch (...) {
    loaded.close();
    computed.close();
    closer.join();
    for (auto& t : writers) t.join();
    throw;
  }
  closer.join();
  computed.close();
  for (auto& t : writers) t.join();
  summary.device_wait_seconds = waiting;

  const std::string failures_file = o.out_dir + (o.shard_tag.empty() ? "/failures.csv" : "/failures-" + o.shard_tag + ".csv");
  std::sort(failures.rows.begin(), failures.rows.end());  // writers finish in any order
  io::write_csv(failures_file, failures);
  if (o.cohort_tables) summary.completed = write_cohort_tables(cohort, o, log);
  return summary;
}

}  // namespace mlens::engine
