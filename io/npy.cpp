#include "io/npy.h"

#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace mlens::io {
namespace {

std::runtime_error npy_error(const std::string& path, const std::string& what) {
  return std::runtime_error("\"" + path + "\": " + what);
}

// The value of `key` in the header's Python dict literal, e.g. 'descr': '<f4'.
std::string header_field(const std::string& header, const std::string& key, const std::string& path) {
  const std::regex re("'" + key + "'\\s*:\\s*('[^']*'|True|False|\\([^)]*\\))");
  std::smatch m;
  if (!std::regex_search(header, m, re)) throw npy_error(path, "npy header has no '" + key + "' field");
  return m[1].str();
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw npy_error(path, "cannot open");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw npy_error(path, "not a .npy file (magic string \\x93NUMPY missing)");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  } else {
    throw npy_error(path, "unsupported .npy format version " + std::to_string(major));
  }
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw npy_error(path, "truncated .npy header");

  const std::string descr = header_field(header, "descr", path);
  const std::string fortran = header_field(header, "fortran_order", path);
  const std::string shape_text = header_field(header, "shape", path);
  if (fortran != "False")
    throw npy_error(path, "array is in Fortran order; save it with np.ascontiguousarray (C order expected)");
  size_t item = 0;
  if (descr == "'<f4'")
    item = 4;
  else if (descr == "'<f8'")
    item = 8;
  else
    throw npy_error(path, "dtype " + descr + " not supported (expected '<f4' float32 or '<f8' float64)");

  NpyArray a;
  const std::regex num("\\d+");
  for (auto it = std::sregex_iterator(shape_text.begin(), shape_text.end(), num); it != std::sregex_iterator(); ++it)
    a.shape.push_back(std::stoll(it->str()));
  int64_t count = 1;
  for (int64_t d : a.shape) count *= d;

  std::vector<char> raw(static_cast<size_t>(count) * item);
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size())))
    throw npy_error(path, "truncated data: header promises " + std::to_string(count) + " values");
  a.values.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    if (item == 4) {
      float f;
      std::memcpy(&f, raw.data() + i * 4, 4);
      a.values[i] = f;
    } else {
      std::memcpy(&a.values[i], raw.data() + i * 8, 8);
    }
  }
  return a;
}

}  // namespace mlens::io
