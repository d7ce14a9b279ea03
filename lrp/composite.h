// A composite: which rule each layer gets. It is data, a table from layer role to rule:
//
//   preset-a  conv = alpha-beta(α=1, β=0), dense = epsilon(ε=0.1)   iNNvestigate lrp.sequential_preset_a
//   preset-b  conv = alpha-beta(α=2, β=1), dense = epsilon(ε=0.1)   iNNvestigate lrp.sequential_preset_b
//   epsilon   conv = dense = epsilon(ε=1e-7)                          iNNvestigate lrp.epsilon
//   zplus     conv = dense = z+                                       iNNvestigate lrp.z_plus
//
// or a user table "conv=alpha-beta,dense=epsilon,input=zbox". The role `input` is the first linear
// layer (the one that sees the image); without an `input` entry it gets its conv/dense rule.
// Pooling, flatten, dropout and ReLU layers have fixed rules (lrp/explain.h); max-pooling's tie rule
// is part of the composite.
#pragma once

#include <map>
#include <optional>
#include <string>


#include "lrp/rule.h"

namespace mlens::lrp {

enum class Role { Input, Conv, Dense };
const char* to_string(Role role);

// Max-pooling ties (DESIGN.md §4): `first` gives a window's relevance to its first maximum in
// (D, H, W) scan order (PyTorch); `tf` gives it in full to every input within 1e-5 of the maximum
// (TensorFlow's CPU MaxPool3DGrad, which iNNvestigate's gradient uses).
enum class Ties { First, Tf };
Ties parse_ties(const std::string& name);
const char* to_string(Ties ties);

struct Composite {
  std::string name;
  std::map<Role, Rule> rules;  // must hold Conv and Dense; Input optional
  Ties ties = Ties::First;

  const Rule& rule_for(Role role) const;
};

// A preset name or a table "role=rule[,role=rule...]" (roles: input, conv, dense).
Composite parse_composite(const std::string& spec);

// Parameters given on the command line; each applies to every rule that has that parameter.
struct RuleOverrides {
  std::optional<double> epsilon, alpha, beta, low, high;
  std::optional<BiasRule> bias;
  std::optional<Ties> ties;
};
Composite with_overrides(Composite composite, const RuleOverrides& overrides);


}  // namespace mlens::lrp
