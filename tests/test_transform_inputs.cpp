// Transform files that ITK's readers would misread or be corrupted by, refused by mlens' own checks
// before ITK sees them (the transform fuzz target found them; docs/reliability.md):
//  - displacement fields with a scaling (scl_slope, scl_inter), which ITK's NIfTI reader applies to a
//    third of a vector image's values and, for integer values, through a float copy that it then
//    writes past the end of its buffer (heap corruption); fields without NIfTI's vector intent, which
//    ITK reads as scalars copied into all three components;
//  - ITK text and MATLAB (.mat) affines whose parameter counts are not their type's: ITK's readers set
//    them whatever their number (Rigid3DTransform read twelve from an array of one: segfault); types
//    that are not linear 3D transforms, values that are not decimal numbers, a text file naming
//    another (ComponentTransformFile, itself included: endless recursion).
// The same files written correctly (int16 or float32 fields, float or double affines, a composite
// text file) are read.
#include "testing.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "fixtures.h"
#include "io/volume.h"
#include "io/warp.h"

using namespace mlens;

namespace {

constexpr std::size_t kIntentCode = 68, kDatatype = 70, kBitpix = 72, kVoxOffset = 108, kSclSlope = 112, kSclInter = 116;

template <typename T>
void put(std::string& bytes, std::size_t offset, T value) {
  std::memcpy(&bytes[offset], &value, sizeof value);
}

// A 4x4x4 field displacing every point by (1, 2, 3) mm, written by mlens as ANTs writes it (float32,
// NIfTI's vector intent), then rewritten with `datatype` 4 (int16) or 16 (float32) values and the
// given scaling and intent code. Returns its path.
std::string field(const test::TempDir& dir, const std::string& name, int16_t datatype, float slope, float inter,
                  int16_t intent = 1007) {
  const std::string path = dir.path(name);
  std::array<io::Volume, 3> components;
  for (int c = 0; c < 3; ++c) {
    components[c].shape = {4, 4, 4};
    components[c].voxels.assign(64, static_cast<float>(c + 1));
  }
  io::write_displacement_field(path, components);
  std::string bytes = test::file_bytes(path);
  float offset = 0;
  std::memcpy(&offset, &bytes[kVoxOffset], sizeof offset);
  const std::size_t start = static_cast<std::size_t>(offset);
  REQUIRE(bytes.size() == start + 3 * 64 * sizeof(float));
  if (datatype == 4) {  // the same values as int16, in the same order (all x, then all y, then all z)
    std::vector<float> values(3 * 64);
    std::memcpy(values.data(), &bytes[start], values.size() * sizeof(float));
    bytes.resize(start + values.size() * sizeof(int16_t));
    for (std::size_t i = 0; i < values.size(); ++i) put<int16_t>(bytes, start + 2 * i, static_cast<int16_t>(values[i]));
    put<int16_t>(bytes, kDatatype, 4);
    put<int16_t>(bytes, kBitpix, 16);
  }
  put<int16_t>(bytes, kIntentCode, intent);
  put<float>(bytes, kSclSlope, slope);
  put<float>(bytes, kSclInter, inter);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

std::array<double, 3> moved(const std::string& path) { return io::TransformChain::read({path}).apply({1, 1, 1}); }

}  // namespace

TEST_CASE("displacement fields are read unscaled and refused scaled", "[warp][bad-inputs]") {
  test::TempDir dir;
  for (const char* name : {"float_Warp.nii", "int16_Warp.nii", "unset_Warp.nii"}) {
    INFO(name);
    const std::string n = name;
    // scl_slope 0 is unscaled too
    const auto p = moved(field(dir, name, n == "float_Warp.nii" ? 16 : 4, n == "unset_Warp.nii" ? 0 : 1, 0));
    CHECK(p[0] == Approx(2.0));
    CHECK(p[1] == Approx(3.0));
    CHECK(p[2] == Approx(4.0));
  }
  // The fuzzer's find: for int16 values ITK wrote three times the image's bytes into its buffer (heap
  // corruption); float32 values it scaled in the first third of its buffer only (x moved by 2.5, z by 3).
  for (const int16_t datatype : {4, 16}) {
    INFO(datatype);
    CHECK_THROWS_WITH(moved(field(dir, "scaled_Warp.nii", datatype, 2, 0.5)),
                      Catch::Contains("scaled_Warp.nii") && Catch::Contains("scl_slope is 2 and scl_inter 0.5") &&
                          Catch::Contains("expected 0 or 1 and 0 (an unscaled displacement field"));
  }
  // ITK scales where scl_inter is set even if scl_slope is 0; a subnormal slope is named as it is.
  CHECK_THROWS_WITH(moved(field(dir, "offset_Warp.nii", 4, 0, 1)),
                    Catch::Contains("offset_Warp.nii") && Catch::Contains("scl_slope is 0 and scl_inter 1,"));
  CHECK_THROWS_WITH(moved(field(dir, "tiny_Warp.nii", 4, 1e-40f, 0)), Catch::Contains("scl_slope is 9.99"));
}

TEST_CASE("displacement fields without NIfTI's vector intent are refused", "[warp][bad-inputs]") {
  test::TempDir dir;
  // intent_code 0 and 1006 (NIFTI_INTENT_DISPVECT): ITK read the x displacement into all three components.
  for (const int16_t intent : {0, 1006, 1005}) {
    INFO(intent);
    CHECK_THROWS_WITH(moved(field(dir, "intent_Warp.nii", 16, 1, 0, intent)),
                      Catch::Contains("intent_Warp.nii") && Catch::Contains("intent_code is " + std::to_string(intent)) &&
                          Catch::Contains("expected 1007 (NIFTI_INTENT_VECTOR"));
  }
}

namespace {

std::string write(const test::TempDir& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir.path(name), std::ios::binary) << bytes;
  return dir.path(name);
}

// A MATLAB level-4 file of column vectors (little-endian; single precision if `single`), as ANTs
// writes its *GenericAffine.mat: (name, values) per matrix.
std::string matlab(const std::vector<std::pair<std::string, std::vector<double>>>& matrices, bool single = false) {
  std::string bytes;
  const auto int32 = [&](int32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
  for (const auto& [name, values] : matrices) {
    int32(single ? 10 : 0);
    int32(static_cast<int32_t>(values.size()));
    int32(1);
    int32(0);
    int32(static_cast<int32_t>(name.size() + 1));
    bytes += name;
    bytes += '\0';
    for (double v : values) {
      const float f = static_cast<float>(v);
      if (single)
        bytes.append(reinterpret_cast<const char*>(&f), 4);
      else
        bytes.append(reinterpret_cast<const char*>(&v), 8);
    }
  }
  return bytes;
}

const std::string kShift = "1 0 0 0 1 0 0 0 1 1 2 3";  // an affine moving every point by (1, 2, 3)

std::string text(const std::string& type, const std::string& parameters, const std::string& fixed = "0 0 0") {
  return "#Insight Transform File V1.0\n#Transform 0\nTransform: " + type + "\nParameters: " + parameters +
         "\nFixedParameters: " + fixed + "\n";
}

}  // namespace

TEST_CASE("affines are read when their parameters fit their type", "[warp]") {
  test::TempDir dir;
  const std::vector<double> shift{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3};
  for (const std::string& path :
       {write(dir, "a.txt", text("AffineTransform_double_3_3", kShift)),
        write(dir, "f.tfm", text("AffineTransform_float_3_3", kShift)),
        write(dir, "crlf.txt",
              "Transform: MatrixOffsetTransformBase_double_3_3\r\nFixedParameters: 0 0 0\r\nParameters: " + kShift + "\r\n"),
        write(dir, "a.mat", matlab({{"AffineTransform_double_3_3", shift}, {"fixed", {0, 0, 0}}})),
        write(dir, "f.mat", matlab({{"MatrixOffsetTransformBase_float_3_3", shift}, {"fixed", {0, 0, 0}}}, true)),
        // a composite: ITK's text writer lists its transforms after it
        write(dir, "c.txt", "Transform: CompositeTransform_double_3_3\n" + text("AffineTransform_double_3_3", kShift) +
                                "Transform: TranslationTransform_double_3_3\nParameters: 1 1 1\nFixedParameters:\n")}) {
    INFO(path);
    const auto p = moved(path);
    const double extra = path == dir.path("c.txt") ? 1 : 0;
    CHECK(p[0] == Approx(2 + extra));
    CHECK(p[1] == Approx(3 + extra));
    CHECK(p[2] == Approx(4 + extra));
  }
}

TEST_CASE("affines whose parameters do not fit their type are refused", "[warp][bad-inputs]") {
  test::TempDir dir;
  const auto refused = [&](const std::string& path, const std::vector<std::string>& words) {
    INFO(path);
    try {
      moved(path);
      FAIL("read");
    } catch (const std::exception& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find(path) != std::string::npos);
      for (const std::string& w : words) CHECK(message.find(w) != std::string::npos);
    }
  };
  // The fuzzer's find: Rigid3DTransform's SetParameters read twelve values from a shorter array (segfault).
  refused(write(dir, "rigid.txt", text("Rigid3DTransform_double_3_3", "1")),
          {"line 3", "1 parameters and 3 fixed parameters", "expected 12 and 3 for Rigid3DTransform_double_3_3"});
  refused(write(dir, "few-fixed.txt", text("AffineTransform_double_3_3", kShift, "0")), {"12 parameters and 1 fixed"});
  refused(write(dir, "rigid.mat", matlab({{"Rigid3DTransform_double_3_3", {1}}, {"fixed", {0, 0, 0}}})),
          {"matrices 1 and 2", "1 parameters and 3 fixed parameters", "expected 12 and 3"});
  refused(write(dir, "odd.mat", matlab({{"AffineTransform_double_3_3", {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}}})),
          {"1 matrices", "expected pairs"});
  refused(write(dir, "bspline.txt", text("BSplineTransform_double_3_3", "1", "1")),
          {"transform type \"BSplineTransform_double_3_3\"", "expected a linear 3D transform"});
  refused(write(dir, "flat.txt", text("AffineTransform_double_2_2", "1 0 0 1 0 0", "0 0")), {"expected a linear 3D transform"});
  refused(write(dir, "name.txt", text("Affine", kShift)), {"transform type \"Affine\""});
  refused(write(dir, "hex.txt", text("AffineTransform_double_3_3", "1 0 0 0 1 0 0 0 1 1 2 0x3")),
          {"line 4", "Parameters value 12 is \"0x3\"", "expected decimal numbers"});
  refused(write(dir, "nan.txt", text("AffineTransform_double_3_3", kShift, "0 nan 0")), {"FixedParameters value 2 is \"nan\""});
  refused(write(dir, "unset.txt", "Transform: AffineTransform_double_3_3\nParameters: " + kShift + "\n"),
          {"has no FixedParameters line"});
  refused(write(dir, "twice.txt", text("AffineTransform_double_3_3", kShift) + "Parameters: " + kShift + "\n"),
          {"line 6", "a second Parameters line"});
  refused(write(dir, "early.txt", "Parameters: " + kShift + "\n" + text("AffineTransform_double_3_3", kShift)),
          {"line 1", "Parameters before any Transform line"});
  // ITK's reader reads the file a line names, this one included: for ever.
  refused(write(dir, "self.txt", "Transform: AffineTransform_double_3_3\nComponentTransformFile: self.txt\n"),
          {"ComponentTransformFile"});
  refused(write(dir, "nul.txt", text("AffineTransform_double_3_3", kShift) + std::string(1, '\0')), {"a NUL byte"});
  refused(write(dir, "cr.txt", "Transform: AffineTransform_double_3_3\rParameters: " + kShift + "\rFixedParameters: 0 0 0\r"),
          {"carriage return"});
  refused(write(dir, "composite.txt", "Transform: CompositeTransform_double_3_3\n"), {"a composite transform must come first"});
}
