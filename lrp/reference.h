// A naive float64 LRP for tests: every layer is written out as its list of connections (input i,
// output j, weight w_ij) or pooling windows, and every rule as the loop its formula states. Slow and
// obviously right; the fast path in lrp/explain.h must agree with it (DESIGN.md §4).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "lrp/composite.h"
#include "lrp/gradient.h"
#include "models/sequential.h"

namespace mlens::lrp::reference {

struct Result {
  double prediction = 0;               // the explained neuron's value (the outputs' sum for `all`)
  std::vector<double> relevance;       // input relevance, C order over [C, D, H, W]
  std::vector<double> layer_relevance_in;  // Σ relevance passed to each layer's input, in layer order
};

// One sample: `x` is [C, D, H, W] in C order.
std::vector<double> forward(const models::Sequential& net, const std::vector<double>& x);
Result explain(const models::Sequential& net, const std::vector<double>& x, const Composite& composite);

// d output / d input for one sample, ReLUs reversed by `mode` and max pooling by `ties` (lrp/gradient.h),
// the pass started from the neuron's mask, or with `from_output` from the chosen outputs' values.
std::vector<double> backprop(const models::Sequential& net, const std::vector<double>& x, Backprop mode, Ties ties,
                             bool from_output = false, const Neuron& neuron = {});

// Tensor <-> flat float64 vector helpers for the tests.
std::vector<double> to_vector(const at::Tensor& t);

}  // namespace mlens::lrp::reference
