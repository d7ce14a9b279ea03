// Registration transforms (ANTs/ITK files) and resampling a map into a reference grid with them.
//
// Transforms are given in ANTs' order (as for antsApplyTransforms -t A -t B): the last one is applied
// first to a point of the reference grid, mapping it into the input's space. Files:
//   affine:               ITK .txt/.tfm, Matlab .mat (ANTs' *GenericAffine.mat), HDF5 .h5 (also composites)
//   displacement field:   .nii / .nii.gz vector image (ANTs' *Warp.nii.gz)
// Prefix an affine with '!' (or write it as "[file,1]", ANTs' syntax) to use its inverse.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "io/volume.h"

namespace mlens::io {

enum class Interpolation { Linear, Nearest };

// Makes ITK's transform file formats (.txt/.tfm, .mat, .h5) available to ITK's readers and writers.
// TransformChain::read calls it; call it yourself before writing transforms with ITK directly.
void register_transform_io();

class TransformChain {
 public:
  // Errors name the file and what could not be read or inverted.
  static TransformChain read(const std::vector<std::string>& specs);
  // No transforms: the identity (world coordinates are shared).
  TransformChain();
  ~TransformChain();
  TransformChain(TransformChain&&) noexcept;
  TransformChain& operator=(TransformChain&&) noexcept;

  // Maps a point of the reference space (LPS mm) into the input's space.
  std::array<double, 3> apply(const std::array<double, 3>& point) const;

  struct Impl;
  const Impl* impl() const { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

// Writes a displacement field as ANTs does (*Warp.nii.gz: a NIfTI vector image, one 3-vector per voxel in
// LPS millimetres): at a point m of the field's grid the transform maps m to m + (x, y, z)(m). The three
// components share one grid. Written atomically.
void write_displacement_field(const std::string& path, const std::array<Volume, 3>& components);

// `input` resampled onto `reference`'s grid (shape and geometry) through `transforms`. Points that fall
// outside the input get 0. With `preserve_total` the result is rescaled so that its sum equals the
// input's sum (relevance is a quantity per voxel, not a density).
Volume warp(const Volume& input, const Volume& reference, const TransformChain& transforms, Interpolation interpolation,
            bool preserve_total = false);

}  // namespace mlens::io
