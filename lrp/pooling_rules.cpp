#include "lrp/pooling_rules.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "models/pool.h"

namespace mlens::lrp {

at::Tensor max_pool_relevance_first(const at::Tensor& indices, const std::vector<int64_t>& input_shape,
                                    const at::Tensor& relevance) {
  const int64_t rows = input_shape[0] * input_shape[1];
  const int64_t cells = input_shape[2] * input_shape[3] * input_shape[4];
  at::Tensor r = at::zeros({rows, cells}, relevance.options());
  r.scatter_add_(1, indices.reshape({rows, -1}), relevance.reshape({rows, -1}));
  return r.view(input_shape);
}

namespace {

// The non-zeros of `relevance` in order, with their winners' positions: each block of cells counts its
// non-zeros, then writes them at its offset; both passes in parallel (ATen's nonzero is one thread and
// took ~60 ms on MRInet's first pool).
template <typename T>
MaxPoolWinners winners_cpu(const at::Tensor& indices, const at::Tensor& relevance, int64_t pooled_cells,
                           int64_t cells) {
  const int64_t n = relevance.numel();
  constexpr int64_t kBlock = 1 << 16;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const T* r = relevance.data_ptr<T>();
  const int64_t* index = indices.data_ptr<int64_t>();
  std::vector<int64_t> offset(blocks + 1, 0);
  at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      int64_t count = 0;
      for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) count += r[i] != 0;
      offset[b + 1] = count;
    }
  });
  for (int64_t b = 0; b < blocks; ++b) offset[b + 1] += offset[b];
  MaxPoolWinners w{at::empty({offset[blocks]}, relevance.options()),
                   at::empty({offset[blocks]}, relevance.options().dtype(at::kLong))};
  T* values = w.values.data_ptr<T>();
  int64_t* positions = w.positions.data_ptr<int64_t>();
  at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      int64_t k = offset[b];
      for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i)
        if (r[i] != 0) {
          values[k] = r[i];
          positions[k++] = index[i] + i / pooled_cells * cells;
        }
    }
  });
  return w;
}

}  // namespace

MaxPoolWinners max_pool_winners(const at::Tensor& indices, const std::vector<int64_t>& input_shape,
                                const at::Tensor& relevance, models::SparseKernel kernel) {
  // Each pooled cell's index counts within its (n, c) channel; the channel's offset comes from its row.
  const int64_t pooled_cells = relevance[0][0].numel(), cells = input_shape[2] * input_shape[3] * input_shape[4];
  if (kernel == models::SparseKernel::Auto && relevance.device().is_cpu() &&
      (relevance.scalar_type() == at::kFloat || relevance.scalar_type() == at::kDouble)) {
    const at::Tensor r = relevance.contiguous(), idx = indices.contiguous();
    MaxPoolWinners w;
    AT_DISPATCH_FLOATING_TYPES(r.scalar_type(), "max_pool_winners",
                               [&] { w = winners_cpu<scalar_t>(idx, r, pooled_cells, cells); });
    return w;
  }
  const at::Tensor flat = relevance.reshape({-1});
  const at::Tensor nonzero = flat.nonzero().squeeze(1);
  const at::Tensor positions = indices.reshape({-1}).index_select(0, nonzero) + nonzero.div(pooled_cells, "floor") * cells;
  return {flat.index_select(0, nonzero), positions};
}

at::Tensor max_pool_relevance_tf(const models::Layer& layer, const at::Tensor& input, const at::Tensor& output,
                                 const at::Tensor& relevance) {
  const models::Int3 n{input.size(2), input.size(3), input.size(4)};
  const models::Pads p = models::window_pads(layer.padding, n, layer.kernel, layer.stride);
  // Padded cells hold −inf: never within the tolerance of a maximum.
  const at::Tensor padded = at::constant_pad_nd(
      input, {p.before[2], p.after[2], p.before[1], p.after[1], p.before[0], p.after[0]},
      -std::numeric_limits<double>::infinity());
  at::Tensor r = at::zeros_like(padded);
  const models::Int3 out{output.size(2), output.size(3), output.size(4)};
  const models::Int3& s = layer.stride;
  // For each offset inside the window, the input cells at that offset of every window form a strided view.
  for (int64_t a = 0; a < layer.kernel[0]; ++a)
    for (int64_t b = 0; b < layer.kernel[1]; ++b)
      for (int64_t c = 0; c < layer.kernel[2]; ++c) {
        const auto view = [&](const at::Tensor& t) {
          return t.slice(2, a, a + (out[0] - 1) * s[0] + 1, s[0])
              .slice(3, b, b + (out[1] - 1) * s[1] + 1, s[1])
              .slice(4, c, c + (out[2] - 1) * s[2] + 1, s[2]);
        };
        const at::Tensor ties = (view(padded) - output).abs().lt(kTfTieTolerance);
        view(r).add_(relevance * ties);
      }
  return r.slice(2, p.before[0], p.before[0] + n[0])
      .slice(3, p.before[1], p.before[1] + n[1])
      .slice(4, p.before[2], p.before[2] + n[2])
      .contiguous();
}

at::Tensor avg_pool_relevance(const models::Layer& layer, const at::Tensor& input, const at::Tensor& relevance) {
  const at::Tensor z = models::avg_pool(layer, input);
  const at::Tensor s = relevance / z.masked_fill(z.eq(0), 1e-7);
  return input * models::avg_pool_transpose(layer, s, {input.size(2), input.size(3), input.size(4)});
}

}  // namespace mlens::lrp
