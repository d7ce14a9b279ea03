// The one place where the engine's voxel order meets NIfTI's and ITK's (used inside io/ only).
//
// NIfTI files and ITK images store i fastest: offset i + ni·(j + nj·k). The engine stores C order over
// (i, j, k), k fastest: offset (i·nj + j)·nk + k (io/volume.h). Every conversion between the two walks
// the voxels with one of these functions, which call f(file_offset, engine_offset).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace mlens::io {

// Every voxel, in the engine's order.
template <typename F>
void for_each_voxel(const std::array<int64_t, 3>& n, F&& f) {
  for (int64_t i = 0; i < n[0]; ++i)
    for (int64_t j = 0; j < n[1]; ++j)
      for (int64_t k = 0; k < n[2]; ++k) f(i + n[0] * (j + n[1] * k), (i * n[1] + j) * n[2] + k);
}

// The voxels with k0 <= k < k1 (whole slabs of the file), 16 values of i at a time so that the file
// side is written a cache line at a time.
template <typename F>
void for_each_voxel_in_slabs(const std::array<int64_t, 3>& n, int64_t k0, int64_t k1, F&& f) {
  for (int64_t i0 = 0; i0 < n[0]; i0 += 16)
    for (int64_t j = 0; j < n[1]; ++j)
      for (int64_t k = k0; k < k1; ++k)
        for (int64_t i = i0; i < std::min(n[0], i0 + 16); ++i) f(i + n[0] * (j + n[1] * k), (i * n[1] + j) * n[2] + k);
}

}  // namespace mlens::io
