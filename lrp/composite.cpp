#include "lrp/composite.h"

#include <stdexcept>
#include <vector>

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
    case Method::DeepTaylor: return "deep_taylor";
    case Method::Gradient: return "gradient";
    case Method::InputTimesGradient: return "input_t_gradient";
    case Method::IntegratedGradients: return "integrated_gradients";
    case Method::SmoothGrad: return "smoothgrad";
    case Method::Deconvnet: return "deconvnet";
    case Method::GuidedBackprop: return "guided_backprop";
  }
  return "?";
}

const Rule& Composite::rule_for(Role role, const std::string& layer_name) const {
  if (!layer_name.empty()) {
    const auto own = layer_rules.find(layer_name);
    if (own != layer_rules.end()) return own->second;
  }
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

std::optional<Role> role_named(const std::string& s) {
  if (s == "input") return Role::Input;
  if (s == "conv") return Role::Conv;
  if (s == "dense") return Role::Dense;
  return std::nullopt;
}

// Splits at the commas outside parentheses: "conv=epsilon(0.25),dense=z" -> {"conv=epsilon(0.25)", "dense=z"}.
std::vector<std::string> split_top_level(const std::string& spec) {
  std::vector<std::string> items(1);
  int depth = 0;
  for (char c : spec) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0)
      items.emplace_back();
    else
      items.back() += c;
  }
  return items;
}

// The position of the '=' that ends a table key, or npos when `spec` has none outside parentheses.
std::size_t key_end(const std::string& spec) {
  const std::size_t eq = spec.find('='), open = spec.find('(');
  return eq != std::string::npos && (open == std::string::npos || eq < open) ? eq : std::string::npos;
}

// iNNvestigate's LRP analyzers (its analyzer names) that apply one rule to every linear layer;
// lrp.epsilon and lrp.z_plus are aliases of mlens' own epsilon and zplus (parse_composite).
std::optional<Rule> innvestigate_rule(const std::string& name) {
  static const std::map<std::string, std::string> rules{
      {"lrp.z", "z"},
      {"lrp.z_IB", "z(bias=none)"},
      {"lrp.epsilon_IB", "epsilon(bias=none)"},
      {"lrp.w_square", "w2"},
      {"lrp.flat", "flat"},
      {"lrp.alpha_beta", "alpha-beta"},
      {"lrp.alpha_2_beta_1", "alpha-beta(2, 1)"},
      {"lrp.alpha_2_beta_1_IB", "alpha-beta(2, 1, bias=none)"},
      {"lrp.alpha_1_beta_0", "alpha-beta(1, 0)"},
      {"lrp.alpha_1_beta_0_IB", "alpha-beta(1, 0, bias=none)"},
      {"lrp.z_plus_fast", "zplus-fast"}};
  const auto it = rules.find(name);
  if (it == rules.end()) return std::nullopt;
  return parse_rule(it->second);
}

}  // namespace

