// The voxels of a single-file NIfTI-1 image, decoded into the engine's order as float.
//
// ITK reads the header (and so the geometry); mlens decodes the voxels itself, because ITK's path
// inflates with zlib into a buffer of its own, copies it into the image and then into the engine's
// order, and replaces NaN and Inf voxels by 0 without a word. Here the file is gunzipped in one go
// (io/gzip.h: 2–3× faster than zlib on 198³ volumes), and one pass converts the datatype, swaps the
// byte order if the file's differs, applies scl_slope/scl_inter as the NIfTI-1 standard says (only
// when scl_slope is non-zero) and reorders to C order over (i, j, k). Non-finite voxels are kept, as
// nibabel keeps them, so the engine can name them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mlens::io {

// `shape` is the header's (i, j, k) size as ITK read it; a fourth axis of length 1 is allowed. Errors
// name `path` and what was found: a datatype that is not a real number, a header that is not NIfTI-1,
// a file shorter than its voxels.
std::vector<float> read_nifti_voxels(const std::string& path, const std::array<int64_t, 3>& shape);

}  // namespace mlens::io
