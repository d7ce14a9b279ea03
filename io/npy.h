// NumPy .npy arrays (format versions 1-3), read and written without Python: how reference maps from
// iNNvestigate or Zennit arrive (`np.save("ref.npy", relevance)`), how inputs of any model shape come in
// and attributions go out (`np.load("map.npy")`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlens::io {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<double> values;  // C order
  bool float64 = false;        // the file's dtype: '<f8' (else '<f4')
};

// Whether `path` ends in ".npy" (any case).
bool has_npy_extension(const std::string& path);

// Reads little-endian float32 ('<f4') or float64 ('<f8') arrays in C order. Fortran order, other dtypes,
// big-endian data and truncated files are errors naming the file and the header field.
NpyArray read_npy(const std::string& path);

// Writes `array` atomically as a version 1.0 .npy file, little-endian float64 or float32 (its `float64`),
// in C order; np.load reads it back.
void write_npy(const std::string& path, const NpyArray& array);

}  // namespace mlens::io
