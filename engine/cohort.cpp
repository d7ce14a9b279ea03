#include "engine/cohort.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>

#include "engine/batch_pipeline.h"
#include "engine/subject.h"
#include "engine/transfers.h"
#include "io/atomic_file.h"
#include "io/output_dir.h"
#include "io/table.h"
#include "io/volume.h"
#include "io/warp.h"

namespace mlens::engine {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::vector<double> doubles(const at::Tensor& row) {
  const at::Tensor t = row.to(at::kCPU, at::kDouble).contiguous();
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

// The network of a model with several outputs (a classifier, a multi-task head): one network (--model),
// since an ensemble's head combines single predictions (models::check_single_output).
const models::Sequential* multi_output_network(const models::Ensemble& model) {
  const auto& m = model.members;
  return m.size() == 1 && m[0].network && m[0].network->output_count() > 1 ? m[0].network.get() : nullptr;
}

// A subject on its way through the pipeline: read, prepared and sent to the device by a reader, computed
// on the device, received and written by a writer. `error` set at any stage sends it straight to the failures.
struct Work {
  std::size_t index = 0;  // in the run's list of subjects
  const io::Subject* subject = nullptr;
  bool skipped = false;   // completed by an earlier run
  std::string error;
  std::optional<Prepared> prepared;  // the first channel (the only one of a one-channel model); its grid, not its voxels
  Transfer input;                    // the model input's channels, [1, 1, D, H, W] float32 each, on their way to the device
  Transfer maps;                     // with explain: the relevance map, then each member's when kept, on their way to host memory
  double prediction = 0;  // the brain-age; for a model with several outputs, the explained neuron's value
  json members = json::array();
  std::vector<double> outputs;  // a model with several outputs: all of them
  int64_t neuron = -1;          // and, explained, the output the map starts from (−1: all)
  lrp::EnsembleExplanation explanation;  // with explain: the rest (predictions, conservation accounts)
};

json neuron_json(const Work& w, const CohortOptions& o) {
  return {{"selection", o.composite.neuron.describe()}, {"index", w.neuron}, {"value", w.prediction}};
}

// Reads and prepares the subject and starts copying its model input to the device. A multi-channel model's
// subject is a 4D NIfTI of one volume per channel in the model's grid (such a model comes alone, with
// --model, whose preprocessing keeps the volume as it is).
void read_subject(Work& w, const PreprocessSpec& preprocess, const models::Int3& input_shape, int64_t channels,
                  const Transfers& transfers) {
  const io::Subject& s = *w.subject;
  std::vector<at::Tensor> inputs;
  if (channels == 1) {
    w.prepared = prepare(io::read_volume(s.flair), preprocess, nullptr, s.flair);
    inputs.push_back(host_input(w.prepared->model_input, input_shape, transfers, s.flair));
  } else {
    std::vector<io::Volume> volumes = io::read_volumes(s.flair);
    if (static_cast<int64_t>(volumes.size()) != channels)
      throw std::runtime_error("\"" + s.flair + "\": " + std::to_string(volumes.size()) + " volume(s), but the model takes " +
                               std::to_string(channels) + " channels: give a 4D NIfTI of one volume per channel");
    for (std::size_t c = 0; c < volumes.size(); ++c) {
      Prepared p = prepare(std::move(volumes[c]), preprocess, nullptr, s.flair);
      inputs.push_back(host_input(p.model_input, input_shape, transfers, s.flair));
      if (c == 0) w.prepared = std::move(p);
    }
  }
  w.prepared->model_input.voxels = std::vector<float>();  // the writer needs only the grid
  w.input = transfers.to_device(inputs);
}

void check_finite(double prediction) {
  if (!std::isfinite(prediction)) throw std::runtime_error("the prediction is not finite (" + std::to_string(prediction) + ")");
}

// The model inputs of a batch's subjects, [N, C, D, H, W] in the runtime's dtype, once their copies are done.
at::Tensor batch_input(const std::vector<Work*>& batch, const Runtime& runtime) {
  std::vector<at::Tensor> inputs;
  for (Work* w : batch) {
    const std::vector<at::Tensor> channels = w->input.on_device();
    inputs.push_back(channels.size() == 1 ? channels[0] : at::cat(channels, 1));
  }
  return (inputs.size() == 1 ? inputs[0] : at::cat(inputs)).to(runtime.dtype);
}

void record_prediction(Work& w, double prediction) {
  w.prediction = prediction;
  try {
    check_finite(prediction);
    for (double y : w.outputs) check_finite(y);
  } catch (const std::exception& e) {
    w.error = e.what();
  }
}

// Predictions for a batch of prepared subjects in one forward pass.
void predict_batch(const std::vector<Work*>& ready, const models::Ensemble& model, const Runtime& runtime) {
  const at::Tensor x = batch_input(ready, runtime);
  if (const models::Sequential* net = multi_output_network(model)) {
    const at::Tensor y = net->forward(x).reshape({x.size(0), -1});
    for (std::size_t q = 0; q < ready.size(); ++q) {
      ready[q]->outputs = doubles(y[static_cast<int64_t>(q)]);
      record_prediction(*ready[q], *std::max_element(ready[q]->outputs.begin(), ready[q]->outputs.end()));
    }
    return;
  }
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
// The maps leave for host memory at once; the device goes on with the next batch while they travel.
void explain_batch(const std::vector<Work*>& ready, const models::Ensemble& model, const Runtime& runtime,
                   const Transfers& transfers, const CohortOptions& o) {
  const at::Tensor x = batch_input(ready, runtime);
  lrp::EnsembleExplanation all = lrp::explain(model, x, o.composite, o.members);
  for (std::size_t q = 0; q < ready.size(); ++q) {
    Work& w = *ready[q];
    lrp::EnsembleExplanation e = ready.size() == 1 ? std::move(all) : lrp::sample(all, static_cast<int64_t>(q));
    // The maps (relevance, then each member's when kept) leave for host memory; the explanation keeps the rest.
    std::vector<at::Tensor> maps{std::exchange(e.relevance, at::Tensor())};
    for (auto& m : e.members)
      if (m.relevance.defined()) maps.push_back(std::exchange(m.relevance, at::Tensor()));
    w.maps = transfers.to_host(maps);
    for (const auto& m : e.members)
      w.members.push_back({{"name", m.name}, {"coefficient", m.coefficient}, {"prediction", m.prediction[0].item<double>()}});
    if (multi_output_network(model)) {
      w.outputs = doubles(e.members.at(0).outputs[0]);
      w.neuron = e.members.at(0).neuron[0].item<int64_t>();
    }
    record_prediction(w, e.prediction[0].item<double>());
    w.explanation = std::move(e);
  }
}

// Maps back to the subject's grid (and MNI), files, and prediction.json last: it marks completion.
void write_subject(Work& w, const PreprocessSpec& preprocess, const CohortOptions& o, const io::Volume* mni) {
  const io::Subject& s = *w.subject;
  const Prepared& prepared = *w.prepared;
  const std::string dir = subject_dir(o, s.id);
  fs::create_directories(dir);
  if (o.explain) {
    const lrp::EnsembleExplanation& e = w.explanation;
    const std::vector<at::Tensor> maps = w.maps.on_host();  // relevance, then each member's when kept
    // A map [1, C, D, H, W] in the subject's grid, one volume per channel (a 4D NIfTI when C > 1).
    const auto subject_maps = [&](const at::Tensor& map, auto value) {
      auto out = to_volumes<decltype(value)>(map, prepared.model_input);
      for (auto& v : out) v = to_subject_space(std::move(v), prepared);
      return out;
    };
    // Subject-space maps of a float64 run are float64 NIfTI; the MNI map is warped (and written) in float32.
    const auto write_map = [&](const std::string& path, const at::Tensor& map) {
      if (map.scalar_type() == at::kDouble)
        io::write_volumes(path, subject_maps(map, double{}));
      else
        io::write_volumes(path, subject_maps(map, float{}));
    };
    if (mni) {
      if (s.transforms.empty())
        throw std::runtime_error("no transform to the template for \"" + s.id + "\" (the cohort's transform column is empty)");
      const io::TransformChain transforms = io::TransformChain::read(s.transforms);
      std::vector<io::Volume> warped;
      for (const io::Volume& c : subject_maps(maps[0], float{})) warped.push_back(io::warp(c, *mni, transforms, io::Interpolation::Linear));
      io::write_volumes(dir + "/relevance_mni.nii.gz", warped);
    }
    write_map(dir + "/relevance.nii.gz", maps[0]);
    json accounts = json::array();
    for (std::size_t k = 0; k < e.members.size(); ++k) {
      const auto& m = e.members[k];
      if (o.members) write_map(dir + "/relevance_member-" + std::to_string(k + 1) + ".nii.gz", maps.at(k + 1));
      json rows = json::array();
      for (const auto& a : m.accounts.at(0))
        rows.push_back({{"layer", a.layer}, {"rule", a.rule}, {"relevance_out", a.relevance_out},
                        {"relevance_in", a.relevance_in}, {"small_denominators", a.small_denominators}});
      accounts.push_back({{"member", m.name}, {"layers", rows}});
    }
    json sidecar{{"id", s.id}, {"input", s.flair}, {"prediction", w.prediction}};
    if (!w.outputs.empty()) sidecar["neuron"] = neuron_json(w, o);
    sidecar.update(json{{"relevance_sum", maps[0].sum().item<double>()}, {"rule", to_json(o.composite)}, {"conservation", accounts}});
    io::write_text_atomically(dir + "/relevance.json", sidecar.dump(2) + "\n");
  }
  json prediction{{"id", s.id}, {"input", s.flair}, {"age", number_or_null(s.age)}};
  if (w.outputs.empty()) {
    prediction.update(json{{"brain_age", w.prediction}, {"members", w.members}});
  } else {  // a classifier or multi-task head: every output, the softmax's probabilities when it ends in one
    prediction.update(outputs_json(at::tensor(w.outputs, at::kDouble), o.softmax_removed));
    prediction["argmax"] = std::max_element(w.outputs.begin(), w.outputs.end()) - w.outputs.begin();
    if (o.explain) prediction["neuron"] = neuron_json(w, o);
  }
  prediction["qc"] = {{"intensity_max", prepared.intensity_max}, {"brain_extent", prepared.brain_extent},
                      {"flags", qc_flags(prepared, preprocess)}};
  io::write_text_atomically(dir + "/prediction.json", prediction.dump(2) + "\n");
}

}  // namespace

std::string subject_dir(const CohortOptions& o, const std::string& id) { return o.out_dir + "/" + id; }

void check_cohort_model(const models::Ensemble& model) {
  if (const models::Sequential* net = multi_output_network(model)) {
    if (net->outputs_image())
      throw std::invalid_argument("model \"" + net->name + "\" outputs an image " + models::shape_text(net->final_shape()) +
                                  "; a cohort's table holds a vector of outputs per subject: explain it one input at a time");
  } else {
    models::check_single_output(model, "an ensemble in a cohort");
  }
  const std::function<void(const models::Ensemble&)> check_inputs = [&](const models::Ensemble& e) {
    for (const auto& m : e.members) {
      if (m.ensemble) check_inputs(*m.ensemble);
      if (m.network && m.network->spatial_rank != 3)
        throw std::invalid_argument("model \"" + m.name + "\" takes 2D images; a cohort reads a volume per subject (its flair "
                                    "column): explain a 2D model one input at a time (--input, a .npy or a NIfTI of one plane)");
      if (m.network && m.network->input_channels != 1 && (e.members.size() > 1 || &e != &model))
        throw std::invalid_argument("model \"" + m.name + "\" takes " + std::to_string(m.network->input_channels) +
                                    " channels; a cohort runs a multi-channel model alone (--model), not in an ensemble");
    }
  };
  check_inputs(model);
}

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
  // Besides the explanation, per subject of a batch: the inputs read ahead, on the device as they are read
  // (the pipeline reads at most two batches ahead; float32, as uploaded), and the previous batch's maps,
  // which may still be on their way to host memory.
  const models::Int3 grid = model.input_shape();
  const double cells = static_cast<double>(grid[0] * grid[1] * grid[2]);
  const double channels = static_cast<double>(model.input_channels());
  const double inputs_ahead = 2 * 4.0 * channels * cells;
  const double maps = static_cast<double>(at::elementSize(runtime.dtype)) * cells * channels *
                      static_cast<double>(1 + (o.members ? model.members.size() : 0));
  const double explanation = static_cast<double>(lrp::explanation_bytes(model, o.composite, runtime.options(), o.members));
  const double per_subject = explanation + inputs_ahead + maps;
  if (per_subject * batch <= static_cast<double>(available)) return;
  const auto gib = [](double bytes) {
    std::ostringstream s;
    s.precision(3);
    s << bytes / (1024.0 * 1024.0 * 1024.0) << " GiB";
    return s.str();
  };
  const int fits = static_cast<int>(static_cast<double>(available) / per_subject);
  throw std::invalid_argument("--batch " + std::to_string(batch) + ": explaining " + std::to_string(batch) +
                              " subjects at once needs about " + gib(per_subject * batch) + " on " + runtime.device_name() + " (" +
                              gib(per_subject) + " each, with the inputs read ahead and the maps on their way back), but " +
                              gib(static_cast<double>(available)) +
                              (available == device ? " are available" : " are allowed (--memory)") + "; use --batch " + std::to_string(std::max(fits, 1)) +
                              (fits < 1 ? " (even one subject may not fit)" : ""));
}

CohortSummary run_cohort(const std::vector<io::Subject>& cohort, const std::vector<io::Subject>& todo,
                         const models::Ensemble& model, const PreprocessSpec& preprocess, const Runtime& runtime,
                         const CohortOptions& options, const std::function<void(const std::string&)>& log,
                         const std::function<void(const CohortProgress&)>& progress) {
  check_cohort_model(model);
  CohortOptions o = options;
  if (const models::Sequential* net = multi_output_network(model)) {
    o.outputs = net->output_count();
    o.softmax_removed = net->softmax_removed;
  }
  check_batch_fits(model, runtime, o, todo.size());
  const int batch = effective_batch(o, todo.size());
  const int64_t channels = model.input_channels();
  if (channels > 1 && (preprocess.fit != "none" || !preprocess.orientation.empty() || preprocess.normalise != "none"))
    throw std::invalid_argument("a multi-channel model's subjects are taken as they are (a 4D NIfTI in the model's grid): "
                                "preprocessing prepares one volume per subject");
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

  std::mutex done_mutex;  // summary, failures, progress
  std::size_t finished = 0;
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

  const Transfers transfers(runtime.device);
  transfers.make_current();
  BatchPipeline<Work> pipeline;
  pipeline.thread_start = [&] { transfers.make_current(); };
  pipeline.batch = batch;
  pipeline.readers = o.readers;
  pipeline.writers = o.writers;
  pipeline.read = [&](std::size_t k) {
    auto w = std::make_unique<Work>();
    w->index = k;
    w->subject = &todo[k];
    try {
      w->skipped = !o.force && subject_completed(o, w->subject->id);
      if (!w->skipped) read_subject(*w, preprocess, model.input_shape(), channels, transfers);
    } catch (const std::exception& e) {
      w->error = e.what();
    }
    return w;
  };
  pipeline.compute = [&](std::vector<std::unique_ptr<Work>>& items) {
    std::vector<Work*> ready;
    for (auto& w : items)
      if (!w->skipped && w->error.empty()) ready.push_back(w.get());
    if (!ready.empty()) {
      try {
        if (o.explain)
          explain_batch(ready, model, runtime, transfers, o);
        else
          predict_batch(ready, model, runtime);
      } catch (const std::exception& e) {
        for (Work* w : ready) w->error = e.what();
      }
    }
  };
  pipeline.write = [&](std::unique_ptr<Work> w) {
    if (!w->skipped && w->error.empty()) {
      try {
        write_subject(*w, preprocess, o, mni ? &*mni : nullptr);
      } catch (const std::exception& e) {
        w->error = e.what();
      }
    }
    finish(*w);
  };
  const double waiting = pipeline.run(todo.size());
  summary.device_wait_seconds = waiting;

  const std::string failures_file = o.out_dir + (o.shard_tag.empty() ? "/failures.csv" : "/failures-" + o.shard_tag + ".csv");
  std::sort(failures.rows.begin(), failures.rows.end());  // writers finish in any order
  io::write_csv(failures_file, failures);
  if (o.cohort_tables) summary.completed = write_cohort_tables(cohort, o, log);
  return summary;
}

}  // namespace mlens::engine
