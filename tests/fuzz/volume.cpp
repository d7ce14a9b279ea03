// A NIfTI volume the whole way mlens reads one: io::read_volume, i.e. mlens' header checks, then ITK's
// reader for the geometry (direction cosines, origin, spacing from the sform/qform), then the voxels.
// The nifti target covers mlens' own checks and decoding; this one adds ITK's part behind them.
// The first byte chooses the file name (compressed or not) and, with its second bit, one volume or all
// of a 4D file's (io::read_volumes).
#include <exception>

#include "io/volume.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string path = mlens::fuzz::write_input(data + 1, size - 1, data[0] & 1 ? "v.nii.gz" : "v.nii");
  try {
    if (data[0] & 2) mlens::io::read_volumes(path);  // a 4D file's volumes (a model's channels)
    else mlens::io::read_volume(path);
  } catch (const std::exception&) {
  }
  return 0;
}
