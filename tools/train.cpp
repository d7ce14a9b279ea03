// mlens train: a sub-ensemble of MRInets trained on a cohort, written as a manifest + Keras-layout members.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "engine/train.h"
#include "io/cohort.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

std::array<double, 3> parse_triple(const std::string& text, const std::string& option) {
  std::array<double, 3> v{};
  char tail = 0;
  if (std::sscanf(text.c_str(), "%lf,%lf,%lf%c", &v[0], &v[1], &v[2], &tail) != 3)
    throw UsageError("--" + option + ": expected three numbers x,y,z, got \"" + text + "\"");
  return v;
}

int run(const po::variables_map& vm) {
  const engine::Runtime runtime = runtime_from(vm);
  if (runtime.dtype != at::kFloat)  // tf32 trains in float32 on tensor cores; bf16 and float64 are for explaining
    throw UsageError("mlens train computes in float32 (--fast-math tf32 allowed); not with " + runtime.dtype_name());
  runtime.activate();
  const models::Int3 shape = parse_shape(vm["shape"].as<std::string>());
  const auto voxel = parse_triple(vm["voxel-size"].as<std::string>(), "voxel-size");
  const auto centre = parse_triple(vm["centre"].as<std::string>(), "centre");
  nlohmann::json input = {{"shape", shape},
                          {"voxel_size", voxel},
                          {"orientation", vm["orientation"].as<std::string>()},
                          {"preprocessing", {{"fit", "resample"}, {"centre", centre}, {"normalise", vm["normalise"].as<std::string>()}}}};
  io::EnsembleSpec m;
  m.source = "mlens train";
  m.input_shape = shape;
  m.voxel_size = voxel;
  m.orientation = input["orientation"];
  m.preprocessing = input["preprocessing"];
  const engine::PreprocessSpec spec = engine::preprocess_spec(m);

  const std::string cohort_path = vm["cohort"].as<std::string>();
  const std::vector<io::Subject> cohort = io::read_cohort(cohort_path);
  log("train: preparing " + std::to_string(cohort.size()) + " subjects from " + cohort_path);
  const engine::TrainingData data = engine::prepare_training_data(cohort, spec, runtime.thread_count(), [](int done, int total) {
    if (done % 25 == 0 || done == total) log("train: prepared " + std::to_string(done) + "/" + std::to_string(total));
  });
  // QC expectations for new inputs: intensities within a factor 2 of the training range, brains no
  // larger than the largest seen plus two voxels per axis.
  input["expected"] = {{"intensity_max", {data.intensity_max[0] / 2, data.intensity_max[1] * 2}},
                       {"brain_extent_max", {data.brain_extent_max[0] + 2, data.brain_extent_max[1] + 2, data.brain_extent_max[2] + 2}}};

  engine::TrainOptions o;
  o.members = vm["members"].as<int>();
  o.epochs = vm["epochs"].as<int>();
  o.patience = vm["patience"].as<int>();
  o.batch = vm["batch"].as<int>();
  o.learning_rate = vm["learning-rate"].as<double>();
  o.head_fraction = vm["head-fraction"].as<double>();
  o.validation_fraction = vm["validation-fraction"].as<double>();
  o.seed = vm["seed"].as<uint64_t>();
  const engine::TrainResult result = engine::train_ensemble(data.inputs, data.ages, shape, o, runtime, [](const engine::TrainProgress& p) {
    char line[200];
    std::snprintf(line, sizeof line, "train: member %d/%d epoch %d/%d  loss %.1f  validation MAE %.2f%s%s  (%.0f s)", p.member,
                  p.members, p.epoch, p.epochs, p.train_loss, p.validation_mae, p.improved ? " *" : "",
                  p.stopped ? "  early stop" : "", p.seconds);
    log(line);
  });
  double age_min = data.ages[0], age_max = data.ages[0];
  for (double a : data.ages) age_min = std::min(age_min, a), age_max = std::max(age_max, a);
  const nlohmann::json record = {{"cohort", cohort_path},
                                 {"subjects", cohort.size()},
                                 {"age_range", {age_min, age_max}},
                                 {"seed", o.seed},
                                 {"members", o.members},
                                 {"epochs", o.epochs},
                                 {"patience", o.patience},
                                 {"batch", o.batch},
                                 {"learning_rate", o.learning_rate},
                                 {"device", runtime.device_name()},
                                 {"threads", runtime.thread_count()}};
  const std::string manifest =
      engine::write_trained_ensemble(vm["out"].as<std::string>(), vm["name"].as<std::string>(), result, shape, input, record);
  std::printf("%s: %d members trained on %d subjects; head set (%d held out): MAE %.2f years, r %.3f; %.0f s\n",
              manifest.c_str(), o.members, result.training_subjects, result.head_subjects, result.head_mae, result.head_r,
              result.seconds);
  return kExitOk;
}

}  // namespace

