#include "io/warp.h"

#include <itkCompositeTransform.h>
#include <itkDisplacementFieldTransform.h>
#include <itkHDF5TransformIOFactory.h>
#include <itkImageFileReader.h>
#include <itkLinearInterpolateImageFunction.h>
#include <itkMatlabTransformIOFactory.h>
#include <itkMatrixOffsetTransformBase.h>
#include <itkNearestNeighborInterpolateImageFunction.h>
#include <itkNiftiImageIO.h>
#include <itkResampleImageFilter.h>
#include <itkTransformFactory.h>
#include <itkTransformFileReader.h>
#include <itkTxtTransformIOFactory.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>

#include "io/contained.h"
#include "io/itk_image.h"
#include "io/nifti_file.h"
#include "io/paths.h"

namespace mlens::io {
namespace {

using Transform = itk::Transform<double, 3, 3>;
using Composite = itk::CompositeTransform<double, 3>;
using FieldImage = itk::Image<itk::Vector<double, 3>, 3>;

}  // namespace

void register_transform_io() {
  static std::once_flag once;
  std::call_once(once, [] {
    itk::MatlabTransformIOFactory::RegisterOneFactory();
    itk::TxtTransformIOFactory::RegisterOneFactory();
    itk::HDF5TransformIOFactory::RegisterOneFactory();
    // ANTs writes its affines as MatrixOffsetTransformBase, which ITK's factory does not know by default.
    itk::TransformFactory<itk::MatrixOffsetTransformBase<double, 3, 3>>::RegisterTransform();
  });
}

namespace {

// The names ITK's HDF5TransformIO takes (it chooses the reader by extension).
bool is_hdf5_name(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* e : {".h5", ".hdf5", ".hdf", ".h4", ".hdf4", ".he4", ".he5", ".hd5"})
    if (ext == e) return true;
  return false;
}

// ANTs' *GenericAffine.mat is a MATLAB level-4 file, which ITK reads with vnl_matlab_read: it sizes its
// buffers from each matrix's header (a corrupt name length asked for 4 GB). The headers are checked
// against the bytes present first. Each matrix: five int32 (type = 1000·byte order + 100·orientation +
// 10·precision + kind, rows, columns, imaginary flag, name length), the name, then the values.
void check_matlab_v4(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto fail = [&](const std::string& what) {
    throw std::runtime_error("transform \"" + path + "\": not a MATLAB level-4 transform file (ANTs' .mat): " + what);
  };
  if (bytes.empty()) fail("the file is empty");
  std::size_t at = 0;
  for (int matrix = 1; at < bytes.size(); ++matrix) {
    const std::string which = "matrix " + std::to_string(matrix) + " at byte " + std::to_string(at);
    if (bytes.size() - at < 20) fail(which + ": a header needs 20 bytes, " + std::to_string(bytes.size() - at) + " left");
    // vnl reads either byte order; the type's thousands digit says which (0 little-, 1 big-endian).
    std::array<int64_t, 5> field{};
    for (const bool big : {false, true}) {
      for (int f = 0; f < 5; ++f) {
        uint32_t v = 0;
        for (int b = 0; b < 4; ++b)
          v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 4 * f + (big ? 3 - b : b)])) << (8 * b);
        field[f] = static_cast<int32_t>(v);
      }
      if (field[0] / 1000 == (big ? 1 : 0) && field[0] >= 0) break;
    }
    const int64_t type = field[0], rows = field[1], columns = field[2], imaginary = field[3], name_length = field[4];
    if (type < 0 || type >= 2000 || (type / 100) % 10 > 1 || (type / 10) % 10 > 1 || type % 10 != 0)
      fail(which + ": type " + std::to_string(type) + " (expected a numeric matrix of double or single precision)");
    if (rows < 0 || columns < 0 || (imaginary != 0 && imaginary != 1) || name_length < 1)
      fail(which + ": " + std::to_string(rows) + " rows, " + std::to_string(columns) + " columns, imaginary flag " +
           std::to_string(imaginary) + ", name length " + std::to_string(name_length));
    at += 20;
    const uint64_t value_bytes = static_cast<uint64_t>(rows) * static_cast<uint64_t>(columns) *
                                 ((type / 10) % 10 == 0 ? 8 : 4) * static_cast<uint64_t>(1 + imaginary);
    if (static_cast<uint64_t>(name_length) > bytes.size() - at || value_bytes > bytes.size() - at - name_length)
      fail(which + ": its name (" + std::to_string(name_length) + " bytes) and " + std::to_string(rows) + "x" +
           std::to_string(columns) + " values need more than the " + std::to_string(bytes.size() - at) + " bytes left");
    at += static_cast<std::size_t>(name_length + static_cast<int64_t>(value_bytes));
  }
}

