#include "io/itk_image.h"

#include <itkImageFileWriter.h>
#include <itkNiftiImageIO.h>
#include <itkPixelTraits.h>
#include <itkVector.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "io/atomic_file.h"
#include "io/axis_order.h"
#include "io/gzip.h"

namespace mlens::io {
namespace {

// A voxel as stored: integers rounded and clipped to the type's range.
template <typename Pixel, typename T>
Pixel stored(T v) {
  if constexpr (std::is_floating_point_v<Pixel>) {
    return static_cast<Pixel>(v);
  } else {
    constexpr T lo = std::numeric_limits<Pixel>::min(), hi = std::numeric_limits<Pixel>::max();
    return static_cast<Pixel>(std::clamp(std::round(v), lo, hi));
  }
}

// An ITK image with the volume's size and geometry, without voxels.
template <typename T>
ItkImage::Pointer to_itk_grid(const BasicVolume<T>& volume) {
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
  return image;
}

}  // namespace

ItkImage::Pointer to_itk(const Volume& volume) {
  ItkImage::Pointer image = to_itk_grid(volume);
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
std::string nifti_header(const Image& image, const std::string& scratch, int16_t volumes = 1) {
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
  if (volumes > 1) {  // a 4D image: dim[0] = 4, dim[4] = the count, pixdim[4] = 1 (no time step)
    const int16_t rank = 4;
    const float step = 1;
    std::memcpy(bytes.data() + 40, &rank, sizeof rank);
    std::memcpy(bytes.data() + 48, &volumes, sizeof volumes);
    std::memcpy(bytes.data() + 92, &step, sizeof step);
  }
  return bytes;
}


// Writes `header`, then the voxel bytes `voxels(emit)` passes to emit(data, bytes) in file order:
// gzipped for .nii.gz, atomically. Errors name `path`.
template <typename Header, typename Voxels>
void write_nifti_file(const std::string& path, Header&& header, Voxels&& voxels) {
  const bool gzip = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  write_atomically(path, [&](const std::string& tmp) {
    std::string bytes;
    try {
      bytes = header(tmp + ".header.nii");
    } catch (const itk::ExceptionObject& e) {
      throw std::runtime_error("\"" + path + "\": writing failed (" + e.GetDescription() + ")");
    }
    FileSink out(tmp, gzip, path);
    out.write(bytes.data(), bytes.size());
    voxels([&](const void* data, std::size_t n) { out.write(data, n); });
    out.close();
  });
}

}  // namespace

template <typename Image>
void write_nifti(const std::string& path, const Image& image) {
  using Pixel = typename Image::PixelType;
  using Value = typename itk::PixelTraits<Pixel>::ValueType;
  constexpr unsigned components = itk::PixelTraits<Pixel>::Dimension;
  write_nifti_file(path, [&](const std::string& scratch) { return nifti_header(image, scratch); }, [&](const auto& emit) {
    // NIfTI stores vector components as its 5th dimension: all first components, then all second, ...
    const std::size_t voxels = image.GetLargestPossibleRegion().GetNumberOfPixels();
    const Value* values = reinterpret_cast<const Value*>(image.GetBufferPointer());
    if (components == 1) return emit(values, voxels * sizeof(Value));
    std::vector<Value> chunk(std::min<std::size_t>(voxels, std::size_t{1} << 18));
    for (unsigned c = 0; c < components; ++c)
      for (std::size_t first = 0; first < voxels; first += chunk.size()) {
        const std::size_t n = std::min(chunk.size(), voxels - first);
        const Value* src = values + first * components + c;
        for (std::size_t i = 0; i < n; ++i) chunk[i] = src[i * components];
        emit(chunk.data(), n * sizeof(Value));
      }
  });
}

template <typename Pixel, typename T>
void write_nifti(const std::string& path, const std::vector<const BasicVolume<T>*>& volumes) {
  if (volumes.empty() || volumes.size() > 32767) throw std::invalid_argument("write_nifti: 1 to 32767 volumes");
  using Image = itk::Image<Pixel, 3>;
  auto grid = Image::New();  // size and geometry only: ITK writes just the header
  grid->CopyInformation(to_itk_grid(*volumes[0]));
  const auto count = static_cast<int16_t>(volumes.size());
  write_nifti_file(path, [&](const std::string& scratch) { return nifti_header(*grid, scratch, count); }, [&](const auto& emit) {
    // ~1 MB of whole k-slabs at a time, from the engine's order (k fastest) into the file's (i fastest).
    const auto& n = volumes[0]->shape;
    const int64_t slab = n[0] * n[1], slabs = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(1, slab));
    std::vector<Pixel> chunk(static_cast<std::size_t>(slab * std::min(slabs, n[2])));
    for (const BasicVolume<T>* volume : volumes)
      for (int64_t k0 = 0; k0 < n[2]; k0 += slabs) {
        const int64_t k1 = std::min(n[2], k0 + slabs);
        const int64_t first = slab * k0;
        for_each_voxel_in_slabs(n, k0, k1, [&](int64_t file, int64_t engine) {
          chunk[static_cast<std::size_t>(file - first)] = stored<Pixel, T>(volume->voxels[static_cast<std::size_t>(engine)]);
        });
        emit(chunk.data(), static_cast<std::size_t>(slab * (k1 - k0)) * sizeof(Pixel));
      }
  });
}

template <typename Pixel, typename T>
void write_nifti(const std::string& path, const BasicVolume<T>& volume) {
  write_nifti<Pixel, T>(path, std::vector<const BasicVolume<T>*>{&volume});
}

template void write_nifti(const std::string&, const itk::Image<itk::Vector<float, 3>, 3>&);
template void write_nifti<float>(const std::string&, const Volume&);
template void write_nifti<int16_t>(const std::string&, const Volume&);
template void write_nifti<uint8_t>(const std::string&, const Volume&);
template void write_nifti<double>(const std::string&, const Volume64&);
template void write_nifti<float>(const std::string&, const std::vector<const Volume*>&);
template void write_nifti<double>(const std::string&, const std::vector<const Volume64*>&);

}  // namespace mlens::io
