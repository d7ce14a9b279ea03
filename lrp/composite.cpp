#include "lrp/composite.h"

#include <sstream>
#include <stdexcept>

namespace mlens::lrp {

const char* to_string(Role role) {
  switch (role) {
    case Role::Input: return "input";
    case Role::Conv: return "conv";
    case Role::Dense: return "dense";
  }
  return "?";
}

Ties parse_ties(const std::string& name) {
  if (name == "first") return Ties::First;
  if (name == "tf") return Ties::Tf;
  throw std::invalid_argument("unknown tie rule \"" + name + "\" (known: first, tf)");
}

const char* to_string(Ties ties) { return ties == Ties::First ? "first" : "tf"; }

const char* to_string(Method method) {
  switch (method) {
    case Method::Lrp: return "lrp";
    case Method::Gradient: return "gradient";
    case Method::InputTimesGradient: return "input_t_gradient";
    case Method::IntegratedGradients: return "integrated_gradients";
    case Method::SmoothGrad: return "smoothgrad";
    case Method::Deconvnet: return "deconvnet";
    case Method::GuidedBackprop: return "guided_backprop";
  }
  return "?";
}

const Rule& Composite::rule_for(Role role) const {
  auto it = rules.find(role);
  if (it == rules.end() && role == Role::Input) return rule_for(Role::Conv);
  if (it == rules.end()) throw std::invalid_argument("composite \"" + name + "\" has no rule for " + to_string(role) + " layers");
  return it->second;
}

namespace {

Rule make(RuleKind kind, double epsilon = 1e-7, double alpha = 1, double beta = 0, BiasRule bias = BiasRule::Innvestigate) {
  Rule r;
  r.kind = kind;
  r.epsilon = epsilon;
  r.alpha = alpha;
  r.beta = beta;
  r.bias = bias;
  return r;
}

Role parse_role(const std::string& s) {
  if (s == "input") return Role::Input;
  if (s == "conv") return Role::Conv;
  if (s == "dense") return Role::Dense;
  throw std::invalid_argument("unknown layer role \"" + s + "\" in a rule table (known: input, conv, dense)");
}

}  // namespace

Composite parse_composite(const std::string& given) {
  // iNNvestigate's names for the presets mlens has under its own.
  static const std::map<std::string, std::string> innvestigate{
      {"lrp.sequential_preset_a", "preset-a"}, {"lrp.sequential_preset_b", "preset-b"}, {"lrp.epsilon", "epsilon"},
      {"lrp.z_plus", "zplus"}, {"input-x-gradient", "input_t_gradient"}, {"integrated-gradients", "integrated_gradients"},
      {"guided-backprop", "guided_backprop"}, {"EpsilonPlus", "epsilon-plus"}, {"EpsilonPlusFlat", "epsilon-plus-flat"},
      {"EpsilonAlpha2Beta1", "epsilon-alpha2-beta1"}, {"EpsilonGammaBox", "epsilon-gamma-box"}};
  const auto alias = innvestigate.find(given);
  const std::string spec = alias == innvestigate.end() ? given : alias->second;
  Composite c;
  c.name = spec;
  for (Method m : {Method::Gradient, Method::InputTimesGradient, Method::IntegratedGradients, Method::SmoothGrad,
                   Method::Deconvnet, Method::GuidedBackprop})
    if (spec == to_string(m)) {
      c.method = m;
      return c;
    }
  if (spec == "preset-a") {
    c.rules = {{Role::Conv, make(RuleKind::AlphaBeta, 1e-7, 1, 0)}, {Role::Dense, make(RuleKind::Epsilon, 0.1)}};
  } else if (spec == "preset-b") {
    c.rules = {{Role::Conv, make(RuleKind::AlphaBeta, 1e-7, 2, 1)}, {Role::Dense, make(RuleKind::Epsilon, 0.1)}};
  } else if (spec == "epsilon") {
    c.rules = {{Role::Conv, make(RuleKind::Epsilon)}, {Role::Dense, make(RuleKind::Epsilon)}};
  } else if (spec == "epsilon-plus" || spec == "epsilon-plus-flat" || spec == "epsilon-alpha2-beta1" ||
             spec == "epsilon-gamma-box") {
    // Zennit's composites with its defaults (epsilon 1e-6, gamma 0.25; its z+ and alpha-beta split the bias).
    const Rule dense = make(RuleKind::Epsilon, 1e-6);
    Rule conv = make(RuleKind::AlphaBeta, 1e-7, 1, 0, BiasRule::Zennit);
    if (spec == "epsilon-alpha2-beta1") conv = make(RuleKind::AlphaBeta, 1e-7, 2, 1, BiasRule::Zennit);
    if (spec == "epsilon-gamma-box") conv = parse_rule("gamma");
    c.rules = {{Role::Conv, conv}, {Role::Dense, dense}};
    if (spec == "epsilon-plus-flat") c.rules[Role::Input] = make(RuleKind::Flat);
    if (spec == "epsilon-gamma-box") c.rules[Role::Input] = make(RuleKind::ZBox);
  } else if (spec == "zplus") {
    c.rules = {{Role::Conv, make(RuleKind::ZPlus)}, {Role::Dense, make(RuleKind::ZPlus)}};
  } else if (spec.find('=') != std::string::npos) {
    std::stringstream items(spec);
    std::string item;
    while (std::getline(items, item, ',')) {
      const auto eq = item.find('=');
      if (eq == std::string::npos) throw std::invalid_argument("rule table entry \"" + item + "\" is not role=rule");
      c.rules[parse_role(item.substr(0, eq))] = parse_rule(item.substr(eq + 1));
    }
    for (Role needed : {Role::Conv, Role::Dense})
      if (!c.rules.count(needed))
        throw std::invalid_argument("rule table \"" + spec + "\" has no entry for " + to_string(needed) + " layers");
  } else {
    throw std::invalid_argument("unknown composite \"" + spec +
                                "\" (LRP presets: preset-a, preset-b, epsilon, zplus; Zennit's epsilon-plus, epsilon-plus-flat, "
                                "epsilon-alpha2-beta1, epsilon-gamma-box; or a table like "
                                "conv=alpha-beta,dense=epsilon,input=zbox; gradient methods: gradient, input_t_gradient, "
                                "integrated_gradients, smoothgrad, deconvnet, guided_backprop; iNNvestigate's names such as "
                                "lrp.sequential_preset_a)");
  }
  for (auto& [role, rule] : c.rules)
    if (rule.kind == RuleKind::ZPlus) rule.bias = BiasRule::None;
  return c;
}

Composite with_overrides(Composite c, const RuleOverrides& o) {
  for (auto& [role, r] : c.rules) {
    if (r.kind == RuleKind::Epsilon && o.epsilon) r.epsilon = *o.epsilon;
    if (r.kind == RuleKind::AlphaBeta && o.alpha) r.alpha = *o.alpha;
    if (r.kind == RuleKind::AlphaBeta && o.beta) r.beta = *o.beta;
    if ((r.kind == RuleKind::AlphaBeta || r.kind == RuleKind::Epsilon) && o.bias) r.bias = *o.bias;
    if (r.kind == RuleKind::ZBox && o.low) r.low = *o.low;
    if (r.kind == RuleKind::ZBox && o.high) r.high = *o.high;
    if (r.kind == RuleKind::Gamma && o.gamma) r.gamma = *o.gamma;
    validate(r);
  }
  if (o.ties) c.ties = *o.ties;
  return c;
}

}  // namespace mlens::lrp
