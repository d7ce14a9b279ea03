#include "models/sparse_conv.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "models/simd_clones.h"

namespace mlens::models {
namespace {

// p / d and p % d for a fixed d by a multiplication: a 64-bit division costs ~40 cycles, and decoding
// a position takes five of them, as much as the 27 multiply-adds it feeds. Exact for p < 2⁵⁰.
struct Divisor {
  int64_t d;
  double inverse;
  explicit Divisor(int64_t divisor) : d(divisor), inverse(1.0 / static_cast<double>(divisor)) {}
  // Returns p / d and leaves p % d in `p`.
  int64_t split(int64_t& p) const {
    int64_t q = static_cast<int64_t>(static_cast<double>(p) * inverse);
    if (q * d > p) --q;
    else if ((q + 1) * d <= p) ++q;
    p -= q * d;
    return q;
  }
};

// Shapes of one convolution; output cell o reads input cells o + a − before, a ∈ [0, k).
struct Geometry {
  int64_t N, Cin, Cout;
  Int3 in, out, k, before;

  Geometry(const at::Tensor& w, const Pads& pads, const std::vector<int64_t>& output_shape, const Int3& input_size)
      : N(output_shape.at(0)), Cin(w.size(1)), Cout(w.size(0)), in(input_size),
        out{output_shape.at(2), output_shape.at(3), output_shape.at(4)},
        k{w.size(2), w.size(3), w.size(4)}, before(pads.before), by_w(out[2]), by_hw(out[1] * out[2]),
        by_dhw(out[0] * out[1] * out[2]), by_c(Cout) {}
  Divisor by_w, by_hw, by_dhw, by_c;

  // Output cell → (n, c, corner of its window in input coordinates).
  struct Cell {
    int64_t n, c;
    Int3 corner;
  };
  Cell cell(int64_t p) const {
    Cell r{};
    int64_t channel = by_dhw.split(p);  // p: the cell within its channel
    r.n = by_c.split(channel);
    r.c = channel;
    r.corner[0] = by_hw.split(p) - before[0];
    r.corner[1] = by_w.split(p) - before[1];
    r.corner[2] = p - before[2];
    return r;
  }
  // The kernel offsets [lo, hi) along axis `a` that land inside the input.
  std::pair<int64_t, int64_t> range(const Cell& cell, int a) const {
    return {std::max<int64_t>(0, -cell.corner[a]), std::min(k[a], in[a] - cell.corner[a])};
  }
  int64_t input_volume() const { return in[0] * in[1] * in[2]; }
  int64_t output_volume() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_volume() const { return k[0] * k[1] * k[2]; }

  // A window inside the input reads k[2] consecutive cells at each of these spatial offsets from its
  // corner, one per kernel row (a, b).
  std::vector<int64_t> row_offsets() const {
    std::vector<int64_t> t;
    for (int64_t a = 0; a < k[0]; ++a)
      for (int64_t b = 0; b < k[1]; ++b) t.push_back((a * in[1] + b) * in[2]);
    return t;
  }

  // Calls f(spatial input index, kernel tap index) for every in-bounds tap of `cell`.
  template <typename F>
  void for_each_tap(const Cell& cell, F&& f) const {
    const auto [a0, a1] = range(cell, 0);
    const auto [b0, b1] = range(cell, 1);
    const auto [e0, e1] = range(cell, 2);
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t xi = ((cell.corner[0] + a) * in[1] + cell.corner[1] + b) * in[2] + cell.corner[2];
        const int64_t wi = (a * k[1] + b) * k[2];
        for (int64_t e = e0; e < e1; ++e) f(xi + e, wi + e);
      }
  }
};

// Where the windows of output cells start, found with one division per cell instead of five: per
// output row (d, h) the input index of its windows' corner at w = 0 (−1 when the windows leave the
// input along D or H), and the columns whose windows stay inside along W. The channel (n, c) changes
// rarely along the positions (they come grouped by channel), so it is decoded once per run.
class Windows {
 public:
  explicit Windows(const Geometry& g) : g_(g), row_corner_(g.out[0] * g.out[1]) {
    for (int64_t d = 0; d < g.out[0]; ++d)
      for (int64_t h = 0; h < g.out[1]; ++h) {
        const int64_t a = d - g.before[0], b = h - g.before[1];
        const bool inside = a >= 0 && a + g.k[0] <= g.in[0] && b >= 0 && b + g.k[1] <= g.in[1];
        row_corner_[d * g.out[1] + h] = inside ? (a * g.in[1] + b) * g.in[2] - g.before[2] : -1;
      }
    w_lo_ = g.before[2];
    w_hi_ = g.in[2] - g.k[2] + g.before[2] + 1;
  }

