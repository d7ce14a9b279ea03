#include "io/npy.h"

#include "io/atomic_file.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace mlens::io {
namespace {

// NumPy itself refuses longer headers unless told otherwise (np.load's max_header_size, numpy ≥ 1.24).
constexpr uint32_t kMaxHeader = 10000;

std::runtime_error npy_error(const std::string& path, const std::string& what) {
  return std::runtime_error("\"" + path + "\": " + what);
}

// The value of `key` in the header's Python dict literal, e.g. 'descr': '<f4' gives '<f4' (quotes
// kept), True/False, or a tuple with its parentheses. Scanned by hand: std::regex took milliseconds.
std::string header_field(const std::string& header, const std::string& key, const std::string& path) {
  const std::size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) throw npy_error(path, "npy header has no '" + key + "' field");
  std::size_t i = at + key.size() + 2;
  const auto skip_spaces = [&] { while (i < header.size() && header[i] == ' ') ++i; };
  skip_spaces();
  if (i >= header.size() || header[i] != ':') throw npy_error(path, "npy header field '" + key + "' has no value");
  ++i;
  skip_spaces();
  std::size_t end = std::string::npos;
  if (i < header.size() && header[i] == '\'') end = header.find('\'', i + 1);
  else if (i < header.size() && header[i] == '(') end = header.find(')', i + 1);
  else if (header.compare(i, 4, "True") == 0) end = i + 3;
  else if (header.compare(i, 5, "False") == 0) end = i + 4;
  if (end == std::string::npos) throw npy_error(path, "npy header field '" + key + "' has no readable value");
  return header.substr(i, end - i + 1);
}

// A shape tuple as Python writes it: "()", "(7,)", "(2, 3)". Each axis is a non-negative integer.
std::vector<int64_t> parse_shape(const std::string& text, const std::string& path) {
  const auto bad = [&] { return npy_error(path, "npy header 'shape' " + text + " is not a tuple of non-negative integers"); };
  std::vector<int64_t> shape;
  size_t i = 1;  // past "("
  const auto skip_spaces = [&] { while (i < text.size() && text[i] == ' ') ++i; };
  for (skip_spaces(); i < text.size() && text[i] != ')'; skip_spaces()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) throw bad();
    int64_t d = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) throw bad();
      d = d * 10 + (text[i] - '0');
    }
    shape.push_back(d);
    skip_spaces();
    if (i < text.size() && text[i] == ',') ++i;
    else if (i < text.size() && text[i] != ')') throw bad();
  }
  return shape;
}

}  // namespace

bool has_npy_extension(const std::string& path) {
  if (path.size() < 4) return false;
  std::string tail = path.substr(path.size() - 4);
  for (char& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return tail == ".npy";
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  if (!in || !std::filesystem::is_regular_file(path, ec)) throw npy_error(path, "cannot open (a regular file expected)");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw npy_error(path, "not a .npy file (magic string \\x93NUMPY missing)");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  unsigned char b[4] = {0, 0, 0, 0};
  if (major == 1) {
    in.read(reinterpret_cast<char*>(b), 2);
  } else if (major == 2 || major == 3) {
    in.read(reinterpret_cast<char*>(b), 4);
  } else {
    throw npy_error(path, "unsupported .npy format version " + std::to_string(major) + " (1, 2 or 3 expected)");
  }
  header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  const uint64_t data_offset = (major == 1 ? 10 : 12) + uint64_t{header_len};
  if (!in || header_len > kMaxHeader || data_offset > file_size)
    throw npy_error(path, "npy header length " + std::to_string(header_len) + " does not fit the file (" +
                              std::to_string(file_size) + " bytes; at most " + std::to_string(kMaxHeader) + " expected)");
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
  a.shape = parse_shape(shape_text, path);
  a.float64 = item == 8;
  // The count is checked against the bytes present before anything is allocated.
  const uint64_t available = (file_size - data_offset) / item;
  uint64_t count = std::find(a.shape.begin(), a.shape.end(), 0) != a.shape.end() ? 0 : 1;  // an empty axis empties it
  for (int64_t d : a.shape) {
    if (count == 0) break;
    if (d != 0 && count > available / static_cast<uint64_t>(d)) {
      count = available + 1;  // more than the file holds, however large the product
      break;
    }
    count *= static_cast<uint64_t>(d);
  }
  if (count > available)
    throw npy_error(path, "truncated data: header 'shape' " + shape_text + " promises more values than the " +
                              std::to_string(file_size - data_offset) + " data bytes hold");

  std::vector<char> raw(count * item);
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size())))
    throw npy_error(path, "truncated data: header promises " + std::to_string(count) + " values");
  a.values.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
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

void write_npy(const std::string& path, const NpyArray& a) {
  std::string shape = "(";
  for (int64_t d : a.shape) shape += std::to_string(d) + (a.shape.size() == 1 ? "," : ", ");
  if (a.shape.size() > 1) shape.resize(shape.size() - 2);
  shape += ")";
  std::string header = "{'descr': '" + std::string(a.float64 ? "<f8" : "<f4") + "', 'fortran_order': False, 'shape': " +
                       shape + ", }";
  // NumPy pads the header with spaces and a newline so that the data start at a multiple of 64 bytes.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  const size_t item = a.float64 ? 8 : 4, start = bytes.size();
  bytes.resize(start + a.values.size() * item);
  for (size_t i = 0; i < a.values.size(); ++i) {
    if (a.float64) {
      std::memcpy(&bytes[start + i * 8], &a.values[i], 8);
    } else {
      const float f = static_cast<float>(a.values[i]);
      std::memcpy(&bytes[start + i * 4], &f, 4);
    }
  }
  write_text_atomically(path, bytes);
}

}  // namespace mlens::io
