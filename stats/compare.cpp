#include "stats/compare.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace mlens::stats {

MapComparison compare_maps(const std::vector<double>& test, const std::vector<double>& reference) {
  if (test.size() != reference.size())
    throw std::invalid_argument("maps differ in size: " + std::to_string(test.size()) + " vs reference " +
                                std::to_string(reference.size()) + " voxels");
  // A NaN would vanish from the maximum and make every comparison false: a broken reference is an
  // error, a broken map under test makes every measure NaN (and so fails any tolerance).
  std::size_t not_finite = 0, first = 0;
  for (std::size_t i = 0; i < reference.size(); ++i)
    if (!std::isfinite(reference[i]) && not_finite++ == 0) first = i;
  if (not_finite > 0)
    throw std::invalid_argument("the reference map holds " + std::to_string(not_finite) + " NaN or infinite value(s) (the first at voxel " +
                                std::to_string(first) + " in C order); expected finite relevance values");
  MapComparison c;
  c.voxels = test.size();
  const double n = static_cast<double>(test.size());
  double diff2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    const double d = test[i] - reference[i];
    if (std::isnan(d) || std::abs(d) > c.max_abs_error) c.max_abs_error = std::abs(d);  // once NaN, stays NaN
    diff2 += d * d;
    ref2 += reference[i] * reference[i];
    c.sum_test += test[i];
    c.sum_reference += reference[i];
  }
  c.rel_l2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);

  // Two-pass Pearson correlation: centring first keeps it accurate for maps with a large common offset.
  const double mean_a = c.sum_test / n, mean_b = c.sum_reference / n;
  double saa = 0, sbb = 0, sab = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    const double a = test[i] - mean_a, b = reference[i] - mean_b;
    saa += a * a;
    sbb += b * b;
    sab += a * b;
  }
  c.pearson_r = (saa > 0 && sbb > 0) ? sab / std::sqrt(saa * sbb) : std::numeric_limits<double>::quiet_NaN();
  return c;
}

double relative_l2(const std::vector<double>& a, const std::vector<double>& b) {
  return compare_maps(a, b).rel_l2;
}

}  // namespace mlens::stats
