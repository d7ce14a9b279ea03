// A single-file NIfTI-1 image as mlens reads it: the file's bytes (inflated for .nii.gz) and its
// header, checked field by field before ITK, or any allocation sized by the header, sees them.
//
// Why mlens reads the header itself: ITK's reader aborts the process on some corrupt headers (a NaN
// in the sform reaches vnl), silently makes a zero voxel size 1, and reports every problem as "not
// recognized as a NIFTI file". Here each field is named with what was found and what was expected,
// every size is checked against the bytes present (or, for .nii.gz, the bytes the compressed file can
// inflate to) before anything is allocated, and a geometry that cannot place the voxels in the world
// (no qform or sform, a singular or non-finite affine) is refused.
//
// The voxels are decoded by mlens too, because ITK's path inflates with zlib into a buffer of its own,
// copies it into the image and then into the engine's order, and replaces NaN and Inf voxels by 0
// without a word. One pass converts the datatype, swaps the byte order if the file's differs, applies
// scl_slope/scl_inter as the NIfTI-1 standard says (only when scl_slope is non-zero and finite) and
// reorders to C order over (i, j, k). Non-finite voxels are kept, as nibabel keeps them, so the engine
// can name them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlens::io {

struct NiftiFile {
  std::string path;
  std::vector<unsigned char> bytes;  // the whole file (inflated), header first
  bool swapped = false;              // the file's byte order differs from this machine's
  std::array<int64_t, 3> shape{0, 0, 0};
  int64_t volumes = 1;  // dim[4] of a 4D file read as NiftiLayout::Volumes
  int16_t datatype = 0;
  std::size_t vox_offset = 0;
  // The affine from the sform (RAS mm = M · (i, j, k, 1)) when sform_code is set: it places the voxels
  // (as nibabel and FSL decide); otherwise ITK's qform geometry does.
  std::optional<std::array<std::array<double, 4>, 3>> sform;
};

// What a file must hold.
enum class NiftiLayout {
  Volume,             // one 3D volume (a 4D file whose dim[4] is 1 too)
  Volumes,            // a 3D volume, or a 4D file's dim[4] volumes on one grid (the channels of a model)
  DisplacementField,  // as ANTs and ITK write one: dim (x, y, z, 1, 3), the vector components on NIfTI's 5th
                      // axis, intent_code 1007 (NIFTI_INTENT_VECTOR), unscaled (scl_slope 0 or 1, scl_inter 0:
                      // ITK's reader scales vector images wrongly, integer ones past the end of its buffer)
};

// Reads and checks the file. Errors name `path`, the header field, what was found and what was
// expected: a directory or device, NIfTI-2 or a .hdr/.img pair, dimensions other than `layout`'s, a
// datatype that is not a real number, a file shorter than its voxels, no or a degenerate geometry.
// `shape` is the spatial size.
NiftiFile read_nifti_file(const std::string& path, NiftiLayout layout = NiftiLayout::Volume);

// dim[1..dim[0]] of a NIfTI-1 file, from its header alone; empty for a file that is not NIfTI-1
// (read_nifti_file names what is wrong with it). For choosing how to read a file, not a check.
std::vector<int64_t> nifti_dims(const std::string& path);

// Volume `volume` (< file.volumes) as float in the engine's order (C order over (i, j, k)); scalar images only.
std::vector<float> decode_voxels(const NiftiFile& file, int64_t volume = 0);

}  // namespace mlens::io
