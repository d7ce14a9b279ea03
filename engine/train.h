// Training a sub-ensemble of MRInets on a cohort (LibTorch autograd, Adam, MSE) and writing it as an
// ensemble manifest with Keras-layout members that the same reader loads.
//
//   cohort ─ prepare (the manifest's preprocessing) ─┬─ head set (held out from every member)
//                                                    └─ training pool ─ per member: its own seed,
//                                                       its own validation split for early stopping
//   members' predictions on the head set ─ linear head (least squares, shrunk towards equal weights)
//
// The parameters are kept in Keras' layout (channels-last kernels) and the forward pass permutes them,
// so a trained member is written without any conversion and read back by the ordinary Keras import.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/pipeline.h"
#include "engine/runtime.h"
#include "io/cohort.h"
#include "models/layer.h"

namespace mlens::engine {

struct TrainOptions {
  int members = 3;
  int epochs = 40;             // at most, per member
  int patience = 8;            // epochs without a better validation MAE before stopping
  int batch = 4;
  double learning_rate = 1e-3;
  double validation_fraction = 0.15;  // of the training pool, per member
  double head_fraction = 0.2;         // of the cohort, held out from all members to fit the head
  uint64_t seed = 1;
};

struct TrainProgress {
  int member = 0, members = 0, epoch = 0, epochs = 0;
  double train_loss = 0;  // mean squared error in years², this epoch
  double validation_mae = 0;
  bool improved = false;
  bool stopped = false;   // early stopping ended this member
  double seconds = 0;     // since training started
};

struct TrainedMember {
  std::vector<at::Tensor> keras_weights;  // Keras layout, in the order of mrinet_architecture's layers
  double validation_mae = 0;
  int epochs_run = 0, best_epoch = 0;
};

struct TrainResult {
  std::vector<TrainedMember> members;
  double intercept = 0;
  std::vector<double> coefficients;
  std::vector<double> head_ages, head_predictions;  // the held-out head set
  double head_mae = 0, head_r = 0;
  int training_subjects = 0, head_subjects = 0;
  double seconds = 0;
};

// Every subject of a cohort (with a known age) through `spec`, as [1, D, H, W] float32 CPU tensors, read
// and prepared by `jobs` threads. Subjects without an age are an error naming them.
struct TrainingData {
  std::vector<at::Tensor> inputs;
  std::vector<double> ages;
  std::array<double, 2> intensity_max{0, 0};  // range over the cohort, for the manifest's QC expectations
  models::Int3 brain_extent_max{0, 0, 0};
};
TrainingData prepare_training_data(const std::vector<io::Subject>& cohort, const PreprocessSpec& spec, int jobs,
                                   const std::function<void(int done, int total)>& progress = {});

// `inputs`: one [1, D, H, W] tensor per subject, already preprocessed; `ages` in years.
TrainResult train_ensemble(const std::vector<at::Tensor>& inputs, const std::vector<double>& ages,
                           const models::Int3& shape, const TrainOptions& options, const Runtime& runtime,
                           const std::function<void(const TrainProgress&)>& progress = {});

// The MRInet forward pass on Keras-layout parameters (differentiable; dropout active when `training`).
at::Tensor mrinet_forward(const std::vector<at::Tensor>& keras_weights, const at::Tensor& x, bool training);

// Writes DIR/member_K.h5 (full Keras models) and DIR/<name>.mlens.json with `input` (the manifest's
// input block: shape, voxel size, orientation, preprocessing, expected), the head and the training
// record. Returns the manifest's path.
std::string write_trained_ensemble(const std::string& directory, const std::string& name, const TrainResult& result,
                                   const models::Int3& shape, nlohmann::json input, nlohmann::json training_record);

}  // namespace mlens::engine
