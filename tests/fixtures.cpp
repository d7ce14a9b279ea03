#include "fixtures.h"

#include <zlib.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "io/volume.h"

namespace mlens::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mlens-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
}
TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void write_npy(const std::string& path, const std::string& descr, const std::string& fortran, const std::string& shape,
               const std::vector<char>& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff)).put(static_cast<char>(len >> 8));
  out << header;
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

int run(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) text.append(buf, n);
  const int status = pclose(pipe);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

double ellipsoid(const std::array<double, 3>& p, const std::array<double, 3>& c, const std::array<double, 3>& r) {
  double s = 0;
  for (int a = 0; a < 3; ++a) s += (p[a] - c[a]) * (p[a] - c[a]) / (r[a] * r[a]);
  return s;
}

}  // namespace

void write_simulation_templates(const std::string& dir) {
  std::filesystem::create_directories(dir);
  io::Volume t1;
  t1.shape = {64, 76, 64};
  t1.geometry.origin = {31.5, 37.5 + 17, 8 - 31.5};  // LPS; centre of the grid at RAS (0, -17, 8)
  t1.geometry.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};  // RAS voxel axes, as ch2bet
  t1.voxels.assign(t1.size(), 0.f);
  const std::array<double, 3> centre{0, 17, 8};
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < 76; ++j)
      for (int64_t k = 0; k < 64; ++k) {
        const auto p = t1.geometry.world({double(i), double(j), double(k)});
        float v = 0;
        if (ellipsoid(p, centre, {29, 35, 29}) <= 1) v = 80;           // grey matter
        if (ellipsoid(p, centre, {24, 30, 24}) <= 1) v = 110;          // white matter
        if (ellipsoid(p, centre, {6, 13, 6}) <= 1) v = 30;             // ventricles
        const double e = ellipsoid(p, centre, {29, 35, 29});
        const bool cortex = e > 0.55 && e <= 1;
        if (cortex && (std::abs(p[0]) < 1 || std::fmod(std::abs(p[1] - 17) + 2, 7) < 1.2 || std::fmod(std::abs(p[2] - 8) + 2, 7) < 1.2))
          v = 30;  // sulci
        t1.at(i, j, k) = v;
      }
  io::write_volume(dir + "/ch2bet.nii.gz", t1);
  io::Volume mni;
  mni.shape = {34, 40, 34};
  mni.geometry.spacing = {2, 2, 2};
  mni.geometry.origin = {33, 39 + 17, 8 - 33};
  mni.geometry.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  mni.voxels.assign(mni.size(), 0.f);
  io::write_volume(dir + "/JHU-WhiteMatter-labels-2mm.nii.gz", mni);
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string zlib_gunzip(const std::string& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  if (!in) return "";
  std::string out;
  char buffer[1 << 16];
  for (int n; (n = gzread(in, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
  gzclose(in);
  return out;
}

void zlib_write_gzip(const std::string& path, const std::vector<std::string>& members) {
  std::ofstream out(path, std::ios::binary);
  for (const std::string& m : members) {
    const std::string tmp = path + ".member";
    gzFile f = gzopen(tmp.c_str(), "wb6");
    gzwrite(f, m.data(), static_cast<unsigned>(m.size()));
    gzclose(f);
    out << file_bytes(tmp);
    std::filesystem::remove(tmp);
  }
}

}  // namespace mlens::test
