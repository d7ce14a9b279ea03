// Between io::Volume and ITK images: the one place that converts ITK's voxel order (i fastest) to the
// engine's (C order over (i, j, k), k fastest) and copies the geometry. Used inside io/ only.
#pragma once

#include <itkImage.h>

#include <string>

#include "io/volume.h"

namespace mlens::io {

using ItkImage = itk::Image<float, 3>;

ItkImage::Pointer to_itk(const Volume& volume);

// Writes `image` as NIfTI, atomically (.nii or .nii.gz by the name). The header is ITK's: ITK writes a
// one-voxel image of the same pixel type and geometry, and only its dimensions are set to the image's,
// so every geometry convention (qform, sform, units) stays ITK's. The voxels go straight from memory
// into the file — no uncompressed temporary written and read back — and for .nii.gz mlens gzips them
// itself (io/gzip.h), many times faster than ITK's zlib at its fixed default level (cohort runs write
// thousands of maps). Any gzip reader reads it. Instantiated for displacement fields
// (itk::Vector<float, 3> pixels). Errors name `path`.
template <typename Image>
void write_nifti(const std::string& path, const Image& image);

// The same for a volume stored as `Pixel` (float, int16_t, uint8_t; integers rounded and clipped to
// the type's range): the bytes write_nifti would write for the converted ITK image, without making it.
template <typename Pixel, typename T>
void write_nifti(const std::string& path, const BasicVolume<T>& volume);
// Volumes of one grid (the first's geometry) as a 4D image, dim[4] = their count (3D for one).
template <typename Pixel, typename T>
void write_nifti(const std::string& path, const std::vector<const BasicVolume<T>*>& volumes);

Volume from_itk(const ItkImage* image);

// The shape and geometry of `image` into `v` (voxels untouched).
void copy_grid(const itk::ImageBase<3>& image, Volume& v);

}  // namespace mlens::io
