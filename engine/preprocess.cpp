#include "engine/preprocess.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mlens::engine {
namespace {

// ITK geometry is in LPS world coordinates: +x = Left, +y = Posterior, +z = Superior.
char axis_letter(int world_axis, bool positive) {
  static const char pos[3] = {'L', 'P', 'S'}, neg[3] = {'R', 'A', 'I'};
  return positive ? pos[world_axis] : neg[world_axis];
}

char opposite(char c) {
  switch (c) {
    case 'L': return 'R';
    case 'R': return 'L';
    case 'A': return 'P';
    case 'P': return 'A';
    case 'S': return 'I';
    case 'I': return 'S';
  }
  return '?';
}

void check_code(const std::string& code) {
  bool ok = code.size() == 3;
  for (int a = 0; a < 3 && ok; ++a) {
    ok = opposite(code[a]) != '?';
    for (int b = 0; b < a && ok; ++b) ok = code[b] != code[a] && code[b] != opposite(code[a]);
  }
  if (!ok)
    throw std::invalid_argument("orientation code \"" + code + "\": expected one of L/R, A/P, S/I per axis (e.g. LIA, RAS)");
}

}  // namespace

std::string orientation_code(const io::Geometry& g, const std::string& source) {
  const auto& d = g.direction;  // row-major; column a = direction of voxel axis a
  double worst = 0;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      double dot = 0;
      for (int r = 0; r < 3; ++r) dot += d[3 * r + a] * d[3 * r + b];
      worst = std::max(worst, std::abs(dot - (a == b ? 1.0 : 0.0)));
    }
  if (worst > 1e-4)
    throw std::invalid_argument("\"" + source + "\": direction cosines are not orthonormal (largest deviation " +
                                std::to_string(worst) + "); resample the image to an orthogonal grid first");
  std::string code;
  for (int a = 0; a < 3; ++a) {
    int axis = 0;
    for (int r = 1; r < 3; ++r)
      if (std::abs(d[3 * r + a]) > std::abs(d[3 * axis + a])) axis = r;
    code += axis_letter(axis, d[3 * axis + a] > 0);
  }
  return code;
}

template <typename T>
io::BasicVolume<T> reorient(const io::BasicVolume<T>& v, const std::string& code, const std::string& source) {
  check_code(code);
  const std::string from = orientation_code(v.geometry, source);
  Int3 perm{0, 0, 0};
  std::array<bool, 3> flip{false, false, false};
  for (int t = 0; t < 3; ++t)
    for (int s = 0; s < 3; ++s)
      if (from[s] == code[t] || from[s] == opposite(code[t])) {
        perm[t] = s;
        flip[t] = from[s] != code[t];
      }
  io::BasicVolume<T> out;
  for (int t = 0; t < 3; ++t) out.shape[t] = v.shape[perm[t]];
  out.voxels.resize(v.voxels.size());
  // The source voxel of target voxel (a, b, c), and the world position of target voxel 0.
  Int3 first{0, 0, 0};
  for (int t = 0; t < 3; ++t) first[perm[t]] = flip[t] ? v.shape[perm[t]] - 1 : 0;
  for (int64_t a = 0; a < out.shape[0]; ++a)
    for (int64_t b = 0; b < out.shape[1]; ++b)
      for (int64_t c = 0; c < out.shape[2]; ++c) {
        const int64_t idx[3] = {a, b, c};
        Int3 src{0, 0, 0};
        for (int t = 0; t < 3; ++t) src[perm[t]] = flip[t] ? v.shape[perm[t]] - 1 - idx[t] : idx[t];
        out.at(a, b, c) = v.at(src[0], src[1], src[2]);
      }
  for (int t = 0; t < 3; ++t) {
    out.geometry.spacing[t] = v.geometry.spacing[perm[t]];
    for (int r = 0; r < 3; ++r) out.geometry.direction[3 * r + t] = (flip[t] ? -1 : 1) * v.geometry.direction[3 * r + perm[t]];
  }
  out.geometry.origin = v.geometry.world({static_cast<double>(first[0]), static_cast<double>(first[1]),
                                          static_cast<double>(first[2])});
  return out;
}
template io::Volume reorient(const io::Volume&, const std::string&, const std::string&);
template io::Volume64 reorient(const io::Volume64&, const std::string&, const std::string&);

BrainBox find_brain_box(const io::Volume& v, const std::string& source, float background) {
  Int3 lo{v.shape[0], v.shape[1], v.shape[2]}, hi{-1, -1, -1};
  for (int64_t i = 0; i < v.shape[0]; ++i)
    for (int64_t j = 0; j < v.shape[1]; ++j)
      for (int64_t k = 0; k < v.shape[2]; ++k)
        if (v.at(i, j, k) != background) {
          const int64_t idx[3] = {i, j, k};
          for (int a = 0; a < 3; ++a) {
            lo[a] = std::min(lo[a], idx[a]);
            hi[a] = std::max(hi[a], idx[a]);
          }
        }
  if (hi[0] < 0) throw std::invalid_argument("\"" + source + "\": the image is empty (every voxel is background)");
  BrainBox box;
  for (int a = 0; a < 3; ++a) {
    box.lower[a] = lo[a];
    box.extent[a] = hi[a] - lo[a] + 1;
  }
  return box;
}

