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
// target mlens gzips it at level 1 itself, several times faster than ITK's fixed default level for
// about 10% larger files (cohort runs write thousands of maps). Errors name `path`.
void write_nifti(const std::string& path, const std::function<void(const std::string& nii)>& write);
Volume from_itk(const ItkImage* image);

}  // namespace mlens::io
