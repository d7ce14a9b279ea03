// Test helpers that need files: temporary folders, .npy and template writers, running `mlens`. The
// networks and inputs come from networks.h.
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

}  // namespace mlens::test
