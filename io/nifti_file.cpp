#include "io/nifti_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "io/axis_order.h"
#include "io/gzip.h"
#include "io/paths.h"

namespace mlens::io {
namespace {

// NIfTI-1 header fields (byte offsets in the 348-byte header).
constexpr std::size_t kSizeofHdr = 0, kDim = 40, kIntentCode = 68, kDatatype = 70, kBitpix = 72, kPixdim = 76, kVoxOffset = 108,
                      kSclSlope = 112, kSclInter = 116, kQformCode = 252, kSformCode = 254, kQuatern = 256, kSrow = 280,
                      kMagic = 344, kHeaderBytes = 348;
constexpr double kMaxMillimetres = 1e6;  // a kilometre: no voxel size or position in a scan comes near it

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

std::string datatype_name(int16_t datatype) {
  switch (datatype) {
    case 1: return " (binary)";
    case 32: return " (complex64)";
    case 128: return " (RGB24)";
    case 1536: return " (float128)";
    case 1792: return " (complex128)";
    case 2048: return " (complex256)";
    case 2304: return " (RGBA32)";
    default: return "";
  }
}

std::string number(double v) {
  std::string s = std::to_string(v);
  if (std::isfinite(v)) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

// A float as printf's %g writes it with every digit a float has (number() would print 1e-40 as 0).
std::string exact(float v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", static_cast<double>(v));
  return text;
}

// The header's fields, checked; `available` is how many bytes the voxels could come from: the file's
// size, or for a gzip file of `compressed` bytes what they can inflate to. Returns where the voxels end.
std::size_t check_header(const unsigned char* h, std::size_t available, std::size_t compressed, NiftiLayout layout,
                         NiftiFile& f) {
  const auto bad = [&](const std::string& what) { return std::runtime_error("\"" + f.path + "\": " + what); };
  const int32_t sizeof_hdr = field<int32_t>(h, kSizeofHdr, false);
  f.swapped = sizeof_hdr != 348;
  if (f.swapped && field<int32_t>(h, kSizeofHdr, true) != 348) {
    if (sizeof_hdr == 540 || field<int32_t>(h, kSizeofHdr, true) == 540)
      throw bad("is a NIfTI-2 file (sizeof_hdr 540); mlens reads NIfTI-1 (sizeof_hdr 348): save it as NIfTI-1, e.g. "
                "nibabel.Nifti1Image(img.dataobj, img.affine, img.header).to_filename(...)");
    throw bad("sizeof_hdr is " + std::to_string(sizeof_hdr) + ", expected 348 (not a NIfTI-1 file)");
  }
  if (std::memcmp(h + kMagic, "ni1", 4) == 0)
    throw bad("magic is \"ni1\" (the header of a .hdr/.img pair), expected \"n+1\": mlens reads single-file .nii/.nii.gz");
  if (std::memcmp(h + kMagic, "n+1", 4) != 0) throw bad("magic is not \"n+1\" (expected a single-file NIfTI-1 image)");

  const int16_t rank = field<int16_t>(h, kDim, f.swapped);
  if (rank < 1 || rank > 7) throw bad("dim[0] is " + std::to_string(rank) + ", expected 1 to 7 (the number of dimensions)");
  std::string size_text;
  for (int d = 1; d <= rank; ++d) {
    const int16_t n = field<int16_t>(h, kDim + 2 * d, f.swapped);
    if (n < 1) throw bad("dim[" + std::to_string(d) + "] is " + std::to_string(n) + ", expected at least 1");
    size_text += (d > 1 ? "x" : "") + std::to_string(n);
    if (d <= 3) f.shape[d - 1] = n;
  }
  const int16_t dim4 = field<int16_t>(h, kDim + 8, f.swapped), dim5 = field<int16_t>(h, kDim + 10, f.swapped);
  const int components = layout == NiftiLayout::DisplacementField ? 3 : 1;
  if (layout == NiftiLayout::Volume && !(rank == 3 || (rank == 4 && dim4 == 1)))
    throw bad("expected a 3D volume, found " + std::to_string(rank) + "D image of size " + size_text);
  if (layout == NiftiLayout::Volumes && !(rank == 3 || rank == 4))
    throw bad("expected a 3D volume or a 4D image of volumes (one per channel), found " + std::to_string(rank) +
              "D image of size " + size_text);
  if (layout == NiftiLayout::Volumes && rank == 4) f.volumes = dim4;
  if (layout == NiftiLayout::DisplacementField && !(rank == 5 && dim4 == 1 && dim5 == components))
    throw bad("expected a displacement field (dim x, y, z, 1, " + std::to_string(components) + ": " + std::to_string(components) +
              " components per voxel, as ANTs' *Warp.nii.gz), found an image of size " + size_text);

  f.datatype = field<int16_t>(h, kDatatype, f.swapped);
  std::size_t value_bytes = 0;
  if (!with_type(f.datatype, [&](auto zero) { value_bytes = sizeof zero; }))
    throw bad("datatype " + std::to_string(f.datatype) + datatype_name(f.datatype) +
              " is not a real-valued scalar type (expected one of uint8, int8, int16, uint16, int32, uint32, int64, "
              "uint64, float32, float64)");

  // ITK's reader trusts both; a bitpix that disagrees with the datatype corrupted its heap (bench/fuzz).
  const int16_t bitpix = field<int16_t>(h, kBitpix, f.swapped);
  if (bitpix != static_cast<int16_t>(8 * value_bytes))
    throw bad("bitpix is " + std::to_string(bitpix) + " but datatype " + std::to_string(f.datatype) + datatype_name(f.datatype) +
              " has " + std::to_string(8 * value_bytes) + " bits per value (expected them to agree)");

  if (components > 1) {
    // ITK reads a vector per voxel only under intent_code 1007 (NIFTI_INTENT_VECTOR): under any other it
    // reads a scalar image and copies each x displacement into all three components, silently wrong.
    const int16_t intent = field<int16_t>(h, kIntentCode, f.swapped);
    if (intent != 1007)
      throw bad("intent_code is " + std::to_string(intent) + ", expected 1007 (NIFTI_INTENT_VECTOR: one " +
                std::to_string(components) + "-vector per voxel, as ITK and ANTs write displacement fields)");
    // ITK's reader scales vector images wrongly: float values only in the first third of its buffer (the
    // rest keeps the stored values), integer ones through a float copy that it then writes into its
    // buffer with a whole vector's bytes per component, three times the image, past the buffer's end
    // (heap corruption, bench/fuzz). It scales whenever scl_inter is not 0, even where scl_slope is 0.
    const float slope = field<float>(h, kSclSlope, f.swapped), inter = field<float>(h, kSclInter, f.swapped);
    if (!((slope == 0 || slope == 1) && inter == 0))
      throw bad("scl_slope is " + exact(slope) + " and scl_inter " + exact(inter) + ", expected 0 or 1 and 0 (an unscaled "
                "displacement field, as ITK and ANTs write them: ITK's reader scales vector images wrongly)");
  }

  const float vox_offset = field<float>(h, kVoxOffset, f.swapped);
  if (!(vox_offset >= 352 && vox_offset <= 1e9f)) throw bad("vox_offset is " + number(vox_offset) + ", expected at least 352");
  f.vox_offset = static_cast<std::size_t>(vox_offset);
  const std::size_t count = static_cast<std::size_t>(f.shape[0] * f.shape[1] * f.shape[2] * components * f.volumes);
  const std::size_t end = f.vox_offset + count * value_bytes;  // < 2^64: four dims below 2^15, at most 8 bytes a value
  if (end > available && compressed > 0)
    throw bad("dim (" + size_text + ") and datatype " + std::to_string(f.datatype) + " need " + std::to_string(end) +
              " bytes, more than a gzip file of " + std::to_string(compressed) + " bytes can inflate to (the file is "
              "truncated or its header is wrong)");
  if (end > available)
    throw bad("ends after " + std::to_string(available < f.vox_offset ? 0 : (available - f.vox_offset) / value_bytes) + " of " +
              std::to_string(count) + " voxels (dim " + size_text + ", " + std::to_string(value_bytes) + " bytes each)");

  // Voxel sizes and positions are millimetres: a metre-sized voxel or a position a kilometre away is a
  // corrupt header, and ITK's float SVD of the affine loops for ever on some such values (an srow of
  // 1e12 beside a 1e-38, bench/fuzz), so no header reaches ITK with them.
  const auto check_millimetres = [&](const std::string& name, float v) {
    if (!std::isfinite(v)) throw bad(name + " is " + number(v) + ", expected a finite number");
    if (std::abs(v) > kMaxMillimetres)
      throw bad(name + " is " + exact(v) + ", expected millimetres, at most " + number(kMaxMillimetres) + " in magnitude");
  };
  for (int a = 1; a <= 3; ++a) {
    const float p = field<float>(h, kPixdim + 4 * a, f.swapped);
    const std::string name = "pixdim[" + std::to_string(a) + "]";
    if (!(p > 0)) throw bad(name + " is " + number(p) + ", expected a positive voxel size");
    check_millimetres(name, p);
  }
  const int16_t qform_code = field<int16_t>(h, kQformCode, f.swapped), sform_code = field<int16_t>(h, kSformCode, f.swapped);
  if (qform_code <= 0 && sform_code <= 0)
    throw bad("qform_code and sform_code are both " + std::to_string(std::max(qform_code, sform_code)) +
              ": the file does not say where its voxels are in the world (expected a qform or sform, e.g. set by the "
              "scanner's converter, nibabel's set_qform/set_sform or fslorient)");
  if (qform_code > 0)
    for (int q = 0; q < 6; ++q) {
      const float v = field<float>(h, kQuatern + 4 * q, f.swapped);
      const std::string name = std::string(q < 3 ? "quatern_" : "qoffset_") + "bcdxyz"[q];
      if (q < 3 && !std::isfinite(v)) throw bad(name + " is " + number(v) + ", expected a finite number");
      if (q >= 3) check_millimetres(name, v);
    }
  if (sform_code > 0) {
    std::array<std::array<double, 4>, 3> m;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) {
        const float v = field<float>(h, kSrow + 16 * r + 4 * c, f.swapped);
        check_millimetres(std::string("srow_") + "xyz"[r] + "[" + std::to_string(c) + "]", v);
        m[r][c] = v;
      }
    const auto column = [&](int c) { return std::sqrt(m[0][c] * m[0][c] + m[1][c] * m[1][c] + m[2][c] * m[2][c]); };
    const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                       m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if (!(std::abs(det) > 1e-6 * column(0) * column(1) * column(2)) || column(0) * column(1) * column(2) == 0)
      throw bad("the sform (srow_x/y/z) is singular: its voxel axes do not span space (expected an invertible affine)");
    f.sform = m;
  }
  return end;
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

}  // namespace

NiftiFile read_nifti_file(const std::string& path, NiftiLayout layout) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) throw std::runtime_error("\"" + path + "\": no such file");
  if (fs::is_directory(status)) throw std::runtime_error("\"" + path + "\": is a directory, expected a NIfTI file");
  if (!fs::is_regular_file(status)) throw std::runtime_error("\"" + path + "\": is not a regular file, expected a NIfTI file");

