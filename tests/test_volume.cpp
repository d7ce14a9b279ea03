// NIfTI through ITK: the engine's axis order, geometry round trips, files byte-identical to ITK's, and
// clear errors.
#include "testing.h"

#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkNiftiImageIO.h>
#include <itkPixelTraits.h>
#include <itkVector.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <cstring>
#include <cmath>
#include <limits>

#include "fixtures.h"
#include "io/itk_image.h"
#include "io/nifti_file.h"
#include "io/volume.h"

using namespace mlens;

namespace {
io::Volume make_volume() {
  io::Volume v;
  v.shape = {3, 4, 5};
  v.voxels.resize(v.size());
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 5; ++k) v.at(i, j, k) = static_cast<float>(100 * i + 10 * j + k);
  v.geometry.spacing = {1.0, 1.5, 2.0};
  v.geometry.origin = {-10.0, 20.5, 3.25};
  v.geometry.direction = {-1, 0, 0, 0, 0, 1, 0, -1, 0};  // a flip and a swap of axes
  return v;
}

// What ITK's own writer makes of an image.
template <typename Image>
void write_with_itk(const Image* image, const std::string& path) {
  auto writer = itk::ImageFileWriter<Image>::New();
  writer->SetImageIO(itk::NiftiImageIO::New());
  writer->SetFileName(path);
  writer->SetInput(image);
  writer->Update();
}

// A 4D float image written by ITK, each voxel holding its index in ITK's buffer.
void write_4d(const std::string& path, const std::array<itk::SizeValueType, 4>& size) {
  using Image4 = itk::Image<float, 4>;
  auto image = Image4::New();
  Image4::RegionType region;
  for (unsigned a = 0; a < 4; ++a) region.SetSize(a, size[a]);
  image->SetRegions(region);
  image->Allocate();
  for (std::size_t i = 0; i < region.GetNumberOfPixels(); ++i) image->GetBufferPointer()[i] = static_cast<float>(i);
  write_with_itk<Image4>(image, path);
}

// A 7x5x3 image with make_volume's geometry (ITK's index order), voxels not set.
template <typename Image>
typename Image::Pointer small_image() {
  auto image = Image::New();
  typename Image::RegionType region;
  region.SetSize({7, 5, 3});
  image->SetRegions(region);
  image->SetSpacing(itk::Vector<double, 3>(std::array<double, 3>{1.0, 1.5, 2.0}.data()));
  typename Image::PointType origin;
  origin[0] = -10;
  origin[1] = 20.5;
  origin[2] = 3.25;
  image->SetOrigin(origin);
  typename Image::DirectionType direction;
  direction.Fill(0);
  direction(0, 0) = -1;
  direction(1, 2) = 1;
  direction(2, 1) = -1;
  image->SetDirection(direction);
  image->Allocate();
  return image;
}
}  // namespace

TEST_CASE("a written volume reads back with its voxels and geometry", "[io]") {
  test::TempDir dir;
  for (const char* name : {"v.nii", "v.nii.gz"}) {
    const io::Volume v = make_volume();
    io::write_volume(dir.path(name), v);
    const io::Volume r = io::read_volume(dir.path(name));
    CHECK(r.shape == v.shape);
    CHECK(r.voxels == v.voxels);
    for (int a = 0; a < 3; ++a) {
      CHECK(r.geometry.spacing[a] == Approx(v.geometry.spacing[a]));
      CHECK(r.geometry.origin[a] == Approx(v.geometry.origin[a]));
    }
    for (int a = 0; a < 9; ++a) CHECK(r.geometry.direction[a] == Approx(v.geometry.direction[a]).margin(1e-6));
  }
}

TEST_CASE("the engine's (i, j, k) is ITK's index (i, j, k)", "[io]") {
  // The convention of io/volume.h: voxels[(i·nj + j)·nk + k] is the voxel ITK addresses as {i, j, k}.
  test::TempDir dir;
  io::write_volume(dir.path("v.nii.gz"), make_volume());
  auto reader = itk::ImageFileReader<itk::Image<float, 3>>::New();
  reader->SetImageIO(itk::NiftiImageIO::New());
  reader->SetFileName(dir.path("v.nii.gz"));
  reader->Update();
  const auto image = reader->GetOutput();
  CHECK(image->GetLargestPossibleRegion().GetSize()[0] == 3);
  CHECK(image->GetPixel({{2, 1, 4}}) == 214.0f);
  CHECK(image->GetPixel({{0, 3, 1}}) == 31.0f);
}