Composite parse_composite(const std::string& given) {
  // iNNvestigate's and Zennit's names for the composites mlens has under its own.
  static const std::map<std::string, std::string> aliases{
      {"lrp.sequential_preset_a", "preset-a"}, {"lrp.sequential_preset_b", "preset-b"}, {"lrp.epsilon", "epsilon"},
      {"lrp.z_plus", "zplus"},
      {"lrp.sequential_preset_a_flat", "preset-a-flat"}, {"lrp.sequential_preset_b_flat", "preset-b-flat"},
      {"input-x-gradient", "input_t_gradient"}, {"integrated-gradients", "integrated_gradients"},
      {"guided-backprop", "guided_backprop"}, {"EpsilonPlus", "epsilon-plus"}, {"EpsilonPlusFlat", "epsilon-plus-flat"},
      {"EpsilonAlpha2Beta1", "epsilon-alpha2-beta1"}, {"EpsilonGammaBox", "epsilon-gamma-box"}};
  const auto alias = aliases.find(given);
  const std::string spec = alias == aliases.end() ? given : alias->second;
  Composite c;
  c.name = spec;
  for (Method m : {Method::Gradient, Method::InputTimesGradient, Method::IntegratedGradients, Method::SmoothGrad,
                   Method::Deconvnet, Method::GuidedBackprop})
    if (spec == to_string(m)) {
      c.method = m;
      return c;
    }
  if (spec == "deep_taylor" || spec == "deep_taylor.bounded") {
    // iNNvestigate ≥ 1.0.9: Alpha1Beta0IgnoreBias (z+) on every Dense and Conv layer; bounded: BoundedRule
    // (z-box) on the input layer, its bounds required (--low, --high).
    c.method = Method::DeepTaylor;
    c.rules = {{Role::Conv, make(RuleKind::ZPlus)}, {Role::Dense, make(RuleKind::ZPlus)}};
    if (spec == "deep_taylor.bounded") c.rules[Role::Input] = make(RuleKind::ZBox);
  } else if (spec == "preset-a" || spec == "preset-a-flat") {
    c.rules = {{Role::Conv, make(RuleKind::AlphaBeta, 1e-7, 1, 0)}, {Role::Dense, make(RuleKind::Epsilon, 0.1)}};
  } else if (spec == "preset-b" || spec == "preset-b-flat") {
    c.rules = {{Role::Conv, make(RuleKind::AlphaBeta, 1e-7, 2, 1)}, {Role::Dense, make(RuleKind::Epsilon, 0.1)}};
  } else if (spec == "epsilon-plus" || spec == "epsilon-plus-flat" || spec == "epsilon-alpha2-beta1" ||
             spec == "epsilon-gamma-box") {
    // Zennit's composites with its defaults (epsilon 1e-6, gamma 0.25; its z+ and alpha-beta split the bias).
    const Rule dense = make(RuleKind::Epsilon, 1e-6);
    Rule conv = make(RuleKind::AlphaBeta, 1e-7, 1, 0, BiasRule::Zennit);
    if (spec == "epsilon-alpha2-beta1") conv = make(RuleKind::AlphaBeta, 1e-7, 2, 1, BiasRule::Zennit);
    if (spec == "epsilon-gamma-box") conv = parse_rule("gamma");
    c.rules = {{Role::Conv, conv}, {Role::Dense, dense}};
    if (spec == "epsilon-gamma-box") c.rules[Role::Input] = make(RuleKind::ZBox);
  } else if (const auto rule = innvestigate_rule(spec)) {
    c.rules = {{Role::Conv, *rule}, {Role::Dense, *rule}};
  } else if (key_end(spec) != std::string::npos) {
    for (const std::string& item : split_top_level(spec)) {
      const auto eq = key_end(item);
      if (eq == std::string::npos) throw std::invalid_argument("rule table entry \"" + item + "\" is not key=rule");
      std::string key = item.substr(0, eq);
      const Rule rule = parse_rule(item.substr(eq + 1));
      const auto role = role_named(key);
      if (role) {
        c.rules[*role] = rule;
        continue;
      }
      if (key.rfind("layer:", 0) == 0) key = key.substr(6);
      if (key.empty()) throw std::invalid_argument("rule table entry \"" + item + "\" names no layer");
      c.layer_rules[key] = rule;
    }
    for (Role needed : {Role::Conv, Role::Dense})
      if (!c.rules.count(needed))
        throw std::invalid_argument("rule table \"" + spec + "\" has no entry for " + to_string(needed) +
                                    " layers (give conv=RULE and dense=RULE; layer names only refine them)");
  } else {
    // One rule on every linear layer ("epsilon", "flat", "epsilon(0.25)").
    Rule rule;
    try {
      rule = parse_rule(spec);
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      if (what.rfind("unknown LRP rule", 0) != 0) throw;
      throw std::invalid_argument(
          "unknown method \"" + spec +
          "\" (LRP presets: preset-a, preset-b, preset-a-flat, preset-b-flat; Zennit's epsilon-plus, epsilon-plus-flat, "
          "epsilon-alpha2-beta1, epsilon-gamma-box; one rule everywhere: z, epsilon, alpha-beta, zplus, zplus-fast, flat, "
          "w2, zbox, gamma, with parameters as in epsilon(0.25); a table like conv=alpha-beta,dense=epsilon(0.1),input=flat "
          "(keys: input, conv, dense or a layer's name); gradient methods: gradient, input_t_gradient, "
          "integrated_gradients, smoothgrad, deconvnet, guided_backprop; iNNvestigate's analyzer names such as "
          "lrp.sequential_preset_a, lrp.z_IB, lrp.alpha_2_beta_1)");
    }
    c.rules = {{Role::Conv, rule}, {Role::Dense, rule}};
  }
  if (spec == "preset-a-flat" || spec == "preset-b-flat" || spec == "epsilon-plus-flat")
    c.rules[Role::Input] = make(RuleKind::Flat);
  return c;
}

Composite with_overrides(Composite c, const RuleOverrides& o) {
  std::vector<Rule*> every;
  for (auto& [role, r] : c.rules) every.push_back(&r);
  for (auto& [layer, r] : c.layer_rules) every.push_back(&r);
  for (Rule* rule : every) {
    Rule& r = *rule;
    if (r.kind == RuleKind::Epsilon && o.epsilon) r.epsilon = *o.epsilon;
    // α − β = 1: one of them alone determines the other (iNNvestigate infers it too).
    if (r.kind == RuleKind::AlphaBeta && o.alpha) r.alpha = *o.alpha, r.beta = o.beta ? *o.beta : *o.alpha - 1;
    if (r.kind == RuleKind::AlphaBeta && o.beta) r.beta = *o.beta, r.alpha = o.alpha ? *o.alpha : *o.beta + 1;
    if ((r.kind == RuleKind::AlphaBeta || r.kind == RuleKind::Epsilon || r.kind == RuleKind::Z) && o.bias) r.bias = *o.bias;
    if (r.kind == RuleKind::ZBox && o.low) r.low = *o.low;
    if (r.kind == RuleKind::ZBox && o.high) r.high = *o.high;
    if (r.kind == RuleKind::Gamma && o.gamma) r.gamma = *o.gamma;
    validate(r);
  }
  if (o.ties) c.ties = *o.ties;
  if (c.name == "deep_taylor.bounded" && !(o.low && o.high))
    throw std::invalid_argument("deep_taylor.bounded needs the input's bounds: --low and --high (iNNvestigate's "
                                "BoundedDeepTaylor(low=..., high=...) requires them too)");
  return c;
}

}  // namespace mlens::lrp