io::Volume prune(const io::Volume& v, const Int3& target, PruneGeometry& g, const std::string& source) {
  g.source_shape = v.shape;
  g.source_geometry = v.geometry;
  g.box = find_brain_box(v, source);
  g.target = target;
  static const char* axis_name[3] = {"i", "j", "k"};
  for (int a = 0; a < 3; ++a) {
    if (g.box.extent[a] > target[a])
      throw std::invalid_argument("\"" + source + "\": the brain spans " + std::to_string(g.box.extent[a]) +
                                  " voxels along axis " + axis_name[a] + ", more than the model's " +
                                  std::to_string(target[a]) + "; it does not fit the input grid");
    g.offset[a] = (target[a] - g.box.extent[a]) / 2;
  }
  io::Volume out;
  out.shape = target;
  const float fill = *std::min_element(v.voxels.begin(), v.voxels.end());
  out.voxels.assign(static_cast<std::size_t>(target[0] * target[1] * target[2]), fill);
  for (int64_t i = 0; i < g.box.extent[0]; ++i)
    for (int64_t j = 0; j < g.box.extent[1]; ++j)
      for (int64_t k = 0; k < g.box.extent[2]; ++k)
        out.at(g.offset[0] + i, g.offset[1] + j, g.offset[2] + k) =
            v.at(g.box.lower[0] + i, g.box.lower[1] + j, g.box.lower[2] + k);
  // Keep world positions: target voxel 0 sits at source index lower − offset.
  out.geometry = v.geometry;
  std::array<double, 3> first{};
  for (int a = 0; a < 3; ++a) first[a] = static_cast<double>(g.box.lower[a] - g.offset[a]);
  out.geometry.origin = v.geometry.world(first);
  return out;
}

template <typename T>
io::BasicVolume<T> unprune(const io::BasicVolume<T>& map, const PruneGeometry& g) {
  if (map.shape != g.target) throw std::invalid_argument("unprune: the map is not in the pruned grid");
  io::BasicVolume<T> out;
  out.shape = g.source_shape;
  out.geometry = g.source_geometry;
  out.voxels.assign(static_cast<std::size_t>(out.size()), T{0});
  for (int64_t i = 0; i < g.box.extent[0]; ++i)
    for (int64_t j = 0; j < g.box.extent[1]; ++j)
      for (int64_t k = 0; k < g.box.extent[2]; ++k)
        out.at(g.box.lower[0] + i, g.box.lower[1] + j, g.box.lower[2] + k) =
            map.at(g.offset[0] + i, g.offset[1] + j, g.offset[2] + k);
  return out;
}
template io::Volume unprune(const io::Volume&, const PruneGeometry&);
template io::Volume64 unprune(const io::Volume64&, const PruneGeometry&);

void scale_to_unit(io::Volume& v, const std::string& source) {
  const float max = *std::max_element(v.voxels.begin(), v.voxels.end());
  if (!(max > 0)) throw std::invalid_argument("\"" + source + "\": maximum intensity " + std::to_string(max) + " is not positive");
  for (float& x : v.voxels) x /= max;
}

void zscore_in_brain(io::Volume& v, const std::string& source, float background) {
  double sum = 0, sum2 = 0, n = 0;
  for (float x : v.voxels)
    if (x != background) {
      sum += x;
      sum2 += static_cast<double>(x) * x;
      n += 1;
    }
  if (n < 2) throw std::invalid_argument("\"" + source + "\": fewer than 2 brain voxels to z-score");
  const double mean = sum / n, sd = std::sqrt(std::max(0.0, (sum2 - n * mean * mean) / (n - 1)));
  if (!(sd > 0)) throw std::invalid_argument("\"" + source + "\": brain intensities are constant (sd = 0)");
  for (float& x : v.voxels)
    if (x != background) x = static_cast<float>((x - mean) / sd);
}

void study_uint8(io::Volume& v, double dataset_max, double ceiling, const std::string& source) {
  const double min_img = *std::min_element(v.voxels.begin(), v.voxels.end());
  const double range = std::min(dataset_max, ceiling) - min_img;
  if (!(range > 0))
    throw std::invalid_argument("\"" + source + "\": min(dataset_max, ceiling) = " + std::to_string(std::min(dataset_max, ceiling)) +
                                " is not above the image minimum " + std::to_string(min_img));
  for (float& x : v.voxels) {
    const double scaled = std::round(255.0 * (std::min<double>(x, ceiling) - min_img) / range);
    x = static_cast<float>(std::clamp(scaled, 0.0, 255.0) / 255.0);
  }
}

