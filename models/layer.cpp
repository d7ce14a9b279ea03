#include "models/layer.h"

#include <optional>
#include <stdexcept>

#include "models/conv.h"
#include "models/pool.h"

namespace mlens::models {

const char* to_string(LayerKind kind) {
  switch (kind) {
    case LayerKind::Conv3d: return "Conv3d";
    case LayerKind::Dense: return "Dense";
    case LayerKind::MaxPool3d: return "MaxPool3d";
    case LayerKind::AvgPool3d: return "AvgPool3d";
    case LayerKind::Flatten: return "Flatten";
    case LayerKind::Dropout: return "Dropout";
    case LayerKind::ReLU: return "ReLU";
    case LayerKind::LeakyReLU: return "LeakyReLU";
    case LayerKind::BatchNorm: return "BatchNorm";
  }
  return "?";
}

Pads window_pads(Padding padding, const Int3& size, const Int3& kernel, const Int3& stride) {
  Pads p;
  if (padding == Padding::Valid) return p;
  for (int a = 0; a < 3; ++a) {
    const int64_t out = (size[a] + stride[a] - 1) / stride[a];
    const int64_t total = std::max<int64_t>((out - 1) * stride[a] + kernel[a] - size[a], 0);
    p.before[a] = total / 2;
    p.after[a] = total - total / 2;
  }
  return p;
}

std::vector<int64_t> pad_spec(const Pads& p) {
  return {p.before[2], p.after[2], p.before[1], p.after[1], p.before[0], p.after[0]};
}

at::Tensor crop(const at::Tensor& padded, const Pads& p, const Int3& size) {
  return padded.slice(2, p.before[0], p.before[0] + size[0])
      .slice(3, p.before[1], p.before[1] + size[1])
      .slice(4, p.before[2], p.before[2] + size[2]);
}

namespace {

// Windows per axis over `size` cells padded as TensorFlow pads; none where a padded axis is shorter than the window.
std::optional<Int3> window_counts(Padding padding, const Int3& size, const Int3& kernel, const Int3& stride) {
  const Pads p = window_pads(padding, size, kernel, stride);
  Int3 cells;
  for (int a = 0; a < 3; ++a) {
    const int64_t span = size[a] + p.before[a] + p.after[a] - kernel[a];
    if (span < 0) return std::nullopt;
    cells[a] = span / stride[a] + 1;
  }
  return cells;
}

Int3 conv_kernel(const Layer& l) { return {l.weight.size(2), l.weight.size(3), l.weight.size(4)}; }

// Broadcasts a per-channel vector over [N, C, ...].
at::Tensor per_channel(const at::Tensor& v, int64_t rank) {
  std::vector<int64_t> shape(rank, 1);
  shape[1] = v.size(0);
  return v.view(shape);
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "(";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
  return t + ")";
}

at::Tensor forward(const Layer& l, const at::Tensor& x) {
  switch (l.kind) {
    case LayerKind::Conv3d: {
      const Int3 n{x.size(2), x.size(3), x.size(4)};
      return conv3d(x, l.weight, l.bias, window_pads(l.padding, n, conv_kernel(l), l.stride), l.stride);
    }
    case LayerKind::Dense: return at::linear(x, l.weight, l.bias);
    case LayerKind::MaxPool3d: return max_pool(l, x).output;
    case LayerKind::AvgPool3d: return avg_pool(l, x);
    case LayerKind::Flatten: return x.reshape({x.size(0), -1});
    case LayerKind::Dropout: return x;
    case LayerKind::ReLU: return at::relu(x);
    case LayerKind::LeakyReLU: return at::leaky_relu(x, l.negative_slope);
    case LayerKind::BatchNorm: return x * per_channel(l.weight, x.dim()) + per_channel(l.bias, x.dim());
  }
  throw std::logic_error("forward: unknown layer kind");
}

std::vector<int64_t> output_shape(const Layer& l, const std::vector<int64_t>& in) {
  const auto fail = [&](const std::string& expected) {
    return std::invalid_argument("layer \"" + l.name + "\" (" + to_string(l.kind) + "): input shape " +
                                 shape_text(in) + ", expected " + expected);
  };
  switch (l.kind) {
    case LayerKind::Conv3d: {
      if (in.size() != 5 || in[1] != l.weight.size(1))
        throw fail("[N, " + std::to_string(l.weight.size(1)) + ", D, H, W]");
      const Int3 k = conv_kernel(l);
      const auto cells = window_counts(l.padding, {in[2], in[3], in[4]}, k, l.stride);
      if (!cells) throw fail("each spatial size ≥ the kernel " + shape_text({k[0], k[1], k[2]}));
      return {in[0], l.weight.size(0), (*cells)[0], (*cells)[1], (*cells)[2]};
    }
    case LayerKind::Dense:
      if (in.size() != 2 || in[1] != l.weight.size(1)) throw fail("[N, " + std::to_string(l.weight.size(1)) + "]");
      return {in[0], l.weight.size(0)};
    case LayerKind::MaxPool3d:
    case LayerKind::AvgPool3d: {
      if (in.size() != 5) throw fail("[N, C, D, H, W]");
      const auto cells = window_counts(l.padding, {in[2], in[3], in[4]}, l.kernel, l.stride);
      if (!cells) throw fail("each spatial size ≥ the pool size");
      return {in[0], in[1], (*cells)[0], (*cells)[1], (*cells)[2]};
    }
    case LayerKind::Flatten: {
      int64_t f = 1;
      for (size_t i = 1; i < in.size(); ++i) f *= in[i];
      return {in[0], f};
    }
    case LayerKind::Dropout:
    case LayerKind::ReLU:
    case LayerKind::LeakyReLU: return in;
    case LayerKind::BatchNorm:
      if (in.size() < 2 || in[1] != l.weight.size(0)) throw fail(std::to_string(l.weight.size(0)) + " channels");
      return in;
  }
  throw std::logic_error("output_shape: unknown layer kind");
}

int64_t parameter_count(const Layer& l) {
  switch (l.kind) {
    case LayerKind::Conv3d:
    case LayerKind::Dense:
    case LayerKind::BatchNorm: return l.weight.numel() + l.bias.numel();
    case LayerKind::MaxPool3d:
    case LayerKind::AvgPool3d:
    case LayerKind::Flatten:
    case LayerKind::Dropout:
    case LayerKind::ReLU:
    case LayerKind::LeakyReLU: return 0;
  }
  return 0;
}

}  // namespace mlens::models
