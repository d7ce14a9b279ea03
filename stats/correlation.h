// Correlations with two-sided p-values from the t distribution with n − 2 degrees of freedom
// (scipy's pearsonr; R's cor.test; for Spearman R's cor.test(method = "spearman", exact = FALSE)).
#pragma once

#include <cstddef>
#include <vector>

namespace mlens::stats {

struct Correlation {
  std::size_t n = 0;
  double r = 0;
  double p = 1;
};

// Pairs with a missing (NaN) value are dropped. Throws std::invalid_argument for n < 3 or a constant
// variable (r undefined).
Correlation pearson(const std::vector<double>& x, const std::vector<double>& y);
Correlation spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace mlens::stats
