// The study's cohort analysis of lesion relevance: among subjects with more than `min_wml_voxels`
// lesion voxels, is the mean relevance in lesions (a_wml_voxel) larger than the expected relevance per
// voxel (ap_voxel, the mean positive relevance)? Paired t-test with d_z and d_av, Wilcoxon signed-rank,
// lesion load against brain-age gap, and the share of positive relevance inside lesions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "stats/correlation.h"
#include "stats/paired.h"

namespace mlens::stats {

struct WmlCohortInput {
  std::vector<double> n_wml_voxel, a_wml_voxel, expected;  // expected: ap_voxel (or a_voxel)
  std::vector<double> lesion_load;                         // optional: lesion volume (ml) or voxel count
  std::vector<double> gap;                                 // optional: brain-age gap per subject
  std::vector<double> p_wml_voxel;                         // optional
};

struct WmlCohortResult {
  std::size_t subjects = 0;           // rows in the table
  std::size_t included = 0;           // with n_wml_voxel > min and both measures present
  // The rows left out and why (0-based data rows): too few lesion voxels (or none counted), or a missing
  // (NA) or non-finite lesion relevance or expected relevance.
  std::vector<std::size_t> few_lesion_voxels, missing_measure;
  double min_wml_voxels = 30;
  PairedTTest t_test;
  WilcoxonTest wilcoxon;
  std::optional<Correlation> load_gap_pearson, load_gap_spearman;  // over all subjects with both values
  std::optional<double> mean_p_wml_voxel;  // mean share of positive relevance inside lesions
  std::vector<double> a_wml, expected;     // the included pairs, for figures
};

// Throws std::invalid_argument (from the tests) when fewer than 2 subjects qualify, saying how many did.
WmlCohortResult analyse_wml_cohort(const WmlCohortInput& input, double min_wml_voxels = 30);

// One paragraph in the study's style (with how many rows were left out and why): "n = 654 ... M_diff = ..., 95% CI [...], t(653) = 22.95, p < .001, d_z = 0.90".
std::string summarise(const WmlCohortResult& r, const std::string& expected_name);

}  // namespace mlens::stats
