// Relevance through a linear layer (Conv3d or Dense), for every rule. With inputs x_i, weights w_ij,
// bias b_j, pre-activation z_j = Σ_i x_i w_ij + b_j and relevance R_j of the layer's output:
//
//   epsilon     R_i = x_i Σ_j w_ij R_j / (z_j + ε·sgn z_j),  sgn(0) = +1, plain division
//   alpha-beta  A_j = Σ x⁺w⁺ + Σ x⁻w⁻ (+ bias),  I_j = Σ x⁺w⁻ + Σ x⁻w⁺ (+ bias)
//               R_i = α [x⁺_i Σ_j w⁺_ij R_j/A_j + x⁻_i Σ_j w⁻_ij R_j/A_j]
//                   − β [x⁺_i Σ_j w⁻_ij R_j/I_j + x⁻_i Σ_j w⁺_ij R_j/I_j]
//   z+          alpha-beta with α = 1, β = 0 and no bias
//   flat        R_i = Σ_j R_j / n_j,  n_j = number of (unpadded) inputs of output j
//   w2          R_i = Σ_j w_ij² R_j / Σ_i' w_i'j²
//   zbox        z_j = Σ x w − Σ l w⁺ − Σ h w⁻,  R_i = Σ_j (x_i w_ij − l w⁺_ij − h w⁻_ij) R_j / z_j
//   gamma       Zennit's generalised gamma: with u = w + γw⁺, v = w + γw⁻ (biases alike) and z = Σ x w + b,
//               outputs with z_j > 0 redistribute by A_j = Σ x⁺u + Σ x⁻v + (b + γb⁺), those with z_j < 0 by
//               I_j = Σ x⁺v + Σ x⁻u + (b + γb⁻):  R_i = x⁺_i Σ_j u_ij s⁺_j + x⁻_i Σ_j v_ij s⁺_j + x⁺_i Σ_j v_ij s⁻_j
//               + x⁻_i Σ_j u_ij s⁻_j,  s⁺ = [z > 0] R / stab(A),  s⁻ = [z < 0] R / stab(I),
//               stab(d) = d + ε·sgn d (sgn 0 = +1, ε = 1e-6: Zennit's stabilizer)
//
// "Σ_j w_ij s_j" is the adjoint (transposed) map of the layer: conv3d_transpose or s·W. Divisions other
// than epsilon's are "safe": a denominator that is exactly 0 becomes 1e-7 (iNNvestigate's SafeDivide).
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "lrp/rule.h"
#include "models/layer.h"

namespace mlens::lrp {

struct RuleResult {
  at::Tensor relevance;            // shaped like the layer's input
  at::Tensor small_denominators;   // [N] int64: receiving relevance with |z| < 1e-6·max|z| of its sample (DESIGN.md §4)
  std::string adjoint_primitive;   // what computed Σ_j w_ij s_j ("onednn", "sparse", "matmul", ...)
};

// `x` is the layer's input, `relevance` the relevance of its (pre-activation) output. With `positions`
// defined (Conv3d only), `relevance` holds the values at those flat cells of the output and every other
// cell carries none: the rule computes its denominators and redistributes from there only.
RuleResult linear_relevance(const models::Layer& layer, const Rule& rule, const at::Tensor& x,
                            const at::Tensor& relevance, const at::Tensor& positions = at::Tensor());

}  // namespace mlens::lrp
