// Which output an explanation starts from (iNNvestigate's neuron_selection_mode):
//
//   max   per sample its largest output, the first of equal ones ("max_activation"); for a single-output
//         model its only one. The default.
//   N     output N, counted from 0 ("index")
//   all   every output at once: the relevance starts from the whole output vector ("all")
//
// The chosen outputs keep their values, every other output starts with 0: LRP starts from R = y·mask,
// the gradient family from ∂(y·mask)/∂x. Integrated gradients and SmoothGrad choose the neuron once,
// from the sample itself, and follow that neuron along every point they average.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace mlens::models {
struct Sequential;
}

namespace mlens::lrp {

struct Neuron {
  enum class Mode { Max, Index, All };
  Mode mode = Mode::Max;
  int64_t index = 0;  // Mode::Index

  std::string describe() const;  // "max", "3", "all"
};

// "max", "all" or an index ≥ 0; anything else is std::invalid_argument naming what was given.
Neuron parse_neuron(const std::string& text);

// Throws std::invalid_argument when `neuron` is an index the network's output does not have, or when
// the output is an image (a final convolution) and `neuron` is not `all`: its outputs have no order to
// pick from.
void check_neuron(const models::Sequential& net, const Neuron& neuron);

// Where an explanation starts, from the network's output y [N, ...]: every output [N, K], the chosen
// output per sample ([N] int64, −1 for `all`), the start mask [N, K] (1 on the chosen outputs) and the
// chosen value (the outputs' sum for `all`).
struct Start {
  at::Tensor outputs, neuron, mask, prediction;
  // y with every output but the chosen ones set to 0 (an unchosen infinite output included).
  at::Tensor chosen(const at::Tensor& y) const;
};
Start start_from(const at::Tensor& y, const Neuron& neuron);

}  // namespace mlens::lrp
