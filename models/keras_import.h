// From a Keras model (models/keras_model.h: the architecture and weights as plain data) to a
// channels-first Sequential.
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

#include "models/keras_model.h"
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
  virtual std::vector<WeightArray> take(const std::string& layer, const std::string& keras_class,
                                            const std::vector<ExpectedWeight>& expected) = 0;
  // Called after the last layer; throws when weights are left over.
  virtual void finish() {}
};

// The weight groups of a Keras model, in file order. Errors name the file, the layer, and the expected
// and found shapes.
class FileWeights : public WeightSource {
 public:
  explicit FileWeights(const KerasModel& file) : file_(file) {}
  std::vector<WeightArray> take(const std::string& layer, const std::string& keras_class,
                                    const std::vector<ExpectedWeight>& expected) override;
  void finish() override;

 private:
  const KerasModel& file_;
  size_t next_ = 0;
};

// Keras' default initialisation (Glorot-uniform kernels) from a seed; biases and BatchNormalization
// statistics drawn uniformly too when `bias_scale` > 0 (tests use it to exercise negative biases).
// Everything handed out is recorded, so the same weights can be written as a Keras file.
class RandomWeights : public WeightSource {
 public:
  explicit RandomWeights(uint64_t seed, double bias_scale = 0) : state_(seed), bias_scale_(bias_scale) {}
  std::vector<WeightArray> take(const std::string& layer, const std::string& keras_class,
                                    const std::vector<ExpectedWeight>& expected) override;
  const std::vector<WeightGroup>& recorded() const { return recorded_; }

 private:
  double uniform(double lo, double hi);  // splitmix64: the same numbers on every platform
  uint64_t state_;
  double bias_scale_;
  std::vector<WeightGroup> recorded_;
};

// Builds the network `architecture` describes. `input_shape` (D, H, W; 1, H, W for 2D) is the size asked
// for: it fills axes the model leaves open (None) or a model that records no batch_input_shape, and must
// equal the recorded ones. `open_axes`, when `input_shape` is not given, fills open (None) axes only (the
// size of the input at hand: a wrong input then meets the input check with the model's own size). `source` names the file in error
// messages. Layers mlens does not support are refused with their name and class.
Sequential import_keras(const KerasArchitecture& architecture, WeightSource& weights,
                        const std::optional<Int3>& input_shape = std::nullopt, const std::string& source = "model",
                        const std::optional<Int3>& open_axes = std::nullopt);

// A full Keras model (architecture + weights); a weights-only one is refused with a hint at --arch.
Sequential load_keras_model(const KerasModel& model, const std::optional<Int3>& input_shape = std::nullopt,
                            const std::optional<Int3>& open_axes = std::nullopt);

// A network with random weights and the Keras model that holds exactly those weights (every layer
// with a group, weighted or not, as Keras' model.save writes them).
struct RandomModel {
  Sequential net;
  KerasModel keras;
};
RandomModel random_keras_model(const KerasArchitecture& architecture, uint64_t seed, double bias_scale = 0);

}  // namespace mlens::models
