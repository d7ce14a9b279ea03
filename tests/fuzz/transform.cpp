// ITK/ANTs transform files as `mlens warp -t` and cohorts read them: io::TransformChain::read (ITK's
// text reader, its MATLAB reader after mlens' header checks, NIfTI displacement fields after mlens'
// header checks), then one point through the chain. The first byte chooses the file name (.txt, .tfm,
// .mat as ANTs' *GenericAffine.mat, .nii.gz) and whether the transform is inverted ("!file").
// HDF5 transforms (.h5) are left out: they are read in a forked child first, the container the keras
// target fuzzes, and a fork per input would slow this target a hundredfold.
#include <exception>
#include <string>

#include "io/warp.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const names[] = {"t.txt", "t.tfm", "t.mat", "t_Warp.nii.gz"};
  const std::string path = mlens::fuzz::write_input(data + 1, size - 1, names[data[0] % 4]);
  try {
    mlens::io::TransformChain::read({(data[0] & 4 ? "!" : "") + path}).apply({1.5, -2.0, 30.0});
  } catch (const std::exception&) {
  }
  return 0;
}