  // The window of output cell p: its (n, c) channel run and, when it lies inside the input, the
  // spatial index of its corner (else −1).
  struct Window {
    int64_t n, c, corner;
  };
  Window at(int64_t p) {
    if (p < run_start_ || p >= run_end_) {
      int64_t cell = p;
      int64_t channel = g_.by_dhw.split(cell);
      run_start_ = p - cell;
      run_end_ = run_start_ + g_.output_volume();
      n_ = g_.by_c.split(channel);
      c_ = channel;
    }
    int64_t w = p - run_start_;
    const int64_t row = g_.by_w.split(w);
    const int64_t corner = row_corner_[row];
    return {n_, c_, corner >= 0 && w >= w_lo_ && w < w_hi_ ? corner + w : -1};
  }

 private:
  const Geometry& g_;
  std::vector<int64_t> row_corner_;
  int64_t w_lo_ = 0, w_hi_ = 0;
  int64_t run_start_ = 0, run_end_ = 0, n_ = 0, c_ = 0;  // the current channel run [start, end), empty at first
};

// The loops read and write channels-last tensors (x [N, D, H, W, Cin], w [Cout, kd, kh, kw, Cin]), so
// that one kernel row of a window, k[2] cells × Cin channels, is one contiguous span in both: the
// inner loops run over spans and vectorise. (With one input channel the layouts coincide.)
struct Spans {
  std::vector<int64_t> x_offsets;  // per kernel row, its span's offset from the window's corner
  int64_t rows, length, taps;      // kernel rows, span length k[2]·Cin, taps per output channel k³·Cin

  explicit Spans(const Geometry& g) : rows(g.k[0] * g.k[1]), length(g.k[2] * g.Cin), taps(g.kernel_volume() * g.Cin) {
    for (int64_t o : g.row_offsets()) x_offsets.push_back(o * g.Cin);
  }
};

// Σ over a window inside the input: x and w at the window's corner and its output channel's kernel.
// `Rows`, `Length` > 0 fix the kernel's shape at compile time (3×3×3 on one channel, the image layer)
// so the loops unroll completely. The span is summed in blocks of up to 16 positions, each position
// with its own running sum across rows: elementwise, so it vectorises, and no single chain of
// dependent additions.
template <int64_t Rows, int64_t Length, typename T>
inline T window_dot(const T* x, const T* w, const Spans& spans) {
  int64_t rows = spans.rows, length = spans.length;
  if constexpr (Rows > 0) {
    rows = Rows;
    length = Length;
  }
  constexpr int64_t kBlock = Length > 0 && Length < 16 ? Length : 16;
  T total = 0;
  for (int64_t q0 = 0; q0 < length; q0 += kBlock) {
    T acc[kBlock] = {};
    if (q0 + kBlock <= length) {
      for (int64_t r = 0; r < rows; ++r) {
        const T* xr = x + spans.x_offsets[r] + q0;
        const T* wr = w + r * length + q0;
        for (int64_t q = 0; q < kBlock; ++q) acc[q] += xr[q] * wr[q];
      }
    } else {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t q = q0; q < length; ++q) acc[q - q0] += x[spans.x_offsets[r] + q] * w[r * length + q];
    }
    for (int64_t q = 0; q < kBlock; ++q) total += acc[q];
  }
  return total;
}

