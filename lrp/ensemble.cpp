#include "lrp/ensemble.h"

#include <ATen/OpMathType.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace mlens::lrp {
namespace {

// Adds `weight` · (each network's relevance and prediction, and each head's intercept) into `out`,
// recording every network. Predictions come from the explanations: no second forward pass.
void accumulate(const models::Ensemble& e, const at::Tensor& x, const Composite& c, double weight,
                const std::string& prefix, bool keep, EnsembleExplanation& out) {
  out.prediction.add_(weight * e.intercept);
  for (const auto& m : e.members) {
    const double w = weight * m.coefficient;
    const std::string name = prefix.empty() ? m.name : prefix + "/" + m.name;
    if (m.ensemble) {
      accumulate(*m.ensemble, x, c, w, name, keep, out);
      continue;
    }
    Explanation ex = explain(*m.network, x, c);
    if (out.relevance.defined())
      out.relevance.add_(ex.relevance, w);
    else
      out.relevance = ex.relevance * w;
    out.prediction.add_(ex.prediction, w);
    out.members.push_back({name, w, ex.prediction, ex.outputs, ex.neuron, keep ? ex.relevance : at::Tensor(),
                           std::move(ex.accounts)});
  }
}

}  // namespace

void check_explainable(const models::Ensemble& ensemble) {
  for (const auto& m : ensemble.members) {
    if (m.network) check_explainable(*m.network);
    if (m.ensemble) check_explainable(*m.ensemble);
  }
}

void check_layer_rules(const models::Ensemble& ensemble, const Composite& composite) {
  for (const auto& m : ensemble.members) {
    if (m.network) check_layer_rules(*m.network, composite);
    if (m.ensemble) check_layer_rules(*m.ensemble, composite);
  }
}

EnsembleExplanation explain(const models::Ensemble& ensemble, const at::Tensor& x, const Composite& composite,
                            bool keep_member_maps) {
  c10::InferenceMode no_graph;
  EnsembleExplanation out;
  out.prediction = at::zeros({x.size(0)}, x.options().dtype(at::toOpMathType(x.scalar_type())));  // bfloat16: the head in float32
  accumulate(ensemble, x, composite, 1.0, "", keep_member_maps, out);
  return out;
}

namespace {
void largest_network(const models::Ensemble& e, const Composite& c, const at::TensorOptions& options, int64_t& bytes, int64_t& networks) {
  for (const auto& m : e.members) {
    if (m.ensemble) largest_network(*m.ensemble, c, options, bytes, networks);
    if (!m.network) continue;
    bytes = std::max(bytes, explanation_bytes(*m.network, c, options));
    ++networks;
  }
}
}  // namespace

int64_t explanation_bytes(const models::Ensemble& ensemble, const Composite& composite, const at::TensorOptions& options,
                          bool keep_member_maps) {
  int64_t bytes = 0, networks = 0;
  largest_network(ensemble, composite, options, bytes, networks);
  const models::Int3 s = ensemble.input_shape();
  const int64_t map = s[0] * s[1] * s[2] * ensemble.input_channels() *
                      static_cast<int64_t>(c10::elementSize(c10::typeMetaToScalarType(options.dtype())));
  return bytes + map * (1 + (keep_member_maps ? networks : 0));
}

EnsembleExplanation sample(const EnsembleExplanation& batch, int64_t q) {
  const auto one = [q](const at::Tensor& t) { return t.defined() ? t.narrow(0, q, 1).clone() : at::Tensor(); };
  EnsembleExplanation e{one(batch.prediction), one(batch.relevance), {}};
  for (const MemberExplanation& m : batch.members)
    e.members.push_back({m.name, m.coefficient, one(m.prediction), one(m.outputs), one(m.neuron), one(m.relevance),
                         {m.accounts.at(static_cast<size_t>(q))}});
  return e;
}

}  // namespace mlens::lrp
