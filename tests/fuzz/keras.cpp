// Keras .h5 import, the whole path to a network: io::read_keras_h5 (HDF5 in a child process first,
// io/contained.h) and models::load_keras_model.
#include <exception>

#include "io/keras_config.h"
#include "models/keras_import.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = mlens::fuzz::write_input(data, size, "m.h5");
  try {
    mlens::models::load_keras_model(mlens::io::read_keras_model(path));
  } catch (const std::exception&) {
  }
  return 0;
}
