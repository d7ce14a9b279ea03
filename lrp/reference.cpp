#include "lrp/reference.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mlens::lrp::reference {
namespace {

using models::Layer;
using models::LayerKind;
using Shape = std::vector<int64_t>;  // without the batch axis

struct Connection {
  int64_t i, j;
  double w;
};

struct LinearLayer {
  std::vector<Connection> connections;
  std::vector<double> bias;
  Shape out_shape;
};

struct Windows {
  std::vector<std::vector<int64_t>> cells;  // per output: its input cells (real ones only), scan order
  Shape out_shape;
};

int64_t count(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// TensorFlow's "same"/"valid" padding, stated again here on purpose: the reference must not share code
// with what it checks.
void padding(models::Padding p, int64_t n, int64_t k, int64_t s, int64_t& out, int64_t& before) {
  if (p == models::Padding::Valid) {
    out = (n - k) / s + 1;
    before = 0;
    return;
  }
  out = (n + s - 1) / s;
  before = std::max<int64_t>((out - 1) * s + k - n, 0) / 2;
}

LinearLayer linear_layer(const Layer& l, const Shape& in) {
  LinearLayer L;
  const std::vector<double> w = to_vector(l.weight);
  L.bias = to_vector(l.bias);
  if (l.kind == LayerKind::Dense) {
    const int64_t nin = in[0], nout = l.weight.size(0);
    for (int64_t j = 0; j < nout; ++j)
      for (int64_t i = 0; i < nin; ++i) L.connections.push_back({i, j, w[j * nin + i]});
    L.out_shape = {nout};
    return L;
  }
  const int64_t C = in[0], O = l.weight.size(0);
  const int64_t kd = l.weight.size(2), kh = l.weight.size(3), kw = l.weight.size(4);
  int64_t od, oh, ow, pd, ph, pw;
  const int64_t sd = l.stride[0], sh = l.stride[1], sw = l.stride[2];
  padding(l.padding, in[1], kd, sd, od, pd);
  padding(l.padding, in[2], kh, sh, oh, ph);
  padding(l.padding, in[3], kw, sw, ow, pw);
  L.out_shape = {O, od, oh, ow};
  for (int64_t o = 0; o < O; ++o)
    for (int64_t d = 0; d < od; ++d)
      for (int64_t h = 0; h < oh; ++h)
        for (int64_t x = 0; x < ow; ++x) {
          const int64_t j = ((o * od + d) * oh + h) * ow + x;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t a = 0; a < kd; ++a)
              for (int64_t b = 0; b < kh; ++b)
                for (int64_t e = 0; e < kw; ++e) {
                  const int64_t id = d * sd + a - pd, ih = h * sh + b - ph, iw = x * sw + e - pw;
                  if (id < 0 || ih < 0 || iw < 0 || id >= in[1] || ih >= in[2] || iw >= in[3]) continue;
                  const int64_t i = ((c * in[1] + id) * in[2] + ih) * in[3] + iw;
                  L.connections.push_back({i, j, w[((((o * C + c) * kd + a) * kh + b) * kw) + e]});
                }
        }
  return L;
}

Windows pool_windows(const Layer& l, const Shape& in) {
  Windows W;
  int64_t o[3], p[3];
  for (int a = 0; a < 3; ++a) padding(l.padding, in[1 + a], l.kernel[a], l.stride[a], o[a], p[a]);
  W.out_shape = {in[0], o[0], o[1], o[2]};
  for (int64_t c = 0; c < in[0]; ++c)
    for (int64_t d = 0; d < o[0]; ++d)
      for (int64_t h = 0; h < o[1]; ++h)
        for (int64_t x = 0; x < o[2]; ++x) {
          std::vector<int64_t> cells;
          for (int64_t a = 0; a < l.kernel[0]; ++a)
            for (int64_t b = 0; b < l.kernel[1]; ++b)
              for (int64_t e = 0; e < l.kernel[2]; ++e) {
                const int64_t id = d * l.stride[0] + a - p[0], ih = h * l.stride[1] + b - p[1],
                              iw = x * l.stride[2] + e - p[2];
                if (id < 0 || ih < 0 || iw < 0 || id >= in[1] || ih >= in[2] || iw >= in[3]) continue;
                cells.push_back(((c * in[1] + id) * in[2] + ih) * in[3] + iw);
              }
          W.cells.push_back(cells);
        }
  return W;
}

double safe(double z) { return z == 0 ? 1e-7 : z; }
double pos(double v) { return v > 0 ? v : 0; }
double neg(double v) { return v < 0 ? v : 0; }

// 1 on the chosen outputs, 0 elsewhere (lrp/neuron.h, stated again).
std::vector<double> neuron_mask(const std::vector<double>& y, const Neuron& neuron) {
  if (neuron.mode == Neuron::Mode::All) return std::vector<double>(y.size(), 1.0);
  size_t keep = static_cast<size_t>(neuron.index);
  if (neuron.mode == Neuron::Mode::Max) {
    keep = 0;
    for (size_t k = 1; k < y.size(); ++k)
      if (y[k] > y[keep]) keep = k;
  }
  std::vector<double> m(y.size(), 0.0);
  m.at(keep) = 1;
  return m;
}

std::vector<double> times(std::vector<double> a, const std::vector<double>& b) {
  for (size_t k = 0; k < a.size(); ++k) a[k] *= b[k];
  return a;
}

struct LayerState {
  Shape in_shape;
  std::vector<double> input, output;
};

std::vector<double> layer_forward(const Layer& l, const std::vector<double>& x, const Shape& in, Shape& out) {
  switch (l.kind) {
    case LayerKind::Conv3d:
    case LayerKind::Dense: {
      const LinearLayer L = linear_layer(l, in);
      out = L.out_shape;
      const int64_t per_channel = count(out) / static_cast<int64_t>(L.bias.size());
      std::vector<double> z(count(out));
      for (int64_t j = 0; j < count(out); ++j) z[j] = L.bias[j / per_channel];
      for (const Connection& c : L.connections) z[c.j] += x[c.i] * c.w;
      return z;
    }
    case LayerKind::MaxPool3d:
    case LayerKind::AvgPool3d: {
      const Windows W = pool_windows(l, in);
      out = W.out_shape;
      std::vector<double> y(W.cells.size());
      for (size_t j = 0; j < W.cells.size(); ++j) {
        double m = -INFINITY, s = 0;
        for (int64_t i : W.cells[j]) {
          m = std::max(m, x[i]);
          s += x[i];
        }
        y[j] = l.kind == LayerKind::MaxPool3d ? m : s / static_cast<double>(W.cells[j].size());
      }
      return y;
    }
    case LayerKind::Flatten: out = {count(in)}; return x;
    case LayerKind::Dropout: out = in; return x;
    case LayerKind::ReLU:
    case LayerKind::LeakyReLU: {
      out = in;
      std::vector<double> y = x;
      const double slope = l.kind == LayerKind::ReLU ? 0.0 : l.negative_slope;
      for (double& v : y) v = v > 0 ? v : slope * v;
      return y;
    }
    case LayerKind::BatchNorm: {
      out = in;
      const std::vector<double> s = to_vector(l.weight), b = to_vector(l.bias);
      const int64_t per_channel = count(in) / in[0];
      std::vector<double> y(x.size());
      for (size_t i = 0; i < x.size(); ++i) y[i] = s[i / per_channel] * x[i] + b[i / per_channel];
      return y;
    }
  }
  throw std::logic_error("reference: unknown layer");
}

std::vector<double> linear_rule(const Layer& l, const Rule& rule, const std::vector<double>& x, const Shape& in,
                                const std::vector<double>& R) {
  const LinearLayer L = linear_layer(l, in);
  const int64_t nout = count(L.out_shape);
  const int64_t per_channel = nout / static_cast<int64_t>(L.bias.size());
  const auto bias = [&](int64_t j) { return L.bias[j / per_channel]; };
  std::vector<double> Rin(x.size(), 0.0);
  std::vector<double> z(nout, 0.0), z2(nout, 0.0);

  switch (rule.kind) {
    case RuleKind::Z:
    case RuleKind::Epsilon:
    case RuleKind::ZPlusFast: {
      const bool fast = rule.kind == RuleKind::ZPlusFast;
      const auto w = [&](const Connection& c) { return fast ? pos(c.w) : c.w; };
      for (int64_t j = 0; j < nout; ++j) z[j] = fast || rule.bias == BiasRule::None ? 0 : bias(j);
      for (const Connection& c : L.connections) z[c.j] += x[c.i] * w(c);
      for (const Connection& c : L.connections) {
        const double den = rule.kind == RuleKind::Epsilon ? z[c.j] + (z[c.j] >= 0 ? rule.epsilon : -rule.epsilon) : safe(z[c.j]);
        Rin[c.i] += x[c.i] * w(c) * R[c.j] / den;
      }
      return Rin;
    }
    case RuleKind::AlphaBeta:
    case RuleKind::ZPlus: {
      const bool zplus = rule.kind == RuleKind::ZPlus;
      const double alpha = zplus ? 1 : rule.alpha, beta = zplus ? 0 : rule.beta;
      const BiasRule br = zplus ? BiasRule::None : rule.bias;
      for (int64_t j = 0; j < nout; ++j) {
        const double b = bias(j);
        z[j] = br == BiasRule::Innvestigate ? b : br == BiasRule::Zennit ? pos(b) : 0;   // activator A_j
        z2[j] = br == BiasRule::Innvestigate ? b : br == BiasRule::Zennit ? neg(b) : 0;  // inhibitor I_j
      }
      for (const Connection& c : L.connections) {
        z[c.j] += pos(x[c.i]) * pos(c.w) + neg(x[c.i]) * neg(c.w);
        z2[c.j] += pos(x[c.i]) * neg(c.w) + neg(x[c.i]) * pos(c.w);
      }
      for (const Connection& c : L.connections) {
        const double act = (pos(x[c.i]) * pos(c.w) + neg(x[c.i]) * neg(c.w)) * R[c.j] / safe(z[c.j]);
        const double inh = (pos(x[c.i]) * neg(c.w) + neg(x[c.i]) * pos(c.w)) * R[c.j] / safe(z2[c.j]);
        Rin[c.i] += alpha * act - (beta != 0 ? beta * inh : 0.0);
      }
      return Rin;
    }
    case RuleKind::Flat:
    case RuleKind::WSquare: {
      const auto u = [&](double w) { return rule.kind == RuleKind::Flat ? 1.0 : w * w; };
      for (const Connection& c : L.connections) z[c.j] += u(c.w);
      for (const Connection& c : L.connections) Rin[c.i] += u(c.w) * R[c.j] / safe(z[c.j]);
      return Rin;
    }
    case RuleKind::Gamma: {
      // Zennit's generalised gamma, written out: u = w + γw⁺, v = w + γw⁻.
      const auto u = [&](double w) { return w + rule.gamma * pos(w); };
      const auto v = [&](double w) { return w + rule.gamma * neg(w); };
      const auto stab = [&](double d) { return d + (d >= 0 ? rule.epsilon : -rule.epsilon); };
      std::vector<double> plain(nout, 0.0);
      for (int64_t j = 0; j < nout; ++j) {
        plain[j] = bias(j);
        z[j] = bias(j) + rule.gamma * pos(bias(j));
        z2[j] = bias(j) + rule.gamma * neg(bias(j));
      }
      for (const Connection& c : L.connections) {
        plain[c.j] += x[c.i] * c.w;
        z[c.j] += pos(x[c.i]) * u(c.w) + neg(x[c.i]) * v(c.w);
        z2[c.j] += pos(x[c.i]) * v(c.w) + neg(x[c.i]) * u(c.w);
      }
      for (const Connection& c : L.connections) {
        if (plain[c.j] > 0) Rin[c.i] += (pos(x[c.i]) * u(c.w) + neg(x[c.i]) * v(c.w)) * R[c.j] / stab(z[c.j]);
        if (plain[c.j] < 0) Rin[c.i] += (pos(x[c.i]) * v(c.w) + neg(x[c.i]) * u(c.w)) * R[c.j] / stab(z2[c.j]);
      }
      return Rin;
    }
    case RuleKind::ZBox: {
      const auto term = [&](const Connection& c) {
        return x[c.i] * c.w - rule.low * pos(c.w) - rule.high * neg(c.w);
      };
      for (const Connection& c : L.connections) z[c.j] += term(c);
      for (const Connection& c : L.connections) Rin[c.i] += term(c) * R[c.j] / safe(z[c.j]);
      return Rin;
    }
  }
  throw std::logic_error("reference: unknown rule");
}

std::vector<double> pool_rule(const Layer& l, Ties ties, const std::vector<double>& x, const Shape& in,
                              const std::vector<double>& R) {
  const Windows W = pool_windows(l, in);
  std::vector<double> Rin(x.size(), 0.0);
  for (size_t j = 0; j < W.cells.size(); ++j) {
    const auto& cells = W.cells[j];
    if (l.kind == LayerKind::AvgPool3d) {
      double s = 0;
      for (int64_t i : cells) s += x[i];
      const double n = static_cast<double>(cells.size()), z = s / n;
      for (int64_t i : cells) Rin[i] += x[i] / n * R[j] / safe(z);
      continue;
    }
    int64_t first = cells.front();
    for (int64_t i : cells)
      if (x[i] > x[first]) first = i;
    if (ties == Ties::First) {
      Rin[first] += R[j];
    } else {
      for (int64_t i : cells)
        if (std::abs(x[i] - x[first]) < 1e-5) Rin[i] += R[j];
    }
  }
  return Rin;
}

}  // namespace