Command train_command() {
  return {"train",
          "train a sub-ensemble of MRInets on a cohort and write its manifest",
          "mlens train --cohort COHORT.csv --out DIR [--members K] [--epochs N] [grid options]",
          "Trains MRInet base models with LibTorch (Adam, mean squared error, early stopping on a validation split of "
          "each member's own) on the subjects of a cohort with known ages, after bringing every FLAIR into the model's "
          "grid: resampled by world position into a box of --shape voxels of --voxel-size mm centred on --centre (RAS "
          "mm, e.g. MNI coordinates), then normalised. A share of the cohort (--head-fraction) is held out of every "
          "member to fit the linear head (least squares shrunk towards equal weights) and to report an honest MAE. "
          "Writes DIR/member_K.h5 (Keras-layout models, loadable by any mlens command and by Keras) and "
          "DIR/NAME.mlens.json (input grid, preprocessing, QC expectations, head, training record).",
          "mlens train --cohort sim-train/cohort.csv --out weights/demo --members 3 --epochs 40 --seed 1",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("cohort,c", po::value<std::string>()->required()->value_name("CSV|BIDS"), "training cohort (with ages)")(
                "out,o", po::value<std::string>()->required()->value_name("DIR"), "directory for the manifest and members")(
                "name", po::value<std::string>()->default_value("flair")->value_name("NAME"), "manifest name (NAME.mlens.json)")(
                "shape", po::value<std::string>()->default_value("84,100,88")->value_name("D,H,W"), "model grid size in voxels")(
                "voxel-size", po::value<std::string>()->default_value("2,2,2")->value_name("X,Y,Z"), "model grid voxel size (mm)")(
                "orientation", po::value<std::string>()->default_value("RAS")->value_name("CODE"), "model grid axes")(
                "centre", po::value<std::string>()->default_value("0,-17,8")->value_name("X,Y,Z"), "grid centre (RAS mm)")(
                "normalise", po::value<std::string>()->default_value("zscore")->value_name("HOW"), "none, unit or zscore")(
                "members", po::value<int>()->default_value(3)->value_name("K"), "base models in the sub-ensemble")(
                "epochs", po::value<int>()->default_value(40)->value_name("N"), "maximum epochs per member")(
                "patience", po::value<int>()->default_value(8)->value_name("N"), "early stopping: epochs without improvement")(
                "batch", po::value<int>()->default_value(4)->value_name("N"), "subjects per optimisation step")(
                "learning-rate", po::value<double>()->default_value(1e-3)->value_name("LR"), "Adam's learning rate")(
                "validation-fraction", po::value<double>()->default_value(0.15)->value_name("F"), "per member, for early stopping")(
                "head-fraction", po::value<double>()->default_value(0.2)->value_name("F"), "held out to fit the head")(
                "seed", po::value<uint64_t>()->default_value(1)->value_name("N"), "seed of splits, initialisation and dropout");
            add_runtime_options(o);
          },
          run};
}

}  // namespace mlens::tools
