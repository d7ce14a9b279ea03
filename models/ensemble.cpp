#include "models/ensemble.h"

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

void check_same_input(const Ensemble& e) {
  const Int3 first = e.input_shape();
  for (const auto& m : e.members)
    if (member_input(m) != first)
      throw std::invalid_argument("ensemble \"" + e.name + "\": member \"" + m.name + "\" expects input " +
                                  shape_text(member_input(m)) + " but member \"" + e.members.front().name + "\" expects " +
                                  shape_text(first) + "; all members must share one input geometry");
}

at::Tensor Ensemble::predict(const at::Tensor& x) const {
  at::Tensor y = at::full({x.size(0)}, intercept, x.options());
  for (const auto& m : members) {
    const at::Tensor ym = m.network ? m.network->forward(x).reshape({x.size(0)}) : m.ensemble->predict(x);
    y.add_(ym, m.coefficient);
  }
  return y;
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
