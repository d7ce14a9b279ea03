#include "stats/ranks.h"

#include <algorithm>
#include <numeric>

namespace mlens::stats {

RankResult average_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  RankResult r;
  r.ranks.resize(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (std::size_t k = i; k <= j; ++k) r.ranks[order[k]] = rank;
    const double t = static_cast<double>(j - i + 1);
    if (t > 1) {
      r.has_ties = true;
      r.tie_correction += t * t * t - t;
    }
    i = j + 1;
  }
  return r;
}

}  // namespace mlens::stats
