// Voxel-wise cohort maps in a common grid (e.g. MNI152 2 mm), to see where relevance and lesions meet:
//   mean_relevance              mean over subjects of the relevance at each voxel
//   lesion_frequency            share of subjects with a lesion at the voxel (lesion value > threshold)
//   mean_relevance_in_lesions   mean relevance at the voxel over the subjects with a lesion there; 0 where
//                               no subject has one
// Accumulated one subject at a time in float64, so memory does not grow with the cohort.
#pragma once

#include <cstdint>
#include <vector>

namespace mlens::stats {

class CohortMaps {
 public:
  explicit CohortMaps(std::size_t voxels, double threshold = 0.8);
  // Throws std::invalid_argument when a map has another size than the first.
  void add(const std::vector<float>& relevance, const std::vector<float>& lesion);

  std::size_t subjects() const { return subjects_; }
  std::vector<float> mean_relevance() const;
  std::vector<float> lesion_frequency() const;
  std::vector<float> mean_relevance_in_lesions() const;

 private:
  double threshold_;
  std::size_t subjects_ = 0;
  std::vector<double> relevance_sum_, lesion_relevance_sum_;
  std::vector<uint32_t> lesion_count_;
};

}  // namespace mlens::stats