TEST_CASE("bad volume files get errors naming the file", "[io]") {
  test::TempDir dir;
  CHECK_THROWS_WITH(io::read_volume(dir.path("missing.nii.gz")), Catch::Contains("missing.nii.gz") && Catch::Contains("no such file"));
  CHECK_THROWS_WITH(io::read_volume(dir.path("image.mgz")), Catch::Contains("expected a NIfTI"));
  std::ofstream(dir.path("junk.nii")) << "not an image";
  CHECK_THROWS_WITH(io::read_volume(dir.path("junk.nii")), Catch::Contains("junk.nii"));
}

TEST_CASE("4D images with more than one volume are refused", "[io]") {
  test::TempDir dir;
  write_4d(dir.path("four.nii.gz"), {2, 2, 2, 3});
  CHECK_THROWS_WITH(io::read_volume(dir.path("four.nii.gz")), Catch::Contains("expected a 3D volume") && Catch::Contains("2x2x2x3"));
}

TEST_CASE("writing is atomic: no temporary file is left behind", "[io]") {
  test::TempDir dir;
  io::write_volume(dir.path("a.nii.gz"), make_volume());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path(""))) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("the sform places the voxels when it is set, as nibabel decides", "[io]") {
  // A file whose qform disagrees with its sform (qfac = -1 flips z in the qform only), as Debian's
  // JHU-WhiteMatter-labels-2mm.nii.gz ships: the geometry must be the sform's.
  test::TempDir dir;
  io::Volume v = make_volume();
  v.geometry.origin = {90, 126, -72};
  v.geometry.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  v.geometry.spacing = {2, 2, 2};
  const std::string path = dir.path("mixed.nii");
  io::write_volume(path, v);
  {
    // qfac (pixdim[0]) = -1, qform_code = sform_code = 4 (MNI), quaternion (b, c, d) = 0: JHU's header.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const float qfac = -1, zero[3] = {0, 0, 0};
    const int16_t codes[2] = {4, 4};
    f.seekp(76);
    f.write(reinterpret_cast<const char*>(&qfac), sizeof qfac);
    f.seekp(252);
    f.write(reinterpret_cast<const char*>(codes), sizeof codes);
    f.write(reinterpret_cast<const char*>(zero), sizeof zero);
  }
  const io::Volume back = io::read_volume(path);
  for (int a = 0; a < 3; ++a) CHECK(back.geometry.origin[a] == Approx(v.geometry.origin[a]));
  for (int i = 0; i < 9; ++i) CHECK(back.geometry.direction[i] == Approx(v.geometry.direction[i]).margin(1e-6));
  // ITK alone reads the qform's flipped z axis here.
  auto reader = itk::ImageFileReader<itk::Image<float, 3>>::New();
  reader->SetImageIO(itk::NiftiImageIO::New());
  reader->SetFileName(path);
  reader->Update();
  CHECK(reader->GetOutput()->GetDirection()[2][2] == Approx(-1));
}