// A transform file in one of ITK's formats (.txt/.tfm, .mat, .h5): its first transform.
Transform::Pointer read_transform_file(const std::string& path) {
  register_transform_io();
  auto reader = itk::TransformFileReaderTemplate<double>::New();
  reader->SetFileName(path);
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw std::runtime_error("transform \"" + path + "\": not a readable ITK/ANTs transform (" + e.GetDescription() + ")");
  }
  const auto* list = reader->GetTransformList();
  if (list->empty()) throw std::runtime_error("transform \"" + path + "\": the file holds no transform");
  auto* t = dynamic_cast<Transform*>(list->front().GetPointer());
  if (!t) throw std::runtime_error("transform \"" + path + "\": not a 3D transform");
  // A NaN moves every point to NaN, and inverting a matrix with a NaN aborts inside vnl's SVD, which
  // also loops for ever where its squares overflow. A registration's matrix entries are near 1 and its
  // offsets and centre a few hundred millimetres, so anything beyond 1e6 is a corrupt file.
  for (const auto& values : {t->GetParameters(), t->GetFixedParameters()})
    for (unsigned i = 0; i < values.Size(); ++i)
      if (!(std::abs(values[i]) <= 1e6))
        throw std::runtime_error("transform \"" + path + "\": parameter " + std::to_string(i) + " is " +
                                 std::to_string(values[i]) + " (expected finite values of magnitude at most 1e6)");
  return t;
}

Transform::Pointer read_one(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("transform \"" + path + "\": no such file");
  if (!nifti_extension(path).empty()) {
    // mlens checks the header first: ITK would read a scalar image into vectors by copying each
    // value into all three components, a displacement that is silently wrong.
    try {
      read_nifti_file(path, 3);
    } catch (const std::exception& e) {
      throw std::runtime_error("transform " + std::string(e.what()));
    }
    auto reader = itk::ImageFileReader<FieldImage>::New();
    reader->SetImageIO(itk::NiftiImageIO::New());
    reader->SetFileName(path);
    try {
      reader->Update();
    } catch (const itk::ExceptionObject& e) {
      throw std::runtime_error("transform \"" + path + "\": not a readable displacement field (" + e.GetDescription() + ")");
    }
    const FieldImage* image = reader->GetOutput();
    const auto* vectors = image->GetBufferPointer();
    for (size_t i = 0, n = image->GetPixelContainer()->Size(); i < n; ++i)
      for (int a = 0; a < 3; ++a)
        if (!std::isfinite(vectors[i][a]))
          throw std::runtime_error("transform \"" + path + "\": displacement " + std::to_string(i) +
                                   " is NaN or infinite (expected finite millimetres)");
    auto field = itk::DisplacementFieldTransform<double, 3>::New();
    field->SetDisplacementField(reader->GetOutput());
    return field.GetPointer();
  }
  if (!std::filesystem::is_regular_file(path)) throw std::runtime_error("transform \"" + path + "\": not a regular file");
  if (std::filesystem::path(path).extension() == ".mat") check_matlab_v4(path);
  if (is_hdf5_name(path)) {
    // ITK reads these with the HDF5 library, which can crash on corrupt metadata (io/contained.h): a
    // child reads the file first, the parent only once the child came through.
    read_contained(path, "HDF5", [&] { read_transform_file(path); }, hdf5_time_limit(path));
  }
  return read_transform_file(path);
}

}  // namespace

