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

#include <filesystem>
#include <mutex>
#include <stdexcept>

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
    auto field = itk::DisplacementFieldTransform<double, 3>::New();
    field->SetDisplacementField(reader->GetOutput());
    return field.GetPointer();
  }
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
  return t;
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
