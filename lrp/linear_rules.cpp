#include "lrp/linear_rules.h"

#include <algorithm>
#include <stdexcept>

#include "models/conv.h"
#include "models/sparse_conv.h"

namespace mlens::lrp {
namespace {

using models::Layer;
using models::LayerKind;

// The layer's map x ↦ Σ_i x_i w_ij (no bias) for any weight tensor shaped like the layer's, and its
// adjoint s ↦ Σ_j w_ij s_j. Every rule is a few of these maps and elementwise products.
class LinearMap {
 public:
  // With `positions` defined the map is evaluated at those output cells only: by the direct maps of
  // models/sparse_conv.h where they pay, else by the dense convolution gathered at the cells (and the
  // adjoint of the scattered values), which still keeps the rule's elementwise work on the few cells.
  LinearMap(const Layer& layer, const at::Tensor& x, const at::Tensor& positions)
      : layer_(layer), positions_(positions) {
    if (layer.kind == LayerKind::Conv3d) {
      size_ = {x.size(2), x.size(3), x.size(4)};
      const models::Int3 k{layer.weight.size(2), layer.weight.size(3), layer.weight.size(4)};
      pads_ = models::window_pads(layer.padding, size_, k, layer.stride);
      output_shape_ = models::output_shape(layer, x.sizes().vec());
      direct_ = positions.defined() && layer.stride == models::Int3{1, 1, 1} &&
                models::sparse_maps_pay(layer.weight, positions.numel(), c10::multiply_integers(output_shape_));
    } else if (positions.defined()) {
      throw std::logic_error("LinearMap: relevance at positions is for Conv3d layers");
    }
  }

  // With `bias` defined the bias is added by the primitive itself (one pass less over the output).
  at::Tensor apply(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias = at::Tensor()) const {
    if (direct_) return models::conv3d_at(x, w, bias, pads_, positions_);
    if (positions_.defined()) return models::conv3d(x, w, bias, pads_, layer_.stride).reshape({-1}).index_select(0, positions_);
    if (conv()) return models::conv3d(x, w, bias, pads_, layer_.stride);
    return bias.defined() ? at::addmm(bias, x, w.t()) : at::matmul(x, w.t());
  }
  at::Tensor adjoint(const at::Tensor& s, const at::Tensor& w) const {
    if (direct_) {
      primitive_ = "sparse at the winners";
      return models::conv3d_transpose_at(s, positions_, w, pads_, output_shape_, size_);
    }
    if (positions_.defined()) {
      at::Tensor r = models::conv3d_transpose(models::scatter_dense(s, positions_, output_shape_), w, pads_, size_,
                                              &primitive_, layer_.stride);
      primitive_ += " from the winners";
      return r;
    }
    if (!conv()) {
      primitive_ = "matmul";
      return at::matmul(s, w);
    }
    return models::conv3d_transpose(s, w, pads_, size_, &primitive_, layer_.stride);
  }
  const std::string& adjoint_primitive() const { return primitive_; }
  const at::Tensor& positions() const { return positions_; }
  int64_t cells_per_sample() const { return c10::multiply_integers(output_shape_) / output_shape_[0]; }