  NiftiFile f;
  f.path = path;
  const auto too_short = [&](std::size_t n) {
    return std::runtime_error("\"" + path + "\": shorter than a NIfTI-1 header (" + std::to_string(n) + " bytes)");
  };
  std::vector<unsigned char> bytes = file_bytes(path);
  if (nifti_extension(path) == ".nii.gz") {
    // The header first (348 bytes inflated), so that its sizes are checked before the voxels are inflated.
    const std::vector<unsigned char> header = gunzip(bytes, path, kHeaderBytes);
    if (header.size() < kHeaderBytes) throw too_short(header.size());
    const std::size_t end = check_header(header.data(), max_inflated_size(bytes.size()), bytes.size(), layout, f);
    bytes = gunzip(bytes, path, end + 1);  // one byte more: a stream that ends there is read to its checksum
  }
  if (bytes.size() < kHeaderBytes) throw too_short(bytes.size());
  check_header(bytes.data(), bytes.size(), 0, layout, f);
  f.bytes = std::move(bytes);
  return f;
}

std::vector<float> decode_voxels(const NiftiFile& f, int64_t volume) {
  if (volume < 0 || volume >= f.volumes) throw std::out_of_range("decode_voxels: no volume " + std::to_string(volume));
  const unsigned char* h = f.bytes.data();
  const double slope = field<float>(h, kSclSlope, f.swapped), inter = field<float>(h, kSclInter, f.swapped);
  const bool scaled = slope != 0 && std::isfinite(slope) && std::isfinite(inter) && (slope != 1 || inter != 0);
  const std::size_t n = static_cast<std::size_t>(f.shape[0] * f.shape[1] * f.shape[2]);
  std::vector<float> voxels(n);
  with_type(f.datatype, [&](auto zero) {
    const unsigned char* first = h + f.vox_offset + static_cast<std::size_t>(volume) * n * sizeof zero;
    decode<decltype(zero)>(first, f.swapped, scaled, slope, inter, f.shape, voxels.data());
  });
  return voxels;
}

