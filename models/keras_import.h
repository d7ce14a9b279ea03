// From a Keras model description (model_config JSON + weights) to a channels-first Sequential.
//
// Keras is channels-last; the engine is channels-first. Import therefore
//   - permutes Conv3D kernels (kd, kh, kw, in, out) -> (out, in, kd, kh, kw),
//   - transposes Dense kernels (in, out) -> (out, in), and for the first Dense after a Flatten also
//     reorders its inputs from Keras' (D, H, W, C) flatten order to our (C, D, H, W) order,
//   - splits fused activations (Conv3D(activation="relu")) into their own ReLU layer,
//   - folds a BatchNormalization that directly follows a Conv3D/Dense without activation into that
//     layer's weights (elsewhere BatchNormalization stays a per-channel affine layer).
// Weights are matched to layers by order and type, never by name (Keras 2.2 writes "conv3d_1", TF2
// Keras "conv3d").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/keras_h5.h"
#include "models/sequential.h"

namespace mlens::models {

// What the architecture expects of one weight array (Keras names and shapes).
struct ExpectedWeight {
  std::string role;  // "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"
  std::vector<int64_t> shape;
};

// Hands out the weights of each layer in architecture order.
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual std::vector<io::WeightArray> take(const std::string& layer, const std::string& keras_class,
                                            const std::vector<ExpectedWeight>& expected) = 0;
  // Called after the last layer; throws when weights are left over.
  virtual void finish() {}
};

// The weight groups of a Keras file, in file order. Errors name the file, the layer, and the expected
// and found shapes.
class FileWeights : public WeightSource {
 public:
  explicit FileWeights(const io::KerasFile& file) : file_(file) {}
  std::vector<io::WeightArray> take(const std::string& layer, const std::string& keras_class,
                                    const std::vector<ExpectedWeight>& expected) override;
  void finish() override;

 private:
  const io::KerasFile& file_;
  size_t next_ = 0;
};

// Keras' default initialisation (Glorot-uniform kernels) from a seed; biases and BatchNormalization
// statistics drawn uniformly too when `bias_scale` > 0 (tests use it to exercise negative biases).
// Everything handed out is recorded, so the same weights can be written as a Keras file.
class RandomWeights : public WeightSource {
 public:
  explicit RandomWeights(uint64_t seed, double bias_scale = 0) : state_(seed), bias_scale_(bias_scale) {}
  std::vector<io::WeightArray> take(const std::string& layer, const std::string& keras_class,
                                    const std::vector<ExpectedWeight>& expected) override;
  const std::vector<io::WeightGroup>& recorded() const { return recorded_; }

 private:
  double uniform(double lo, double hi);  // splitmix64: the same numbers on every platform
  uint64_t state_;
  double bias_scale_;
  std::vector<io::WeightGroup> recorded_;
};

// Builds the network described by `model_config` (a Keras Sequential config, either the
// {"layers": [...]} form or the older bare list). `input_shape` (D, H, W) is needed only when the
// config does not record `batch_input_shape`. `source` names the file in error messages.
Sequential import_keras(const nlohmann::json& model_config, WeightSource& weights,
                        const std::optional<Int3>& input_shape = std::nullopt, const std::string& source = "model");

// A full Keras model file (architecture + weights).
Sequential load_keras_model(const io::KerasFile& file, const std::optional<Int3>& input_shape = std::nullopt);

// A network with random weights and the Keras file that holds exactly those weights.
struct RandomModel {
  Sequential net;
  io::KerasFile keras;
};
RandomModel random_keras_model(const nlohmann::json& model_config, uint64_t seed, double bias_scale = 0);

}  // namespace mlens::models
