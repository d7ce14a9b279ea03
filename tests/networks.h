// Small synthetic networks and inputs shared by the tests, the CUDA check and bench/: plain data and
// LibTorch only, so that the core-only build (models/, lrp/) has them too. Sizes are odd on purpose
// (13×17×11) so that TensorFlow's "same" padding is asymmetric somewhere.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "models/keras_import.h"

namespace mlens::test {

// Keras Sequential architectures.
models::KerasArchitecture mini_mrinet();  // 13×17×11×1: conv/pool(3,2,same) ×2, 1×1 conv, flatten, dropout, dense, dense
models::KerasArchitecture mixed();        // 9×10×11×2: even kernel, valid padding, avg pool, folded and standalone BatchNorm
// conv(1→3) → 3×3×3 max-pool with stride 3 → conv → dense: at most 1/27 of the first layer's outputs
// win a window, so its relevance takes the direct sparse maps (models/sparse_conv.h).
models::KerasArchitecture sparse_first();
models::KerasArchitecture pool_first();   // 8×8×8×1: max pool straight on the input (ties from quantised voxels)
// 2D, 12×10×3: Conv2D with stride 2, max pool, Conv2D with strides (1, 2), dense, 4 outputs ending in a softmax.
models::KerasArchitecture strided_2d();
// 7×9×8×3: Conv3D with stride 2, a Dense on the volume (per voxel), BatchNorm, global average pooling, 3 outputs.
models::KerasArchitecture global_3d();
// 2D, 9×11×1: Conv2D with strides (2, 3), average pool (2, 3) with strides (1, 2), global max pooling, 2 outputs.
models::KerasArchitecture global_max_2d();
std::vector<std::pair<std::string, models::KerasArchitecture>> all_architectures();

// Layers for building more (Keras 2.2 configs, as the architectures above use them).
models::KerasLayer conv(const std::string& name, int64_t filters, std::vector<int64_t> kernel, const std::string& padding,
                        const std::string& activation, bool bias = true);
models::KerasLayer pool(const std::string& cls, const std::string& name, int64_t size, int64_t stride, const std::string& padding);
models::KerasLayer dense(const std::string& name, int64_t units, const std::string& activation);
models::KerasLayer layer(const std::string& cls, const std::string& name);  // Flatten, Dropout(0.5), Activation(relu), BatchNorm
// 2D layers: kernel, pool size and strides (H, W).
models::KerasLayer conv2d(const std::string& name, int64_t filters, std::vector<int64_t> kernel, std::vector<int64_t> strides,
                          const std::string& padding, const std::string& activation);
models::KerasLayer pool2d(const std::string& cls, const std::string& name, std::vector<int64_t> size,
                          std::vector<int64_t> strides, const std::string& padding);

// The first Conv and the first Dense layer's names (for rule tables keyed by name).
std::pair<std::string, std::string> first_conv_and_dense(const models::KerasArchitecture& architecture);

// Standard-normal input with negatives, [1, C, D, H, W]; `quantise` rounds to multiples of 0.25 to make ties.
at::Tensor random_input(const models::Sequential& net, uint64_t seed, bool quantise = false);

}  // namespace mlens::test
