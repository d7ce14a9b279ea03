// Keras .h5 reading in process: mlens' own reading of the HDF5 file (io::detail::read_keras_h5_uncontained,
// without the child process of io/contained.h) and its model_config into plain data (io::keras_model).
// HDF5 itself crashes or loops on some corrupt files, which mlens contains in a child (the `keras`
// target, a fork per input, ~20 executions/s); this target runs in libFuzzer's fork mode, which records
// such crashes and goes on, at the speed of HDF5 alone (no LibTorch: the network is keras_config's part).
// bench/fuzz replays every input it records through the contained reader, which must refuse the file
// cleanly, and fails when a crash's innermost frame of interest is not in the HDF5 library.
#include <exception>

#include "io/keras_config.h"
#include "io/keras_h5.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = mlens::fuzz::write_input(data, size, "m.h5");
  try {
    mlens::io::keras_model(mlens::io::detail::read_keras_h5_uncontained(path));
  } catch (const std::exception&) {
  }
  return 0;
}
