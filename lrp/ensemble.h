// Relevance of an ensemble with a linear head: R = Σ_k c_k R_k (recursively for multi-level
// ensembles), prediction y = c₀ + Σ_k c_k y_k. The intercept keeps the relevance it would carry.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "lrp/explain.h"
#include "models/ensemble.h"

namespace mlens::lrp {

struct MemberExplanation {
  std::string name;       // "sub-ensemble/member" path for nested members
  double coefficient;     // the product of the head coefficients down to this network
  at::Tensor prediction;  // [N] the network's own prediction (its explained neuron's value)
  at::Tensor outputs;     // [N, K] all its outputs
  at::Tensor neuron;      // [N] the explained output, −1 for all (lrp/neuron.h)
  at::Tensor relevance;   // [N, 1, D, H, W] its own map (undefined unless requested)
  std::vector<Account> accounts;  // [N]: its conservation account per sample
};

struct EnsembleExplanation {
  at::Tensor prediction;  // [N]
  at::Tensor relevance;   // [N, 1, D, H, W] = Σ coefficient · member relevance
  std::vector<MemberExplanation> members;  // every network, depth first
};

// check_explainable and check_layer_rules (lrp/explain.h) for every network of the ensemble.
void check_explainable(const models::Ensemble& ensemble);
void check_layer_rules(const models::Ensemble& ensemble, const Composite& composite);

EnsembleExplanation explain(const models::Ensemble& ensemble, const at::Tensor& x, const Composite& composite,
                            bool keep_member_maps = false);

// explanation_bytes (lrp/explain.h) for the ensemble: its largest network, the ensemble's map and, when
// kept, every member's map.
int64_t explanation_bytes(const models::Ensemble& ensemble, const Composite& composite, const at::TensorOptions& options,
                          bool keep_member_maps);

// Sample q of a batch's explanation, as the explanation of a batch of one (its own copies, on the same device).
EnsembleExplanation sample(const EnsembleExplanation& batch, int64_t q);

}  // namespace mlens::lrp
