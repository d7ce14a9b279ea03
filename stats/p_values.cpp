#include "stats/p_values.h"

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mlens::stats {

double two_sided_t_p(double t, double df) {
  return std::min(1.0, 2 * boost::math::cdf(boost::math::complement(boost::math::students_t(df), std::abs(t))));
}

double two_sided_normal_p(double z) {
  return std::min(1.0, 2 * boost::math::cdf(boost::math::complement(boost::math::normal(), std::abs(z))));
}

std::string format_p(double p) {
  if (p < 1e-300) return "p < 1e-300";
  if (p < 0.001) return "p < .001";
  char buf[32];
  std::snprintf(buf, sizeof buf, "p = %.3f", p);
  std::string s = buf;
  if (s.compare(0, 6, "p = 0.") == 0) s = "p = ." + s.substr(6);
  return s;
}

}  // namespace mlens::stats
