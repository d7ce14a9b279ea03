#include "models/pool.h"

#include <limits>

namespace mlens::models {
namespace {

Int3 spatial_size(const at::Tensor& x) { return {x.size(2), x.size(3), x.size(4)}; }

std::vector<int64_t> constant_pad_spec(const Pads& p) {
  return {p.before[2], p.after[2], p.before[1], p.after[1], p.before[0], p.after[0]};
}

// PyTorch's own output-size rule for pooling with symmetric padding and ceil_mode.
int64_t torch_pool_size(int64_t n, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  const int64_t num = n + 2 * p - (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (out - 1) * s >= n + p) --out;
  return out;
}

at::Tensor crop(const at::Tensor& padded, const Pads& p, const Int3& size) {
  return padded.slice(2, p.before[0], p.before[0] + size[0])
      .slice(3, p.before[1], p.before[1] + size[1])
      .slice(4, p.before[2], p.before[2] + size[2]);
}

}  // namespace

MaxPoolResult max_pool(const Layer& layer, const at::Tensor& x) {
  const Int3 n = spatial_size(x);
  const Pads pads = window_pads(layer.padding, n, layer.kernel, layer.stride);
  // TensorFlow's windows start at o·stride − before. PyTorch's do too when it pads `before` on both
  // sides and, with ceil_mode, adds the trailing partial window; then no padded copy is needed.
  bool torch_matches = true;
  for (int a = 0; a < 3; ++a) {
    const int64_t tf_out = (n[a] + pads.before[a] + pads.after[a] - layer.kernel[a]) / layer.stride[a] + 1;
    torch_matches = torch_matches && 2 * pads.before[a] <= layer.kernel[a] &&
                    torch_pool_size(n[a], layer.kernel[a], layer.stride[a], pads.before[a], true) == tf_out;
  }
  const std::array<int64_t, 3> one{1, 1, 1};
  if (torch_matches) {
    auto [out, idx] = at::max_pool3d_with_indices(x, layer.kernel, layer.stride, pads.before, one, true);
    return {out, idx};
  }
  // General case: pad with −inf explicitly, then map the indices back to unpadded cells.
  const at::Tensor padded = at::constant_pad_nd(x, constant_pad_spec(pads), -std::numeric_limits<double>::infinity());
  auto [out, idx] = at::max_pool3d_with_indices(padded, layer.kernel, layer.stride, {0, 0, 0}, one, false);
  const int64_t hp = padded.size(3), wp = padded.size(4);
  const at::Tensor d = idx.div(hp * wp, "floor") - pads.before[0];
  const at::Tensor h = idx.div(wp, "floor").remainder(hp) - pads.before[1];
  const at::Tensor w = idx.remainder(wp) - pads.before[2];
  return {out, (d * n[1] + h) * n[2] + w};
}

at::Tensor avg_pool(const Layer& layer, const at::Tensor& x) {
  // Sum over the window of the zero-padded input, divided by the number of real cells in the window.
  const Pads pads = window_pads(layer.padding, spatial_size(x), layer.kernel, layer.stride);
  const auto sums = [&](const at::Tensor& t) {
    return at::avg_pool3d(at::constant_pad_nd(t, constant_pad_spec(pads), 0.0), layer.kernel, layer.stride,
                          {0, 0, 0}, false, true, /*divisor_override=*/1);
  };
  const at::Tensor ones = at::ones({1, 1, x.size(2), x.size(3), x.size(4)}, x.options());
  return sums(x) / sums(ones);
}

at::Tensor avg_pool_transpose(const Layer& layer, const at::Tensor& s, const Int3& input_size) {
  const Pads pads = window_pads(layer.padding, input_size, layer.kernel, layer.stride);
  const at::Tensor ones = at::ones({1, 1, input_size[0], input_size[1], input_size[2]}, s.options());
  const at::Tensor padded_ones = at::constant_pad_nd(ones, constant_pad_spec(pads), 0.0);
  const at::Tensor counts =
      at::avg_pool3d(padded_ones, layer.kernel, layer.stride, {0, 0, 0}, false, true, /*divisor_override=*/1);
  const at::Tensor like_input = at::empty(
      {s.size(0), s.size(1), padded_ones.size(2), padded_ones.size(3), padded_ones.size(4)}, s.options());
  const at::Tensor r = at::avg_pool3d_backward(s / counts, like_input, layer.kernel, layer.stride, {0, 0, 0},
                                               false, true, /*divisor_override=*/1);
  return crop(r, pads, input_size).contiguous();
}

}  // namespace mlens::models
