// Ranks with ties averaged (1-based), as R's rank() and scipy's rankdata() give them.
#pragma once

#include <vector>

namespace mlens::stats {

struct RankResult {
  std::vector<double> ranks;
  bool has_ties = false;
  double tie_correction = 0;  // Σ (t³ − t) over groups of t tied values
};

RankResult average_ranks(const std::vector<double>& values);

}  // namespace mlens::stats
