#include "stats/wml_overlay.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace mlens::stats {

int64_t count_components_26(const std::vector<uint8_t>& binary, const std::array<int64_t, 3>& n) {
  std::vector<uint8_t> seen(binary.size(), 0);
  std::vector<int64_t> stack;
  int64_t components = 0;
  for (int64_t start = 0; start < static_cast<int64_t>(binary.size()); ++start) {
    if (!binary[start] || seen[start]) continue;
    ++components;
    seen[start] = 1;
    stack.push_back(start);
    while (!stack.empty()) {
      const int64_t v = stack.back();
      stack.pop_back();
      const int64_t i = v / (n[1] * n[2]), j = (v / n[2]) % n[1], k = v % n[2];
      for (int64_t di = -1; di <= 1; ++di)
        for (int64_t dj = -1; dj <= 1; ++dj)
          for (int64_t dk = -1; dk <= 1; ++dk) {
            const int64_t a = i + di, b = j + dj, c = k + dk;
            if (a < 0 || b < 0 || c < 0 || a >= n[0] || b >= n[1] || c >= n[2]) continue;
            const int64_t u = (a * n[1] + b) * n[2] + c;
            if (binary[u] && !seen[u]) {
              seen[u] = 1;
              stack.push_back(u);
            }
          }
    }
  }
  return components;
}

WmlRow wml_overlay(const std::vector<float>& relevance, const std::vector<float>& lesion, const std::vector<float>& mask,
                   const std::array<int64_t, 3>& shape, double voxel_volume_mm3, double threshold) {
  const std::size_t n = relevance.size();
  if (lesion.size() != n || (!mask.empty() && mask.size() != n) ||
      static_cast<int64_t>(n) != shape[0] * shape[1] * shape[2])
    throw std::invalid_argument("WML overlay: relevance (" + std::to_string(n) + " voxels), lesion map (" +
                                std::to_string(lesion.size()) + ") and mask (" + std::to_string(mask.size()) +
                                ") must share one grid");
  WmlRow row;
  int64_t nonzero = 0, positive = 0;
  std::vector<uint8_t> lesion_voxels(n, 0);
  for (std::size_t v = 0; v < n; ++v) {
    if (!mask.empty() && mask[v] == 0) continue;
    const double r = relevance[v];
    if (r != 0) {
      ++nonzero;
      row.s_voxel += r;
    }
    if (r > 0) {
      ++positive;
      row.s_pos_voxel += r;
    }
    if (r < 0) row.s_neg_voxel += r;
    if (lesion[v] > threshold) {
      lesion_voxels[v] = 1;
      ++row.n_wml_voxel;
      row.s_wml_voxel += r;
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto ratio = [&](double a, double b) { return b != 0 ? a / b : nan; };
  row.a_voxel = ratio(row.s_voxel, static_cast<double>(nonzero));
  row.a_wml_voxel = ratio(row.s_wml_voxel, static_cast<double>(row.n_wml_voxel));
  row.ap_voxel = ratio(row.s_pos_voxel, static_cast<double>(positive));
  row.as_voxel = row.s_voxel * static_cast<double>(row.n_wml_voxel);
  row.p_wml_voxel = ratio(row.s_wml_voxel, row.s_pos_voxel);
  row.p_voxel = ratio(row.ap_voxel * static_cast<double>(row.n_wml_voxel), row.s_pos_voxel);
  row.lesion_volume_ml = static_cast<double>(row.n_wml_voxel) * voxel_volume_mm3 / 1000.0;
  row.lesion_count = row.n_wml_voxel ? count_components_26(lesion_voxels, shape) : 0;
  return row;
}

}  // namespace mlens::stats
