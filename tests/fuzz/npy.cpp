// NumPy .npy arrays (reference maps for `mlens validate`): io::read_npy.
#include <exception>

#include "io/npy.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = mlens::fuzz::write_input(data, size, "a.npy");
  try {
    mlens::io::read_npy(path);
  } catch (const std::exception&) {
  }
  return 0;
}
