// Ensembles with linear heads: prediction y = c₀ + Σ_k c_k y_k over members that are networks or,
// for multi-level ensembles (MLENS), ensembles themselves.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "models/sequential.h"

namespace mlens::models {

struct Ensemble;

struct EnsembleMember {
  std::string name;  // model file or sub-ensemble name, for tables
  double coefficient = 1;
  std::shared_ptr<const Sequential> network;  // exactly one of network / ensemble is set
  std::shared_ptr<const Ensemble> ensemble;
};

// One network's own prediction and its effective weight in the ensemble (the product of the head
// coefficients on its path).
struct MemberPrediction {
  std::string name;
  double coefficient;
  at::Tensor prediction;  // [N]
};

struct Ensemble {
  std::string name;
  double intercept = 0;
  std::vector<EnsembleMember> members;

  // The common input shape of all members (checked when the ensemble is built), and the first network's channels.
  Int3 input_shape() const;
  int64_t input_channels() const;
  // x [N, 1, D, H, W] -> [N]; with `members`, every network's own prediction too (depth first).
  at::Tensor predict(const at::Tensor& x, std::vector<MemberPrediction>* members = nullptr) const;
  // Every member on `device` in `dtype`.
  Ensemble to(const at::Device& device, at::ScalarType dtype) const;
};

// Throws std::invalid_argument naming two members whose input shapes differ.
void check_same_input(const Ensemble& ensemble);

// Throws std::invalid_argument naming the first network with more than one output: a head combines
// single predictions, and cohorts score single-output (brain-age) models. `use` says what needs it.
void check_single_output(const Ensemble& ensemble, const std::string& use);

}  // namespace mlens::models
