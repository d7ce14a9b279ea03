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
#include <itkTransformFactoryBase.h>
#include <itkTransformFileReader.h>
#include <itkTransformIOBase.h>
#include <itkTxtTransformIOFactory.h>
#include <itksys/SystemTools.hxx>

#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

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
    itk::TransformFactoryBase::RegisterDefaultTransforms();  // the readers' types, for check_linear
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

// A name from a file, fit for a message: at most 80 characters, anything unprintable as '?'.
std::string printable(const std::string& text) {
  std::string out = text.substr(0, 80);
  for (char& c : out)
    if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
  return text.size() > 80 ? out + "..." : out;
}

// A default instance of the transform type named `type` in a file, as ITK's readers make it (null if
// they cannot): "float" types are made "double" (a name with neither throws std::out_of_range there).
itk::LightObject::Pointer make_transform(std::string type) {
  if (type.find("double") == std::string::npos && type.find("float") == std::string::npos) return nullptr;
  register_transform_io();
  itk::TransformIOBaseTemplate<double>::CorrectTransformPrecisionType(type);
  itk::LightObject::Pointer made = itk::ObjectFactoryBase::CreateInstance(type.c_str());
  if (made) made->UnRegister();  // the reference the factory keeps for the caller, as ITK's readers drop it
  return made;
}

// ITK's transform readers (text and MATLAB) create each transform by the type name in the file and
// then set its fixed parameters and its parameters from the file's values, whatever their counts:
// Rigid3DTransform's SetParameters read twelve values from an array of none (segfault, bench/fuzz).
// These files hold affines: throws unless `type` is, as ITK's readers make it, a linear 3D transform
// whose type has `parameters` parameters and `fixed` fixed parameters (none: the file has no line of
// them, and ITK would leave them unset). `where` starts the message.
void check_linear(const std::string& path, const std::string& where, const std::string& type,
                  std::optional<std::size_t> parameters, std::optional<std::size_t> fixed) {
  const itk::LightObject::Pointer made = make_transform(type);
  const auto* t = dynamic_cast<const Transform*>(made.GetPointer());
  if (!t || t->GetTransformCategory() != Transform::TransformCategoryEnum::Linear)
    throw std::runtime_error("transform \"" + path + "\": " + where + "transform type \"" + printable(type) +
                             "\" (expected a linear 3D transform, e.g. AffineTransform_double_3_3 or ANTs' "
                             "MatrixOffsetTransformBase_double_3_3; displacement fields are read from NIfTI files)");
  if (!parameters || !fixed)
    throw std::runtime_error("transform \"" + path + "\": " + where + "transform " + printable(type) + " has no " +
                             (parameters ? "FixedParameters" : "Parameters") + " line (ITK would leave it unset)");
  const std::size_t want = t->GetNumberOfParameters(), want_fixed = t->GetFixedParameters().Size();
  if (*parameters != want || *fixed != want_fixed)
    throw std::runtime_error("transform \"" + path + "\": " + where + std::to_string(*parameters) + " parameters and " +
                             std::to_string(*fixed) + " fixed parameters (expected " + std::to_string(want) + " and " +
                             std::to_string(want_fixed) + " for " + t->GetTransformTypeAsString() + ")");
}

// ANTs' *GenericAffine.mat is a MATLAB level-4 file, which ITK reads with vnl_matlab_read: it sizes its
// buffers from each matrix's header (a corrupt name length asked for 4 GB). The headers are checked
// against the bytes present first. Each matrix: five int32 (type = 1000·byte order + 100·orientation +
// 10·precision + kind, rows, columns, imaginary flag, name length), the name, then the values. ITK
// reads the matrices in pairs, a transform's parameters (named by its type) and its fixed parameters,
// each one column of real values (vnl leaves a complex matrix's values unread, and its next header
// would be read from them): their counts are checked against the type (check_linear).
void check_matlab_v4(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto fail = [&](const std::string& what) {
    throw std::runtime_error("transform \"" + path + "\": not a MATLAB level-4 transform file (ANTs' .mat): " + what);
  };
  if (bytes.empty()) fail("the file is empty");
  struct Matrix {
    std::string name;
    int64_t rows;
  };
  std::vector<Matrix> matrices;
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
    if (rows < 0 || columns != 1 || imaginary != 0 || name_length < 1)
      fail(which + ": " + std::to_string(rows) + " rows, " + std::to_string(columns) + " columns, imaginary flag " +
           std::to_string(imaginary) + ", name length " + std::to_string(name_length) +
           " (expected one column of real values and a name)");
    at += 20;
    const uint64_t value_bytes = static_cast<uint64_t>(rows) * static_cast<uint64_t>(columns) * ((type / 10) % 10 == 0 ? 8 : 4);
    if (static_cast<uint64_t>(name_length) > bytes.size() - at || value_bytes > bytes.size() - at - name_length)
      fail(which + ": its name (" + std::to_string(name_length) + " bytes) and " + std::to_string(rows) + "x" +
           std::to_string(columns) + " values need more than the " + std::to_string(bytes.size() - at) + " bytes left");
    const std::string name = bytes.substr(at, static_cast<std::size_t>(name_length));
    matrices.push_back({name.substr(0, name.find('\0')), rows});  // vnl reads the name as a C string
    at += static_cast<std::size_t>(name_length + static_cast<int64_t>(value_bytes));
  }
  if (matrices.size() % 2 != 0)
    fail(std::to_string(matrices.size()) + " matrices (expected pairs: a transform's parameters, then its fixed parameters)");
  for (std::size_t m = 0; m < matrices.size(); m += 2)
    check_linear(path, "matrices " + std::to_string(m + 1) + " and " + std::to_string(m + 2) + ": ", matrices[m].name,
                 static_cast<std::size_t>(matrices[m].rows), static_cast<std::size_t>(matrices[m + 1].rows));
}

