// mlens explain: prediction + LRP relevance map for one volume, with a JSON sidecar that records how.
#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "engine/subject.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "io/paths.h"
#include "io/volume.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

// `out` without its NIfTI extension, the stem of the sidecar and member maps.
std::string stem_of(const std::string& out) {
  const std::string ext = io::nifti_extension(out);
  if (ext.empty()) throw UsageError("--out \"" + out + "\": expected a NIfTI file name ending in .nii.gz or .nii");
  return out.substr(0, out.size() - ext.size());
}

std::string number_text(double v) {
  std::ostringstream s;
  s << std::setprecision(8) << v;
  return s.str();
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Which output was explained and its value: {"selection": "max", "index": 2, "value": 0.7} (index −1: all).
nlohmann::json neuron_json(const lrp::Composite& composite, const at::Tensor& neuron, const at::Tensor& prediction) {
  return {{"selection", composite.neuron.describe()}, {"index", neuron.item<int64_t>()}, {"value", prediction.item<double>()}};
}

std::string neuron_text(const nlohmann::json& neuron, int64_t outputs) {
  if (outputs == 1) return "";
  const int64_t index = neuron["index"];
  return index < 0 ? "  (all " + std::to_string(outputs) + " outputs)"
                   : "  (output " + std::to_string(index) + " of " + std::to_string(outputs) + ")";
}

bool is_lrp(const lrp::Composite& c) { return c.method == lrp::Method::Lrp || c.method == lrp::Method::DeepTaylor; }

struct Timings {
  double load = 0, explain = 0, write = 0;
};

// What every sidecar records; each input kind adds its model, members and neuron.
nlohmann::json sidecar_json(double prediction, double relevance_sum, const std::string& out, const std::string& input,
                            const lrp::Composite& composite, const engine::Runtime& runtime, const Timings& t) {
  return {{"prediction", prediction},
          {"relevance_sum", relevance_sum},
          {"relevance_map", out},
          {"input", input},
          {"rule", to_json(composite)},
          {"options", {{"device", runtime.device_name()}, {"dtype", runtime.dtype_name()}, {"threads", runtime.thread_count()}}},
          {"timings_seconds", {{"load", t.load}, {"explain", t.explain}, {"write", t.write}}},
          {"versions", versions_json()},
          {"created", now_utc()}};
}

// Writes the sidecar, then prints it (--json) or a summary; `neuron` is neuron_text's note.
int finish(const po::variables_map& vm, const nlohmann::json& meta, const lrp::Composite& composite,
           const std::string& neuron, const std::string& sidecar, const Timings& t) {
  io::write_text_atomically(sidecar, meta.dump(2) + "\n");
  if (vm.count("json")) {
    std::cout << meta.dump(2) << "\n";
    return kExitOk;
  }
  const double relevance_sum = meta["relevance_sum"];
  std::cout << std::setprecision(8) << "prediction:     " << meta["prediction"].get<double>() << neuron << "\n"
            << (is_lrp(composite)
                    ? "relevance sum:  " + number_text(relevance_sum) + "  (the rest was absorbed by biases/epsilon; see the sidecar)\n"
                    : "attribution sum: " + number_text(relevance_sum) + "\n")
            << "relevance map:  " << meta["relevance_map"].get<std::string>() << "\n"
            << "sidecar:        " << sidecar << "\n"
            << std::setprecision(3) << "time:           " << t.explain << " s explain, " << t.load << " s load, "
            << t.write << " s write\n";
  return kExitOk;
}

// A .npy or 4D NIfTI input (any model shape): the attribution written in the input's shape, as .npy
// or, for a NIfTI input, as a 4D NIfTI of one map per channel on the input's grid.
int explain_array(const po::variables_map& vm, const engine::Runtime& runtime, const lrp::Composite& composite) {
  const auto t0 = Clock::now();
  const std::string out = vm["out"].as<std::string>();
  const bool npy_out = io::has_npy_extension(out), nifti_in = !io::has_npy_extension(vm["input"].as<std::string>());
  if (!npy_out && (io::nifti_extension(out).empty() || !nifti_in))
    throw UsageError("--out \"" + out + "\": " +
                     (nifti_in ? "a 4D NIfTI input's attribution is written as NIfTI (REL.nii.gz) or .npy (REL.npy)"
                               : "a .npy input's attribution is written as .npy (REL.npy)"));
  if (vm.count("members") || vm.count("model-space")) throw UsageError("--members and --model-space are for single volumes");
  const std::string stem = npy_out ? out.substr(0, out.size() - 4) : stem_of(out);
  const std::string sidecar = vm.count("sidecar") ? vm["sidecar"].as<std::string>() : stem + ".json";
  for (const std::string& target : {out, sidecar}) io::require_writable_file(target);
  const ArraySubject s = load_array_subject(vm, runtime, &composite);
  Timings t;
  t.load = seconds_since(t0);
  if (s.net.softmax_removed) log("model \"" + s.net.name + "\" ends in a softmax: explaining its input (the logits), as iNNvestigate does");
  log("explaining " + s.source + " with " + composite.name + " on " + runtime.device_name() + " (" + runtime.dtype_name() + ")");
  const auto t1 = Clock::now();
  const lrp::Explanation e = lrp::explain(s.net, s.x, composite);
  t.explain = seconds_since(t1);
  const auto t2 = Clock::now();
  // The input's own shape and dtype; a float64 run writes float64.
  const bool float64 = s.array.float64 || runtime.dtype == at::kDouble;
  if (npy_out) io::write_npy(out, engine::to_array(e.relevance, s.array.shape, float64));
  else if (float64) io::write_volumes(out, engine::to_volumes<double>(e.relevance, *s.grid));
  else io::write_volumes(out, engine::to_volumes<float>(e.relevance, *s.grid));
  t.write = seconds_since(t2);
  nlohmann::json meta = sidecar_json(e.prediction.item<double>(), e.relevance.sum().item<double>(), out, s.source, composite,
                                     runtime, t);
  meta["neuron"] = neuron_json(composite, e.neuron[0], e.prediction[0]);
  meta["model"] = {{"file", vm["model"].as<std::string>()}, {"name", s.net.name}};
  meta["conservation"] = is_lrp(composite) ? to_json(e.accounts.at(0)) : nlohmann::json(nullptr);
  meta.update(engine::outputs_json(e.outputs[0], s.net.softmax_removed));
  return finish(vm, meta, composite, neuron_text(meta["neuron"], e.outputs.size(1)), sidecar, t);
}

int run(const po::variables_map& vm) {
  const auto t0 = Clock::now();
  const engine::Runtime runtime = runtime_from(vm);
  const lrp::Composite composite = composite_from(vm);
  if (is_array_input(vm) && !vm.count("cohort")) return explain_array(vm, runtime, composite);
  const std::string out = vm["out"].as<std::string>();
  const LoadedModel loaded = load_model(vm, runtime, composite);
  const models::Ensemble& model = loaded.model;
  lrp::check_explainable(model);
  if (vm.count("cohort")) return run_cohort(vm, runtime, loaded, /*explain=*/true, composite);
  if (!vm.count("input")) throw UsageError("give --input VOL (or --cohort CSV)");
  const std::string sidecar = vm.count("sidecar") ? vm["sidecar"].as<std::string>() : stem_of(out) + ".json";
  // Every output is checked before the computation, so a bad path fails at once and leaves no map
  // written without its sidecar.
  for (const std::string& target : {out, sidecar}) io::require_writable_file(target);
  if (vm.count("model-space")) io::require_writable_file(vm["model-space"].as<std::string>());
  const std::string input = vm["input"].as<std::string>();
  const engine::Prepared prepared = prepare_subject(vm, loaded);
  const io::Volume& volume = prepared.model_input;
  Timings t;
  t.load = seconds_since(t0);

  log("explaining " + input + " with " + composite.name + " on " + runtime.device_name() + " (" + runtime.dtype_name() +
      ", " + std::to_string(runtime.thread_count()) + " threads)");
  const auto t1 = Clock::now();
  const bool member_maps = vm.count("members") > 0;
  const lrp::EnsembleExplanation e = engine::explain(model, volume, composite, runtime, input, member_maps);
  t.explain = seconds_since(t1);

  const auto t2 = Clock::now();
  // Maps are made in the model's grid and written in the subject's (the same grid for --model); a
  // float64 run writes float64 NIfTI, so that its digits reach the file.
  const auto write_map = [&](const std::string& path, const at::Tensor& map, bool subject_space) {
    if (runtime.dtype == at::kDouble) {
      io::Volume64 m = engine::to_volume64(map, volume);
      io::write_volume(path, subject_space ? engine::to_subject_space(std::move(m), prepared) : m);
    } else {
      io::Volume m = engine::to_volume(map, volume);
      io::write_volume(path, subject_space ? engine::to_subject_space(std::move(m), prepared) : m);
    }
  };
  write_map(out, e.relevance, true);
  if (vm.count("model-space")) write_map(vm["model-space"].as<std::string>(), e.relevance, false);
  nlohmann::json members = nlohmann::json::array();
  for (std::size_t k = 0; k < e.members.size(); ++k) {
    const lrp::MemberExplanation& m = e.members[k];
    nlohmann::json entry{{"name", m.name}, {"coefficient", m.coefficient}, {"prediction", m.prediction.item<double>()},
                         {"conservation", to_json(m.accounts.at(0))}};
    if (member_maps) {
      const std::string path = stem_of(out) + "_member-" + std::to_string(k + 1) + ".nii.gz";
      write_map(path, m.relevance, true);
      entry["relevance_map"] = path;
    }
    members.push_back(entry);
  }
  t.write = seconds_since(t2);

  nlohmann::json meta =
      sidecar_json(e.prediction.item<double>(), e.relevance.sum().item<double>(), out, input, composite, runtime, t);
  meta["model"] = {{"file", loaded.source}, {"name", model.name}, {"ensemble", vm.count("manifest") > 0}};
  meta["members"] = members;
  meta["conservation"] = e.members.size() == 1 ? members[0]["conservation"] : nlohmann::json(nullptr);
  // --model's output neuron (an ensemble's members have one output each).
  std::string neuron;
  if (!vm.count("manifest")) {
    const lrp::MemberExplanation& m = e.members[0];
    meta["neuron"] = neuron_json(composite, m.neuron[0], m.prediction[0]);
    meta.update(engine::outputs_json(m.outputs[0], model.members[0].network->softmax_removed));
    neuron = neuron_text(meta["neuron"], m.outputs.size(1));
  }
  return finish(vm, meta, composite, neuron, sidecar, t);
}

}  // namespace

