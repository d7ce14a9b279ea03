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

// Throws std::invalid_argument when `neuron` is an index the network's output does not have.
void check_neuron(const models::Sequential& net, const Neuron& neuron);

// The start mask [N, K] (1 on the chosen outputs, 0 elsewhere) for outputs [N, K], in their dtype and device.
at::Tensor neuron_mask(const at::Tensor& outputs, const Neuron& neuron);

// Per sample the chosen output's index ([N] int64), −1 for `all`.
at::Tensor chosen_neurons(const at::Tensor& outputs, const Neuron& neuron);

}  // namespace mlens::lrp
