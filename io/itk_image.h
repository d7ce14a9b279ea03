// Between io::Volume and ITK images: the one place that converts ITK's voxel order (i fastest) to the
// engine's (C order over (i, j, k), k fastest) and copies the geometry. Used inside io/ only.
#pragma once

#include <itkImage.h>

#include <functional>
#include <string>

#include "io/volume.h"

namespace mlens::io {

using ItkImage = itk::Image<float, 3>;

ItkImage::Pointer to_itk(const Volume& volume);

// Writes a NIfTI file atomically: `write(nii)` writes an uncompressed .nii (with ITK); for a .nii.gz
// target mlens gzips it itself at level 1 with zlib's run-length strategy (matches only repeat the
// previous value, which is what float maps with zero backgrounds repeat): on a 198³ relevance map 2×
// faster than level 1's default strategy for <1% larger files, and many times faster than ITK's fixed
// default level (cohort runs write thousands of maps). Any gzip reader reads it. Errors name `path`.
void write_nifti(const std::string& path, const std::function<void(const std::string& nii)>& write);
Volume from_itk(const ItkImage* image);

}  // namespace mlens::io
