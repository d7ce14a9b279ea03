#include "lrp/gradient.h"

#include <c10/core/InferenceMode.h>

#include <ATen/CPUGeneratorImpl.h>

#include <stdexcept>

#include "lrp/explain.h"
#include "lrp/neuron.h"
#include "lrp/pooling_rules.h"
#include "models/conv.h"
#include "models/pool.h"

namespace mlens::lrp {
namespace {

using models::Layer;
using models::LayerKind;

// What the backward pass reads of one layer.
struct Kept {
  at::Tensor mask;                  // ReLU: where its input was positive
  at::Tensor input, output, indices;  // max pooling (indices for ties = first; input and output for tf)
  std::vector<int64_t> input_shape;
};

}  // namespace

Backpropagated backprop(const models::Sequential& net, const at::Tensor& x, Backprop mode, Ties ties, bool from_output,
                        const Neuron& neuron) {
  models::check_input(net, x);
  check_explainable(net);
  check_neuron(net, neuron);
  c10::InferenceMode no_graph;
  const size_t n = net.layers.size();
  std::vector<Kept> kept(n);
  at::Tensor h = x;
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = net.layers[i];
    Kept& k = kept[i];
    k.input_shape = h.sizes().vec();
    if (l.kind == LayerKind::ReLU) {
      if (mode != Backprop::Deconvnet) k.mask = h.gt(0);
      h = at::relu(h);
    } else if (l.kind == LayerKind::MaxPool3d && ties == Ties::First) {
      models::MaxPoolResult pooled = models::max_pool(l, h);
      k.indices = pooled.indices;
      h = pooled.output;
    } else if (l.kind == LayerKind::MaxPool3d) {
      k.input = h;
      h = models::forward(l, h);
      k.output = h;
    } else {
      h = models::forward(l, h);
    }
  }
  const Start start = start_from(h, neuron);
  Backpropagated out{start.outputs, start.neuron, start.prediction, {}};
  at::Tensor g = from_output ? start.chosen(h) : start.mask.view(h.sizes());
  h = at::Tensor();
  for (size_t step = 0; step < n; ++step) {
    const size_t i = n - 1 - step;
    const Layer& l = net.layers[i];
    Kept& k = kept[i];
    switch (l.kind) {
      case LayerKind::Dense: g = at::matmul(g, l.weight); break;
      case LayerKind::Conv3d: {
        const models::Int3 size{k.input_shape[2], k.input_shape[3], k.input_shape[4]};
        const models::Int3 kernel{l.weight.size(2), l.weight.size(3), l.weight.size(4)};
        g = models::conv3d_transpose(g, l.weight, models::window_pads(l.padding, size, kernel, l.stride), size, nullptr,
                                     l.stride);
        break;
      }
      case LayerKind::ReLU:
        if (mode != Backprop::Gradient) g = g.clamp_min(0);
        if (mode != Backprop::Deconvnet) g = g.mul(k.mask);
        break;
      case LayerKind::MaxPool3d:
        g = ties == Ties::First ? max_pool_relevance_first(k.indices, k.input_shape, g)
                                : max_pool_relevance_tf(l, k.input, k.output, g);
        break;
      case LayerKind::AvgPool3d:
        g = models::avg_pool_transpose(l, g, {k.input_shape[2], k.input_shape[3], k.input_shape[4]});
        break;
      case LayerKind::BatchNorm: {
        std::vector<int64_t> per_channel(static_cast<size_t>(g.dim()), 1);
        per_channel[1] = -1;
        g = g * l.weight.reshape(per_channel);
        break;
      }
      case LayerKind::Flatten: g = g.reshape(k.input_shape); break;
      case LayerKind::Dropout: break;
      case LayerKind::LeakyReLU: throw std::logic_error("LeakyReLU reached the gradient pass");
    }
    k = Kept{};
  }
  out.gradient = g;
  return out;
}

