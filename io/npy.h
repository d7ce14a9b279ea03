// NumPy .npy arrays (format versions 1-3), read without Python: how reference maps from iNNvestigate or
// Zennit arrive (`np.save("ref.npy", relevance)`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlens::io {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<double> values;  // C order
};

// Reads little-endian float32 ('<f4') or float64 ('<f8') arrays in C order. Fortran order, other dtypes,
// big-endian data and truncated files are errors naming the file and the header field.
NpyArray read_npy(const std::string& path);

}  // namespace mlens::io
