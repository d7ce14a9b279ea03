// Bringing a subject's volume into a model's input grid, and maps back out of it. Every step is
// invertible for maps (a relevance map made in the model grid returns to the subject's grid).
//
//   reorient   permute/flip voxel axes to an orientation code such as "LIA" (FreeSurfer's conformed
//              space) or "RAS"; world positions are unchanged (the geometry follows the voxels)
//   prune      xai4mri's prune_mri: crop to the tight box of planes that are not all background and
//              centre it in a target cube with floor offsets (target − extent) / 2
//   resample   into a fixed grid (e.g. a box of MNI space at 2 mm) by world position, averaging over
//              each target voxel's extent (a box filter, so downsampling does not alias); maps return
//              through the adjoint, which keeps their total
//   normalise  scale to [0, 1] by the maximum, z-score within the brain, or the study's uint8 chain
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "io/volume.h"

namespace mlens::engine {

using Int3 = std::array<int64_t, 3>;

// The anatomical direction each voxel axis points to, as nibabel's aff2axcodes names it ("LIA", "RAS").
// Throws std::invalid_argument for direction cosines that are not orthonormal (oblique images must be
// resampled first), naming the largest deviation.
std::string orientation_code(const io::Geometry& geometry, const std::string& source = "volume");

// The same image with its voxel axes permuted and flipped to `code` (float, and float64 maps).
template <typename T>
io::BasicVolume<T> reorient(const io::BasicVolume<T>& volume, const std::string& code, const std::string& source = "volume");

struct BrainBox {
  Int3 lower{0, 0, 0};   // first plane per axis that is not all background
  Int3 extent{0, 0, 0};  // number of planes from lower to the last such plane
};

// Throws std::invalid_argument naming `source` when every voxel is background.
BrainBox find_brain_box(const io::Volume& volume, const std::string& source = "volume", float background = 0);

// Where a pruned volume sits in its source grid.
struct PruneGeometry {
  Int3 source_shape{0, 0, 0};
  io::Geometry source_geometry;
  BrainBox box;
  Int3 offset{0, 0, 0};  // where the box starts inside the target cube
  Int3 target{0, 0, 0};
};

// The brain box centred in a `target` grid (background: the volume's minimum when that is not 0, as
// xai4mri does). The result keeps world positions: its origin is moved to where its first voxel lies.
// Throws when the brain is larger than the target along an axis, naming the axis and both sizes.
io::Volume prune(const io::Volume& volume, const Int3& target, PruneGeometry& geometry,
                 const std::string& source = "volume");

// A map in the pruned grid back into the source grid: the box's voxels in place, zeros elsewhere.
template <typename T>
io::BasicVolume<T> unprune(const io::BasicVolume<T>& map, const PruneGeometry& geometry);

// A grid of `shape` voxels of `spacing` mm whose axes point as `code` says ("RAS", "LIA"), centred on
// `centre_ras` (RAS millimetres, as MNI coordinates are written). Returned as a volume without voxels.
io::Volume make_grid(const std::string& code, const std::array<double, 3>& spacing, const Int3& shape,
                     const std::array<double, 3>& centre_ras);

// `volume` resampled into `grid` (shape and geometry) by world position: each target voxel is the mean
// of trilinear samples at n×n×n points spread over its extent (n = target spacing / source spacing,
// rounded up), 0 where samples fall outside the source.
io::Volume resample_box(const io::Volume& volume, const io::Volume& grid);
// The adjoint of resample_box: a map on `grid` spread onto `source`'s grid with the same weights, so
// Σ map is kept wherever the grid lies inside the source.
template <typename T>
io::BasicVolume<T> resample_box_adjoint(const io::BasicVolume<T>& map, const io::Volume& source);

// x / max(x). Throws when the maximum is not positive.
void scale_to_unit(io::Volume& volume, const std::string& source = "volume");
// (x − mean) / sd over the voxels that are not background; background stays 0.
void zscore_in_brain(io::Volume& volume, const std::string& source = "volume", float background = 0);
// The study's chain: round(255 · (min(x, ceiling) − min_img) / (min(dataset_max, ceiling) − min_img)),
// clipped to 0..255 as uint8 holds it, then / 255.
void study_uint8(io::Volume& volume, double dataset_max, double ceiling = 383, const std::string& source = "volume");

}  // namespace mlens::engine
