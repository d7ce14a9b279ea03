#include "io/itk_image.h"

#include <itkImageFileWriter.h>
#include <itkNiftiImageIO.h>
#include <itkPixelTraits.h>
#include <itkVector.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "io/atomic_file.h"

namespace mlens::io {
namespace {

// Calls f(itk_offset, engine_offset) for every voxel.
template <typename F>
void for_each_voxel(const std::array<int64_t, 3>& n, F&& f) {
  for (int64_t i = 0; i < n[0]; ++i)
    for (int64_t j = 0; j < n[1]; ++j)
      for (int64_t k = 0; k < n[2]; ++k) f(i + n[0] * (j + n[1] * k), (i * n[1] + j) * n[2] + k);
}

}  // namespace

ItkImage::Pointer to_itk(const Volume& volume) {
  auto image = ItkImage::New();
  ItkImage::RegionType region;
  ItkImage::SpacingType spacing;
  ItkImage::PointType origin;
  ItkImage::DirectionType direction;
  for (int a = 0; a < 3; ++a) {
    region.SetSize(a, static_cast<itk::SizeValueType>(volume.shape[a]));
    spacing[a] = volume.geometry.spacing[a];
    origin[a] = volume.geometry.origin[a];
    for (int b = 0; b < 3; ++b) direction(a, b) = volume.geometry.direction[3 * a + b];
  }
  image->SetRegions(region);
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate();
  float* itk = image->GetBufferPointer();
  if (!volume.voxels.empty()) for_each_voxel(volume.shape, [&](int64_t to, int64_t from) { itk[to] = volume.voxels[from]; });
  return image;
}

void copy_grid(const itk::ImageBase<3>& image, Volume& v) {
  const auto size = image.GetLargestPossibleRegion().GetSize();
  for (int a = 0; a < 3; ++a) {
    v.shape[a] = static_cast<int64_t>(size[a]);
    v.geometry.spacing[a] = image.GetSpacing()[a];
    v.geometry.origin[a] = image.GetOrigin()[a];
    for (int b = 0; b < 3; ++b) v.geometry.direction[3 * a + b] = image.GetDirection()(a, b);
  }
}

Volume from_itk(const ItkImage* image) {
  Volume v;
  copy_grid(*image, v);
  v.voxels.resize(static_cast<std::size_t>(v.size()));
  const float* itk = image->GetBufferPointer();
  for_each_voxel(v.shape, [&](int64_t from, int64_t to) { v.voxels[to] = itk[from]; });
  return v;
}

namespace {

// The NIfTI-1 header ITK writes for `image`, with everything up to the voxels (header and extensions):
// ITK writes a one-voxel image of the same pixel type and geometry to `scratch`, and dim[1..3] are
// then set to the image's size. Nothing else in the header depends on the size.
template <typename Image>
std::string nifti_header(const Image& image, const std::string& scratch) {
  auto one = Image::New();
  one->CopyInformation(&image);
  typename Image::RegionType region = image.GetLargestPossibleRegion();
  for (unsigned a = 0; a < 3; ++a) region.SetSize(a, 1);
  one->SetRegions(region);
  one->Allocate(true);
  auto writer = itk::ImageFileWriter<Image>::New();
  writer->SetImageIO(itk::NiftiImageIO::New());
  writer->SetFileName(scratch);
  writer->SetInput(one);
  std::string bytes;
  try {
    writer->Update();
    std::ifstream in(scratch, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  } catch (...) {
    std::filesystem::remove(scratch);
    throw;
  }
  std::filesystem::remove(scratch);
  float vox_offset = 0;
  if (bytes.size() >= 348) std::memcpy(&vox_offset, bytes.data() + 108, sizeof vox_offset);
  if (bytes.size() < 352 || vox_offset < 352 || vox_offset > bytes.size())
    throw std::runtime_error("ITK wrote no NIfTI-1 header to \"" + scratch + "\"");
  bytes.resize(static_cast<std::size_t>(vox_offset));
  const auto size = image.GetLargestPossibleRegion().GetSize();
  for (unsigned a = 0; a < 3; ++a) {
    if (size[a] > 32767) throw std::runtime_error("a NIfTI-1 file holds at most 32767 voxels per axis");
    const int16_t dim = static_cast<int16_t>(size[a]);
    std::memcpy(bytes.data() + 42 + 2 * a, &dim, sizeof dim);  // dim[1 + a]
  }
  return bytes;
}

}  // namespace

template <typename Image>
void write_nifti(const std::string& path, const Image& image) {
  using Pixel = typename Image::PixelType;
  using Value = typename itk::PixelTraits<Pixel>::ValueType;
  constexpr unsigned components = itk::PixelTraits<Pixel>::Dimension;
  const bool gzip = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    throw std::runtime_error("\"" + path + "\": cannot write, the directory \"" + parent.string() + "\" does not exist");
  write_atomically(path, [&](const std::string& tmp) {
    std::string header;
    try {
      header = nifti_header(image, tmp + ".header.nii");
    } catch (const itk::ExceptionObject& e) {
      throw std::runtime_error("\"" + path + "\": writing failed (" + e.GetDescription() + ")");
    }
    // "T": zlib writes a plain file, for .nii.
    gzFile out = gzopen(tmp.c_str(), gzip ? "wb1R" : "wbT");
    if (!out) throw std::runtime_error("\"" + path + "\": cannot open \"" + tmp + "\" for writing");
    bool ok = gzwrite(out, header.data(), static_cast<unsigned>(header.size())) == static_cast<int>(header.size());
    // NIfTI stores vector components as its 5th dimension: all first components, then all second, ...
    const std::size_t voxels = image.GetLargestPossibleRegion().GetNumberOfPixels();
    const Value* values = reinterpret_cast<const Value*>(image.GetBufferPointer());
    std::vector<Value> chunk(std::min<std::size_t>(voxels, std::size_t{1} << 18));
    for (unsigned c = 0; c < components && ok; ++c)
      for (std::size_t first = 0; first < voxels && ok; first += chunk.size()) {
        const std::size_t n = std::min(chunk.size(), voxels - first);
        const Value* src = values + first * components + c;
        if (components == 1) {
          ok = gzwrite(out, src, static_cast<unsigned>(n * sizeof(Value))) == static_cast<int>(n * sizeof(Value));
          continue;
        }
        for (std::size_t i = 0; i < n; ++i) chunk[i] = src[i * components];
        ok = gzwrite(out, chunk.data(), static_cast<unsigned>(n * sizeof(Value))) == static_cast<int>(n * sizeof(Value));
      }
    ok = gzclose(out) == Z_OK && ok;
    if (!ok) throw std::runtime_error("\"" + path + "\": writing failed (disk full?)");
  });
}

template void write_nifti(const std::string&, const itk::Image<float, 3>&);
template void write_nifti(const std::string&, const itk::Image<int16_t, 3>&);
template void write_nifti(const std::string&, const itk::Image<uint8_t, 3>&);
template void write_nifti(const std::string&, const itk::Image<itk::Vector<float, 3>, 3>&);

}  // namespace mlens::io
