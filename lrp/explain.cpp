#include "lrp/explain.h"

#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "lrp/batch_norm_rule.h"
#include "lrp/gradient.h"
#include "lrp/linear_rules.h"
#include "lrp/neuron.h"
#include "lrp/pooling_rules.h"
#include "models/conv.h"
#include "models/pool.h"
#include "models/sparse_conv.h"

namespace mlens::lrp {
namespace {

using models::Layer;
using models::LayerKind;

// What the backward pass needs of one layer; released right after the layer's relevance is computed.
struct Saved {
  at::Tensor input, output, indices;
  std::vector<int64_t> input_shape;
};

// The relevance flowing backwards. Winner-take-all max-pooling leaves it on the windows' winners
// only; it stays in that form (values at flat positions of `shape`) down to the convolution below,
// whose rule then computes its denominators, stabilisers and divisions there only (lrp/linear_rules).
struct Flow {
  at::Tensor values;     // the dense relevance, or its values at `positions`
  at::Tensor positions;  // undefined when dense
  std::vector<int64_t> shape;  // of the dense relevance, when sparse

  bool sparse() const { return positions.defined(); }
  at::Tensor dense() const { return sparse() ? models::scatter_dense(values, positions, shape) : values; }
};

// Per-layer times. On CUDA a layer's time is only its own after a sync, and a sync per layer keeps
// kernels of one layer from overlapping the launch of the next: layers are timed there only when
// MLENS_CUDA_LAYER_TIMES=1 (otherwise their times are 0 and the whole explanation runs unsynchronised).
class Stopwatch {
 public:
  explicit Stopwatch(const at::Device& device)
      : device_(device), enabled_(!device.is_cuda() || std::getenv("MLENS_CUDA_LAYER_TIMES") != nullptr) {
    restart();
  }
  void restart() {
    sync();
    start_ = std::chrono::steady_clock::now();
  }
  double seconds() {
    if (!enabled_) return 0;
    sync();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  // CUDA ops are asynchronous: without a sync a layer's time would land on a later layer.
  void sync() const {
    if (enabled_ && device_.is_cuda()) torch::cuda::synchronize(device_.index());
  }
  at::Device device_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

// The dense relevance's sum per sample, [N], by the same reduction whatever N.
at::Tensor sample_sums(const at::Tensor& dense, int64_t samples) { return dense.reshape({samples, -1}).sum(1); }

// Whether the first linear layer from `from` on sends no relevance to an input that is 0 (every rule
// multiplies by the input activation but flat, w2 and z-box, whose bounds give a zero input relevance too).
// Then a ReLU may run on a max-pool's output instead of its input: the two orders choose different
// winners only in windows whose pooled value is 0.
bool zero_input_takes_none(const models::Sequential& net, size_t from, const Composite& composite) {
  for (size_t j = from; j < net.layers.size(); ++j)
    if (net.layers[j].is_linear()) {
      const RuleKind k = composite.rule_for(role_of(net, j), net.layers[j].name).kind;
      return k != RuleKind::Flat && k != RuleKind::WSquare && k != RuleKind::ZBox;
    }
  return true;
}

}  // namespace

void check_explainable(const models::Sequential& net) {
  bool linear = false;
  for (const Layer& l : net.layers) {
    if (l.kind == LayerKind::LeakyReLU)
      throw std::invalid_argument("layer \"" + l.name +
                                  "\" is a LeakyReLU: mlens runs its forward pass but defines no LRP rule for it "
                                  "(iNNvestigate refuses it too); use a model with ReLU activations");
    linear = linear || l.is_linear();
  }
  if (!linear) throw std::invalid_argument("model \"" + net.name + "\" has no Conv or Dense layer to explain");
}

void check_layer_rules(const models::Sequential& net, const Composite& composite) {
  for (const auto& [name, rule] : composite.layer_rules) {
    std::string linear;
    bool found = false;
    for (const Layer& l : net.layers) {
      if (l.is_linear()) linear += (linear.empty() ? "" : ", ") + l.name;
      if (l.name != name) continue;
      found = true;
      if (!l.is_linear())
        throw std::invalid_argument("the rule table names layer \"" + name + "\" of model \"" + net.name + "\", a " +
                                    models::to_string(l.kind) + " layer; rules apply to Conv and Dense layers (" +
                                    linear + "...)");
    }
    if (!found)
      throw std::invalid_argument("the rule table names layer \"" + name + "\", which model \"" + net.name +
                                  "\" does not have (its Conv and Dense layers: " + linear + ")");
  }
}

Role role_of(const models::Sequential& net, size_t index) {
  for (size_t i = 0; i < net.layers.size(); ++i)
    if (net.layers[i].is_linear()) {
      if (i == index) return Role::Input;
      break;
    }
  const Layer& l = net.layers[index];
  return l.kind == LayerKind::Dense || l.pointwise_dense ? Role::Dense : Role::Conv;
}

int64_t explanation_bytes(const models::Sequential& net, const Composite& composite, const at::TensorOptions& options) {
  const auto shapes = net.layer_shapes();
  const auto cells = [](const std::vector<int64_t>& s) { return static_cast<double>(c10::multiply_integers(s.begin() + 1, s.end())); };
  const double value = static_cast<double>(c10::elementSize(c10::typeMetaToScalarType(options.dtype()))), index = 8;
  // ATen's own convolution (float64 on the CPU) unfolds its input into columns of kernel-size length.
  const bool unfolds = std::string(models::conv_primitive(at::empty({0}, options))) == "aten";
  const size_t n = net.layers.size();
  // Per layer, in bytes: its input, its output, what it keeps for the backward pass, the columns of its
  // convolution and of the convolution's adjoint.
  std::vector<double> in(n), out(n), kept(n), columns(n), adjoint_columns(n);
  double input = static_cast<double>(net.input_channels) * static_cast<double>(c10::multiply_integers(net.input_shape));
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = net.layers[i];
    in[i] = input * value;
    out[i] = cells(shapes[i]) * value;
    if (l.kind == LayerKind::Conv3d && unfolds) {
      const double kernel = static_cast<double>(l.weight.size(2) * l.weight.size(3) * l.weight.size(4));
      columns[i] = out[i] * kernel * static_cast<double>(l.weight.size(1)) / static_cast<double>(l.weight.size(0));
      // A stride-1 adjoint is a convolution over the input's cells; a strided one ATen's transposed
      // convolution, whose columns are the forward's.
      adjoint_columns[i] = l.stride == models::Int3{1, 1, 1} ? in[i] * kernel * static_cast<double>(l.weight.size(0)) /
                                                                   static_cast<double>(l.weight.size(1))
                                                             : columns[i];
    }
    input = cells(shapes[i]);
    switch (l.kind) {
      case LayerKind::Conv3d:
      case LayerKind::Dense:
      case LayerKind::AvgPool3d: kept[i] = in[i]; break;
      case LayerKind::MaxPool3d: kept[i] = composite.ties == Ties::First ? out[i] / value * index : in[i] + out[i]; break;
      case LayerKind::BatchNorm: kept[i] = in[i] + out[i]; break;
      default: kept[i] = 0;
    }
  }
  // The input and the map it becomes stay for the whole pass.
  double peak = 0, below = 2 * in[0];
  for (size_t i = 0; i < n; ++i) {
    // Forward: input, output, a padded (or reordered) copy of each, the columns.
    peak = std::max(peak, below + kept[i] + 2 * (in[i] + out[i]) + columns[i]);
    below += kept[i];
  }
  for (size_t step = 0; step < n; ++step) {  // backward: `below` holds what layers ≤ i keep
    const size_t i = n - 1 - step;
    const LayerKind kind = net.layers[i].kind;
    double work = 2 * (in[i] + out[i]);  // relevance arriving and leaving, a temporary of each
    // Linear rules: relevance, z, a padded and a reordered copy of it (s is computed into z); x⁺, x⁻, two
    // adjoints, a reordered copy and the result; the larger of the columns.
    if (net.layers[i].is_linear()) work = 4 * out[i] + 6 * in[i] + std::max(columns[i], adjoint_columns[i]);
    // Pools: the padded input, the relevance and its contiguous copy; the window comparisons' temporaries.
    if (kind == LayerKind::MaxPool3d || kind == LayerKind::AvgPool3d) work = 4 * out[i] + 3 * in[i];
    peak = std::max(peak, below + work);
    below -= kept[i];
  }
  // Short-lived temporaries the model above leaves out (masks, reductions, a primitive's scratch) measured
  // up to a third of it on the test networks. Integrated gradients and SmoothGrad send points_per_pass
  // points of a sample through the network at once.
  const bool points = composite.method == Method::IntegratedGradients || composite.method == Method::SmoothGrad;
  return static_cast<int64_t>(1.5 * peak * (points ? std::max(1, composite.gradient.points_per_pass) : 1));
}

Explanation explain(const models::Sequential& net, const at::Tensor& x, const Composite& composite) {
  if (composite.method != Method::Lrp && composite.method != Method::DeepTaylor) return attribute(net, x, composite);
  const bool deep_taylor = composite.method == Method::DeepTaylor;
  models::check_input(net, x);
  check_explainable(net);
  check_layer_rules(net, composite);
  check_neuron(net, composite.neuron);
  c10::InferenceMode no_graph;
  const size_t n = net.layers.size();
  std::vector<Saved> saved(n);
  Account account(n);  // names, rules and times: the batch's; the sums are filled in per sample at the end
  Stopwatch clock(x.device());

  // Forward, keeping per layer only what its rule reads.
  at::Tensor h = x;
  // A ReLU right before a winner-take-all max-pool runs on the pooled output instead, 1/8 of the cells:
  // max and ReLU commute, and where the two orders pick different winners (windows with no positive
  // value) the output is 0, so the layer above sends no relevance there.
  bool relu_after_pool = false;
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = net.layers[i];
    LayerAccount& a = account[i];
    a.layer = l.name;
    a.kind = models::to_string(l.kind);
    Saved& s = saved[i];
    clock.restart();
    switch (l.kind) {
      case LayerKind::Conv3d:
      case LayerKind::Dense:
        s.input = h;
        h = models::forward(l, h);
        break;
      case LayerKind::MaxPool3d:
        if (composite.ties == Ties::First) {
          s.input_shape = h.sizes().vec();
          auto pooled = models::max_pool(l, h);
          h = relu_after_pool ? pooled.output.relu_() : pooled.output;
          relu_after_pool = false;
          s.indices = pooled.indices;
        } else {
          s.input = h;
          h = models::forward(l, h);
          s.output = h;
        }
        break;
      case LayerKind::AvgPool3d:
        s.input = h;
        h = models::forward(l, h);
        break;
      case LayerKind::BatchNorm:
        s.input = h;
        h = models::forward(l, h);
        s.output = h;
        break;
      case LayerKind::Flatten:
        s.input_shape = h.sizes().vec();
        h = models::forward(l, h);
        break;
      case LayerKind::ReLU:
        if (i + 1 < n && net.layers[i + 1].kind == LayerKind::MaxPool3d && composite.ties == Ties::First &&
            zero_input_takes_none(net, i + 2, composite)) {
          relu_after_pool = true;
          a.primitive = "on the pooled output";
          break;
        }
        // In place when nothing saved the tensor (the output of a linear layer is never saved).
        h = (i > 0 && net.layers[i - 1].is_linear()) ? h.relu_() : at::relu(h);
        break;
      case LayerKind::Dropout: break;
      case LayerKind::LeakyReLU: throw std::logic_error("LeakyReLU reached the LRP forward pass");
    }
    a.forward_seconds = clock.seconds();
  }
  const int64_t samples = x.size(0);
  Explanation e;
  const Start start = start_from(h, composite.neuron);
  e.outputs = start.outputs;
  e.neuron = start.neuron;
  e.prediction = start.prediction;