io::Volume make_grid(const std::string& code, const std::array<double, 3>& spacing, const Int3& shape,
                     const std::array<double, 3>& centre_ras) {
  check_code(code);
  io::Volume grid;
  grid.shape = shape;
  auto& g = grid.geometry;
  g.spacing = spacing;
  g.direction.fill(0);
  for (int a = 0; a < 3; ++a)
    for (int r = 0; r < 3; ++r) {
      if (axis_letter(r, true) == code[a]) g.direction[3 * r + a] = 1;
      if (axis_letter(r, false) == code[a]) g.direction[3 * r + a] = -1;
    }
  const std::array<double, 3> centre{-centre_ras[0], -centre_ras[1], centre_ras[2]};  // RAS → LPS
  g.origin = {0, 0, 0};
  const std::array<double, 3> half = g.world({(shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0, (shape[2] - 1) / 2.0});
  for (int r = 0; r < 3; ++r) g.origin[r] = centre[r] - half[r];
  return grid;
}

namespace {

// Calls f(target voxel, source voxel, weight) for every trilinear weight of resample_box; the weights of
// one target voxel sum to 1 where all its samples fall inside the source.
template <typename F>
void for_each_box_weight(const io::Volume& grid, const io::Volume& source, F&& f) {
  const auto& t = grid.geometry;
  const auto& s = source.geometry;
  // World → source index: S⁻¹ Dᵀ (p − o); the direction matrix is orthonormal (checked by orientation_code).
  orientation_code(s, "resampling source");
  std::array<int, 3> n;
  double finest = std::min({s.spacing[0], s.spacing[1], s.spacing[2]});
  for (int a = 0; a < 3; ++a) n[a] = std::max(1, static_cast<int>(std::ceil(t.spacing[a] / finest - 1e-6)));
  const double share = 1.0 / (n[0] * n[1] * n[2]);
  const auto& ss = source.shape;
  for (int64_t i = 0; i < grid.shape[0]; ++i)
    for (int64_t j = 0; j < grid.shape[1]; ++j)
      for (int64_t k = 0; k < grid.shape[2]; ++k) {
        const int64_t target = (i * grid.shape[1] + j) * grid.shape[2] + k;
        for (int qi = 0; qi < n[0]; ++qi)
          for (int qj = 0; qj < n[1]; ++qj)
            for (int qk = 0; qk < n[2]; ++qk) {
              const std::array<double, 3> p = t.world({i + (qi + 0.5) / n[0] - 0.5, j + (qj + 0.5) / n[1] - 0.5,
                                                       k + (qk + 0.5) / n[2] - 0.5});
              std::array<double, 3> x;
              bool inside = true;
              for (int a = 0; a < 3 && inside; ++a) {
                double d = 0;
                for (int r = 0; r < 3; ++r) d += s.direction[3 * r + a] * (p[r] - s.origin[r]);
                x[a] = d / s.spacing[a];
                inside = x[a] > -1e-9 && x[a] < ss[a] - 1 + 1e-9;
              }
              if (!inside) continue;
              std::array<int64_t, 3> lo;
              std::array<double, 3> w;
              for (int a = 0; a < 3; ++a) {
                lo[a] = std::clamp<int64_t>(static_cast<int64_t>(std::floor(x[a])), 0, std::max<int64_t>(ss[a] - 2, 0));
                w[a] = std::clamp(x[a] - lo[a], 0.0, 1.0);
              }
              for (int c = 0; c < 8; ++c) {
                double weight = share;
                std::array<int64_t, 3> idx;
                for (int a = 0; a < 3; ++a) {
                  const int bit = (c >> (2 - a)) & 1;
                  weight *= bit ? w[a] : 1 - w[a];
                  idx[a] = std::min(lo[a] + bit, ss[a] - 1);
                }
                if (weight > 0) f(target, (idx[0] * ss[1] + idx[1]) * ss[2] + idx[2], weight);
              }
            }
      }
}

}  // namespace

io::Volume resample_box(const io::Volume& volume, const io::Volume& grid) {
  io::Volume out;
  out.shape = grid.shape;
  out.geometry = grid.geometry;
  std::vector<double> sum(grid.size(), 0.0);
  for_each_box_weight(grid, volume, [&](int64_t t, int64_t s, double w) { sum[t] += w * volume.voxels[s]; });
  out.voxels.assign(sum.begin(), sum.end());
  return out;
}

template <typename T>
io::BasicVolume<T> resample_box_adjoint(const io::BasicVolume<T>& map, const io::Volume& source) {
  io::Volume grid;  // the map's grid, without voxels
  grid.shape = map.shape;
  grid.geometry = map.geometry;
  io::BasicVolume<T> out;
  out.shape = source.shape;
  out.geometry = source.geometry;
  std::vector<double> sum(source.size(), 0.0);
  for_each_box_weight(grid, source, [&](int64_t t, int64_t s, double w) { sum[s] += w * map.voxels[t]; });
  out.voxels.assign(sum.begin(), sum.end());
  return out;
}
template io::Volume resample_box_adjoint(const io::Volume&, const io::Volume&);
template io::Volume64 resample_box_adjoint(const io::Volume64&, const io::Volume&);

}  // namespace mlens::engine
