#include "lrp/rule.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace mlens::lrp {

const char* to_string(RuleKind kind) {
  switch (kind) {
    case RuleKind::Z: return "z";
    case RuleKind::Epsilon: return "epsilon";
    case RuleKind::AlphaBeta: return "alpha-beta";
    case RuleKind::ZPlus: return "zplus";
    case RuleKind::ZPlusFast: return "zplus-fast";
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

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// A parameter's value: a finite number written whole (no trailing characters).
double parse_number(const std::string& text, const std::string& parameter, const std::string& spec) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v))
    throw std::invalid_argument("rule \"" + spec + "\": " + parameter + " \"" + text + "\" is not a finite number");
  return v;
}

}  // namespace

Rule parse_rule(const std::string& given) {
  const std::string spec = trim(given);
  const auto open = spec.find('(');
  const std::string name = trim(spec.substr(0, open));
  Rule r;
  std::vector<const char*> positional;  // the parameters a rule takes, in order
  bool takes_bias = false;
  if (name == "z") {
    r.kind = RuleKind::Z;
    takes_bias = true;
  } else if (name == "epsilon") {
    r.kind = RuleKind::Epsilon;
    positional = {"epsilon"};
    takes_bias = true;
  } else if (name == "alpha-beta" || name == "alphabeta") {
    r.kind = RuleKind::AlphaBeta;
    positional = {"alpha", "beta"};
    takes_bias = true;
  } else if (name == "zplus" || name == "z+") {
    r.kind = RuleKind::ZPlus;
  } else if (name == "zplus-fast" || name == "z+fast") {
    r.kind = RuleKind::ZPlusFast;
  } else if (name == "flat") {
    r.kind = RuleKind::Flat;
  } else if (name == "w2" || name == "wsquare") {
    r.kind = RuleKind::WSquare;
  } else if (name == "zbox" || name == "z-box") {
    r.kind = RuleKind::ZBox;
    positional = {"low", "high"};
  } else if (name == "gamma") {
    r.kind = RuleKind::Gamma;
    r.epsilon = 1e-6;  // Zennit's stabilizer
    positional = {"gamma"};
  } else {
    throw std::invalid_argument("unknown LRP rule \"" + name +
                                "\" (known: z, epsilon, alpha-beta, zplus, zplus-fast, flat, w2, zbox, gamma)");
  }
  if (open == std::string::npos) return r;
  if (spec.back() != ')' || spec.find('(', open + 1) != std::string::npos || spec.find(')') != spec.size() - 1)
    throw std::invalid_argument("rule \"" + spec + "\": parameters go in one pair of parentheses, e.g. epsilon(0.25)");

  std::vector<std::string> items;
  std::stringstream list(spec.substr(open + 1, spec.size() - open - 2));
  for (std::string item; std::getline(list, item, ',');) items.push_back(trim(item));
  if (items.size() == 1 && items[0].empty()) items.clear();
  bool alpha_given = false, beta_given = false;
  std::size_t next = 0;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    std::string key, value = item;
    if (eq != std::string::npos) {
      key = trim(item.substr(0, eq));
      value = trim(item.substr(eq + 1));
    } else {
      if (next >= positional.size())
        throw std::invalid_argument("rule \"" + spec + "\": " + name + " takes " + std::to_string(positional.size()) +
                                    " parameter" + (positional.size() == 1 ? "" : "s") + " without names");
      key = positional[next++];
    }
    if (key == "bias" && takes_bias) {
      r.bias = parse_bias_rule(value);
      continue;
    }
    if (std::find(positional.begin(), positional.end(), key) == positional.end())
      throw std::invalid_argument("rule \"" + spec + "\": " + name + " has no parameter \"" + key + "\"");
    const double v = parse_number(value, key, spec);
    if (key == "epsilon") r.epsilon = v;
    if (key == "alpha") r.alpha = v, alpha_given = true;
    if (key == "beta") r.beta = v, beta_given = true;
    if (key == "low") r.low = v;
    if (key == "high") r.high = v;
    if (key == "gamma") r.gamma = v;
  }
  // α − β = 1: one of them determines the other.
  if (alpha_given && !beta_given) r.beta = r.alpha - 1;
  if (beta_given && !alpha_given) r.alpha = r.beta + 1;
  validate(r);
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
    case RuleKind::Z: s << "(bias=" << to_string(bias) << ")"; break;
    case RuleKind::Epsilon: s << "(epsilon=" << epsilon << ", bias=" << to_string(bias) << ")"; break;
    case RuleKind::AlphaBeta:
      s << "(alpha=" << alpha << ", beta=" << beta << ", bias=" << to_string(bias) << ")";
      break;
    case RuleKind::ZBox: s << "(low=" << low << ", high=" << high << ")"; break;
    case RuleKind::Gamma: s << "(gamma=" << gamma << ", stabilizer=" << epsilon << ")"; break;
    case RuleKind::ZPlus:
    case RuleKind::ZPlusFast:
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
