#include "io/volume.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkNiftiImageIO.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/itk_image.h"
#include "io/nifti_file.h"
#include "io/paths.h"

namespace mlens::io {
namespace {

void require_nifti_name(const std::string& path) {
  if (nifti_extension(path).empty())
    throw std::runtime_error("\"" + path + "\": expected a NIfTI file name ending in .nii or .nii.gz");
}

// Which affine places the voxels: the sform when its code is set, else the qform, as nibabel's
// get_best_affine and FSL decide (the study read its images with nibabel). ITK 5.2 prefers the qform,
// which matters for files whose two disagree: Debian's JHU-WhiteMatter-labels-2mm.nii.gz has a valid
// sform and a qform whose qfac = -1 flips the z axis, so ITK alone would put that MNI grid 180 mm too low.
void use_sform(const std::array<std::array<double, 4>, 3>& m, Geometry& g) {  // RAS mm = M · (i, j, k, 1)
  for (int a = 0; a < 3; ++a) {
    const double norm = std::sqrt(m[0][a] * m[0][a] + m[1][a] * m[1][a] + m[2][a] * m[2][a]);  // > 0: checked
    g.spacing[a] = norm;
    for (int r = 0; r < 3; ++r) g.direction[3 * r + a] = (r < 2 ? -1.0 : 1.0) * m[r][a] / norm;  // RAS → LPS
  }
  g.origin = {-m[0][3], -m[1][3], m[2][3]};
}

// The grid of a checked file: ITK's qform geometry (without reading the voxels), or the sform's.
Volume read_grid(const std::string& path, const NiftiFile& file) {
  auto nifti = itk::NiftiImageIO::New();
  nifti->SetFileName(path);
  auto reader = itk::ImageFileReader<ItkImage>::New();
  reader->SetImageIO(nifti);
  reader->SetFileName(path);
  try {
    reader->UpdateOutputInformation();
  } catch (const itk::ExceptionObject& e) {
    throw std::runtime_error("\"" + path + "\": not a readable NIfTI file (" + e.GetDescription() + ")");
  }
  Volume v;
  copy_grid(*reader->GetOutput(), v);
  if (v.shape != file.shape) throw std::runtime_error("\"" + path + "\": ITK read another size than the header's dim");
  if (file.sform) use_sform(*file.sform, v.geometry);
  return v;
}

}  // namespace

Volume read_volume(const std::string& path) {
  require_nifti_name(path);
  const NiftiFile file = read_nifti_file(path);  // every field checked before ITK reads the header
  Volume v = read_grid(path, file);
  v.voxels = decode_voxels(file);  // mlens decodes the voxels
  return v;
}

std::vector<Volume> read_volumes(const std::string& path) {
  require_nifti_name(path);
  const NiftiFile file = read_nifti_file(path, NiftiLayout::Volumes);
  const Volume grid = read_grid(path, file);
  std::vector<Volume> volumes(static_cast<std::size_t>(file.volumes), grid);
  for (int64_t c = 0; c < file.volumes; ++c) volumes[static_cast<std::size_t>(c)].voxels = decode_voxels(file, c);
  return volumes;
}

void write_volume(const std::string& path, const Volume& volume, StoredAs stored_as) {
  require_nifti_name(path);
  if (static_cast<int64_t>(volume.voxels.size()) != volume.size())
    throw std::invalid_argument("write_volume(\"" + path + "\"): voxel count does not match the shape");
  switch (stored_as) {
    case StoredAs::Float32: return write_nifti<float>(path, volume);
    case StoredAs::Int16: return write_nifti<int16_t>(path, volume);
    case StoredAs::UInt8: return write_nifti<uint8_t>(path, volume);
  }
}

void write_volume(const std::string& path, const Volume64& volume) {
  require_nifti_name(path);
  if (static_cast<int64_t>(volume.voxels.size()) != volume.size())
    throw std::invalid_argument("write_volume(\"" + path + "\"): voxel count does not match the shape");
  write_nifti<double>(path, volume);
}

template <typename T>
void write_volumes(const std::string& path, const std::vector<BasicVolume<T>>& volumes) {
  require_nifti_name(path);
  if (volumes.empty()) throw std::invalid_argument("write_volumes(\"" + path + "\"): no volumes");
  std::vector<const BasicVolume<T>*> series;
  for (const BasicVolume<T>& v : volumes) {
    if (static_cast<int64_t>(v.voxels.size()) != v.size() || v.shape != volumes[0].shape)
      throw std::invalid_argument("write_volumes(\"" + path + "\"): the volumes differ in size or their voxel counts do not match");
    series.push_back(&v);
  }
  write_nifti<T>(path, series);
}
template void write_volumes(const std::string&, const std::vector<Volume>&);
template void write_volumes(const std::string&, const std::vector<Volume64>&);

void require_values(const Volume& v, const std::string& name, double lo, double hi, const std::string& expected) {
  std::size_t not_finite = 0, outside = 0, first = v.voxels.size();
  for (std::size_t i = 0; i < v.voxels.size(); ++i) {
    const float x = v.voxels[i];
    const bool finite = std::isfinite(x), in_range = x >= lo && x <= hi;
    not_finite += !finite;
    outside += finite && !in_range;
    if ((!finite || !in_range) && first == v.voxels.size()) first = i;
  }
  if (first == v.voxels.size()) return;
  const int64_t k = static_cast<int64_t>(first) % v.shape[2], j = static_cast<int64_t>(first) / v.shape[2] % v.shape[1],
                i = static_cast<int64_t>(first) / v.shape[2] / v.shape[1];
  std::ostringstream s;
  s << "\"" << name << "\": ";
  if (not_finite > 0) s << not_finite << " voxel(s) are not finite numbers";
  if (outside > 0) s << (not_finite > 0 ? " and " : "") << outside << " outside [" << lo << ", " << hi << "]";
  const float x = v.voxels[first];
  s << " (the first, at voxel (" << i << ", " << j << ", " << k << "), is "
    << (std::isnan(x) ? std::string("NaN") : std::isinf(x) ? std::string("infinite") : std::to_string(x)) << ")";
  if (!expected.empty()) s << "; expected " << expected;
  throw std::invalid_argument(s.str());
}

std::string describe_grid(const Volume& v) {
  std::ostringstream s;
  s << v.shape[0] << "x" << v.shape[1] << "x" << v.shape[2] << ", spacing (" << v.geometry.spacing[0] << ", "
    << v.geometry.spacing[1] << ", " << v.geometry.spacing[2] << "), origin (" << v.geometry.origin[0] << ", "
    << v.geometry.origin[1] << ", " << v.geometry.origin[2] << "), direction (";
  for (int i = 0; i < 9; ++i) s << (i ? (i % 3 ? ", " : "; ") : "") << v.geometry.direction[i];
  s << ")";
  return s.str();
}

void require_same_grid(const Volume& a, const std::string& a_name, const Volume& b, const std::string& b_name) {
  bool same = a.shape == b.shape;
  for (int i = 0; i < 3 && same; ++i)
    same = std::abs(a.geometry.spacing[i] - b.geometry.spacing[i]) < 1e-3 &&
           std::abs(a.geometry.origin[i] - b.geometry.origin[i]) < 1e-3;
  for (int i = 0; i < 9 && same; ++i) same = std::abs(a.geometry.direction[i] - b.geometry.direction[i]) < 1e-5;
  if (!same)
    throw std::invalid_argument("\"" + a_name + "\" and \"" + b_name +
                                "\" are not on the same voxel grid (mlens does not resample silently; bring one into "
                                "the other's grid first):\n  " + a_name + ": " + describe_grid(a) + "\n  " + b_name +
                                ": " + describe_grid(b));
}

}  // namespace mlens::io
