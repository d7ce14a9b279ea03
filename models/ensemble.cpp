#include "models/ensemble.h"

#include <ATen/OpMathType.h>
#include <stdexcept>

namespace mlens::models {
namespace {

Int3 member_input(const EnsembleMember& m) { return m.network ? m.network->input_shape : m.ensemble->input_shape(); }

std::string shape_text(const Int3& s) {
  return std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
}

}  // namespace

Int3 Ensemble::input_shape() const {
  if (members.empty()) throw std::invalid_argument("ensemble \"" + name + "\" has no members");
  return member_input(members.front());
}

int64_t Ensemble::input_channels() const {
  const EnsembleMember& m = members.at(0);
  return m.network ? m.network->input_channels : m.ensemble->input_channels();
}

void check_same_input(const Ensemble& e) {
  const Int3 first = e.input_shape();
  for (const auto& m : e.members)
    if (member_input(m) != first)
      throw std::invalid_argument("ensemble \"" + e.name + "\": member \"" + m.name + "\" expects input " +
                                  shape_text(member_input(m)) + " but member \"" + e.members.front().name + "\" expects " +
                                  shape_text(first) + "; all members must share one input geometry");
}

void check_single_output(const Ensemble& e, const std::string& use) {
  for (const auto& m : e.members) {
    if (m.ensemble) check_single_output(*m.ensemble, use);
    if (m.network && m.network->output_count() != 1)
      throw std::invalid_argument("model \"" + m.name + "\" has " + std::to_string(m.network->output_count()) +
                                  " outputs; " + use + " needs single-output (brain-age) models. A model with several "
                                  "outputs goes alone (--model) with --neuron, one input or a cohort (explain --cohort)");
  }
}

namespace {

at::Tensor predict_weighted(const Ensemble& e, const at::Tensor& x, double weight, const std::string& prefix,
                            std::vector<MemberPrediction>* out) {
  // bfloat16 (--fast-math) keeps 8 bits of an age: the head sums in float32 (ages to 1/128 year, not 1/2).
  at::Tensor y = at::full({x.size(0)}, e.intercept, x.options().dtype(at::toOpMathType(x.scalar_type())));
  for (const auto& m : e.members) {
    const std::string name = prefix.empty() ? m.name : prefix + "/" + m.name;
    const double w = weight * m.coefficient;
    at::Tensor ym;
    if (m.network) {
      ym = m.network->forward(x).reshape({x.size(0)});
      if (out) out->push_back({name, w, ym});
    } else {
      ym = predict_weighted(*m.ensemble, x, w, name, out);
    }
    y.add_(ym, m.coefficient);
  }
  return y;
}

}  // namespace

at::Tensor Ensemble::predict(const at::Tensor& x, std::vector<MemberPrediction>* members) const {
  check_single_output(*this, "a prediction of the ensemble \"" + name + "\"");
  return predict_weighted(*this, x, 1.0, "", members);
}

Ensemble Ensemble::to(const at::Device& device, at::ScalarType dtype) const {
  Ensemble e = *this;
  for (auto& m : e.members) {
    if (m.network) m.network = std::make_shared<const Sequential>(m.network->to(device, dtype));
    if (m.ensemble) m.ensemble = std::make_shared<const Ensemble>(m.ensemble->to(device, dtype));
  }
  return e;
}

}  // namespace mlens::models
