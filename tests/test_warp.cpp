// Transforms and warping against closed forms: whole-voxel translations and scalings in every file
// format (ITK .txt, Matlab .mat, HDF5 .h5, displacement field .nii.gz), ANTs' order, inverses, a
// forward/inverse round trip, and the total-preserving option.
#include "testing.h"

#include <itkAffineTransform.h>
#include <itkImageFileWriter.h>
#include <itkNiftiImageIO.h>
#include <itkTransformFileWriter.h>

#include <cmath>

#include "fixtures.h"
#include "io/volume.h"
#include "io/table.h"
#include "io/warp.h"

using namespace mlens;

namespace {

io::Volume ramp(const std::array<int64_t, 3>& shape, double spacing = 1) {
  io::Volume v;
  v.shape = shape;
  v.geometry.spacing = {spacing, spacing, spacing};
  v.voxels.resize(static_cast<std::size_t>(v.size()));
  for (int64_t i = 0; i < shape[0]; ++i)
    for (int64_t j = 0; j < shape[1]; ++j)
      for (int64_t k = 0; k < shape[2]; ++k) v.at(i, j, k) = static_cast<float>(1 + i + 10 * j + 100 * k);
  return v;
}

// An affine p ↦ scale·p + shift written in `path`'s format (by extension).
void write_affine(const std::string& path, double scale, const std::array<double, 3>& shift) {
  io::register_transform_io();
  auto t = itk::AffineTransform<double, 3>::New();
  auto m = t->GetMatrix();
  m.SetIdentity();
  for (int a = 0; a < 3; ++a) m(a, a) = scale;
  t->SetMatrix(m);
  itk::AffineTransform<double, 3>::OutputVectorType offset;
  for (int a = 0; a < 3; ++a) offset[a] = shift[a];
  t->SetOffset(offset);
  auto writer = itk::TransformFileWriterTemplate<double>::New();
  writer->SetInput(t);
  writer->SetFileName(path);
  writer->Update();
}

void write_constant_field(const std::string& path, const std::array<int64_t, 3>& shape, const std::array<double, 3>& d) {
  using Field = itk::Image<itk::Vector<double, 3>, 3>;
  auto f = Field::New();
  Field::RegionType region;
  region.SetSize({{static_cast<itk::SizeValueType>(shape[0]), static_cast<itk::SizeValueType>(shape[1]),
                   static_cast<itk::SizeValueType>(shape[2])}});
  f->SetRegions(region);
  f->Allocate();
  itk::Vector<double, 3> v;
  for (int a = 0; a < 3; ++a) v[a] = d[a];
  f->FillBuffer(v);
  auto writer = itk::ImageFileWriter<Field>::New();
  writer->SetImageIO(itk::NiftiImageIO::New());
  writer->SetFileName(path);
  writer->SetInput(f);
  writer->Update();
}

}  // namespace

TEST_CASE("a whole-voxel translation shifts the map exactly, in every transform format", "[warp]") {
  test::TempDir dir;
  const io::Volume in = ramp({8, 7, 6});
  write_constant_field(dir.path("warp.nii.gz"), {8, 7, 6}, {2, 0, 0});
  for (const char* name : {"t.txt", "t.mat", "t.h5", "warp.nii.gz"}) {
    if (std::string(name) != "warp.nii.gz") write_affine(dir.path(name), 1.0, {2, 0, 0});
    const io::TransformChain chain = io::TransformChain::read({dir.path(name)});
    INFO(name);
    CHECK(chain.apply({1, 1, 1})[0] == Approx(3.0));
    const io::Volume out = io::warp(in, in, chain, io::Interpolation::Linear);
    for (int64_t i = 0; i < 8; ++i)
      for (int64_t j = 0; j < 7; ++j)
        for (int64_t k = 0; k < 6; ++k) REQUIRE(out.at(i, j, k) == (i + 2 < 8 ? in.at(i + 2, j, k) : 0.0f));
  }
}

TEST_CASE("a scaling samples the input at the scaled points", "[warp]") {
  test::TempDir dir;
  write_affine(dir.path("s.txt"), 2.0, {0, 0, 0});
  const io::Volume in = ramp({9, 9, 9});
  const io::Volume reference = ramp({4, 4, 4}, 2.0);  // 2 mm voxels: reference voxel i is at 2i mm
  const io::Volume out = io::warp(in, reference, io::TransformChain::read({dir.path("s.txt")}), io::Interpolation::Nearest);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 4; ++k)  // 2i mm ↦ 4i mm = input voxel 4i
        REQUIRE(out.at(i, j, k) == (4 * i < 9 && 4 * j < 9 && 4 * k < 9 ? in.at(4 * i, 4 * j, 4 * k) : 0.0f));
}

