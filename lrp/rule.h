// One LRP rule with its parameters: how a linear layer (Conv3d or Dense) hands the relevance of its
// outputs back to its inputs. The formulas are in docs/lrp.md and lrp/linear_rules.h.
#pragma once

#include <string>

namespace mlens::lrp {

enum class RuleKind { Z, Epsilon, AlphaBeta, ZPlus, ZPlusFast, Flat, WSquare, ZBox, Gamma };

// Where the bias goes in the alpha-beta denominators (DESIGN.md §4):
//   innvestigate: the whole bias b = b⁺ + b⁻ in both the activator and the inhibitor (iNNvestigate 1.0.x);
//   zennit:       b⁺ in the activator, b⁻ in the inhibitor;
//   none:         no bias anywhere (conserving).
// The epsilon rule includes the bias unless `none`.
enum class BiasRule { Innvestigate, Zennit, None };

struct Rule {
  RuleKind kind = RuleKind::Epsilon;
  double epsilon = 1e-7;  // iNNvestigate's default for LRPEpsilon
  double alpha = 1, beta = 0;
  BiasRule bias = BiasRule::Innvestigate;
  double low = -1, high = 1;  // z-box bounds of the input
  double gamma = 0.25;        // Zennit's Gamma(gamma=0.25, stabilizer=1e-6)

  // e.g. "alpha-beta(alpha=1, beta=0, bias=innvestigate)"
  std::string describe() const;
};

// A rule name with optional parameters in parentheses, positional in the order shown or as key=value:
//   z, epsilon(epsilon), alpha-beta(alpha, beta), zplus (z+), zplus-fast, flat, w2 (wsquare),
//   zbox(low, high), gamma(gamma), and bias=innvestigate|zennit|none on z, epsilon and alpha-beta,
// e.g. "epsilon(0.25)", "alpha-beta(2, 1, bias=none)", "zbox(low=0, high=1)". Omitted parameters keep
// their defaults (alpha-beta(2) means beta = 1). Throws std::invalid_argument naming what is wrong.
Rule parse_rule(const std::string& spec);
BiasRule parse_bias_rule(const std::string& name);
const char* to_string(RuleKind kind);
const char* to_string(BiasRule bias);

// Throws std::invalid_argument when parameters are out of range (α − β ≠ 1, β < 0, ε < 0, low > high, γ < 0).
void validate(const Rule& rule);

}  // namespace mlens::lrp