Command explain_command() {
  return {"explain",
          "predict and write the LRP relevance map of one volume",
          "mlens explain (--model MODEL.h5 | --manifest ENSEMBLE.mlens.json) --input VOL.nii.gz --out REL.nii.gz "
          "[--rule preset-a] [--members] [options]",
          "Runs the forward pass, then Layer-wise Relevance Propagation from the predicted value back to the voxels, "
          "with iNNvestigate's semantics (docs/lrp.md). Writes the relevance map as float32 NIfTI (float64 with --dtype "
          "float64) with the input's "
          "affine (open it over the input in FSLeyes or ITK-SNAP) and a JSON sidecar with the prediction, the rules, "
          "the per-layer conservation account (how much relevance each bias absorbed), timings and versions. Files are "
          "written atomically. With --manifest the map is the ensemble's: the coefficient-weighted sum of its "
          "members' maps (the intercept carries no relevance); --members also writes each network's own map. With --cohort "
          "every subject's map goes to DIR/<id>/relevance.nii.gz (docs/cohorts.md), resumable and shardable.",
          "mlens explain --model mrinet.h5 --input sub-01_flair_198.nii.gz --rule preset-a --out sub-01_relevance.nii.gz",
          [](po::options_description& o, po::positional_options_description&) {
            add_model_options(o);
            add_subject_options(o);
            o.add_options()("out,o", po::value<std::string>()->required()->value_name("REL"),
                            "relevance map to write (.nii.gz), in the input volume's grid (a 4D NIfTI input: one map per "
                            "channel); REL.npy for a .npy or 4D NIfTI input (its shape, channels last; float64 for float64 "
                            ".npy inputs or float64 runs); with --cohort a directory")(
                "model-space", po::value<std::string>()->value_name("FILE"), "also write the map in the model's grid")(
                "sidecar", po::value<std::string>()->value_name("JSON"), "sidecar path (default: REL with .json)")(
                "members", "also write each ensemble member's map (REL_member-K.nii.gz)")(
                "json", "print the sidecar to stdout instead of a summary");
            add_cohort_options(o);
            add_rule_options(o);
            add_runtime_options(o);
          },
          run};
}

}  // namespace mlens::tools