template <int64_t Rows, int64_t Length, typename T>
MLENS_SIMD_CLONES void conv_at_range(const Geometry& g, const Spans& spans, const T* x, const T* w, const T* b,
                                     const int64_t* pos, T* z, int64_t begin, int64_t end) {
  Windows windows(g);
  const int64_t in_volume = g.input_volume();
  for (int64_t j = begin; j < end; ++j) {
    const Windows::Window win = windows.at(pos[j]);
    const T* wc = w + win.c * spans.taps;
    T acc = b ? b[win.c] : T(0);
    if (win.corner >= 0) {
      acc += window_dot<Rows, Length>(x + (win.n * in_volume + win.corner) * g.Cin, wc, spans);
    } else {
      const Geometry::Cell cell = g.cell(pos[j]);
      g.for_each_tap(cell, [&](int64_t xi, int64_t tap) {
        const T* xs = x + (cell.n * in_volume + xi) * g.Cin;
        const T* ws = wc + tap * g.Cin;
        for (int64_t ci = 0; ci < g.Cin; ++ci) acc += xs[ci] * ws[ci];
      });
    }
    z[j] = acc;
  }
}

// Adds v·w_c over the window of each entry into r: x-shaped, channels-last.
template <int64_t Rows, int64_t Length, typename T>
MLENS_SIMD_CLONES void scatter_range(const Geometry& g, const Spans& spans, const T* s, const int64_t* pos,
                                     const T* w, T* r, int64_t begin, int64_t end) {
  Windows windows(g);
  const int64_t rows = Rows > 0 ? Rows : spans.rows, length = Length > 0 ? Length : spans.length;
  const int64_t in_volume = g.input_volume();
  for (int64_t j = begin; j < end; ++j) {
    const T v = s[j];
    if (v == 0) continue;
    const Windows::Window win = windows.at(pos[j]);
    const T* wc = w + win.c * spans.taps;
    if (win.corner >= 0) {
      T* rc = r + (win.n * in_volume + win.corner) * g.Cin;
      for (int64_t q = 0; q < rows; ++q) {
        T* __restrict rr = rc + spans.x_offsets[q];
        const T* __restrict wr = wc + q * length;
        for (int64_t e = 0; e < length; ++e) rr[e] += wr[e] * v;
      }
    } else {
      const Geometry::Cell cell = g.cell(pos[j]);
      g.for_each_tap(cell, [&](int64_t xi, int64_t tap) {
        T* rs = r + (cell.n * in_volume + xi) * g.Cin;
        const T* ws = wc + tap * g.Cin;
        for (int64_t ci = 0; ci < g.Cin; ++ci) rs[ci] += ws[ci] * v;
      });
    }
  }
}

at::Tensor channels_last(const at::Tensor& t) { return t.permute({0, 2, 3, 4, 1}).contiguous(); }

template <int64_t Rows, int64_t Length, typename T>
at::Tensor conv_at_cpu(const Geometry& g, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                       const at::Tensor& positions) {
  const Spans spans(g);
  const at::Tensor xl = channels_last(x), wl = channels_last(w.to(x.scalar_type())), pc = positions.contiguous();
  const at::Tensor bc = b.defined() ? b.to(x.scalar_type()).contiguous() : at::Tensor();
  at::Tensor z = at::empty({positions.numel()}, x.options());
  at::parallel_for(0, positions.numel(), 4096, [&](int64_t begin, int64_t end) {
    conv_at_range<Rows, Length>(g, spans, xl.data_ptr<T>(), wl.data_ptr<T>(), bc.defined() ? bc.data_ptr<T>() : nullptr,
                                pc.data_ptr<int64_t>(), z.data_ptr<T>(), begin, end);
  });
  return z;
}

// Scatters are not thread safe, so each of a few threads accumulates a contiguous part of the
// entries into its own copy of the output; the copies are summed at the end.
template <int64_t Rows, int64_t Length, typename T>
at::Tensor conv_transpose_at_cpu(const Geometry& g, const at::Tensor& s, const at::Tensor& positions,
                                 const at::Tensor& w) {
  const Spans spans(g);
  const at::Tensor sc = s.contiguous(), pc = positions.contiguous(), wl = channels_last(w.to(s.scalar_type()));
  const at::Tensor out = at::zeros({g.N, g.in[0], g.in[1], g.in[2], g.Cin}, s.options());
  const int64_t K = s.numel();
  const int64_t parts = std::clamp<int64_t>(K / 100000, 1, std::min<int64_t>(at::get_num_threads(), 4));
  std::vector<at::Tensor> partial{out};
  for (int64_t t = 1; t < parts; ++t) partial.push_back(at::zeros_like(out));
  at::parallel_for(0, parts, 1, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t)
      scatter_range<Rows, Length>(g, spans, sc.data_ptr<T>(), pc.data_ptr<int64_t>(), wl.data_ptr<T>(),
                                  partial[t].data_ptr<T>(), K * t / parts, K * (t + 1) / parts);
  });
  for (int64_t t = 1; t < parts; ++t) out.add_(partial[t]);
  return out.permute({0, 4, 1, 2, 3}).contiguous();
}

