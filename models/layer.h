// The layer types of a Sequential network, channels-first ([N, C, D, H, W] volumes, [N, F] vectors).
//
// A Keras layer with a fused activation becomes two layers here (Conv3d + ReLU), so that every layer
// has exactly one job and one relevance rule in lrp/. Adding a kind: extend LayerKind and the switch in
// layer.cpp (no default: the compiler names the missing case), then one dispatch entry per rule in lrp/.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <string>
#include <vector>

namespace mlens::models {

enum class LayerKind { Conv3d, Dense, MaxPool3d, AvgPool3d, Flatten, Dropout, ReLU, LeakyReLU, BatchNorm };
inline constexpr int kLayerKindCount = 9;
const char* to_string(LayerKind kind);

// Keras padding names: "same" pads so that out = ceil(n / stride) (TensorFlow's asymmetric rule, the
// extra cell after), "valid" does not pad.
enum class Padding { Same, Valid };

using Int3 = std::array<int64_t, 3>;

struct Layer {
  LayerKind kind;
  std::string name;  // the Keras layer's name, for messages and tables

  // Conv3d: weight [out, in, kd, kh, kw]; Dense: weight [out, in]; bias [out] (zeros when the layer has
  // none). BatchNorm: weight = scale γ/√(σ²+ε), bias = shift β − scale·μ, per channel (the inference
  // form y = scale·x + shift); `mean` and `beta` are kept for the relevance rule.
  at::Tensor weight, bias, mean, beta;

  Int3 kernel{1, 1, 1};  // pools (convolutions take it from the weight)
  Int3 stride{1, 1, 1};  // pools and convolutions
  Padding padding = Padding::Valid;
  double negative_slope = 0;  // LeakyReLU
  double rate = 0;            // Dropout (inactive at inference)
  // A Keras Dense on a volume acts on its channels (the last axis in Keras): a 1×1×1 Conv3d here, which
  // keeps the dense role in rule tables (iNNvestigate's Dense rule applies to it).
  bool pointwise_dense = false;

  bool has_weights() const { return kind == LayerKind::Conv3d || kind == LayerKind::Dense || kind == LayerKind::BatchNorm; }
  bool is_linear() const { return kind == LayerKind::Conv3d || kind == LayerKind::Dense; }
};

// Per-axis padding of one convolution or pooling window.
struct Pads {
  Int3 before{0, 0, 0}, after{0, 0, 0};
  bool symmetric() const { return before == after; }
};

// TensorFlow's padding for an input of `size` cells: "same" gives out = ceil(size / stride),
// pad_total = max((out − 1)·stride + kernel − size, 0), before = floor(pad_total / 2), after = the rest.
Pads window_pads(Padding padding, const Int3& size, const Int3& kernel, const Int3& stride);

// The padding as at::constant_pad_nd takes it (last axis first, before/after pairs), and the input's
// cells cut back out of a padded [N, C, D, H, W] tensor (a view).
std::vector<int64_t> pad_spec(const Pads& pads);
at::Tensor crop(const at::Tensor& padded, const Pads& pads, const Int3& size);

// The forward pass of one layer (inference; Dropout is the identity). `x` is not modified.
at::Tensor forward(const Layer& layer, const at::Tensor& x);

// The output shape for an input shape (batch axis included), without computing anything.
// Throws std::invalid_argument naming the layer when the input does not fit it.
std::vector<int64_t> output_shape(const Layer& layer, const std::vector<int64_t>& input_shape);

// "(1,16,99,99,99)" for messages.
std::string shape_text(const std::vector<int64_t>& shape);

// Number of trainable parameters (BatchNorm counts γ and β).
int64_t parameter_count(const Layer& layer);

}  // namespace mlens::models