std::vector<int64_t> nifti_dims(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return {};  // a FIFO would block the open
  std::vector<unsigned char> h;
  try {
    if (nifti_extension(path) == ".nii.gz") {
      // The header from the file's first 64 KiB (gzip's own header is far shorter), else from all of it.
      std::ifstream in(path, std::ios::binary);
      std::vector<unsigned char> head(std::size_t{1} << 16);
      in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
      head.resize(static_cast<std::size_t>(in.gcount()));
      try {
        h = gunzip(head, path, kHeaderBytes);
      } catch (const std::exception&) {
        h.clear();
      }
      if (h.size() < kHeaderBytes && head.size() == std::size_t{1} << 16) h = gunzip(file_bytes(path), path, kHeaderBytes);
    } else {
      std::ifstream in(path, std::ios::binary);
      h.resize(kHeaderBytes);
      in.read(reinterpret_cast<char*>(h.data()), static_cast<std::streamsize>(h.size()));
      h.resize(static_cast<std::size_t>(in.gcount()));
    }
  } catch (const std::exception&) {
    return {};  // read_nifti_file says what is wrong
  }
  if (h.size() < kHeaderBytes) return {};
  const bool swapped = field<int32_t>(h.data(), kSizeofHdr, false) != 348;
  if (field<int32_t>(h.data(), kSizeofHdr, swapped) != 348) return {};
  std::vector<int64_t> dims;
  const int16_t rank = field<int16_t>(h.data(), kDim, swapped);
  for (int d = 1; d <= rank && d <= 7; ++d) dims.push_back(field<int16_t>(h.data(), kDim + 2 * d, swapped));
  return dims;
}

}  // namespace mlens::io