TEST_CASE("transforms compose in ANTs' order and invert", "[warp]") {
  test::TempDir dir;
  write_affine(dir.path("shift.txt"), 1.0, {2, 0, 0});
  write_affine(dir.path("scale.mat"), 2.0, {0, 0, 0});
  // -t shift -t scale: scale first, then shift.
  const auto p = io::TransformChain::read({dir.path("shift.txt"), dir.path("scale.mat")}).apply({1, 2, 3});
  CHECK(p[0] == Approx(4.0));
  CHECK(p[1] == Approx(4.0));
  CHECK(p[2] == Approx(6.0));
  // The inverse of "scale, then shift" is "undo the shift, then undo the scale": in ANTs' order the
  // inverse shift is listed last (applied first).
  const auto r = io::TransformChain::read({"[" + dir.path("scale.mat") + ",1]", "!" + dir.path("shift.txt")}).apply({4, 4, 6});
  CHECK(r[0] == Approx(1.0));  // undo shift first, then scale: ((4 − 2) / 2, 4 / 2, 6 / 2)
  CHECK(r[1] == Approx(2.0));
  CHECK(r[2] == Approx(3.0));
  CHECK_THROWS_WITH(io::TransformChain::read({dir.path("missing.mat")}), Catch::Contains("missing.mat") && Catch::Contains("no such file"));
  write_constant_field(dir.path("field.nii.gz"), {4, 4, 4}, {1, 0, 0});
  CHECK_THROWS_WITH(io::TransformChain::read({"!" + dir.path("field.nii.gz")}), Catch::Contains("InverseWarp"));
}

TEST_CASE("a forward and inverse warp return a smooth map within interpolation error", "[warp]") {
  test::TempDir dir;
  write_affine(dir.path("t.txt"), 1.0, {1.5, -0.5, 0.25});
  io::Volume blob;
  blob.shape = {24, 24, 24};
  blob.voxels.resize(static_cast<std::size_t>(blob.size()));
  for (int64_t i = 0; i < 24; ++i)
    for (int64_t j = 0; j < 24; ++j)
      for (int64_t k = 0; k < 24; ++k)
        blob.at(i, j, k) = static_cast<float>(std::exp(-((i - 12.0) * (i - 12.0) + (j - 11.0) * (j - 11.0) + (k - 12.5) * (k - 12.5)) / 30.0));
  const io::Volume there = io::warp(blob, blob, io::TransformChain::read({dir.path("t.txt")}), io::Interpolation::Linear);
  const io::Volume back = io::warp(there, blob, io::TransformChain::read({"!" + dir.path("t.txt")}), io::Interpolation::Linear);
  double err = 0, norm = 0;
  for (std::size_t v = 0; v < blob.voxels.size(); ++v) {
    err += (back.voxels[v] - blob.voxels[v]) * (back.voxels[v] - blob.voxels[v]);
    norm += blob.voxels[v] * blob.voxels[v];
  }
  CHECK(std::sqrt(err / norm) < 0.05);  // two linear interpolations of a Gaussian with σ ≈ 3.9 voxels

  const io::Volume kept = io::warp(blob, blob, io::TransformChain::read({dir.path("t.txt")}), io::Interpolation::Linear, true);
  double in_sum = 0, out_sum = 0;
  for (float x : blob.voxels) in_sum += x;
  for (float x : kept.voxels) out_sum += x;
  CHECK(out_sum == Approx(in_sum).epsilon(1e-5));
}

