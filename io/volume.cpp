#include "io/volume.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkNiftiImageIO.h>
#include <nifti1_io.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/itk_image.h"
#include "io/nifti_voxels.h"
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
void use_sform_when_present(const std::string& path, Geometry& g) {
  nifti_image* header = nifti_image_read(path.c_str(), 0);
  if (!header) return;
  if (header->sform_code > 0) {
    const auto& m = header->sto_xyz.m;  // RAS mm = M · (i, j, k, 1)
    for (int a = 0; a < 3; ++a) {
      const double norm = std::sqrt(double(m[0][a]) * m[0][a] + double(m[1][a]) * m[1][a] + double(m[2][a]) * m[2][a]);
      if (norm <= 0) continue;
      g.spacing[a] = norm;
      for (int r = 0; r < 3; ++r) g.direction[3 * r + a] = (r < 2 ? -1.0 : 1.0) * m[r][a] / norm;  // RAS → LPS
    }
    g.origin = {-double(m[0][3]), -double(m[1][3]), double(m[2][3])};
  }
  nifti_image_free(header);
}

}  // namespace

Volume read_volume(const std::string& path) {
  require_nifti_name(path);
  if (!std::filesystem::exists(path)) throw std::runtime_error("\"" + path + "\": no such file");

  auto nifti = itk::NiftiImageIO::New();
  nifti->SetFileName(path);
  try {
    nifti->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    throw std::runtime_error("\"" + path + "\": not a readable NIfTI file (" + e.GetDescription() + ")");
  }
  const unsigned dims = nifti->GetNumberOfDimensions();
  std::string dims_text;
  for (unsigned d = 0; d < dims; ++d) dims_text += (d ? "x" : "") + std::to_string(nifti->GetDimensions(d));
  bool accepted = dims == 3 || (dims == 4 && nifti->GetDimensions(3) == 1);
  if (!accepted)
    throw std::runtime_error("\"" + path + "\": expected a 3D volume, found " + std::to_string(dims) +
                             "D image of size " + dims_text);
  if (nifti->GetNumberOfComponents() != 1)
    throw std::runtime_error("\"" + path + "\": expected one value per voxel, found " +
                             std::to_string(nifti->GetNumberOfComponents()) + " components");

  // ITK's reader gives the geometry (without reading the voxels); mlens decodes the voxels.
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
  v.voxels = read_nifti_voxels(path, v.shape);
  use_sform_when_present(path, v.geometry);
  return v;
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