namespace {

// mlens writes the voxels itself behind a header ITK made for a one-voxel image: the files must be the
// bytes ITK writes for the whole image (displacement fields here, volumes below).
template <typename Pixel>
void check_same_bytes_as_itk(const test::TempDir& dir, const std::string& name) {
  using Image = itk::Image<Pixel, 3>;
  const auto image = small_image<Image>();
  const auto region = image->GetLargestPossibleRegion();
  using Value = typename itk::PixelTraits<Pixel>::ValueType;
  constexpr unsigned components = itk::PixelTraits<Pixel>::Dimension;
  Value* values = reinterpret_cast<Value*>(image->GetBufferPointer());
  for (std::size_t i = 0; i < region.GetNumberOfPixels() * components; ++i) values[i] = static_cast<Value>((i * 37) % 101);

  write_with_itk<Image>(image, dir.path(name + "-itk.nii"));
  const std::string expected = test::file_bytes(dir.path(name + "-itk.nii"));
  io::write_nifti(dir.path(name + ".nii"), *image);
  io::write_nifti(dir.path(name + ".nii.gz"), *image);
  CHECK(test::file_bytes(dir.path(name + ".nii")) == expected);
  CHECK(test::zlib_gunzip(dir.path(name + ".nii.gz")) == expected);
}

// write_volume converts and reorders a volume while it writes: its files must be the bytes ITK writes for
// the converted image (integers rounded half away from zero and clipped to the type's range).
template <typename Pixel>
void check_volume_bytes_as_itk(const test::TempDir& dir, const std::string& name, io::StoredAs stored_as) {
  io::Volume v = make_volume();
  for (std::size_t i = 0; i < v.voxels.size(); ++i) v.voxels[i] = (static_cast<float>(i) - 20.5f) * 1234.25f;
  using Image = itk::Image<Pixel, 3>;
  const io::ItkImage::Pointer source = io::to_itk(v);
  auto image = Image::New();
  image->CopyInformation(source);
  image->SetRegions(source->GetLargestPossibleRegion());
  image->Allocate();
  for (std::size_t i = 0; i < v.voxels.size(); ++i) {
    const double x = source->GetBufferPointer()[i];
    image->GetBufferPointer()[i] =
        std::is_integral_v<Pixel>
            ? static_cast<Pixel>(std::clamp<double>(std::round(x), std::numeric_limits<Pixel>::lowest(), std::numeric_limits<Pixel>::max()))
            : static_cast<Pixel>(x);
  }
  write_with_itk<Image>(image, dir.path(name + "-itk.nii"));
  const std::string expected = test::file_bytes(dir.path(name + "-itk.nii"));
  io::write_volume(dir.path(name + ".nii"), v, stored_as);
  io::write_volume(dir.path(name + ".nii.gz"), v, stored_as);
  CHECK(test::file_bytes(dir.path(name + ".nii")) == expected);
  CHECK(test::zlib_gunzip(dir.path(name + ".nii.gz")) == expected);
}

}  // namespace

TEST_CASE("NIfTI files are the bytes ITK writes, for every stored pixel type", "[io]") {
  test::TempDir dir;
  check_same_bytes_as_itk<itk::Vector<float, 3>>(dir, "field");
  check_volume_bytes_as_itk<float>(dir, "volume-float", io::StoredAs::Float32);
  check_volume_bytes_as_itk<int16_t>(dir, "volume-int16", io::StoredAs::Int16);
  check_volume_bytes_as_itk<uint8_t>(dir, "volume-uint8", io::StoredAs::UInt8);
}

namespace {

template <typename T>
void put(std::string& bytes, std::size_t offset, T value) {
  std::memcpy(&bytes[offset], &value, sizeof value);
}

void reverse_bytes(std::string& bytes, std::size_t offset, std::size_t size) {
  std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.begin() + static_cast<std::ptrdiff_t>(offset + size));
}

// The same image as a big-endian NIfTI-1 file: every numeric header field and every voxel byte-reversed.
std::string big_endian(std::string nii, std::size_t value_bytes) {
  for (std::size_t at : {0, 32, 140, 144}) reverse_bytes(nii, at, 4);  // int32 fields
  for (std::size_t at : {36, 68, 70, 72, 74, 120, 252, 254}) reverse_bytes(nii, at, 2);
  for (std::size_t d = 0; d < 8; ++d) reverse_bytes(nii, 40 + 2 * d, 2);  // dim[8]
  for (std::size_t at : {56, 60, 64, 108, 112, 116, 124, 128, 132, 136}) reverse_bytes(nii, at, 4);  // floats
  for (std::size_t f = 0; f < 8; ++f) reverse_bytes(nii, 76 + 4 * f, 4);   // pixdim[8]
  for (std::size_t f = 0; f < 18; ++f) reverse_bytes(nii, 256 + 4 * f, 4);  // quaternion, offsets, srow_x/y/z
  for (std::size_t at = 352; at + value_bytes <= nii.size(); at += value_bytes) reverse_bytes(nii, at, value_bytes);
  return nii;
}