TEST_CASE("mlens warp writes the map in the reference grid", "[warp][cli]") {
  test::TempDir dir;
  write_affine(dir.path("t.mat"), 1.0, {2, 0, 0});
  const io::Volume in = ramp({8, 7, 6});
  io::write_volume(dir.path("in.nii.gz"), in);
  io::write_volume(dir.path("ref.nii.gz"), ramp({5, 5, 5}, 1.0));
  std::string out;
  REQUIRE(test::run(std::string(MLENS_BINARY) + " warp --input " + dir.path("in.nii.gz") + " --reference " +
                        dir.path("ref.nii.gz") + " -t " + dir.path("t.mat") + " --nearest --out " + dir.path("out.nii.gz"),
                    &out) == 0);
  const io::Volume w = io::read_volume(dir.path("out.nii.gz"));
  CHECK(w.shape == std::array<int64_t, 3>{5, 5, 5});
  CHECK(w.at(1, 2, 3) == in.at(3, 2, 3));
  CHECK(test::run(std::string(MLENS_BINARY) + " warp --input " + dir.path("in.nii.gz") + " --reference " +
                      dir.path("ref.nii.gz") + " -t " + dir.path("nope.mat") + " --out " + dir.path("x.nii.gz"),
                  &out) == 1);
  CHECK_THAT(out, Catch::Contains("nope.mat"));
}

TEST_CASE("mlens overlay -t resamples the lesion map in the three documented ways", "[warp][wml][cli]") {
  // Lesion probabilities along i: 0.7 at i = 3 and 0.95 at i = 4..6; a half-voxel shift. Relevance voxel i
  // samples the lesion map at i + 0.5.
  //   linear:  (0.7 + 0.95) / 2 = 0.825 > 0.8 at i = 3, so i = 3, 4, 5 are lesions;
  //   study:   binarise first ({4, 5, 6}), interpolate: only i = 4, 5 reach exactly 1.
  test::TempDir dir;
  io::Volume rel, les;
  rel.shape = les.shape = {10, 3, 3};
  rel.voxels.assign(90, 1.0f);
  les.voxels.assign(90, 0.0f);
  for (int64_t j = 0; j < 3; ++j)
    for (int64_t k = 0; k < 3; ++k) {
      les.at(3, j, k) = 0.7f;
      for (int64_t i = 4; i <= 6; ++i) les.at(i, j, k) = 0.95f;
    }
  io::write_volume(dir.path("rel.nii.gz"), rel);
  io::write_volume(dir.path("les.nii.gz"), les);
  write_affine(dir.path("half.txt"), 1.0, {0.5, 0, 0});
  const auto lesion_voxels = [&](const std::string& mode) {
    std::string out;
    const std::string table = dir.path(mode + ".csv");
    REQUIRE(test::run(std::string(MLENS_BINARY) + " overlay --relevance " + dir.path("rel.nii.gz") + " --lesions " +
                          dir.path("les.nii.gz") + " -t " + dir.path("half.txt") + " --lesion-resample " + mode +
                          " --out " + table,
                      &out) == 0);
    return io::read_csv(table).numbers("n_wml_voxel")[0];
  };
  CHECK(lesion_voxels("linear") == 27);
  CHECK(lesion_voxels("study") == 18);
}

TEST_CASE("overlay --relevance-to-lesions warps the relevance map instead, keeping its total", "[warp][wml][cli]") {
  test::TempDir dir;
  io::Volume rel, les;
  rel.shape = les.shape = {10, 3, 3};
  rel.voxels.assign(90, 0.0f);
  les.voxels.assign(90, 0.0f);
  for (int64_t j = 0; j < 3; ++j)
    for (int64_t k = 0; k < 3; ++k) {
      rel.at(5, j, k) = 2.0f;  // relevance at i = 5
      les.at(3, j, k) = 0.9f;  // lesion at i = 3: two voxels away
    }
  io::write_volume(dir.path("rel.nii.gz"), rel);
  io::write_volume(dir.path("les.nii.gz"), les);
  write_affine(dir.path("two.txt"), 1.0, {2, 0, 0});  // lesion-grid point p ↦ relevance-grid point p + 2
  std::string out;
  REQUIRE(test::run(std::string(MLENS_BINARY) + " overlay --relevance " + dir.path("rel.nii.gz") + " --lesions " +
                        dir.path("les.nii.gz") + " -t " + dir.path("two.txt") + " --relevance-to-lesions --out " +
                        dir.path("t.csv"),
                    &out) == 0);
  const io::Table t = io::read_csv(dir.path("t.csv"));
  CHECK(t.numbers("n_wml_voxel")[0] == 9);
  CHECK(t.numbers("a_wml_voxel")[0] == Approx(2.0));  // the relevance moved onto the lesion
  CHECK(t.numbers("s_voxel")[0] == Approx(18.0));     // total kept
}
