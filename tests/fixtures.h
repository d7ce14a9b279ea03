// Small synthetic networks and inputs shared by the tests. Sizes are odd on purpose (13×17×11) so that
// TensorFlow's "same" padding is asymmetric somewhere.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/keras_import.h"

namespace mlens::test {

// Keras Sequential configs.
nlohmann::json mini_mrinet_config();   // 13×17×11×1: conv/pool(3,2,same) ×2, 1×1 conv, flatten, dropout, dense, dense
nlohmann::json mixed_config();         // 9×10×11×2: even kernel, valid padding, avg pool, folded and standalone BatchNorm
// conv(1→3) → 3×3×3 max-pool with stride 3 → conv → dense: at most 1/27 of the first layer's outputs
// win a window, so its relevance takes the direct sparse maps (models/sparse_conv.h).
nlohmann::json sparse_first_config();
nlohmann::json pool_first_config();    // 8×8×8×1: max pool straight on the input (ties from quantised voxels)
std::vector<std::pair<std::string, nlohmann::json>> all_configs();

// Standard-normal input with negatives, [1, C, D, H, W]; `quantise` rounds to multiples of 0.25 to make ties.
at::Tensor random_input(const models::Sequential& net, uint64_t seed, bool quantise = false);

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
