#include "engine/slices.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/preprocess.h"

namespace mlens::engine {
namespace {

float percentile(std::vector<float> values, double p) {
  if (values.empty()) return 0;
  const std::size_t at = std::min(values.size() - 1, static_cast<std::size_t>(p / 100 * (values.size() - 1)));
  std::nth_element(values.begin(), values.begin() + at, values.end());
  return values[at];
}

uint8_t byte(double x) { return static_cast<uint8_t>(std::lround(std::clamp(x, 0.0, 1.0) * 255)); }

// Axial slices to show: through the lesions when there are any (greedily the slices holding most lesion
// voxels, kept apart), else evenly through the brain.
std::vector<int64_t> choose_slices(const io::Volume& flair, const io::Volume* lesion, int wanted) {
  const auto& s = flair.shape;
  std::vector<double> lesion_voxels(s[2], 0);
  int64_t lo = s[2], hi = -1;
  for (int64_t v = 0; v < flair.size(); ++v) {
    const int64_t k = v % s[2];
    if (flair.voxels[v] > 0) lo = std::min(lo, k), hi = std::max(hi, k);
    if (lesion && lesion->voxels[v] > 0.5f) lesion_voxels[k] += 1;
  }
  if (hi < 0) lo = 0, hi = s[2] - 1;
  std::vector<int64_t> chosen;
  std::vector<int64_t> order(s[2]);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return lesion_voxels[a] > lesion_voxels[b]; });
  const int64_t gap = std::max<int64_t>(1, (hi - lo) / (3 * wanted));
  for (int64_t k : order) {
    if (static_cast<int>(chosen.size()) == wanted || lesion_voxels[k] == 0) break;
    if (std::all_of(chosen.begin(), chosen.end(), [&](int64_t c) { return std::abs(c - k) >= gap; })) chosen.push_back(k);
  }
  for (int q = 1; static_cast<int>(chosen.size()) < wanted; ++q) chosen.push_back(lo + (hi - lo) * (q + 1) / (wanted + 3));
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace

io::RgbImage slice_panel(const io::Volume& flair_in, const io::Volume* lesion_in, const io::Volume* relevance_in,
                         const SliceOptions& o) {
  if (lesion_in) io::require_same_grid(flair_in, "FLAIR", *lesion_in, "lesion map");
  if (relevance_in) io::require_same_grid(flair_in, "FLAIR", *relevance_in, "relevance map");
  // RAS voxel axes: i to the subject's right, j anterior, k superior.
  const io::Volume flair = reorient(flair_in, "RAS");
  io::Volume lesion, relevance;
  if (lesion_in) lesion = reorient(*lesion_in, "RAS");
  if (relevance_in) relevance = reorient(*relevance_in, "RAS");
  const auto& s = flair.shape;

  std::vector<float> tissue, magnitude;
  for (float x : flair.voxels)
    if (x > 0) tissue.push_back(x);
  const float white = std::max(percentile(tissue, 99.5), 1e-20f);
  if (relevance_in)
    for (float r : relevance.voxels)
      if (r != 0) magnitude.push_back(std::abs(r));
  const float full = std::max(percentile(magnitude, o.relevance_percentile), 1e-30f);

  const std::vector<int64_t> ks = choose_slices(flair, lesion_in ? &lesion : nullptr, o.slices);
  // Crop to the brain's in-plane extent (plus a margin): the panels show anatomy, not background.
  int64_t i0 = s[0], i1 = -1, j0 = s[1], j1 = -1;
  for (int64_t i = 0; i < s[0]; ++i)
    for (int64_t j = 0; j < s[1]; ++j)
      for (int64_t k = 0; k < s[2]; ++k)
        if (flair.at(i, j, k) > 0) i0 = std::min(i0, i), i1 = std::max(i1, i), j0 = std::min(j0, j), j1 = std::max(j1, j);
  if (i1 < 0) i0 = 0, i1 = s[0] - 1, j0 = 0, j1 = s[1] - 1;
  const int64_t margin = 3;
  i0 = std::max<int64_t>(0, i0 - margin), i1 = std::min(s[0] - 1, i1 + margin);
  j0 = std::max<int64_t>(0, j0 - margin), j1 = std::min(s[1] - 1, j1 + margin);
  const int z = std::max(1, o.zoom), w = static_cast<int>(i1 - i0 + 1) * z, h = static_cast<int>(j1 - j0 + 1) * z;
  io::RgbImage image(w * static_cast<int>(ks.size()), h);
  const auto at = [&](const io::Volume& v, int64_t i, int64_t j, int64_t k) { return v.at(i, j, k); };
  for (std::size_t panel = 0; panel < ks.size(); ++panel) {
    const int64_t k = ks[panel];
    for (int64_t j = j0; j <= j1; ++j)
      for (int64_t i = i0; i <= i1; ++i) {
        const double g = at(flair, i, j, k) / white;
        double rgb[3] = {g, g, g};
        if (relevance_in) {
          const double r = at(relevance, i, j, k) / full;
          const double alpha = std::clamp((std::abs(r) - 0.05) / 0.45, 0.0, 1.0);
          const double t = std::clamp(std::abs(r), 0.0, 1.0);
          const double heat[3] = {r > 0 ? 1.0 : 0.0, t, r > 0 ? 0.0 : 1.0};  // red→yellow, blue→cyan
          for (int c = 0; c < 3; ++c) rgb[c] = (1 - alpha) * rgb[c] + alpha * heat[c];
        }
        if (lesion_in && at(lesion, i, j, k) > 0.5f) {
          bool edge = false;
          for (auto [di, dj] : {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}}) {
            const int64_t ni = i + di, nj = j + dj;
            edge = edge || ni < 0 || nj < 0 || ni >= s[0] || nj >= s[1] || at(lesion, ni, nj, k) <= 0.5f;
          }
          if (edge) rgb[0] = 0.1, rgb[1] = 1.0, rgb[2] = 0.2;
        }
        for (int dy = 0; dy < z; ++dy)
          for (int dx = 0; dx < z; ++dx) {
            // anterior (high j) at the top
            uint8_t* p = image.pixel(static_cast<int>(panel) * w + static_cast<int>(i - i0) * z + dx,
                                     static_cast<int>(j1 - j) * z + dy);
            for (int c = 0; c < 3; ++c) p[c] = byte(rgb[c]);
          }
      }
  }
  return image;
}

}  // namespace mlens::engine