// What ITK's own reader makes of a file, in the engine's order.
io::Volume read_with_itk(const std::string& path) {
  auto reader = itk::ImageFileReader<io::ItkImage>::New();
  reader->SetImageIO(itk::NiftiImageIO::New());
  reader->SetFileName(path);
  reader->Update();
  return io::from_itk(reader->GetOutput());
}

template <typename Pixel>
void check_reads_as_itk(const test::TempDir& dir, const std::string& name) {
  using Image = itk::Image<Pixel, 3>;
  const auto image = small_image<Image>();
  const auto region = image->GetLargestPossibleRegion();
  Pixel* values = image->GetBufferPointer();
  const double lowest = std::numeric_limits<Pixel>::is_signed ? -40 : 0;
  for (std::size_t i = 0; i < region.GetNumberOfPixels(); ++i)
    values[i] = static_cast<Pixel>(lowest + static_cast<double>((i * 37) % 101) * (std::is_floating_point_v<Pixel> ? 0.37 : 1));
  write_with_itk<Image>(image, dir.path(name + ".nii"));
  const std::string nii = test::file_bytes(dir.path(name + ".nii"));
  std::string scaled = nii;
  put<float>(scaled, 112, 0.5f);  // scl_slope
  put<float>(scaled, 116, -3.0f);  // scl_inter

  std::map<std::string, std::string> files;  // file name → what it holds
  files[name + ".nii"] = nii;
  files[name + "-scaled.nii"] = scaled;
  files[name + "-big-endian.nii"] = big_endian(scaled, sizeof(Pixel));
  test::zlib_write_gzip(dir.path(name + ".nii.gz"), {nii});
  test::zlib_write_gzip(dir.path(name + "-two-members.nii.gz"), {scaled.substr(0, 400), scaled.substr(400)});
  for (const auto& [file, bytes] : files) std::ofstream(dir.path(file), std::ios::binary) << bytes;
  for (const std::string& file : std::vector<std::string>{name + ".nii", name + "-scaled.nii", name + "-big-endian.nii", name + ".nii.gz",
                                 name + "-two-members.nii.gz"}) {
    INFO(file);
    const io::Volume expected = read_with_itk(dir.path(file));
    const io::Volume got = io::read_volume(dir.path(file));
    CHECK(got.shape == expected.shape);
    CHECK(got.voxels == expected.voxels);
    CHECK(got.geometry.spacing == expected.geometry.spacing);
    CHECK(got.geometry.direction == expected.geometry.direction);
    CHECK(got.geometry.origin == expected.geometry.origin);
  }
  // The scaling is applied (by both), as the standard's formula says.
  const io::Volume plain = io::read_volume(dir.path(name + ".nii")), rescaled = io::read_volume(dir.path(name + "-scaled.nii"));
  CHECK(rescaled.at(6, 4, 2) == static_cast<float>(0.5 * plain.at(6, 4, 2) - 3));
  CHECK(plain.at(6, 4, 2) != 0);
}

}  // namespace

TEST_CASE("mlens reads NIfTI voxels as ITK does, for every datatype, scaling, byte order and gzip layout", "[io]") {
  test::TempDir dir;
  check_reads_as_itk<uint8_t>(dir, "uint8");
  check_reads_as_itk<int8_t>(dir, "int8");
  check_reads_as_itk<int16_t>(dir, "int16");
  check_reads_as_itk<uint16_t>(dir, "uint16");
  check_reads_as_itk<int32_t>(dir, "int32");
  check_reads_as_itk<uint32_t>(dir, "uint32");
  check_reads_as_itk<int64_t>(dir, "int64");
  check_reads_as_itk<uint64_t>(dir, "uint64");
  check_reads_as_itk<float>(dir, "float");
  check_reads_as_itk<double>(dir, "double");
}

TEST_CASE("a 4D file with one volume reads as its 3D volume", "[io]") {
  test::TempDir dir;
  write_4d(dir.path("t1.nii.gz"), {4, 3, 2, 1});
  const io::Volume v = io::read_volume(dir.path("t1.nii.gz"));
  REQUIRE(v.shape == std::array<int64_t, 3>{4, 3, 2});
  CHECK(v.voxels == read_with_itk(dir.path("t1.nii.gz")).voxels);
  CHECK(v.at(3, 2, 1) == 3 + 4 * (2 + 3 * 1));  // ITK's buffer index i + ni (j + nj k)
}