at::Tensor smoothgrad_noise(const std::vector<int64_t>& sample_shape, uint64_t seed, int k, double noise) {
  // splitmix64 of (seed, k): neighbouring seeds and copies get unrelated streams.
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(k) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(z ^ (z >> 31));
  return at::normal(0.0, noise, sample_shape, generator, at::TensorOptions().dtype(at::kDouble));
}

namespace {

// The mean gradient over `count` points of each sample, `point(q, k)` giving sample q's k-th point [C, D, H, W];
// points go through the network `per_pass` at a time.
// Every point follows the neuron chosen for the sample itself (`neurons`, −1 for all).
template <typename Point>
at::Tensor mean_gradient(const models::Sequential& net, const at::Tensor& x, const Composite& c, const at::Tensor& neurons,
                         int count, Point point) {
  const int64_t samples = x.size(0);
  const int per_pass = std::max(1, c.gradient.points_per_pass);
  at::Tensor sum = at::zeros_like(x);
  for (int64_t q = 0; q < samples; ++q) {
    const int64_t chosen = neurons[q].item<int64_t>();
    const Neuron neuron = chosen < 0 ? Neuron{Neuron::Mode::All, 0} : Neuron{Neuron::Mode::Index, chosen};
    for (int start = 0; start < count; start += per_pass) {
      std::vector<at::Tensor> points;
      for (int k = start; k < std::min(count, start + per_pass); ++k) points.push_back(point(q, k));
      sum[q] += backprop(net, at::stack(points), Backprop::Gradient, c.ties, false, neuron).gradient.sum(0);
    }
  }
  return sum.div_(count);
}

}  // namespace

Explanation attribute(const models::Sequential& net, const at::Tensor& x, const Composite& c) {
  c10::InferenceMode no_graph;
  Explanation e;
  e.accounts.assign(static_cast<size_t>(x.size(0)), Account{});
  const GradientOptions& o = c.gradient;
  if (c.method == Method::Lrp || c.method == Method::DeepTaylor) throw std::logic_error("attribute: LRP is explain()'s");
  if (c.method != Method::IntegratedGradients && c.method != Method::SmoothGrad) {
    const Backprop mode = c.method == Method::Deconvnet        ? Backprop::Deconvnet
                          : c.method == Method::GuidedBackprop ? Backprop::Guided
                                                               : Backprop::Gradient;
    Backpropagated b = backprop(net, x, mode, c.ties, /*from_output=*/mode != Backprop::Gradient, c.neuron);
    e.outputs = b.outputs;
    e.neuron = b.neuron;
    e.prediction = b.prediction;
    e.relevance = c.method == Method::InputTimesGradient ? b.gradient.mul_(x) : b.gradient;
    return e;
  }
  // Integrated gradients and SmoothGrad: the neuron is chosen once, from the sample's own outputs.
  check_explainable(net);
  check_neuron(net, c.neuron);
  const Start start = start_from(net.forward(x), c.neuron);
  e.outputs = start.outputs;
  e.neuron = start.neuron;
  e.prediction = start.prediction;
  if (c.method == Method::IntegratedGradients) {
    if (o.steps < 1) throw std::invalid_argument("integrated gradients: steps must be at least 1");
    const at::Tensor difference = x - o.reference;
    e.relevance = mean_gradient(net, x, c, e.neuron, o.steps, [&](int64_t q, int k) {
                    return difference[q] * (static_cast<double>(k) / o.steps) + o.reference;
                  }).mul_(difference);
  } else {
    if (o.samples < 1) throw std::invalid_argument("smoothgrad: samples must be at least 1");
    const std::vector<int64_t> shape = x[0].sizes().vec();
    e.relevance = mean_gradient(net, x, c, e.neuron, o.samples, [&](int64_t q, int k) {
      return x[q] + smoothgrad_noise(shape, o.seed, k, o.noise).to(x.options());
    });
  }
  return e;
}

}  // namespace mlens::lrp
