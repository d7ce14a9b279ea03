// Between io::Volume and ITK images: the one place that converts ITK's voxel order (i fastest) to the
// engine's (C order over (i, j, k), k fastest) and copies the geometry. Used inside io/ only.
#pragma once

#include <itkImage.h>

#include "io/volume.h"

namespace mlens::io {

using ItkImage = itk::Image<float, 3>;

ItkImage::Pointer to_itk(const Volume& volume);
Volume from_itk(const ItkImage* image);

}  // namespace mlens::io
