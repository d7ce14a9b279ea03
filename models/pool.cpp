#include "models/pool.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "models/simd_clones.h"

namespace mlens::models {
namespace {

Int3 spatial_size(const at::Tensor& x) { return {x.size(2), x.size(3), x.size(4)}; }

// PyTorch's own output-size rule for pooling with symmetric padding and ceil_mode.
int64_t torch_pool_size(int64_t n, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  const int64_t num = n + 2 * p - (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (out - 1) * s >= n + p) --out;
  return out;
}

// Whether candidate (v, i) beats the current winner (best, at): a larger value, an equal value earlier in
// (D, H, W) scan order (= a smaller flat index), or a NaN over a number (ATen's max pooling propagates
// NaN). Bitwise, not short-circuit, so the loops below vectorise into compares and blends.
// !(v <= best) is "larger or NaN"; it may not replace a NaN already taken.
template <typename T>
inline bool beats(T v, int32_t i, T best, int32_t at) {
  return (!(v <= best) & (best == best)) | ((v == best) & (i < at));
}

// Merges n candidates (values, indices) into n winners, elementwise.
template <typename T>
inline void merge(const T* __restrict value, const int32_t* __restrict index, T* __restrict best,
                  int32_t* __restrict at, int32_t n) {
  for (int32_t k = 0; k < n; ++k) {
    const bool take = beats(value[k], index[k], best[k], at[k]);
    best[k] = take ? value[k] : best[k];
    at[k] = take ? index[k] : at[k];
  }
}

// One pooling window's extent [first, last) along axis a for output coordinate k: TensorFlow's windows
// start at k·stride − before and are clipped to the input.
struct WindowRange {
  Int3 n, stride, kernel, before;
  std::pair<int32_t, int32_t> operator()(int a, int64_t k) const {
    const int64_t start = k * stride[a] - before[a];
    return {static_cast<int32_t>(std::max<int64_t>(0, start)), static_cast<int32_t>(std::min(n[a], start + kernel[a]))};
  }
};

// Scratch lines of one thread: the running maxima and their indices over a plane, a row and a line of taps.
template <typename T>
struct Scratch {
  std::vector<T> plane_max, row_max, tap_max, best_max;
  std::vector<int32_t> plane_at, row_at, tap_at, best_at;
  Scratch(int64_t plane, int64_t row, int64_t out_row)
      : plane_max(plane), row_max(row), tap_max(out_row), best_max(out_row), plane_at(plane), row_at(row),
        tap_at(out_row), best_at(out_row) {}
};

// Output plane oz of one channel: xp is the channel's input, out/idx the plane's outputs. The window is
// reduced one axis at a time: for the output plane, the max over the window's input planes
// (elementwise), then over rows, then along the row. Each step carries the winner's flat input index,
// so ties resolve to the first maximum in scan order exactly as a full window scan would. Indices
// within one input channel fit 32 bits. Sizes are passed by value: through a reference the compiler
// must assume the int32 index stores may change them, and cannot vectorise.
template <typename T>
MLENS_SIMD_CLONES void pool_plane(const T* xp, T* out, int64_t* idx, int64_t oz, int64_t out_rows, int32_t out_row,
                                  int32_t plane_cells, int32_t row_cells, const WindowRange& window, Scratch<T>& s) {
  // In strips that stay in L1 while the window's planes are merged into them.
  const auto [z0, z1] = window(0, oz);
  constexpr int32_t kStrip = 1024;
  for (int32_t first = 0; first < plane_cells; first += kStrip) {
    const int32_t count = std::min(kStrip, plane_cells - first);
    T* __restrict pm = s.plane_max.data() + first;
    int32_t* __restrict pa = s.plane_at.data() + first;
    const T* src = xp + int64_t{z0} * plane_cells + first;
    const int32_t offset0 = z0 * plane_cells + first;
    for (int32_t i = 0; i < count; ++i) {
      pm[i] = src[i];
      pa[i] = offset0 + i;
    }
    for (int32_t z = z0 + 1; z < z1; ++z) {
      src = xp + int64_t{z} * plane_cells + first;
      const int32_t offset = z * plane_cells + first;
      for (int32_t i = 0; i < count; ++i) {
        // A later plane only wins with a larger value or a NaN: its indices are all larger.
        const T v = src[i], b = pm[i];
        const bool take = !(v <= b) & (b == b);
        pm[i] = take ? v : b;
        pa[i] = take ? offset + i : pa[i];
      }
    }
  }
  const int64_t k_row = window.kernel[2], stride_row = window.stride[2], before_row = window.before[2];
  for (int64_t oy = 0; oy < out_rows; ++oy) {
    const auto [y0, y1] = window(1, oy);
    std::copy_n(s.plane_max.begin() + y0 * row_cells, row_cells, s.row_max.begin());
    std::copy_n(s.plane_at.begin() + y0 * row_cells, row_cells, s.row_at.begin());
    for (int32_t y = y0 + 1; y < y1; ++y)
      merge(s.plane_max.data() + y * row_cells, s.plane_at.data() + y * row_cells, s.row_max.data(), s.row_at.data(),
            row_cells);
    // Along the row: tap e of every window, gathered into a contiguous line, then compared
    // elementwise like the planes and rows. Taps outside the input never win (−∞, last index).
    const T* __restrict rm = s.row_max.data();
    const int32_t* __restrict ra = s.row_at.data();
    for (int64_t e = 0; e < k_row; ++e) {
      T* __restrict tm = e == 0 ? s.best_max.data() : s.tap_max.data();
      int32_t* __restrict ta = e == 0 ? s.best_at.data() : s.tap_at.data();
      // Windows whose tap e lies inside the row form one range [lo, hi): a plain strided copy there,
      // which vectorises; outside it, padding.
      const int64_t shift = e - before_row;
      const int32_t lo = static_cast<int32_t>(std::min<int64_t>(out_row, shift >= 0 ? 0 : (stride_row - 1 - shift) / stride_row));
      const int32_t hi = static_cast<int32_t>(std::clamp<int64_t>((row_cells - shift + stride_row - 1) / stride_row, lo, out_row));
      for (int32_t ox = 0; ox < out_row; ++ox) {
        tm[ox] = -std::numeric_limits<T>::infinity();
        ta[ox] = std::numeric_limits<int32_t>::max();
      }
      const auto copy = [&](auto stride) {  // a stride known at compile time vectorises into shuffles
        for (int32_t ox = lo; ox < hi; ++ox) {
          tm[ox] = rm[ox * stride + shift];
          ta[ox] = ra[ox * stride + shift];
        }
      };
      if (stride_row == 2) copy(std::integral_constant<int64_t, 2>{});
      else copy(stride_row);
      if (e > 0) merge(s.tap_max.data(), s.tap_at.data(), s.best_max.data(), s.best_at.data(), out_row);
    }
    T* __restrict om = out + oy * out_row;
    int64_t* __restrict oi = idx + oy * out_row;
    for (int32_t ox = 0; ox < out_row; ++ox) {
      om[ox] = s.best_max[ox];
      oi[ox] = s.best_at[ox];
    }
  }
}

// ATen's CPU max_pool3d_with_indices takes several times longer on MRInet's first pool
// (docs/performance.md).
template <typename T>
void max_pool_cpu(const T* x, T* out, int64_t* idx, int64_t planes, const Int3& n, const Int3& o, const Layer& l,
                  const Pads& p) {
  const int64_t in_cells = n[0] * n[1] * n[2], out_cells = o[0] * o[1] * o[2], out_plane = o[1] * o[2];
  const int32_t plane_cells = static_cast<int32_t>(n[1] * n[2]), row_cells = static_cast<int32_t>(n[2]);
  const WindowRange window{n, l.stride, l.kernel, p.before};
  at::parallel_for(0, planes * o[0], 1, [&](int64_t begin, int64_t end) {
    Scratch<T> scratch(plane_cells, row_cells, o[2]);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t oz = task % o[0], plane = task / o[0];
      const int64_t first_out = plane * out_cells + oz * out_plane;
      pool_plane(x + plane * in_cells, out + first_out, idx + first_out, oz, o[1], static_cast<int32_t>(o[2]),
                 plane_cells, row_cells, window, scratch);
    }
  });
}

}  // namespace

