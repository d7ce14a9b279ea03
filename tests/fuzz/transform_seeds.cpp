// Writes the transform fuzz target's seeds into a folder: one affine as ITK text and as ANTs' MATLAB
// file (.txt, .mat) and a 2x2x2 displacement field (.nii.gz), each prefixed with the byte that makes the
// target read it under that name (tests/fuzz/transform.cpp). Made by bench/fuzz rather than kept in the
// repository: two of them are binary and this says how they were made.
#include <itkAffineTransform.h>
#include <itkTransformFileWriter.h>

#include <cstdio>
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
  return 0;
}
