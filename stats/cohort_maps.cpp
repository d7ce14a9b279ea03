#include "stats/cohort_maps.h"

#include <stdexcept>
#include <string>

namespace mlens::stats {

CohortMaps::CohortMaps(std::size_t voxels, double threshold)
    : threshold_(threshold), relevance_sum_(voxels, 0.0), lesion_relevance_sum_(voxels, 0.0), lesion_count_(voxels, 0) {}

void CohortMaps::add(const std::vector<float>& relevance, const std::vector<float>& lesion) {
  const std::size_t n = relevance_sum_.size();
  if (relevance.size() != n || lesion.size() != n)
    throw std::invalid_argument("cohort maps: a subject's maps have " + std::to_string(relevance.size()) + " and " +
                                std::to_string(lesion.size()) + " voxels, the first had " + std::to_string(n));
  for (std::size_t v = 0; v < n; ++v) {
    relevance_sum_[v] += relevance[v];
    if (lesion[v] > threshold_) {
      ++lesion_count_[v];
      lesion_relevance_sum_[v] += relevance[v];
    }
  }
  ++subjects_;
}

std::vector<float> CohortMaps::mean_relevance() const {
  std::vector<float> out(relevance_sum_.size(), 0.0f);
  if (subjects_ == 0) return out;
  for (std::size_t v = 0; v < out.size(); ++v) out[v] = static_cast<float>(relevance_sum_[v] / static_cast<double>(subjects_));
  return out;
}

std::vector<float> CohortMaps::lesion_frequency() const {
  std::vector<float> out(lesion_count_.size(), 0.0f);
  if (subjects_ == 0) return out;
  for (std::size_t v = 0; v < out.size(); ++v) out[v] = static_cast<float>(lesion_count_[v] / static_cast<double>(subjects_));
  return out;
}

std::vector<float> CohortMaps::mean_relevance_in_lesions() const {
  std::vector<float> out(lesion_count_.size(), 0.0f);
  for (std::size_t v = 0; v < out.size(); ++v)
    if (lesion_count_[v]) out[v] = static_cast<float>(lesion_relevance_sum_[v] / lesion_count_[v]);
  return out;
}

}  // namespace mlens::stats
