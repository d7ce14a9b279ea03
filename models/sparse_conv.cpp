#include "models/sparse_conv.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <vector>

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

  // Most windows lie inside the input; theirs are a fixed list of offsets from the corner, in the
  // kernel's memory order (every input channel's k³ taps).
  std::vector<int64_t> taps() const {
    std::vector<int64_t> t;
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t a = 0; a < k[0]; ++a)
        for (int64_t b = 0; b < k[1]; ++b)
          for (int64_t e = 0; e < k[2]; ++e) t.push_back(((ci * in[0] + a) * in[1] + b) * in[2] + e);
    return t;
  }
  bool inside(const Cell& cell) const {
    for (int a = 0; a < 3; ++a)
      if (cell.corner[a] < 0 || cell.corner[a] + k[a] > in[a]) return false;
    return true;
  }
  int64_t corner_index(const Cell& cell) const {
    return ((cell.n * Cin * in[0] + cell.corner[0]) * in[1] + cell.corner[1]) * in[2] + cell.corner[2];
  }
  int64_t kernel_volume() const { return k[0] * k[1] * k[2]; }

  // Calls f(input offset, kernel offset) for every in-bounds tap of `cell` and input channel `ci`.
  template <typename F>
  void for_each_tap(const Cell& cell, int64_t ci, F&& f) const {
    const auto [a0, a1] = range(cell, 0);
    const auto [b0, b1] = range(cell, 1);
    const auto [e0, e1] = range(cell, 2);
    const int64_t x_base = (cell.n * Cin + ci) * input_volume();
    const int64_t w_base = (cell.c * Cin + ci) * kernel_volume();
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t xi = x_base + ((cell.corner[0] + a) * in[1] + cell.corner[1] + b) * in[2] + cell.corner[2];
        const int64_t wi = w_base + (a * k[1] + b) * k[2];
        for (int64_t e = e0; e < e1; ++e) f(xi + e, wi + e);
      }
  }
};

// Σ over the taps of a window inside the input. Four independent sums: one chain of dependent
// additions would wait on each add's latency. `Taps` > 0 fixes the count at compile time (3×3×3
// kernels on one channel, the image layer) so the loop unrolls completely.
template <int64_t Taps, typename T>
inline T window_dot(const T* xc, const T* wc, const int64_t* taps, int64_t n_taps) {
  if constexpr (Taps > 0) n_taps = Taps;
  T part[4] = {0, 0, 0, 0};
  int64_t t = 0;
  for (; t + 4 <= n_taps; t += 4)
    for (int u = 0; u < 4; ++u) part[u] += xc[taps[t + u]] * wc[t + u];
  for (; t < n_taps; ++t) part[0] += xc[taps[t]] * wc[t];
  return (part[0] + part[1]) + (part[2] + part[3]);
}

template <int64_t Taps, typename T>
void conv_at_cpu(const Geometry& g, const T* x, const T* w, const T* b, const int64_t* pos, T* z, int64_t K) {
  const std::vector<int64_t> taps = g.taps();
  const int64_t n_taps = static_cast<int64_t>(taps.size());
  at::parallel_for(0, K, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const Geometry::Cell cell = g.cell(pos[j]);
      T acc = b ? b[cell.c] : T(0);
      if (g.inside(cell)) {
        acc += window_dot<Taps>(x + g.corner_index(cell), w + cell.c * n_taps, taps.data(), n_taps);
      } else {
        for (int64_t ci = 0; ci < g.Cin; ++ci) g.for_each_tap(cell, ci, [&](int64_t xi, int64_t wi) { acc += x[xi] * w[wi]; });
      }
      z[j] = acc;
    }
  });
}