std::vector<double> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::vector<double> forward(const models::Sequential& net, const std::vector<double>& x) {
  Shape shape{net.input_channels, net.input_shape[0], net.input_shape[1], net.input_shape[2]};
  std::vector<double> h = x;
  for (const Layer& l : net.layers) {
    Shape out;
    h = layer_forward(l, h, shape, out);
    shape = out;
  }
  return h;
}

Result explain(const models::Sequential& net, const std::vector<double>& x, const Composite& composite) {
  const size_t n = net.layers.size();
  std::vector<LayerState> states(n);
  Shape shape{net.input_channels, net.input_shape[0], net.input_shape[1], net.input_shape[2]};
  std::vector<double> h = x;
  size_t first_linear = n;
  for (size_t i = 0; i < n; ++i) {
    if (net.layers[i].is_linear() && first_linear == n) first_linear = i;
    states[i].in_shape = shape;
    states[i].input = h;
    Shape out;
    h = layer_forward(net.layers[i], h, shape, out);
    states[i].output = h;
    shape = out;
  }
  Result res;
  res.layer_relevance_in.resize(n);
  const bool deep_taylor = composite.method == Method::DeepTaylor;
  std::vector<double> R = times(h, neuron_mask(h, composite.neuron));  // the chosen neuron's relevance is its value (DeepTaylor: max(0, value))
  for (double r : R) res.prediction += r;
  if (deep_taylor)
    for (double& r : R) r = std::max(r, 0.0);
  for (size_t step = 0; step < n; ++step) {
    const size_t i = n - 1 - step;
    const Layer& l = net.layers[i];
    const LayerState& s = states[i];
    switch (l.kind) {
      case LayerKind::Conv3d:
      case LayerKind::Dense: {
        const Role role = i == first_linear ? Role::Input : (l.kind == LayerKind::Dense || l.pointwise_dense ? Role::Dense : Role::Conv);
        R = linear_rule(l, composite.rule_for(role, l.name), s.input, s.in_shape, R);
        break;
      }
      case LayerKind::MaxPool3d: R = pool_rule(l, composite.ties, s.input, s.in_shape, R); break;
      case LayerKind::AvgPool3d:
        if (deep_taylor) {
          // The gradient's uniform split: each real cell of a window gets R_j / n_j.
          const Windows W = pool_windows(l, s.in_shape);
          std::vector<double> Rin(s.input.size(), 0.0);
          for (size_t j = 0; j < W.cells.size(); ++j)
            for (int64_t c : W.cells[j]) Rin[c] += R[j] / static_cast<double>(W.cells[j].size());
          R = Rin;
        } else {
          R = pool_rule(l, composite.ties, s.input, s.in_shape, R);
        }
        break;
      case LayerKind::BatchNorm: {
        if (deep_taylor) break;  // iNNvestigate 1.x's DeepTaylor passes batch normalisation unchanged
        const std::vector<double> mean = to_vector(l.mean), beta = to_vector(l.beta);
        const int64_t per_channel = count(s.in_shape) / s.in_shape[0];
        for (size_t k = 0; k < R.size(); ++k) {
          const double xv = s.input[k], y = s.output[k];
          const int64_t c = static_cast<int64_t>(k) / per_channel;
          R[k] = xv * (y - beta[c]) * R[k] / safe((xv - mean[c]) * y);
        }
        break;
      }
      case LayerKind::Flatten:
      case LayerKind::Dropout:
      case LayerKind::ReLU: break;
      case LayerKind::LeakyReLU: throw std::invalid_argument("reference: no LRP rule for LeakyReLU");
    }
    double sum = 0;
    for (double v : R) sum += v;
    res.layer_relevance_in[i] = sum;
  }
  res.relevance = R;
  return res;
}

