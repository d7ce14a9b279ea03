#include "io/itk_image.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
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

Volume from_itk(const ItkImage* image) {
  const auto size = image->GetLargestPossibleRegion().GetSize();
  Volume v;
  for (int a = 0; a < 3; ++a) {
    v.shape[a] = static_cast<int64_t>(size[a]);
    v.geometry.spacing[a] = image->GetSpacing()[a];
    v.geometry.origin[a] = image->GetOrigin()[a];
    for (int b = 0; b < 3; ++b) v.geometry.direction[3 * a + b] = image->GetDirection()(a, b);
  }
  v.voxels.resize(static_cast<std::size_t>(v.size()));
  const float* itk = image->GetBufferPointer();
  for_each_voxel(v.shape, [&](int64_t from, int64_t to) { v.voxels[to] = itk[from]; });
  return v;
}

}  // namespace mlens::io

namespace mlens::io {

void write_nifti(const std::string& path, const std::function<void(const std::string&)>& write) {
  const bool gzip = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    throw std::runtime_error("\"" + path + "\": cannot write, the directory \"" + parent.string() + "\" does not exist");
  write_atomically(path, [&](const std::string& tmp) {
    const std::string nii = gzip ? tmp.substr(0, tmp.size() - 3) : tmp;
    try {
      write(nii);
    } catch (const itk::ExceptionObject& e) {
      std::filesystem::remove(nii);
      throw std::runtime_error("\"" + path + "\": writing failed (" + e.GetDescription() + ")");
    }
    if (!gzip) return;
    std::ifstream in(nii, std::ios::binary);
    gzFile out = gzopen(tmp.c_str(), "wb1R");
    bool ok = out != nullptr;
    std::vector<char> buffer(1 << 20);
    while (ok && in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto n = static_cast<unsigned>(in.gcount());
      ok = n == 0 || gzwrite(out, buffer.data(), n) == static_cast<int>(n);
    }
    ok = (out && gzclose(out) == Z_OK) && ok;
    in.close();
    std::filesystem::remove(nii);
    if (!ok) throw std::runtime_error("\"" + path + "\": writing failed (gzip)");
  });
}

}  // namespace mlens::io
