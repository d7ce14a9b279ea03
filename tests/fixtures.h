// Test helpers that need files: temporary folders, .npy and template writers, running `mlens`, reading
// files, zlib. The networks and inputs come from networks.h.
#pragma once

#include <string>
#include <vector>

#include "networks.h"

namespace mlens::test {

// A fresh temporary directory for one test, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

// Writes a .npy file (format 1.0) with the given header fields and raw little-endian data.
void write_npy(const std::string& path, const std::string& descr, const std::string& fortran, const std::string& shape,
               const std::vector<char>& data);

// A small stand-in for Colin27 and the MNI 2 mm grid (ch2bet.nii.gz, JHU-WhiteMatter-labels-2mm.nii.gz)
// in `dir`: an ellipsoid brain (64x76x64, 1 mm) with a white-matter core, a grey-matter shell with sulci
// and deep ventricles, centred at RAS (0, -17, 8), for the simulator without Debian's mricron-data.
void write_simulation_templates(const std::string& dir);

// Runs a shell command, returning its exit status; stdout+stderr are captured in `output`.
int run(const std::string& command, std::string* output = nullptr);

// A file's bytes ("" when it cannot be read).
std::string file_bytes(const std::string& path);

// zlib, an independent gzip to check io/gzip.h against: what a gzip file holds, and a gzip file of the
// given members (each a complete gzip member, concatenated as `cat a.gz b.gz` makes them).
std::string zlib_gunzip(const std::string& path);
void zlib_write_gzip(const std::string& path, const std::vector<std::string>& members);

}  // namespace mlens::test