TEST_CASE("NaN voxels are read as NaN (ITK's reader makes them 0) and a cut-short file is named", "[io]") {
  test::TempDir dir;
  io::Volume v = make_volume();
  v.at(1, 2, 3) = std::nanf("");
  io::write_volume(dir.path("nan.nii.gz"), v);
  const io::Volume back = io::read_volume(dir.path("nan.nii.gz"));
  CHECK(std::isnan(back.at(1, 2, 3)));
  CHECK(back.at(2, 3, 4) == v.at(2, 3, 4));
  CHECK(read_with_itk(dir.path("nan.nii.gz")).at(1, 2, 3) == 0.0f);

  const std::string whole = test::zlib_gunzip(dir.path("nan.nii.gz"));
  std::ofstream(dir.path("short.nii"), std::ios::binary) << whole.substr(0, whole.size() - 8);
  CHECK_THROWS_WITH(io::read_volume(dir.path("short.nii")), Catch::Contains("short.nii") && Catch::Contains("ends after 58 of 60 voxels"));
  std::string garbled = test::file_bytes(dir.path("nan.nii.gz"));
  garbled[garbled.size() / 2] ^= 0x5a;
  std::ofstream(dir.path("garbled.nii.gz"), std::ios::binary) << garbled;
  CHECK_THROWS_WITH(io::read_volume(dir.path("garbled.nii.gz")), Catch::Contains("garbled.nii.gz"));
}

TEST_CASE("a 4D file's volumes read as ITK wrote them, in either byte order, and write back as ITK reads 4D", "[io]") {
  test::TempDir dir;
  // ITK's 4D image, voxel (i, j, k) of volume c holding i + 10 j + 100 k + 1000 c.
  write_4d(dir.path("ch.nii"), {4, 3, 2, 3});
  const std::string nii = test::file_bytes(dir.path("ch.nii"));
  std::ofstream(dir.path("ch-big-endian.nii"), std::ios::binary) << big_endian(nii, 4);
  test::zlib_write_gzip(dir.path("ch.nii.gz"), {nii});
  const auto value = [](int64_t i, int64_t j, int64_t k, int64_t c) { return static_cast<float>(i + 4 * (j + 3 * (k + 2 * c))); };
  for (const std::string name : {"ch.nii", "ch-big-endian.nii", "ch.nii.gz"}) {
    INFO(name);
    CHECK(io::nifti_dims(dir.path(name)) == std::vector<int64_t>{4, 3, 2, 3});
    const std::vector<io::Volume> v = io::read_volumes(dir.path(name));
    REQUIRE(v.size() == 3);
    bool all = true;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 3; ++j)
          for (int64_t k = 0; k < 2; ++k) all = all && v[c].at(i, j, k) == value(i, j, k, c);
    CHECK(all);
  }

  // Written back: dim[0] = 4 and dim[4] = 3 in the header, and ITK's 4D reader finds the same voxels.
  io::write_volumes(dir.path("out.nii"), io::read_volumes(dir.path("ch.nii")));
  const std::string out = test::file_bytes(dir.path("out.nii"));
  int16_t rank = 0, volumes = 0;
  std::memcpy(&rank, out.data() + 40, 2);
  std::memcpy(&volumes, out.data() + 48, 2);
  CHECK(rank == 4);
  CHECK(volumes == 3);
  auto reader = itk::ImageFileReader<itk::Image<float, 4>>::New();
  reader->SetImageIO(itk::NiftiImageIO::New());
  reader->SetFileName(dir.path("out.nii"));
  reader->Update();
  const auto* image = reader->GetOutput();
  CHECK(image->GetLargestPossibleRegion().GetSize()[3] == 3);
  const float* buffer = image->GetBufferPointer();
  bool same = true;
  for (std::size_t n = 0; n < 4 * 3 * 2 * 3; ++n) same = same && buffer[n] == static_cast<float>(n);
  CHECK(same);
  // A volume-per-file reader refuses the 4D file by name, as before.
  CHECK_THROWS_WITH(io::read_volume(dir.path("out.nii")), Catch::Contains("expected a 3D volume") && Catch::Contains("4x3x2x3"));
}