// Runs f(std::integral_constant<Rows>, std::integral_constant<Length>) with the kernel's shape fixed
// at compile time for 3×3×3 kernels on one input channel, and left to run time (0, 0) otherwise.
template <typename F>
void with_kernel_shape(const Geometry& g, F&& f) {
  if (g.Cin == 1 && g.k[0] * g.k[1] == 9 && g.k[2] == 3)
    f(std::integral_constant<int64_t, 9>{}, std::integral_constant<int64_t, 3>{});
  else
    f(std::integral_constant<int64_t, 0>{}, std::integral_constant<int64_t, 0>{});
}

// Device-agnostic versions: one gather (or index_add) per kernel tap over a zero-padded grid, where
// output cell o's window starts at padded cell o and no tap needs a bounds check.
struct PaddedTaps {
  at::Tensor corner;   // [K] padded flat index of each entry's tap (0, 0, 0) in input channel 0
  at::Tensor weights;  // [K, Cin·k³] each entry's kernel row
  Int3 padded;

  PaddedTaps(const Geometry& g, const at::Tensor& positions, const at::Tensor& w) {
    for (int a = 0; a < 3; ++a) padded[a] = g.out[a] + g.k[a] - 1;
    const at::Tensor ox = positions.remainder(g.out[2]);
    const at::Tensor oy = positions.div(g.out[2], "floor").remainder(g.out[1]);
    const at::Tensor oz = positions.div(g.out[2] * g.out[1], "floor").remainder(g.out[0]);
    const at::Tensor c = positions.div(g.out[2] * g.out[1] * g.out[0], "floor").remainder(g.Cout);
    const at::Tensor n = positions.div(g.out[2] * g.out[1] * g.out[0] * g.Cout, "floor");
    corner = ((n * g.Cin * padded[0] + oz) * padded[1] + oy) * padded[2] + ox;
    weights = w.reshape({g.Cout, -1}).index_select(0, c);
  }
  // Calls f(shift of the tap from the corner, weight column) for every tap.
  template <typename F>
  void for_each(const Geometry& g, F&& f) const {
    for (int64_t ci = 0; ci < g.Cin; ++ci)
      for (int64_t a = 0; a < g.k[0]; ++a)
        for (int64_t b = 0; b < g.k[1]; ++b)
          for (int64_t e = 0; e < g.k[2]; ++e)
            f(((ci * padded[0] + a) * padded[1] + b) * padded[2] + e, ((ci * g.k[0] + a) * g.k[1] + b) * g.k[2] + e);
  }
};

bool cpu_kernel(const at::Tensor& t) {
  return t.device().is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble);
}

void check(const at::Tensor& positions, const at::Tensor& w) {
  if (positions.scalar_type() != at::kLong || positions.dim() != 1)
    throw std::invalid_argument("sparse convolution: positions must be a 1-D int64 tensor");
  if (w.dim() != 5) throw std::invalid_argument("sparse convolution: the kernel must be 5-D");
}

// bfloat16 (--fast-math bf16): the sums over windows and winners run in float32 and are rounded once,
// as tensor cores and oneDNN accumulate; summed in bfloat16 they lost the map (relative L2 > 100).
bool bfloat16(const at::Tensor& t) { return t.scalar_type() == at::kBFloat16; }
at::Tensor to_float(const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; }

}  // namespace

