// Two-sided p-values from Boost.Math. The complement keeps precision for tiny p (down to ~1e-308),
// where 1 − cdf would round to 0; below that they underflow to 0 and format_p says "p < 1e-300".
#pragma once

#include <string>

namespace mlens::stats {

double two_sided_t_p(double t, double df);
double two_sided_normal_p(double z);

// "p < .001", "p = .023", "p < 1e-300" — the study's style.
std::string format_p(double p);

}  // namespace mlens::stats
