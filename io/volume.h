// A 3D image in memory: voxels plus the geometry that places them in the scanner's world.
//
// Axis order (the one convention of the whole engine): `voxels` is in C order over the NIfTI voxel
// indices (i, j, k), i slowest and k fastest, i.e. exactly the array nibabel's `get_fdata()` returns and
// the layout the published Keras models were fed. A tensor made from it is [D, H, W] = [i, j, k].
// ITK stores i fastest; read_volume and write_volume are the only places that convert.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace mlens::io {

// ITK's physical-space description (LPS world coordinates, millimetres).
struct Geometry {
  std::array<double, 3> spacing{1, 1, 1};
  std::array<double, 3> origin{0, 0, 0};
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major 3x3, columns = axis directions

  // World position of a (possibly fractional or negative) voxel index: origin + direction · (spacing ⊙ index).
  std::array<double, 3> world(const std::array<double, 3>& index) const {
    std::array<double, 3> p = origin;
    for (int r = 0; r < 3; ++r)
      for (int s = 0; s < 3; ++s) p[r] += direction[3 * r + s] * spacing[s] * index[s];
    return p;
  }
};

template <typename T>
struct BasicVolume {
  std::array<int64_t, 3> shape{0, 0, 0};  // (ni, nj, nk)
  std::vector<T> voxels;                  // size ni*nj*nk, C order over (i, j, k)
  Geometry geometry;

  int64_t size() const { return shape[0] * shape[1] * shape[2]; }
  T& at(int64_t i, int64_t j, int64_t k) { return voxels[(i * shape[1] + j) * shape[2] + k]; }
  T at(int64_t i, int64_t j, int64_t k) const { return voxels[(i * shape[1] + j) * shape[2] + k]; }
};
// Images, masks and maps as everything reads and writes them.
using Volume = BasicVolume<float>;
// A relevance map of a float64 run, kept in float64 on its way to the file (written as float64 NIfTI).
using Volume64 = BasicVolume<double>;

// Reads a 3D NIfTI (.nii or .nii.gz) as float. A 4D file whose fourth axis has length 1 is accepted;
// any other dimensionality is an error naming the file and the dimensions found.
Volume read_volume(const std::string& path);

// Reads a 3D or 4D NIfTI as volumes on one grid: a 4D file's dim[4] volumes (the channels of a
// multi-channel model, in its channel order), or a 3D file's one volume.
std::vector<Volume> read_volumes(const std::string& path);

// How voxels are stored on disk: float32 for maps, int16 for scanner-like images, uint8 for masks
// (values are rounded and clipped to the type's range).
enum class StoredAs { Float32, Int16, UInt8 };

// Writes NIfTI with the volume's geometry. The file appears atomically: it is written under a
// temporary name in the same directory and renamed, so a killed process never leaves a partial map.
void write_volume(const std::string& path, const Volume& volume, StoredAs stored_as = StoredAs::Float32);
// The same as float64 NIfTI (datatype 64): the digits of a float64 run reach the file.
void write_volume(const std::string& path, const Volume64& volume);
// Volumes on one grid (the first one's geometry) as a 4D NIfTI, dim[4] = their count (3D for one), as
// float32 (Volume) or float64 (Volume64), atomically.
template <typename T>
void write_volumes(const std::string& path, const std::vector<BasicVolume<T>>& volumes);

// Throws std::invalid_argument unless both volumes have the same shape and geometry (spacing and
// origin within 1e-3 mm, direction cosines within 1e-5). The message prints both grids, as ITK does:
// mlens never resamples silently.
void require_same_grid(const Volume& a, const std::string& a_name, const Volume& b, const std::string& b_name);

// Throws std::invalid_argument, naming `name`, how many voxels are bad and the first of them, if a
// voxel is NaN or infinite, or outside [lo, hi] (`expected` then says what the values should be).
// NaN in an input would spread silently through every sum after it.
void require_values(const Volume& v, const std::string& name, double lo = -HUGE_VAL, double hi = HUGE_VAL,
                    const std::string& expected = "");

// "198x198x198, spacing (1, 1, 1), origin (..), direction (..)"
std::string describe_grid(const Volume& v);

}  // namespace mlens::io
