#include "stats/correlation.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "stats/p_values.h"
#include "stats/ranks.h"

namespace mlens::stats {
namespace {

void complete_pairs(const std::vector<double>& x, const std::vector<double>& y, std::vector<double>& xs,
                    std::vector<double>& ys) {
  if (x.size() != y.size())
    throw std::invalid_argument("correlation: variables differ in length (" + std::to_string(x.size()) + " vs " +
                                std::to_string(y.size()) + ")");
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) {
      xs.push_back(x[i]);
      ys.push_back(y[i]);
    }
  if (xs.size() < 3) throw std::invalid_argument("correlation needs at least 3 complete pairs, got " + std::to_string(xs.size()));
}

Correlation pearson_complete(const std::vector<double>& x, const std::vector<double>& y) {
  Correlation c;
  c.n = x.size();
  const double n = static_cast<double>(c.n);
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  double sxx = 0, syy = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (!(sxx > 0) || !(syy > 0)) throw std::invalid_argument("correlation: a variable is constant, so r is undefined");
  c.r = std::max(-1.0, std::min(1.0, sxy / std::sqrt(sxx * syy)));
  if (std::abs(c.r) == 1.0) {
    c.p = 0;
    return c;
  }
  const double t = c.r * std::sqrt((n - 2) / (1 - c.r * c.r));
  c.p = two_sided_t_p(t, n - 2);
  return c;
}

}  // namespace

Correlation pearson(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> xs, ys;
  complete_pairs(x, y, xs, ys);
  return pearson_complete(xs, ys);
}

Correlation spearman(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> xs, ys;
  complete_pairs(x, y, xs, ys);
  return pearson_complete(average_ranks(xs).ranks, average_ranks(ys).ranks);
}

}  // namespace mlens::stats
