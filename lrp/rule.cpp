#include "lrp/rule.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace mlens::lrp {

const char* to_string(RuleKind kind) {
  switch (kind) {
    case RuleKind::Epsilon: return "epsilon";
    case RuleKind::AlphaBeta: return "alpha-beta";
    case RuleKind::ZPlus: return "zplus";
    case RuleKind::Flat: return "flat";
    case RuleKind::WSquare: return "w2";
    case RuleKind::ZBox: return "zbox";
    case RuleKind::Gamma: return "gamma";
  }
  return "?";
}

const char* to_string(BiasRule bias) {
  switch (bias) {
    case BiasRule::Innvestigate: return "innvestigate";
    case BiasRule::Zennit: return "zennit";
    case BiasRule::None: return "none";
  }
  return "?";
}

Rule parse_rule(const std::string& name) {
  Rule r;
  if (name == "epsilon")
    r.kind = RuleKind::Epsilon;
  else if (name == "alpha-beta" || name == "alphabeta")
    r.kind = RuleKind::AlphaBeta;
  else if (name == "zplus" || name == "z+")
    r.kind = RuleKind::ZPlus;
  else if (name == "flat")
    r.kind = RuleKind::Flat;
  else if (name == "w2" || name == "wsquare")
    r.kind = RuleKind::WSquare;
  else if (name == "zbox" || name == "z-box")
    r.kind = RuleKind::ZBox;
  else if (name == "gamma") {
    r.kind = RuleKind::Gamma;
    r.epsilon = 1e-6;  // Zennit's stabilizer
  } else
    throw std::invalid_argument("unknown LRP rule \"" + name + "\" (known: epsilon, alpha-beta, zplus, flat, w2, zbox, gamma)");
  return r;
}

BiasRule parse_bias_rule(const std::string& name) {
  if (name == "innvestigate") return BiasRule::Innvestigate;
  if (name == "zennit") return BiasRule::Zennit;
  if (name == "none") return BiasRule::None;
  throw std::invalid_argument("unknown bias rule \"" + name + "\" (known: innvestigate, zennit, none)");
}

std::string Rule::describe() const {
  std::ostringstream s;
  s << to_string(kind);
  switch (kind) {
    case RuleKind::Epsilon: s << "(epsilon=" << epsilon << ", bias=" << to_string(bias) << ")"; break;
    case RuleKind::AlphaBeta:
      s << "(alpha=" << alpha << ", beta=" << beta << ", bias=" << to_string(bias) << ")";
      break;
    case RuleKind::ZBox: s << "(low=" << low << ", high=" << high << ")"; break;
    case RuleKind::Gamma: s << "(gamma=" << gamma << ", stabilizer=" << epsilon << ")"; break;
    case RuleKind::ZPlus:
    case RuleKind::Flat:
    case RuleKind::WSquare: break;
  }
  return s.str();
}

void validate(const Rule& r) {
  if (r.kind == RuleKind::AlphaBeta && (std::abs(r.alpha - r.beta - 1.0) > 1e-9 || r.beta < 0))
    throw std::invalid_argument("alpha-beta needs alpha - beta = 1 and beta >= 0 (got alpha=" + std::to_string(r.alpha) +
                                ", beta=" + std::to_string(r.beta) + ")");
  if (r.kind == RuleKind::Epsilon && !(r.epsilon >= 0))
    throw std::invalid_argument("epsilon must be >= 0 (got " + std::to_string(r.epsilon) + ")");
  if (r.kind == RuleKind::Gamma && !(r.gamma >= 0 && r.epsilon >= 0))
    throw std::invalid_argument("gamma needs gamma >= 0 and a stabilizer >= 0 (got gamma=" + std::to_string(r.gamma) + ")");
  if (r.kind == RuleKind::ZBox && !(r.low <= r.high))
    throw std::invalid_argument("zbox needs low <= high (got " + std::to_string(r.low) + ", " + std::to_string(r.high) + ")");
}

}  // namespace mlens::lrp
