// The gradient family: the input's gradient of the output, and what is built from it. Like explain()
// (lrp/explain.h) it is one forward pass that keeps what the backward pass reads and one backward pass
// of LibTorch ops, layer by layer; no autograd graph. ReLUs are reversed by the method:
//
//   gradient         g_in = g_out · [x > 0]                 (the chain rule)
//   deconvnet        g_in = max(g_out, 0)                   (Zeiler & Fergus 2014)
//   guided backprop  g_in = max(g_out, 0) · [x > 0]         (Springenberg et al. 2015)
//
// Linear layers pass Wᵀg, average pooling its adjoint, batch norm the scale; max pooling hands each
// window's gradient to its first maximum (ties = first, TensorFlow's MaxPool3DGrad keeps the first
// maximum too) or, with ties = tf, to every input within 1e-5 of it (as lrp/pooling_rules.h).
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "lrp/composite.h"
#include "lrp/explain.h"
#include "models/sequential.h"

namespace mlens::lrp {

enum class Backprop { Gradient, Deconvnet, Guided };

struct Backpropagated {
  at::Tensor outputs;     // [N, K]
  at::Tensor neuron;      // [N]: the chosen output, −1 for all (lrp/neuron.h)
  at::Tensor prediction;  // [N]: the chosen neuron's value (the outputs' sum for `all`)
  at::Tensor gradient;    // [N, C, D, H, W]: d output / d input, ReLUs reversed by the method
};

// `x` [N, C, D, H, W] on the network's device and dtype. The pass starts from the neuron's mask
// (lrp/neuron.h), or with `from_output` from the chosen outputs' values (iNNvestigate's deconvnet and
// guided backprop keep the output signal; ReLU reversal makes its sign matter).
Backpropagated backprop(const models::Sequential& net, const at::Tensor& x, Backprop mode, Ties ties = Ties::First,
                        bool from_output = false, const Neuron& neuron = {});

// A gradient method of the composite (iNNvestigate's semantics), with the prediction:
//   gradient              ∂y/∂x                                    input_t_gradient   x ⊙ ∂y/∂x
//   integrated_gradients  (x − x₀) ⊙ mean_k ∂y/∂x at x₀ + (x − x₀)·k/steps, k = 0..steps−1 (the reference
//                         included, x itself not: iNNvestigate ≥ 1.0.8.1's left Riemann sum)
//   smoothgrad            mean_k ∂y/∂x at x + ε_k, ε_k ~ N(0, noise²) (smoothgrad_noise)
//   deconvnet, guided_backprop   backprop from the output's value
// Its accounts are empty: a gradient conserves nothing.
Explanation attribute(const models::Sequential& net, const at::Tensor& x, const Composite& composite);

// SmoothGrad's noise for copy k: one sample's shape, float64 on the CPU, from a generator seeded by (seed, k)
// alone, so that a subject's noise does not depend on its batch, the device or the points per pass.
at::Tensor smoothgrad_noise(const std::vector<int64_t>& sample_shape, uint64_t seed, int k, double noise);

}  // namespace mlens::lrp
