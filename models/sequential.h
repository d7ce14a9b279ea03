// A Sequential network: an ordered list of layers applied one after the other.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/layer.h"

namespace mlens::models {

struct Sequential {
  std::string name;
  Int3 input_shape{0, 0, 0};  // (D, H, W) of one volume, in the engine's axis order (io/volume.h); D = 1 in 2D
  int64_t input_channels = 1;
  int spatial_rank = 3;        // 2 for a Keras 2D network (its images are volumes of one plane)
  bool softmax_removed = false;  // the Keras model ends in a softmax that this network leaves out: it outputs the logits
  std::vector<Layer> layers;
  std::string keras_version;  // of the file it came from ("" when built here)

  // x: [N, C, D, H, W] -> [N, outputs]. Runs without building an autograd graph.
  at::Tensor forward(const at::Tensor& x) const;

  // A copy with every parameter on `device` in `dtype` (float32 or float64).
  Sequential to(const at::Device& device, at::ScalarType dtype) const;

  // Output shape of every layer for a batch of one, in layer order. Throws when a layer does not fit.
  std::vector<std::vector<int64_t>> layer_shapes() const;

  // Shape of the network's output for a batch of one: [1, outputs], or [1, C, D, H, W] for a network that
  // ends in an image (its input's shape when it has no layers).
  std::vector<int64_t> final_shape() const;
  int64_t parameter_count() const;
  int64_t output_count() const;  // values per sample of the last layer's output
  // Whether the output is an image (more than one voxel per channel) rather than a vector of outputs.
  bool outputs_image() const;
  // One sample's input as Keras takes it: (D, H, W, C), or (H, W, C) for a 2D network.
  std::vector<int64_t> keras_input_shape() const;
};

// Checks that `x` is [N, C, D, H, W] matching the network's input; throws std::invalid_argument with
// both shapes otherwise.
void check_input(const Sequential& net, const at::Tensor& x);

}  // namespace mlens::models
