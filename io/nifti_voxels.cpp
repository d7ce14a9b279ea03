#include "io/nifti_voxels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "io/axis_order.h"
#include "io/gzip.h"
#include "io/paths.h"

namespace mlens::io {
namespace {

// NIfTI-1 header fields (byte offsets in the 348-byte header).
constexpr std::size_t kSizeofHdr = 0, kDim = 40, kDatatype = 70, kVoxOffset = 108, kSclSlope = 112, kSclInter = 116,
                      kMagic = 344, kHeaderBytes = 348;

std::vector<unsigned char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("\"" + path + "\": cannot open for reading");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    throw std::runtime_error("\"" + path + "\": reading failed");
  return bytes;
}

template <typename T>
T field(const unsigned char* header, std::size_t offset, bool swap) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, header + offset, sizeof(T));
  if (swap) std::reverse(b, b + sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// Converts each value into the engine's order.
template <typename T>
void decode(const unsigned char* data, bool swap, bool scaled, double slope, double inter,
            const std::array<int64_t, 3>& n, float* out) {
  for_each_voxel(n, [&](int64_t file, int64_t engine) {
    const T raw = field<T>(data, sizeof(T) * static_cast<std::size_t>(file), swap);
    out[engine] = scaled ? static_cast<float>(slope * static_cast<double>(raw) + inter) : static_cast<float>(raw);
  });
}

// Calls f(T{}) with the C++ type of a NIfTI-1 datatype code; false for codes that are not real scalars.
template <typename F>
bool with_type(int16_t datatype, F&& f) {
  switch (datatype) {
    case 2: f(uint8_t{}); return true;
    case 4: f(int16_t{}); return true;
    case 8: f(int32_t{}); return true;
    case 16: f(float{}); return true;
    case 64: f(double{}); return true;
    case 256: f(int8_t{}); return true;
    case 512: f(uint16_t{}); return true;
    case 768: f(uint32_t{}); return true;
    case 1024: f(int64_t{}); return true;
    case 1280: f(uint64_t{}); return true;
    default: return false;
  }
}

}  // namespace

std::vector<float> read_nifti_voxels(const std::string& path, const std::array<int64_t, 3>& shape) {
  const std::vector<unsigned char> bytes = nifti_extension(path) == ".nii.gz" ? gunzip(file_bytes(path), path) : file_bytes(path);
  const auto bad = [&](const std::string& what) { return std::runtime_error("\"" + path + "\": " + what); };
  if (bytes.size() < kHeaderBytes) throw bad("shorter than a NIfTI-1 header (" + std::to_string(bytes.size()) + " bytes)");
  const unsigned char* h = bytes.data();
  const int32_t sizeof_hdr = field<int32_t>(h, kSizeofHdr, false);
  const bool swap = sizeof_hdr != 348;
  if (swap && field<int32_t>(h, kSizeofHdr, true) != 348)
    throw bad("sizeof_hdr is " + std::to_string(sizeof_hdr) + ", expected 348 (NIfTI-1)");
  if (std::memcmp(h + kMagic, "n+1", 4) != 0) throw bad("magic is not \"n+1\" (a single-file NIfTI-1 image)");
  for (int a = 0; a < 3; ++a)
    if (field<int16_t>(h, kDim + 2 * (a + 1), swap) != shape[a])
      throw bad("dim[" + std::to_string(a + 1) + "] changed between reading the header and the voxels");
  const int16_t datatype = field<int16_t>(h, kDatatype, swap);
  const double slope = field<float>(h, kSclSlope, swap), inter = field<float>(h, kSclInter, swap);
  const bool scaled = slope != 0 && std::isfinite(slope) && std::isfinite(inter) && (slope != 1 || inter != 0);
  const float vox_offset = field<float>(h, kVoxOffset, swap);
  if (!(vox_offset >= 352)) throw bad("vox_offset is " + std::to_string(vox_offset) + ", expected at least 352");

  const std::size_t count = static_cast<std::size_t>(shape[0] * shape[1] * shape[2]), offset = static_cast<std::size_t>(vox_offset);
  std::vector<float> voxels(count);
  const bool known = with_type(datatype, [&](auto zero) {
    using T = decltype(zero);
    if (bytes.size() < offset + count * sizeof(T))
      throw bad("ends after " + std::to_string(bytes.size() < offset ? 0 : (bytes.size() - offset) / sizeof(T)) + " of " +
                std::to_string(count) + " voxels");
    decode<T>(bytes.data() + offset, swap, scaled, slope, inter, shape, voxels.data());
  });
  if (!known) throw bad("datatype " + std::to_string(datatype) + " is not a real-valued scalar type");
  return voxels;
}

}  // namespace mlens::io
