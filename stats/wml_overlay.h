// White-matter lesions (WML) against a relevance map, one subject: the columns of the study's table
// (SHEscher/RelevanceRelated, relevancerelated.py::run_wml_stats) with the same definitions, plus
// lesion-load measures. Volumes arrive as flat arrays in one grid (C order over i, j, k).
//
//   lesion voxel   lesion value > threshold (default 0.8, strictly greater, as the study's img > 0.8)
//   n_wml_voxel    number of lesion voxels
//   a_wml_voxel    mean relevance over lesion voxels (zero relevance included); NaN when there are none
//   s_wml_voxel    sum of relevance over lesion voxels
//   a_voxel        mean relevance over voxels with non-zero relevance; s_voxel their sum
//   as_voxel       s_voxel · n_wml_voxel (the study's code computes this, though its comment says a_voxel)
//   s_pos_voxel    sum of positive relevance; s_neg_voxel sum of negative relevance
//   ap_voxel       mean of positive relevance: the "expected relevance per voxel"
//   p_wml_voxel    s_wml_voxel / s_pos_voxel: share of positive relevance that falls into lesions
//   p_voxel        ap_voxel · n_wml_voxel / s_pos_voxel: that share if lesions held average relevance
//   lesion_volume_ml, lesion_count (26-connected components)
// With a brain mask, voxels outside it (mask value 0) are left out of every set above.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace mlens::stats {

struct WmlRow {
  int64_t n_wml_voxel = 0;
  double a_wml_voxel = 0, s_wml_voxel = 0;
  double a_voxel = 0, s_voxel = 0, as_voxel = 0;
  double s_pos_voxel = 0, s_neg_voxel = 0, ap_voxel = 0;
  double p_wml_voxel = 0, p_voxel = 0;
  double lesion_volume_ml = 0;
  int64_t lesion_count = 0;
};

// `mask` may be empty (no mask). Throws std::invalid_argument when the arrays differ in size.
WmlRow wml_overlay(const std::vector<float>& relevance, const std::vector<float>& lesion, const std::vector<float>& mask,
                   const std::array<int64_t, 3>& shape, double voxel_volume_mm3, double threshold = 0.8);

// Number of 26-connected components of the non-zero voxels.
int64_t count_components_26(const std::vector<uint8_t>& binary, const std::array<int64_t, 3>& shape);

}  // namespace mlens::stats
