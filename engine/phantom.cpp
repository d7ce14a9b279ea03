#include "engine/phantom.h"

#include <cmath>

namespace mlens::engine {
namespace {

// splitmix64 mapped to [0, 1): the same volume on every platform.
double uniform(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

}  // namespace

io::Volume phantom(const std::array<int64_t, 3>& shape, uint64_t seed) {
  io::Volume v;
  v.shape = shape;
  v.voxels.assign(v.size(), 0.0f);
  for (int a = 0; a < 3; ++a) v.geometry.origin[a] = -0.5 * static_cast<double>(shape[a] - 1);  // centred, 1 mm

  uint64_t state = seed;
  // Lesions: spheres of radius 2-5 % of the size, placed beside the ventricles.
  struct Sphere {
    double c[3], r;
  };
  Sphere lesions[6];
  for (Sphere& s : lesions) {
    const double side = uniform(state) < 0.5 ? -1 : 1;
    s.c[0] = side * (0.18 + 0.1 * uniform(state));
    s.c[1] = -0.3 + 0.6 * uniform(state);
    s.c[2] = -0.2 + 0.4 * uniform(state);
    s.r = 0.04 + 0.06 * uniform(state);
  }
  for (int64_t i = 0; i < shape[0]; ++i)
    for (int64_t j = 0; j < shape[1]; ++j)
      for (int64_t k = 0; k < shape[2]; ++k) {
        // Normalised coordinates in [-1, 1].
        const double p[3] = {2.0 * i / (shape[0] - 1) - 1, 2.0 * j / (shape[1] - 1) - 1, 2.0 * k / (shape[2] - 1) - 1};
        const double brain = p[0] * p[0] / 0.72 + p[1] * p[1] / 0.85 + p[2] * p[2] / 0.65;
        if (brain >= 1.0) continue;
        double value = 0.55 + 0.1 * uniform(state);
        for (double side : {-1.0, 1.0}) {
          const double dx = p[0] - side * 0.1;
          if (dx * dx / 0.004 + p[1] * p[1] / 0.09 + p[2] * p[2] / 0.01 < 1.0) value = 0.2 + 0.05 * uniform(state);
        }
        for (const Sphere& s : lesions) {
          const double d2 = (p[0] - s.c[0]) * (p[0] - s.c[0]) + (p[1] - s.c[1]) * (p[1] - s.c[1]) +
                            (p[2] - s.c[2]) * (p[2] - s.c[2]);
          if (d2 < s.r * s.r) value = 0.9 + 0.1 * uniform(state);
        }
        v.at(i, j, k) = static_cast<float>(value);
      }
  return v;
}

at::Tensor phantom_batch(const std::array<int64_t, 3>& shape, uint64_t first_seed, int64_t count) {
  std::vector<at::Tensor> volumes;
  for (int64_t b = 0; b < count; ++b) {
    io::Volume v = phantom(shape, first_seed + static_cast<uint64_t>(b));
    volumes.push_back(at::from_blob(v.voxels.data(), {1, 1, shape[0], shape[1], shape[2]}, at::kFloat).clone());
  }
  return at::cat(volumes);
}

}  // namespace mlens::engine