// The count of the numbers in `values`, a line's value as ITK's text reader reads it (istream >> double
// until one fails); `bad(i, token)` is called on the first token that is not a plain decimal number,
// which both that reader and strtod read whole (no hex, inf or nan, nothing out of double's range).
template <typename Bad>
std::size_t count_numbers(const std::string& values, Bad&& bad) {
  std::size_t n = 0, at = 0;
  while (true) {
    while (at < values.size() && std::isspace(static_cast<unsigned char>(values[at]))) ++at;
    if (at == values.size()) return n;
    std::size_t end = at;
    while (end < values.size() && !std::isspace(static_cast<unsigned char>(values[end]))) ++end;
    const std::string token = values.substr(at, end - at);
    ++n;
    char* stop = nullptr;
    errno = 0;
    const double v = std::strtod(token.c_str(), &stop);
    if (token.find_first_not_of("0123456789+-.eE") != std::string::npos || stop != token.c_str() + token.size() ||
        errno == ERANGE || !std::isfinite(v))
      bad(n, token);
    at = end;
  }
}

// ITK's text transforms (.txt, .tfm): "Tag: value" lines and '#' comments. ITK's reader creates the
// type of each "Transform:" line and, once it has a "Parameters:" and a "FixedParameters:" line, sets
// them on the latest transform whatever their counts (check_linear); it reads any file that a
// "ComponentTransformFile:" line names, this one included, for ever. Reading the lines as ITK does,
// mlens accepts: each transform followed by one line of each (in either order), every value a decimal
// number, the counts those of its type; a composite transform only first, with none of its own.
void check_itk_text(const std::string& path) {
  const auto fail = [&](const std::string& what) {
    throw std::runtime_error("transform \"" + path + "\": not a readable ITK/ANTs transform: " + what);
  };
  if (std::filesystem::file_size(path) > (std::uintmax_t{1} << 20))
    fail("larger than 1 MB (expected an ITK text transform, a few hundred bytes)");
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find('\0') != std::string::npos)
    fail("a NUL byte at byte " + std::to_string(text.find('\0')) + " (expected a text file)");
  const auto trim = [](const std::string& s) {
    const std::size_t first = s.find_first_not_of(" \t\r\n");
    return first == std::string::npos ? std::string() : s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
  };
  struct Block {
    std::string type;
    int line = 0, parameters_line = 0, fixed_line = 0;
    std::size_t parameters = 0, fixed = 0;
  };
  std::vector<Block> blocks;
  int number = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(text.substr(at, end - at));
    at = end + 1;
    const std::string where = "line " + std::to_string(++number) + ": ";
    if (line.empty() || line[0] == '#') continue;
    // ITK's readers split lines at \n (or, some, at \r where a file has no \n): one reading for all.
    if (line.find('\r') != std::string::npos)
      fail(where + "a carriage return inside the line (expected \\n or \\r\\n line ends)");
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) fail(where + "\"" + printable(line) + "\" (expected \"Tag: value\")");
    const std::string tag = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (tag == "Transform") {
      blocks.push_back({value, number});
    } else if (tag == "ComponentTransformFile") {
      fail(where + "ComponentTransformFile names another file (expected the transforms themselves: give each "
                   "file with its own -t)");
    } else if (tag == "Parameters" || tag == "FixedParameters") {
      if (blocks.empty()) fail(where + tag + " before any Transform line");
      Block& b = blocks.back();
      const bool fixed = tag == "FixedParameters";
      int& seen = fixed ? b.fixed_line : b.parameters_line;
      if (seen) fail(where + "a second " + tag + " line for the transform of line " + std::to_string(b.line));
      seen = number;
      (fixed ? b.fixed : b.parameters) = count_numbers(value, [&](std::size_t i, const std::string& token) {
        fail(where + tag + " value " + std::to_string(i) + " is \"" + printable(token) + "\" (expected decimal numbers)");
      });
    }  // ITK ignores other tags
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    const std::string where = "line " + std::to_string(b.line) + ": ";
    const itk::LightObject::Pointer made = make_transform(b.type);
    if (dynamic_cast<const Composite*>(made.GetPointer())) {
      if (i != 0 || blocks.size() == 1 || b.parameters_line || b.fixed_line)
        fail(where + "a composite transform must come first, followed by its transforms, with no parameters of its own");
      continue;
    }
    check_linear(path, where, b.type, b.parameters_line ? std::optional<std::size_t>(b.parameters) : std::nullopt,
                 b.fixed_line ? std::optional<std::size_t>(b.fixed) : std::nullopt);
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
    // mlens checks the header first: ITK would read a scalar image (or one without NIfTI's vector
    // intent) into vectors by copying each value into all three components, a displacement that is
    // silently wrong, and it scales vectors (scl_slope, scl_inter) wrongly, integer ones past its buffer.
    try {
      read_nifti_file(path, NiftiLayout::DisplacementField);
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
  // ITK's readers are chosen by the name's last extension, as itksys finds it (".txt" included).
  const std::string extension = itksys::SystemTools::GetFilenameLastExtension(path);
  if (extension == ".mat") check_matlab_v4(path);
  if (extension == ".txt" || extension == ".tfm") check_itk_text(path);
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
