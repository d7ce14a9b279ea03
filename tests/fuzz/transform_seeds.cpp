// Writes the transform fuzz target's seeds into a folder: one affine as ITK text and as ANTs' MATLAB
// file (.txt, .mat), a 2x2x2 displacement field (.nii.gz), that field as int16 values, unscaled (read)
// and scaled (refused: ITK's reader overran its buffer rescaling integer vectors), and a rigid transform
// one parameter short (refused: ITK's Rigid3DTransform wrote past its parameters), each prefixed with
// the byte that makes the target read it under that name (tests/fuzz/transform.cpp). Made by bench/fuzz
// rather than kept in the repository: most are binary and this says how they were made.
#include <itkAffineTransform.h>
#include <itkTransformFileWriter.h>

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "io/volume.h"
#include "io/warp.h"

namespace {

// Copies `file` to `seed` with the target's name-selecting byte in front.
void prefix(const std::string& file, char selector, const std::string& seed) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(seed, std::ios::binary) << selector << bytes;
  std::remove(file.c_str());
}

// `nii` (an uncompressed NIfTI-1 file) as int16 values scaled by `slope` (the float bytes read as int16:
// the values do not matter), gzipped into `gz`.
void as_int16(const std::string& nii, float slope, const std::string& gz) {
  std::ifstream in(nii, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int16_t datatype = 4, bitpix = 16;
  std::memcpy(&bytes[70], &datatype, 2);
  std::memcpy(&bytes[72], &bitpix, 2);
  std::memcpy(&bytes[112], &slope, 4);
  gzFile out = gzopen(gz.c_str(), "wb");
  gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_transform_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  mlens::io::register_transform_io();
  auto affine = itk::AffineTransform<double, 3>::New();
  auto matrix = affine->GetMatrix();
  matrix.SetIdentity();
  matrix(0, 0) = 1.1;
  matrix(0, 1) = 0.1;
  affine->SetMatrix(matrix);
  itk::AffineTransform<double, 3>::OutputVectorType offset;
  offset[0] = 2;
  offset[1] = -3;
  offset[2] = 0.5;
  affine->SetOffset(offset);
  // The selector bytes as transform.cpp reads them: 0 .txt, 2 .mat, 3 .nii.gz (4 added: inverted).
  const struct {
    const char* name;
    char selector;
  } affines[] = {{"affine.txt", 0}, {"affine.mat", 2}, {"inverse.mat", 6}};
  for (const auto& a : affines) {
    auto writer = itk::TransformFileWriterTemplate<double>::New();
    writer->SetInput(affine);
    writer->SetFileName(dir + "/" + a.name);
    writer->Update();
    prefix(dir + "/" + a.name, a.selector, dir + "/seed-" + a.name);
  }
  std::array<mlens::io::Volume, 3> field;
  for (int c = 0; c < 3; ++c) {
    field[c].shape = {2, 2, 2};
    field[c].voxels.assign(8, 0.5f * static_cast<float>(c));
  }
  mlens::io::write_displacement_field(dir + "/warp.nii.gz", field);
  prefix(dir + "/warp.nii.gz", 3, dir + "/seed-warp.nii.gz");
  mlens::io::write_displacement_field(dir + "/warp.nii", field);
  for (const float slope : {1.0f, 0.5f}) {
    const std::string name = slope == 1 ? "int16-warp.nii.gz" : "scaled-int16-warp.nii.gz";
    as_int16(dir + "/warp.nii", slope, dir + "/" + name);
    prefix(dir + "/" + name, 3, dir + "/seed-" + name);
  }
  std::remove((dir + "/warp.nii").c_str());
  std::ofstream(dir + "/rigid.txt") << "#Insight Transform File V1.0\n#Transform 0\nTransform: Rigid3DTransform_double_3_3\n"
                                       "Parameters: 1 0 0 0 1 0 0 0 1 0 0\nFixedParameters: 0 0 0\n";
  prefix(dir + "/rigid.txt", 0, dir + "/seed-rigid.txt");
  return 0;
}
