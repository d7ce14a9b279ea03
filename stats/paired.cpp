#include "stats/paired.h"

#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "stats/p_values.h"
#include "stats/ranks.h"

namespace mlens::stats {
namespace {

void check_pairs(const std::vector<double>& a, const std::vector<double>& b, const char* test) {
  if (a.size() != b.size())
    throw std::invalid_argument(std::string(test) + ": the two measures differ in length (" + std::to_string(a.size()) +
                                " vs " + std::to_string(b.size()) + ")");
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!std::isfinite(a[i]) || !std::isfinite(b[i]))
      throw std::invalid_argument(std::string(test) + ": pair " + std::to_string(i) + " has a missing or non-finite value");
}

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); }

double sample_sd(const std::vector<double>& v, double m) {
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace

PairedTTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b, double confidence) {
  check_pairs(a, b, "paired t-test");
  if (a.size() < 2) throw std::invalid_argument("paired t-test needs at least 2 pairs, got " + std::to_string(a.size()));
  if (!(confidence > 0 && confidence < 1)) throw std::invalid_argument("confidence must be in (0, 1)");
  PairedTTest r;
  r.n = a.size();
  r.confidence = confidence;
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  r.mean_a = mean(a);
  r.mean_b = mean(b);
  r.sd_a = sample_sd(a, r.mean_a);
  r.sd_b = sample_sd(b, r.mean_b);
  r.mean_diff = mean(d);
  r.sd_diff = sample_sd(d, r.mean_diff);
  if (!(r.sd_diff > 0))
    throw std::invalid_argument("paired t-test: all " + std::to_string(r.n) +
                                " differences are equal (zero variance), so t is undefined");
  const double n = static_cast<double>(r.n);
  const double se = r.sd_diff / std::sqrt(n);
  r.df = n - 1;
  r.t = r.mean_diff / se;
  r.p = two_sided_t_p(r.t, r.df);
  const double q = boost::math::quantile(boost::math::complement(boost::math::students_t(r.df), (1 - confidence) / 2));
  r.ci_low = r.mean_diff - q * se;
  r.ci_high = r.mean_diff + q * se;
  r.d_z = r.mean_diff / r.sd_diff;
  r.d_av = r.mean_diff / std::sqrt((r.sd_a * r.sd_a + r.sd_b * r.sd_b) / 2);
  return r;
}

WilcoxonTest wilcoxon_signed_rank(const std::vector<double>& a, const std::vector<double>& b) {
  check_pairs(a, b, "Wilcoxon signed-rank test");
  std::vector<double> d;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) d.push_back(a[i] - b[i]);
  WilcoxonTest w;
  w.n = d.size();
  if (w.n == 0) throw std::invalid_argument("Wilcoxon signed-rank test: every difference is zero");
  std::vector<double> magnitude(d.size());
  for (std::size_t i = 0; i < d.size(); ++i) magnitude[i] = std::abs(d[i]);
  const RankResult ranked = average_ranks(magnitude);
  for (std::size_t i = 0; i < d.size(); ++i) (d[i] > 0 ? w.w_plus : w.w_minus) += ranked.ranks[i];

  const double n = static_cast<double>(w.n);
  const bool zeros_dropped = w.n < a.size();
  w.exact = w.n <= 50 && !ranked.has_ties && !zeros_dropped;
  if (w.exact) {
    // Null distribution of W+: each rank 1..n enters with probability 1/2. count[s] = #subsets with sum s.
    const std::size_t max_sum = w.n * (w.n + 1) / 2;
    std::vector<double> count(max_sum + 1, 0.0);
    count[0] = 1;
    for (std::size_t k = 1; k <= w.n; ++k)
      for (std::size_t s = max_sum; s >= k; --s) count[s] += count[s - k];
    const double total = std::ldexp(1.0, static_cast<int>(w.n));
    const auto v = static_cast<std::size_t>(std::llround(w.w_plus));
    double lower = 0, upper = 0;  // P(W ≤ v), P(W ≥ v)
    for (std::size_t s = 0; s <= max_sum; ++s) {
      if (s <= v) lower += count[s];
      if (s >= v) upper += count[s];
    }
    w.p = std::min(1.0, 2 * std::min(lower, upper) / total);
    return w;
  }
  const double mean_w = n * (n + 1) / 4;
  const double var_w = n * (n + 1) * (2 * n + 1) / 24 - ranked.tie_correction / 48;
  w.z = (w.w_plus - mean_w) / std::sqrt(var_w);
  w.p = two_sided_normal_p(w.z);
  return w;
}

}  // namespace mlens::stats
