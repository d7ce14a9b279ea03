// NIfTI-1 header and voxels, .nii and .nii.gz: io::nifti_dims (the header alone), io::read_nifti_file
// (every header field and size checked before ITK would read the header) for a 3D volume or a 4D file's
// volumes, and io::decode_voxels of each. The first byte chooses the file name (compressed or not) and,
// with its second bit, the layout.
#include <exception>

#include "io/nifti_file.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string path = mlens::fuzz::write_input(data + 1, size - 1, data[0] & 1 ? "v.nii.gz" : "v.nii");
  mlens::io::nifti_dims(path);
  try {
    const auto layout = data[0] & 2 ? mlens::io::NiftiLayout::Volumes : mlens::io::NiftiLayout::Volume;
    const mlens::io::NiftiFile file = mlens::io::read_nifti_file(path, layout);
    for (int64_t v = 0; v < file.volumes; ++v) mlens::io::decode_voxels(file, v);
  } catch (const std::exception&) {
  }
  return 0;
}
