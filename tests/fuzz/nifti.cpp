// NIfTI-1 header and voxels, .nii and .nii.gz: io::read_nifti_file (every header field and size
// checked before ITK would read the header) and io::decode_voxels. The first byte chooses the file name
// (compressed or not).
#include <exception>

#include "io/nifti_file.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string path = mlens::fuzz::write_input(data + 1, size - 1, data[0] & 1 ? "v.nii.gz" : "v.nii");
  try {
    mlens::io::decode_voxels(mlens::io::read_nifti_file(path));
  } catch (const std::exception&) {
  }
  return 0;
}