 private:
  bool conv() const { return layer_.kind == LayerKind::Conv3d; }
  const Layer& layer_;
  at::Tensor positions_;
  bool direct_ = false;  // positions_ handled by the direct sparse maps
  models::Int3 size_{0, 0, 0};
  models::Pads pads_;
  std::vector<int64_t> output_shape_;
  mutable std::string primitive_;  // the last adjoint's path, for the conservation account
};

// iNNvestigate's SafeDivide, a / (b + 1e-7·[b == 0]), computed into b's memory: at 198³ every
// avoided temporary is a 500 MB allocation and a pass over it.
at::Tensor safe_divide_into(const at::Tensor& a, at::Tensor b) {
  b.masked_fill_(b.eq(0), 1e-7);
  return at::div_out(b, a, b);
}

// Unstable denominators, per sample: relevance arrives (R ≠ 0) but |z| < 1e-6·max|z| over the sample's
// denominators that receive relevance (the only ones a sparse rule computes). With overlapping pooling
// windows a sparse rule sees a cell once per window it won; it is counted once. The counts stay on the
// device ([N] int64): reading them here would sync once per layer.
at::Tensor count_small(const at::Tensor& z, const at::Tensor& relevance, const LinearMap& m, int64_t samples) {
  const auto counts = at::TensorOptions().dtype(at::kLong).device(z.device());
  if (z.numel() == 0) return at::zeros({samples}, counts);  // no relevance arrives (sparse, nothing won)
  const at::Tensor receiving = relevance.ne(0);
  const at::Tensor magnitude = z.abs().mul_(receiving);
  if (!m.positions().defined()) {
    const at::Tensor rows = magnitude.reshape({samples, -1});
    const at::Tensor limit = rows.amax(1, /*keepdim=*/true).mul_(1e-6);
    return rows.lt(limit).logical_and_(receiving.reshape({samples, -1})).sum(1);
  }
  // Sparse: the positions are flat cells of the batch's output, so a cell's sample is position / cells per sample.
  const at::Tensor sample = at::div(m.positions(), m.cells_per_sample(), "floor");
  // Each sample's largest |z|: a cell repeated (won twice) has the same z each time.
  const at::Tensor largest = samples == 1 ? magnitude.max().reshape({1})
                                          : at::zeros({samples * m.cells_per_sample()}, magnitude.options())
                                                .index_put_({m.positions()}, magnitude)
                                                .reshape({samples, -1})
                                                .amax(1);
  const at::Tensor limit = largest.mul_(1e-6);
  const at::Tensor small = magnitude.lt(limit.index_select(0, sample)).logical_and_(receiving);
  const at::Tensor cells = std::get<0>(at::_unique(m.positions().masked_select(small)));
  return at::bincount(at::div(cells, m.cells_per_sample(), "floor"), {}, samples);
}

// epsilon, z (no ε, safe division) and z+fast (w⁺ on every input, no bias: iNNvestigate's ZPlusFastRule).
RuleResult epsilon(const LinearMap& m, const Layer& l, const Rule& r, const at::Tensor& x, const at::Tensor& R) {
  const at::Tensor w = r.kind == RuleKind::ZPlusFast ? l.weight.clamp_min(0) : l.weight;
  const bool bias = r.kind != RuleKind::ZPlusFast && r.bias != BiasRule::None;
  at::Tensor z = m.apply(x, w, bias ? l.bias : at::Tensor());
  at::Tensor s;
  if (r.kind == RuleKind::Epsilon) {
    // ε takes the sign of z, with sgn(0) = +1; then plain division.
    z.add_(z.ge(0).to(z.scalar_type()).mul_(2 * r.epsilon).sub_(r.epsilon));
    const at::Tensor small = count_small(z, R, m, x.size(0));
    return {m.adjoint(at::div_out(z, R, z), w).mul_(x), small};
  }
  const at::Tensor small = count_small(z, R, m, x.size(0));
  return {m.adjoint(safe_divide_into(R, std::move(z)), w).mul_(x), small};
}

RuleResult alpha_beta(const LinearMap& m, const Layer& l, const Rule& r, const at::Tensor& x, const at::Tensor& R) {
  const at::Tensor wp = l.weight.clamp_min(0), wn = l.weight.clamp_max(0);
  // After a ReLU every input is ≥ 0: then x⁺ = x and the x⁻ terms vanish; skipping them halves the work exactly.
  const bool negative_inputs = x.min().item<double>() < 0;
  const at::Tensor xp = negative_inputs ? x.clamp_min(0) : x;
  const at::Tensor xn = negative_inputs ? x.clamp_max(0) : at::Tensor();

  // z = Σ a·w1 + Σ b·w2 (+ bias), and its redistribution a ⊙ adjoint(s, w1) + b ⊙ adjoint(s, w2).
  const auto part = [&](const at::Tensor& w_pos_in, const at::Tensor& w_neg_in, const at::Tensor& bias,
                        at::Tensor& small) {
    at::Tensor z = m.apply(xp, w_pos_in, bias);
    if (negative_inputs) z.add_(m.apply(xn, w_neg_in));
    const at::Tensor counted = count_small(z, R, m, x.size(0));
    small = small.defined() ? small.add_(counted) : counted;
    const at::Tensor s = safe_divide_into(R, std::move(z));
    at::Tensor out = m.adjoint(s, w_pos_in).mul_(xp);
    if (negative_inputs) out.add_(m.adjoint(s, w_neg_in).mul_(xn));
    return out;
  };

  at::Tensor bias_activator, bias_inhibitor;
  switch (r.bias) {
    case BiasRule::Innvestigate: bias_activator = bias_inhibitor = l.bias; break;
    case BiasRule::Zennit:
      bias_activator = l.bias.clamp_min(0);
      bias_inhibitor = l.bias.clamp_max(0);
      break;
    case BiasRule::None: break;
  }
  RuleResult result;
  at::Tensor activator = part(wp, wn, bias_activator, result.small_denominators);
  if (r.alpha != 1) activator.mul_(r.alpha);
  if (r.beta != 0) activator.sub_(part(wn, wp, bias_inhibitor, result.small_denominators), r.beta);
  result.relevance = activator;
  return result;
}

// flat and w2: the relevance follows fixed weights u (ones or w²) evaluated on an all-ones input.
RuleResult fixed_weights(const LinearMap& m, const at::Tensor& u, const at::Tensor& x, const at::Tensor& R) {
  at::Tensor z = m.apply(at::ones_like(x), u);
  const at::Tensor small = count_small(z, R, m, x.size(0));
  return {m.adjoint(safe_divide_into(R, std::move(z)), u), small};
}

RuleResult zbox(const LinearMap& m, const Layer& l, const Rule& r, const at::Tensor& x, const at::Tensor& R) {
  const at::Tensor wp = l.weight.clamp_min(0), wn = l.weight.clamp_max(0);
  const at::Tensor low = at::full_like(x, r.low), high = at::full_like(x, r.high);
  at::Tensor z = m.apply(x, l.weight).sub_(m.apply(low, wp)).sub_(m.apply(high, wn));
  const at::Tensor small = count_small(z, R, m, x.size(0));
  const at::Tensor s = safe_divide_into(R, std::move(z));
  return {m.adjoint(s, l.weight).mul_(x).sub_(m.adjoint(s, wp).mul_(low)).sub_(m.adjoint(s, wn).mul_(high)), small};
}

// Zennit's stabilizer: d + ε·sgn d with sgn 0 = +1, computed into d's memory.
at::Tensor stabilize_into(at::Tensor d, double epsilon) {
  return d.add_(d.ge(0).to(d.scalar_type()).mul_(2 * epsilon).sub_(epsilon));
}

RuleResult gamma(const LinearMap& m, const Layer& l, const Rule& r, const at::Tensor& x, const at::Tensor& R) {
  const at::Tensor u = l.weight + r.gamma * l.weight.clamp_min(0), v = l.weight + r.gamma * l.weight.clamp_max(0);
  const at::Tensor bu = l.bias + r.gamma * l.bias.clamp_min(0), bv = l.bias + r.gamma * l.bias.clamp_max(0);
  const at::Tensor xp = x.clamp_min(0), xn = x.clamp_max(0);
  const at::Tensor z = m.apply(x, l.weight, l.bias);
  RuleResult result;
  at::Tensor relevance;
  // Outputs with z > 0 go by (u on x⁺, v on x⁻), those with z < 0 by (v on x⁺, u on x⁻).
  for (const bool positive : {true, false}) {
    const at::Tensor& on_positive = positive ? u : v;
    const at::Tensor& on_negative = positive ? v : u;
    at::Tensor d = m.apply(xp, on_positive, positive ? bu : bv).add_(m.apply(xn, on_negative));
    const at::Tensor selected = R * (positive ? z.gt(0) : z.lt(0));
    const at::Tensor counted = count_small(d, selected, m, x.size(0));
    result.small_denominators = result.small_denominators.defined() ? result.small_denominators + counted : counted;
    const at::Tensor s = at::div_out(d, selected, stabilize_into(d, r.epsilon));
    at::Tensor part = m.adjoint(s, on_positive).mul_(xp).add_(m.adjoint(s, on_negative).mul_(xn));
    relevance = relevance.defined() ? relevance.add_(part) : part;
  }
  result.relevance = relevance;
  return result;
}

}  // namespace

RuleResult linear_relevance(const Layer& layer, const Rule& rule, const at::Tensor& x, const at::Tensor& relevance,
                            const at::Tensor& positions) {
  if (!layer.is_linear()) throw std::logic_error("linear_relevance on a non-linear layer");
  const LinearMap m(layer, x, positions);
  RuleResult result;
  switch (rule.kind) {
    case RuleKind::Z:
    case RuleKind::Epsilon:
    case RuleKind::ZPlusFast: result = epsilon(m, layer, rule, x, relevance); break;
    case RuleKind::AlphaBeta: result = alpha_beta(m, layer, rule, x, relevance); break;
    case RuleKind::ZPlus: {
      Rule zplus = rule;
      zplus.alpha = 1;
      zplus.beta = 0;
      zplus.bias = BiasRule::None;
      result = alpha_beta(m, layer, zplus, x, relevance);
      break;
    }
    case RuleKind::Flat: result = fixed_weights(m, at::ones_like(layer.weight), x, relevance); break;
    case RuleKind::WSquare: result = fixed_weights(m, layer.weight * layer.weight, x, relevance); break;
    case RuleKind::ZBox: result = zbox(m, layer, rule, x, relevance); break;
    case RuleKind::Gamma: result = gamma(m, layer, rule, x, relevance); break;
  }
  result.adjoint_primitive = m.adjoint_primitive();
  return result;
}

}  // namespace mlens::lrp
