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
  MapComparison c;
  c.voxels = test.size();
  const double n = static_cast<double>(test.size());
  double diff2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    const double d = test[i] - reference[i];
    c.max_abs_error = std::max(c.max_abs_error, std::abs(d));
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
