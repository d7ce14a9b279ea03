// NIfTI through ITK: the engine's axis order, geometry round trips, files byte-identical to ITK's, and
// clear errors.
#include "testing.h"

#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkNiftiImageIO.h>
#include <itkPixelTraits.h>
#include <itkVector.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fixtures.h"
#include "io/itk_image.h"
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
  using Image4 = itk::Image<float, 4>;
  auto image = Image4::New();
  Image4::RegionType region;
  region.SetSize({{2, 2, 2, 3}});
  image->SetRegions(region);
  image->Allocate();
  image->FillBuffer(1.0f);
  auto writer = itk::ImageFileWriter<Image4>::New();
  writer->SetImageIO(itk::NiftiImageIO::New());
  writer->SetFileName(dir.path("four.nii.gz"));
  writer->SetInput(image);
  writer->Update();
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

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string gunzip(const std::string& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  std::string out;
  char buffer[1 << 16];
  for (int n; (n = gzread(in, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
  gzclose(in);
  return out;
}

// mlens writes the voxels itself behind a header ITK made for a one-voxel image: the files must be the
// bytes ITK writes for the whole image, for every pixel type mlens stores.
template <typename Pixel>
void check_same_bytes_as_itk(const test::TempDir& dir, const std::string& name) {
  using Image = itk::Image<Pixel, 3>;
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
  using Value = typename itk::PixelTraits<Pixel>::ValueType;
  constexpr unsigned components = itk::PixelTraits<Pixel>::Dimension;
  Value* values = reinterpret_cast<Value*>(image->GetBufferPointer());
  for (std::size_t i = 0; i < region.GetNumberOfPixels() * components; ++i) values[i] = static_cast<Value>((i * 37) % 101);

  auto writer = itk::ImageFileWriter<Image>::New();
  writer->SetImageIO(itk::NiftiImageIO::New());
  writer->SetFileName(dir.path(name + "-itk.nii"));
  writer->SetInput(image);
  writer->Update();
  const std::string expected = file_bytes(dir.path(name + "-itk.nii"));
  io::write_nifti(dir.path(name + ".nii"), *image);
  io::write_nifti(dir.path(name + ".nii.gz"), *image);
  CHECK(file_bytes(dir.path(name + ".nii")) == expected);
  CHECK(gunzip(dir.path(name + ".nii.gz")) == expected);
}

}  // namespace

TEST_CASE("NIfTI files are the bytes ITK writes, for every stored pixel type", "[io]") {
  test::TempDir dir;
  check_same_bytes_as_itk<float>(dir, "float");
  check_same_bytes_as_itk<int16_t>(dir, "int16");
  check_same_bytes_as_itk<uint8_t>(dir, "uint8");
  check_same_bytes_as_itk<itk::Vector<float, 3>>(dir, "field");
}