std::vector<double> backprop(const models::Sequential& net, const std::vector<double>& x, Backprop mode, Ties ties,
                             bool from_output, const Neuron& neuron) {
  const size_t n = net.layers.size();
  std::vector<LayerState> states(n);
  Shape shape{net.input_channels, net.input_shape[0], net.input_shape[1], net.input_shape[2]};
  std::vector<double> h = x;
  for (size_t i = 0; i < n; ++i) {
    states[i].in_shape = shape;
    states[i].input = h;
    Shape out;
    h = layer_forward(net.layers[i], h, shape, out);
    shape = out;
  }
  const std::vector<double> mask = neuron_mask(h, neuron);
  std::vector<double> g = from_output ? times(h, mask) : mask;
  for (size_t step = 0; step < n; ++step) {
    const size_t i = n - 1 - step;
    const Layer& l = net.layers[i];
    const LayerState& s = states[i];
    std::vector<double> in(s.input.size(), 0.0);
    switch (l.kind) {
      case LayerKind::Conv3d:
      case LayerKind::Dense:
        for (const Connection& c : linear_layer(l, s.in_shape).connections) in[c.i] += c.w * g[c.j];
        break;
      case LayerKind::MaxPool3d:
      case LayerKind::AvgPool3d: {
        const Windows W = pool_windows(l, s.in_shape);
        for (size_t j = 0; j < W.cells.size(); ++j) {
          const auto& cells = W.cells[j];
          if (l.kind == LayerKind::AvgPool3d) {
            for (int64_t c : cells) in[c] += g[j] / static_cast<double>(cells.size());
            continue;
          }
          int64_t first = cells.front();
          for (int64_t c : cells)
            if (s.input[c] > s.input[first]) first = c;
          for (int64_t c : cells)
            if (ties == Ties::First ? c == first : std::abs(s.input[c] - s.input[first]) < 1e-5) in[c] += g[j];
        }
        break;
      }
      case LayerKind::ReLU:
        for (size_t k = 0; k < in.size(); ++k) {
          const double through = mode == Backprop::Gradient ? g[k] : pos(g[k]);
          in[k] = mode == Backprop::Deconvnet || s.input[k] > 0 ? through : 0.0;
        }
        break;
      case LayerKind::BatchNorm: {
        const std::vector<double> scale = to_vector(l.weight);
        const int64_t per_channel = count(s.in_shape) / s.in_shape[0];
        for (size_t k = 0; k < in.size(); ++k) in[k] = scale[static_cast<int64_t>(k) / per_channel] * g[k];
        break;
      }
      case LayerKind::Flatten:
      case LayerKind::Dropout: in = g; break;
      case LayerKind::LeakyReLU: throw std::invalid_argument("reference: no gradient pass for LeakyReLU");
    }
    g = std::move(in);
  }
  return g;
}

}  // namespace mlens::lrp::reference