at::Tensor scatter_dense(const at::Tensor& values, const at::Tensor& positions, const std::vector<int64_t>& shape) {
  if (bfloat16(values)) return scatter_dense(values.to(at::kFloat), positions, shape).to(at::kBFloat16);
  at::Tensor out = at::zeros({c10::multiply_integers(shape)}, values.options());
  if (!values.device().is_cpu()) return out.index_put_({positions}, values, /*accumulate=*/true).view(shape);
  // One thread, in the winners' order: ATen's CPU index_put_ adds from two threads with atomics, so a
  // cell several overlapping windows share got its sum in an order that depended on thread timing, and
  // identical runs differed in the last bit where a busy core delayed one thread.
  const at::Tensor v = values.contiguous(), p = positions.contiguous();
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "scatter_dense", [&] {
    scalar_t* o = out.data_ptr<scalar_t>();
    const scalar_t* x = v.data_ptr<scalar_t>();
    const int64_t* at = p.data_ptr<int64_t>();
    for (int64_t j = 0, n = p.numel(); j < n; ++j) o[at[j]] += x[j];
  });
  return out.view(shape);
}

bool sparse_maps_pay(const at::Tensor& w, int64_t entries, int64_t outputs) {
  return w.size(1) == 1 && static_cast<double>(entries) < 0.1 * static_cast<double>(outputs);
}

at::Tensor conv3d_at(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Pads& pads,
                     const at::Tensor& positions, SparseKernel kernel) {
  if (bfloat16(x)) return conv3d_at(x.to(at::kFloat), to_float(w), to_float(b), pads, positions, kernel).to(at::kBFloat16);
  check(positions, w);
  std::vector<int64_t> out_shape{x.size(0), w.size(0)};
  for (int a = 0; a < 3; ++a) out_shape.push_back(x.size(2 + a) + pads.before[a] + pads.after[a] - w.size(2 + a) + 1);
  const Geometry g(w, pads, out_shape, {x.size(2), x.size(3), x.size(4)});
  if (kernel == SparseKernel::Auto && cpu_kernel(x)) {
    at::Tensor z;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "conv3d_at", [&] {
      with_kernel_shape(g, [&](auto rows, auto length) {
        z = conv_at_cpu<decltype(rows)::value, decltype(length)::value, scalar_t>(g, x, w, b, positions);
      });
    });
    return z;
  }
  const PaddedTaps taps(g, positions, w);
  const at::Tensor flat = at::constant_pad_nd(x, pad_spec(pads), 0.0).reshape({-1});
  at::Tensor z = b.defined() ? b.index_select(0, positions.div(g.out[0] * g.out[1] * g.out[2], "floor").remainder(g.Cout))
                             : at::zeros({positions.numel()}, x.options());
  taps.for_each(g, [&](int64_t shift, int64_t column) {
    z.add_(flat.index_select(0, taps.corner + shift) * taps.weights.select(1, column));
  });
  return z;
}

at::Tensor conv3d_transpose_at(const at::Tensor& s, const at::Tensor& positions, const at::Tensor& w,
                               const Pads& pads, const std::vector<int64_t>& output_shape, const Int3& input_size,
                               SparseKernel kernel) {
  if (bfloat16(s))
    return conv3d_transpose_at(s.to(at::kFloat), positions, to_float(w), pads, output_shape, input_size, kernel).to(at::kBFloat16);
  check(positions, w);
  const Geometry g(w, pads, output_shape, input_size);
  if (kernel == SparseKernel::Auto && cpu_kernel(s)) {
    at::Tensor out;
    AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "conv3d_transpose_at", [&] {
      with_kernel_shape(g, [&](auto rows, auto length) {
        out = conv_transpose_at_cpu<decltype(rows)::value, decltype(length)::value, scalar_t>(g, s, positions, w);
      });
    });
    return out;
  }
  const PaddedTaps taps(g, positions, w);
  at::Tensor padded = at::zeros({g.N * g.Cin * taps.padded[0] * taps.padded[1] * taps.padded[2]}, s.options());
  taps.for_each(g, [&](int64_t shift, int64_t column) {
    padded.index_add_(0, taps.corner + shift, taps.weights.select(1, column) * s);
  });
  return padded.view({g.N, g.Cin, taps.padded[0], taps.padded[1], taps.padded[2]})
      .narrow(2, pads.before[0], input_size[0])
      .narrow(3, pads.before[1], input_size[1])
      .narrow(4, pads.before[2], input_size[2])
      .contiguous();
}

}  // namespace mlens::models