struct TransformChain::Impl {
  Composite::Pointer composite = Composite::New();
};

TransformChain::TransformChain() : impl_(std::make_unique<Impl>()) {}
TransformChain::~TransformChain() = default;
TransformChain::TransformChain(TransformChain&&) noexcept = default;
TransformChain& TransformChain::operator=(TransformChain&&) noexcept = default;

TransformChain TransformChain::read(const std::vector<std::string>& specs) {
  TransformChain chain;
  for (const std::string& spec : specs) {
    std::string path = spec;
    bool invert = false;
    if (!path.empty() && path[0] == '!') {
      invert = true;
      path = path.substr(1);
    } else if (path.size() > 4 && path.front() == '[' && path.compare(path.size() - 3, 3, ",1]") == 0) {
      invert = true;
      path = path.substr(1, path.size() - 4);
    }
    Transform::Pointer t = read_one(path);
    if (invert) {
      auto inverse = t->GetInverseTransform();
      if (!inverse)
        throw std::runtime_error("transform \"" + path + "\" cannot be inverted (for a displacement field use its "
                                 "inverse warp file, e.g. ANTs' *InverseWarp.nii.gz)");
      t = dynamic_cast<Transform*>(inverse.GetPointer());
    }
    // ITK applies a composite's transforms in reverse order of addition, as ANTs applies its -t list.
    chain.impl_->composite->AddTransform(t);
  }
  return chain;
}

std::array<double, 3> TransformChain::apply(const std::array<double, 3>& point) const {
  Composite::InputPointType p;
  for (int a = 0; a < 3; ++a) p[a] = point[a];
  const auto q = impl_->composite->TransformPoint(p);
  return {q[0], q[1], q[2]};
}

Volume warp(const Volume& input, const Volume& reference, const TransformChain& transforms, Interpolation interpolation,
            bool preserve_total) {
  const ItkImage::Pointer in = to_itk(input);
  Volume grid = reference;
  grid.voxels.clear();
  const ItkImage::Pointer ref = to_itk(grid);
  auto resample = itk::ResampleImageFilter<ItkImage, ItkImage, double>::New();
  resample->SetInput(in);
  resample->SetOutputParametersFromImage(ref);
  resample->SetDefaultPixelValue(0);
  resample->SetTransform(transforms.impl()->composite);
  if (interpolation == Interpolation::Nearest)
    resample->SetInterpolator(itk::NearestNeighborInterpolateImageFunction<ItkImage, double>::New());
  else
    resample->SetInterpolator(itk::LinearInterpolateImageFunction<ItkImage, double>::New());
  resample->Update();
  Volume out = from_itk(resample->GetOutput());
  if (preserve_total) {
    double in_sum = 0, out_sum = 0;
    for (float v : input.voxels) in_sum += v;
    for (float v : out.voxels) out_sum += v;
    if (out_sum != 0)
      for (float& v : out.voxels) v = static_cast<float>(v * (in_sum / out_sum));
  }
  return out;
}

}  // namespace mlens::io

namespace mlens::io {

void write_displacement_field(const std::string& path, const std::array<Volume, 3>& components) {
  if (nifti_extension(path).empty())
    throw std::runtime_error("\"" + path + "\": expected a NIfTI file name ending in .nii or .nii.gz");
  for (int c = 1; c < 3; ++c) require_same_grid(components[0], "x component", components[c], "component " + std::to_string(c));
  using StoredField = itk::Image<itk::Vector<float, 3>, 3>;
  const ItkImage::Pointer grid = to_itk(components[0]);
  auto field = StoredField::New();
  field->CopyInformation(grid);
  field->SetRegions(grid->GetLargestPossibleRegion());
  field->Allocate();
  std::array<ItkImage::Pointer, 3> parts{grid, to_itk(components[1]), to_itk(components[2])};
  itk::Vector<float, 3>* out = field->GetBufferPointer();
  const std::size_t n = components[0].voxels.size();
  for (std::size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) out[i][c] = parts[c]->GetBufferPointer()[i];
  write_nifti(path, *field);
}

}  // namespace mlens::io
