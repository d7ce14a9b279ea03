// Agreement between two maps of the same shape: how `mlens validate` judges a relevance map against a
// reference map made by another tool (iNNvestigate, Zennit, ...).
#pragma once

#include <cstddef>
#include <vector>

namespace mlens::stats {

struct MapComparison {
  std::size_t voxels = 0;
  double max_abs_error = 0;  // max_i |a_i - b_i|
  double rel_l2 = 0;         // ||a - b||_2 / ||b||_2 (b = reference); ||a - b||_2 when ||b|| = 0
  double pearson_r = 0;      // NaN when either map is constant
  double sum_test = 0;       // Σ a_i: total relevance of the map under test
  double sum_reference = 0;  // Σ b_i
};

// `test` is the engine's map, `reference` the other tool's; both in the same voxel order.
// Throws std::invalid_argument when the sizes differ or the reference holds NaN or infinite values; a
// non-finite value in `test` makes max_abs_error and rel_l2 NaN.
MapComparison compare_maps(const std::vector<double>& test, const std::vector<double>& reference);

// Relative L2 error ||a - b|| / ||b|| alone (the tolerance measure used across the tests).
double relative_l2(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace mlens::stats
