#include "stats/wml_cohort.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "stats/p_values.h"

namespace mlens::stats {

namespace {

// "3 with 30 or fewer lesion voxels, 1 without a finite measure (row 7)"
std::string left_out(const WmlCohortResult& r) {
  std::string rows;
  for (std::size_t k = 0; k < r.missing_measure.size() && k < 10; ++k)
    rows += (k ? ", " : "") + std::to_string(r.missing_measure[k] + 1);
  if (r.missing_measure.size() > 10) rows += ", ...";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%zu left out with %g or fewer lesion voxels, %zu without a finite lesion or expected relevance",
                r.few_lesion_voxels.size(), r.min_wml_voxels, r.missing_measure.size());
  return buf + (rows.empty() ? "" : " (data row" + std::string(r.missing_measure.size() > 1 ? "s " : " ") + rows + ")");
}

}  // namespace

WmlCohortResult analyse_wml_cohort(const WmlCohortInput& in, double min_wml_voxels) {
  const std::size_t n = in.n_wml_voxel.size();
  if (in.a_wml_voxel.size() != n || in.expected.size() != n)
    throw std::invalid_argument("WML cohort analysis: columns differ in length");
  WmlCohortResult r;
  r.subjects = n;
  r.min_wml_voxels = min_wml_voxels;
  std::vector<double> share;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(in.n_wml_voxel[i] > min_wml_voxels)) {
      r.few_lesion_voxels.push_back(i);
      continue;
    }
    if (!std::isfinite(in.a_wml_voxel[i]) || !std::isfinite(in.expected[i])) {
      r.missing_measure.push_back(i);
      continue;
    }
    r.a_wml.push_back(in.a_wml_voxel[i]);
    r.expected.push_back(in.expected[i]);
    if (!in.p_wml_voxel.empty() && std::isfinite(in.p_wml_voxel[i])) share.push_back(in.p_wml_voxel[i]);
  }
  r.included = r.a_wml.size();
  if (r.included < 2)
    throw std::invalid_argument("only " + std::to_string(r.included) + " of " + std::to_string(n) +
                                " subjects have more than " + std::to_string(static_cast<long long>(min_wml_voxels)) +
                                " lesion voxels and both measures (" + left_out(r) + "); the paired test needs at least 2");
  r.t_test = paired_t_test(r.a_wml, r.expected);
  r.wilcoxon = wilcoxon_signed_rank(r.a_wml, r.expected);
  try {
    // Over every subject with both values: lesion load varies most across those with few lesions too.
    if (!in.lesion_load.empty() && !in.gap.empty()) {
      r.load_gap_pearson = pearson(in.lesion_load, in.gap);
      r.load_gap_spearman = spearman(in.lesion_load, in.gap);
    }
  } catch (const std::invalid_argument&) {
    // Too few complete pairs or a constant column: the correlation is left out of the report.
  }
  if (!share.empty()) {
    double s = 0;
    for (double v : share) s += v;
    r.mean_p_wml_voxel = s / static_cast<double>(share.size());
  }
  return r;
}

std::string summarise(const WmlCohortResult& r, const std::string& expected_name) {
  const PairedTTest& t = r.t_test;
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "%zu of %zu subjects included (%s).\n"
                "Mean relevance in lesions vs %s: M_diff = %.4g, %g%% CI [%.4g, %.4g], t(%g) = %.2f, %s, "
                "d_z = %.2f (d_av = %.2f).\n"
                "Wilcoxon signed-rank: V = %g, %s%s.\n",
                r.included, r.subjects, left_out(r).c_str(), expected_name.c_str(), t.mean_diff, 100 * t.confidence,
                t.ci_low, t.ci_high, t.df, t.t, format_p(t.p).c_str(), t.d_z, t.d_av, r.wilcoxon.w_plus,
                format_p(r.wilcoxon.p).c_str(), r.wilcoxon.exact ? " (exact)" : " (normal approximation)");
  std::string s = buf;
  if (r.load_gap_pearson) {
    std::snprintf(buf, sizeof buf, "Lesion load vs brain-age gap: Pearson r = %.2f (%s), Spearman rho = %.2f (%s), n = %zu.\n",
                  r.load_gap_pearson->r, format_p(r.load_gap_pearson->p).c_str(), r.load_gap_spearman->r,
                  format_p(r.load_gap_spearman->p).c_str(), r.load_gap_pearson->n);
    s += buf;
  }
  if (r.mean_p_wml_voxel) {
    std::snprintf(buf, sizeof buf, "Share of positive relevance inside lesions: %.2f %% on average.\n", 100 * *r.mean_p_wml_voxel);
    s += buf;
  }
  return s;
}

}  // namespace mlens::stats
