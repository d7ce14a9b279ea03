// mlens predict: the model's prediction for one volume in its input grid.
#include <iomanip>
#include <iostream>

#include "engine/subject.h"
#include "io/volume.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

// One network's outputs: a single one as the number alone (or "prediction" in JSON), several one per line,
// with the softmax's probabilities when the model ends in one.
int print_outputs(const po::variables_map& vm, const std::string& input, const std::string& model, const at::Tensor& y,
                  const models::Sequential& net) {
  nlohmann::json j{{"model", model}, {"input", input}};
  j.update(engine::outputs_json(y.reshape({-1}), net.softmax_removed));
  const std::vector<double> outputs = j["outputs"];
  if (outputs.size() == 1) j["prediction"] = outputs[0];
  if (vm.count("json")) {
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << std::setprecision(8);
  if (outputs.size() == 1) {
    std::cout << outputs[0] << "\n";
    return kExitOk;
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    std::cout << "output " << k << ": " << outputs[k];
    if (net.softmax_removed) std::cout << "  (probability " << j["probabilities"][k].get<double>() << ")";
    std::cout << "\n";
  }
  return kExitOk;
}

int run(const po::variables_map& vm) {
  const engine::Runtime runtime = runtime_from(vm);
  if (is_array_input(vm) && !vm.count("cohort")) {
    const ArraySubject s = load_array_subject(vm, runtime);
    return print_outputs(vm, s.source, vm["model"].as<std::string>(), s.net.forward(s.x), s.net);
  }
  const LoadedModel loaded = load_model(vm, runtime);
  if (vm.count("cohort")) {
    if (!vm.count("out")) throw UsageError("--cohort needs --out DIR");
    return run_cohort(vm, runtime, loaded, /*explain=*/false, lrp::Composite{});
  }
  if (!vm.count("input")) throw UsageError("give --input VOL (or --cohort CSV)");
  const std::string input = vm["input"].as<std::string>();
  const engine::Prepared prepared = prepare_subject(vm, loaded);
  if (!vm.count("manifest")) {  // one network: every output it has
    const models::Sequential& net = *loaded.model.members.at(0).network;
    return print_outputs(vm, input, loaded.source, net.forward(engine::to_input(prepared.model_input, net.input_shape, runtime, input)), net);
  }
  const double prediction = engine::predict(loaded.model, prepared.model_input, runtime, input);
  if (vm.count("json"))
    std::cout << nlohmann::json{{"model", loaded.source}, {"input", input}, {"prediction", prediction}}.dump(2) << "\n";
  else
    std::cout << std::setprecision(8) << prediction << "\n";
  return kExitOk;
}

}  // namespace

Command predict_command() {
  return {"predict",
          "predict brain-age for a volume already in the model's input grid",
          "mlens predict (--model MODEL.h5 | --manifest ENSEMBLE.mlens.json) (--input VOL.nii.gz [--json] | --cohort "
          "COHORT.csv --out DIR)",
          "Runs the model's forward pass on one NIfTI volume whose voxel grid is the model's input grid (for the "
          "published FLAIR MRInets: 198x198x198 after pruning) and prints the prediction; a model with several "
          "outputs prints each (a final softmax's probabilities beside its inputs). With --model the input may also "
          "be a .npy array in the model's Keras input shape (2D models, several channels). With --manifest the "
          "prediction is the ensemble's: intercept + the coefficient-weighted sum of its members' predictions, and the "
          "manifest's preprocessing (reorient, prune, normalise; docs/ensembles.md) brings a subject's volume into the grid. "
          "With --cohort every subject is scored into DIR (predictions.csv with gap and age-bias-corrected gap, "
          "members' spread, QC flags, or a classifier's every output; failures.csv; summary.json; docs/cohorts.md); completed subjects are skipped "
          "on a re-run, so a killed run resumes, and --shard I/N splits the cohort for a job array.",
          "mlens predict --model mrinet.h5 --input sub-01_flair_198.nii.gz --json",
          [](po::options_description& o, po::positional_options_description&) {
            add_model_options(o);
            add_subject_options(o);
            o.add_options()("json", "print JSON")("out,o", po::value<std::string>()->value_name("DIR"),
                                                  "with --cohort: the output directory");
            add_cohort_options(o);
            add_runtime_options(o);
          },
          run};
}

}  // namespace mlens::tools