MaxPoolResult max_pool(const Layer& layer, const at::Tensor& x) {
  // bfloat16 on the CPU (--fast-math bf16; LibTorch 1.13 has no CPU kernel for it): pool in float32,
  // which picks the same maxima.
  if (x.device().is_cpu() && x.scalar_type() == at::kBFloat16) {
    const MaxPoolResult r = max_pool(layer, x.to(at::kFloat));
    return {r.output.to(at::kBFloat16), r.indices};
  }
  const Int3 n = spatial_size(x);
  const Pads pads = window_pads(layer.padding, n, layer.kernel, layer.stride);
  if (x.device().is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble) &&
      !(x.requires_grad() && at::GradMode::is_enabled()) && n[0] * n[1] * n[2] <= INT32_MAX) {
    Int3 o;
    for (int a = 0; a < 3; ++a) o[a] = (n[a] + pads.before[a] + pads.after[a] - layer.kernel[a]) / layer.stride[a] + 1;
    const at::Tensor xc = x.contiguous();
    at::Tensor out = at::empty({x.size(0), x.size(1), o[0], o[1], o[2]}, x.options());
    at::Tensor idx = at::empty(out.sizes(), x.options().dtype(at::kLong));
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "max_pool", [&] {
      max_pool_cpu<scalar_t>(xc.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), idx.data_ptr<int64_t>(),
                             x.size(0) * x.size(1), n, o, layer, pads);
    });
    return {out, idx};
  }
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
  const at::Tensor padded = at::constant_pad_nd(x, pad_spec(pads), -std::numeric_limits<double>::infinity());
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
    return at::avg_pool3d(at::constant_pad_nd(t, pad_spec(pads), 0.0), layer.kernel, layer.stride,
                          {0, 0, 0}, false, true, /*divisor_override=*/1);
  };
  const at::Tensor ones = at::ones({1, 1, x.size(2), x.size(3), x.size(4)}, x.options());
  return sums(x) / sums(ones);
}

at::Tensor avg_pool_transpose(const Layer& layer, const at::Tensor& s, const Int3& input_size) {
  const Pads pads = window_pads(layer.padding, input_size, layer.kernel, layer.stride);
  const at::Tensor ones = at::ones({1, 1, input_size[0], input_size[1], input_size[2]}, s.options());
  const at::Tensor padded_ones = at::constant_pad_nd(ones, pad_spec(pads), 0.0);
  const at::Tensor counts =
      at::avg_pool3d(padded_ones, layer.kernel, layer.stride, {0, 0, 0}, false, true, /*divisor_override=*/1);
  const at::Tensor like_input = at::empty(
      {s.size(0), s.size(1), padded_ones.size(2), padded_ones.size(3), padded_ones.size(4)}, s.options());
  const at::Tensor r = at::avg_pool3d_backward(s / counts, like_input, layer.kernel, layer.stride, {0, 0, 0},
                                               false, true, /*divisor_override=*/1);
  return crop(r, pads, input_size).contiguous();
}

}  // namespace mlens::models
