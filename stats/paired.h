// Paired comparisons of two measures per subject (the study's "mean relevance in lesions" vs "expected
// relevance per voxel"): Student's paired t-test with effect sizes and a confidence interval, and the
// Wilcoxon signed-rank test as a robustness check. p-values are two-sided.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mlens::stats {

struct PairedTTest {
  std::size_t n = 0;
  double mean_a = 0, mean_b = 0, sd_a = 0, sd_b = 0;
  double mean_diff = 0;  // mean of a − b
  double sd_diff = 0;    // sample SD (n − 1) of a − b
  double t = 0, df = 0;
  double p = 1;                    // two-sided, from Student's t (Boost.Math); 0 only below ~1e-308
  double ci_low = 0, ci_high = 0;  // confidence interval of mean_diff
  double confidence = 0.95;
  double d_z = 0;   // mean_diff / sd_diff (= t / √n): the paired effect size of the poster's d = 0.90
  double d_av = 0;  // mean_diff / √((sd_a² + sd_b²) / 2): pingouin's paired `cohen_d`
};

// Throws std::invalid_argument for n < 2, unequal lengths, non-finite values, or differences with
// zero variance (t undefined), each with a message saying which.
PairedTTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b, double confidence = 0.95);

struct WilcoxonTest {
  std::size_t n = 0;        // pairs with a non-zero difference (zeros are dropped, as R and scipy do)
  double w_plus = 0;        // sum of ranks of positive differences (R's V)
  double w_minus = 0;
  double z = 0;             // normal approximation (0 when exact)
  double p = 1;             // two-sided
  bool exact = false;       // exact null distribution (n ≤ 50, no ties); else normal approximation with
                            // tie correction and no continuity correction (scipy's default)
};

WilcoxonTest wilcoxon_signed_rank(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace mlens::stats