  // Backward: the chosen neuron's relevance is its value (DeepTaylor: iNNvestigate puts a ReLU on the output).
  h = start.chosen(h);  // a copy: the last layer may have saved its output
  Flow r{deep_taylor ? h.clamp_min_(0) : h};
  h = at::Tensor();
  // The account's sums stay on the device until the pass is done: reading each at once would sync.
  std::vector<at::Tensor> sums_out(n), sums_in(n), small(n);
  // Winner-take-all pooling hands each window's relevance to its winner unchanged: while the relevance is
  // sparse its sum is the one the pooling received (no sum over scattered winners needed).
  at::Tensor sparse_sum;
  for (size_t step = 0; step < n; ++step) {
    const size_t i = n - 1 - step;
    const Layer& l = net.layers[i];
    LayerAccount& a = account[i];
    Saved& s = saved[i];
    clock.restart();
    sums_out[i] = r.sparse() ? sparse_sum : sample_sums(r.values, samples);
    // Winner-take-all pooling, the layers between it and the convolution below, and that convolution
    // take the relevance sparse; every other layer dense.
    const bool takes_sparse = l.kind == LayerKind::ReLU || l.kind == LayerKind::Dropout || l.kind == LayerKind::Conv3d ||
                              (l.kind == LayerKind::MaxPool3d && composite.ties == Ties::First);
    if (r.sparse() && !takes_sparse) r = Flow{r.dense()};
    switch (l.kind) {
      case LayerKind::Conv3d:
      case LayerKind::Dense: {
        const Rule& rule = composite.rule_for(role_of(net, i), l.name);
        RuleResult rr = linear_relevance(l, rule, s.input, r.values, r.positions);
        r = Flow{rr.relevance};
        small[i] = rr.small_denominators;
        a.rule = rule.describe();
        a.primitive = l.kind == LayerKind::Conv3d ? std::string(models::conv_primitive(s.input)) + ", adjoint " + rr.adjoint_primitive
                                                  : "matmul";
        break;
      }
      case LayerKind::MaxPool3d:
        if (composite.ties == Ties::First) {
          const MaxPoolWinners w = max_pool_winners(s.indices, s.input_shape, r.dense());
          r = Flow{w.values, w.positions, s.input_shape};
          a.rule = "winner-take-all(first)";
          a.primitive = "indices (winners kept sparse)";
        } else {
          r.values = max_pool_relevance_tf(l, s.input, s.output, r.values);
          a.rule = "winner-take-all(tf)";
          a.primitive = "strided compare+add";
        }
        break;
      case LayerKind::AvgPool3d:
        if (deep_taylor) {
          r.values = models::avg_pool_transpose(l, r.values, {s.input.size(2), s.input.size(3), s.input.size(4)});
          a.rule = "uniform (gradient)";
        } else {
          r.values = avg_pool_relevance(l, s.input, r.values);
          a.rule = "proportional";
        }
        a.primitive = "avg_pool3d_backward";
        break;
      case LayerKind::BatchNorm:
        if (deep_taylor) {
          a.rule = "identity";
          a.primitive = "none";
          break;
        }
        r.values = batch_norm_relevance(l, s.input, s.output, r.values);
        a.rule = "batchnorm(innvestigate)";
        a.primitive = "elementwise";
        break;
      case LayerKind::Flatten:
        r.values = r.values.reshape(s.input_shape);
        a.rule = "reshape";
        a.primitive = "view";
        break;
      case LayerKind::ReLU:
      case LayerKind::Dropout:
        a.rule = "identity";
        if (a.primitive.empty()) a.primitive = "none";
        break;
      case LayerKind::LeakyReLU: throw std::logic_error("LeakyReLU reached the LRP backward pass");
    }
    s = Saved{};
    if (!r.sparse())
      sparse_sum = at::Tensor();
    else if (!sparse_sum.defined())
      sparse_sum = sums_out[i];  // the pooling just made it sparse
    sums_in[i] = r.sparse() ? sparse_sum : sample_sums(r.values, samples);
    a.backward_seconds = clock.seconds();
  }
  const at::Tensor out = at::stack(sums_out).to(at::kCPU, at::kDouble), in = at::stack(sums_in).to(at::kCPU, at::kDouble);
  e.accounts.assign(static_cast<size_t>(samples), account);
  for (size_t i = 0; i < n; ++i) {
    const at::Tensor counts = small[i].defined() ? small[i].cpu() : at::zeros({samples}, at::kLong);
    for (int64_t q = 0; q < samples; ++q) {
      LayerAccount& a = e.accounts[static_cast<size_t>(q)][i];
      a.relevance_out = out[static_cast<int64_t>(i)][q].item<double>();
      a.relevance_in = in[static_cast<int64_t>(i)][q].item<double>();
      a.absorbed = a.relevance_out - a.relevance_in;
      a.small_denominators = counts[q].item<int64_t>();
    }
  }
  e.relevance = r.dense();
  return e;
}

}  // namespace mlens::lrp