// Scatters are not thread safe, so each of a few threads accumulates a contiguous part of the
// entries into its own copy of the output; the copies are summed at the end.
template <typename T>
at::Tensor conv_transpose_at_cpu(const Geometry& g, const at::Tensor& s, const at::Tensor& positions,
                                 const at::Tensor& w) {
  const at::Tensor out = at::zeros({g.N, g.Cin, g.in[0], g.in[1], g.in[2]}, s.options());
  const int64_t K = s.numel();
  const int64_t parts = std::clamp<int64_t>(K / 100000, 1, std::min<int64_t>(at::get_num_threads(), 4));
  std::vector<at::Tensor> partial{out};
  for (int64_t t = 1; t < parts; ++t) partial.push_back(at::zeros_like(out));
  const std::vector<int64_t> taps = g.taps();
  const int64_t n_taps = static_cast<int64_t>(taps.size());
  const T* sv = s.data_ptr<T>();
  const int64_t* pos = positions.data_ptr<int64_t>();
  const T* wv = w.data_ptr<T>();
  at::parallel_for(0, parts, 1, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      T* r = partial[t].data_ptr<T>();
      for (int64_t j = K * t / parts; j < K * (t + 1) / parts; ++j) {
        const T v = sv[j];
        if (v == 0) continue;
        const Geometry::Cell cell = g.cell(pos[j]);
        if (g.inside(cell)) {
          T* rc = r + g.corner_index(cell);
          const T* wc = wv + cell.c * n_taps;
          for (int64_t t = 0; t < n_taps; ++t) rc[taps[t]] += wc[t] * v;
        } else {
          for (int64_t ci = 0; ci < g.Cin; ++ci)
            g.for_each_tap(cell, ci, [&](int64_t xi, int64_t wi) { r[xi] += wv[wi] * v; });
        }
      }
    }
  });
  for (int64_t t = 1; t < parts; ++t) out.add_(partial[t]);
  return out;
}

std::vector<int64_t> pad_spec(const Pads& p) {
  return {p.before[2], p.after[2], p.before[1], p.after[1], p.before[0], p.after[0]};
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

}  // namespace

at::Tensor scatter_dense(const at::Tensor& values, const at::Tensor& positions, const std::vector<int64_t>& shape) {
  return at::zeros({c10::multiply_integers(shape)}, values.options())
      .index_put_({positions}, values, /*accumulate=*/true)
      .view(shape);
}

bool sparse_maps_pay(const at::Tensor& w, int64_t entries, int64_t outputs) {
  return w.size(1) == 1 && static_cast<double>(entries) < 0.1 * static_cast<double>(outputs);
}

at::Tensor conv3d_at(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Pads& pads,
                     const at::Tensor& positions, SparseKernel kernel) {
  check(positions, w);
  std::vector<int64_t> out_shape{x.size(0), w.size(0)};
  for (int a = 0; a < 3; ++a) out_shape.push_back(x.size(2 + a) + pads.before[a] + pads.after[a] - w.size(2 + a) + 1);
  const Geometry g(w, pads, out_shape, {x.size(2), x.size(3), x.size(4)});
  if (kernel == SparseKernel::Auto && cpu_kernel(x)) {
    const at::Tensor xc = x.contiguous(), wc = w.to(x.scalar_type()).contiguous(), pc = positions.contiguous();
    const at::Tensor bc = b.defined() ? b.to(x.scalar_type()).contiguous() : at::Tensor();
    at::Tensor z = at::empty({positions.numel()}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "conv3d_at", [&] {
      const auto run = [&](auto taps) {
        conv_at_cpu<decltype(taps)::value, scalar_t>(g, xc.data_ptr<scalar_t>(), wc.data_ptr<scalar_t>(),
                                                      bc.defined() ? bc.data_ptr<scalar_t>() : nullptr,
                                                      pc.data_ptr<int64_t>(), z.data_ptr<scalar_t>(), positions.numel());
      };
      if (g.Cin * g.kernel_volume() == 27)
        run(std::integral_constant<int64_t, 27>{});
      else
        run(std::integral_constant<int64_t, 0>{});
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
  check(positions, w);
  const Geometry g(w, pads, output_shape, input_size);
  if (kernel == SparseKernel::Auto && cpu_kernel(s)) {
    const at::Tensor sc = s.contiguous(), pc = positions.contiguous(), wc = w.to(s.scalar_type()).contiguous();
    at::Tensor out;
    AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "conv3d_transpose_at",
                               [&] { out = conv_transpose_at_cpu<scalar_t>(g, sc, pc, wc); });
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
