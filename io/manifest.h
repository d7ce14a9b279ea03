// Ensemble manifests (`*.mlens.json`): which models form an ensemble, its linear head, and the input
// geometry its members expect. Multi-level ensembles nest: a member is a model file or an ensemble.
//
//   {
//     "name": "FLAIR sub-ensemble", "modality": "FLAIR",
//     "input": {"shape": [198, 198, 198], "voxel_size": [1, 1, 1], "orientation": "LIA"},
//     "head": {"intercept": 1.5, "coefficients": [0.6, 0.4]},
//     "members": [{"model": "base_1.h5"},
//                 {"model": "base_2_weights.h5", "arch": "mrinet"},
//                 {"ensemble": { ...the same fields... }} or {"manifest": "other.mlens.json"}]
//   }
//
// Paths are relative to the manifest. The ensemble's prediction is intercept + Σ c_k y_k and its
// relevance map Σ c_k R_k (DESIGN.md §4).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlens::io {

struct EnsembleSpec;

struct MemberSpec {
  std::string model;  // resolved path of a Keras .h5 file; empty for a nested ensemble
  std::string arch;   // for weights-only files ("mrinet"), else empty
  std::shared_ptr<EnsembleSpec> ensemble;  // a nested ensemble, else null
  double coefficient = 1;
};

struct EnsembleSpec {
  std::string source;  // the manifest file (for messages)
  std::string name, modality;
  std::array<int64_t, 3> input_shape{0, 0, 0};
  std::array<double, 3> voxel_size{1, 1, 1};
  std::string orientation;  // e.g. "LIA", "RAS"; "" when not stated
  nlohmann::json preprocessing;  // kept as given for the preprocessing step (issue 3)
  double intercept = 0;
  std::vector<MemberSpec> members;
  // "training": {"age_range": [min, max]}: predictions outside it are flagged; min > max when unknown.
  std::array<double, 2> training_age_range{1, 0};
  // "input": {"expected": {"intensity_max": [lo, hi], "brain_extent_max": [x, y, z]}}: QC of inputs.
  std::array<double, 2> expected_intensity_max{1, 0};
  std::array<int64_t, 3> expected_brain_extent_max{0, 0, 0};
};

// Reads and checks a manifest: required fields present, one coefficient per member, every model file
// (and nested manifest) exists. Errors name the manifest, the field and what was expected.
EnsembleSpec read_manifest(const std::string& path);
EnsembleSpec parse_manifest(const nlohmann::json& j, const std::string& source, const std::string& base_dir);

}  // namespace mlens::io
