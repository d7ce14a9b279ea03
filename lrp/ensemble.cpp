#include "lrp/ensemble.h"

#include <c10/core/InferenceMode.h>

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
    out.members.push_back({name, w, ex.prediction, keep ? ex.relevance : at::Tensor(), std::move(ex.account)});
  }
}

}  // namespace

void check_explainable(const models::Ensemble& ensemble) {
  for (const auto& m : ensemble.members) {
    if (m.network) check_explainable(*m.network);
    if (m.ensemble) check_explainable(*m.ensemble);
  }
}

EnsembleExplanation explain(const models::Ensemble& ensemble, const at::Tensor& x, const Composite& composite,
                            bool keep_member_maps) {
  c10::InferenceMode no_graph;
  EnsembleExplanation out;
  out.prediction = at::zeros({x.size(0)}, x.options());
  accumulate(ensemble, x, composite, 1.0, "", keep_member_maps, out);
  return out;
}

}  // namespace mlens::lrp
