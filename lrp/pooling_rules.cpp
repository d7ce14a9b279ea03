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

// The non-zeros of `relevance` [N, C, D', H', W'] with their winners' positions, pooled row by pooled
// row — (n, d', h'), then every channel, then w' — so that the convolution below, which reads and
// writes around each winner, works on a band of a few input rows for all channels at once instead of
// sweeping the whole volume once per channel. Each row counts its non-zeros, then writes them at its
// offset, both in parallel (ATen's nonzero is one thread); the write is branchless (a zero goes to the
// row's spare slot past the end), since relevance is zero in an unpredictable half of the cells.
template <typename T>
MaxPoolWinners winners_cpu(const at::Tensor& indices, const at::Tensor& relevance, int64_t cells) {
  const int64_t N = relevance.size(0), C = relevance.size(1), length = relevance.size(4);
  const int64_t rows_per_channel = relevance.size(2) * relevance.size(3), rows = N * rows_per_channel;
  const T* r = relevance.data_ptr<T>();
  const int64_t* index = indices.data_ptr<int64_t>();
  // Pooled row u = (n, row) of channel c starts at cell first(u, c).
  const auto first = [&](int64_t u, int64_t c) {
    return ((u / rows_per_channel * C + c) * rows_per_channel + u % rows_per_channel) * length;
  };
  std::vector<int64_t> offset(rows + 1, 0);
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      int64_t count = 0;
      for (int64_t c = 0; c < C; ++c) {
        const T* rr = r + first(u, c);
        for (int64_t x = 0; x < length; ++x) count += rr[x] != 0;
      }
      offset[u + 1] = count;
    }
  });
  for (int64_t u = 0; u < rows; ++u) offset[u + 1] += offset[u];
  const int64_t total = offset[rows];
  const at::Tensor values = at::empty({total + rows}, relevance.options());
  const at::Tensor positions = at::empty({total + rows}, relevance.options().dtype(at::kLong));
  T* v_out = values.data_ptr<T>();
  int64_t* p_out = positions.data_ptr<int64_t>();
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      int64_t k = offset[u];
      const int64_t spare = total + u;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t cell0 = first(u, c), channel_offset = (u / rows_per_channel * C + c) * cells;
        for (int64_t x = 0; x < length; ++x) {
          const T v = r[cell0 + x];
          const int64_t slot = v != 0 ? k : spare;
          v_out[slot] = v;
          p_out[slot] = index[cell0 + x] + channel_offset;
          k += v != 0;
        }
      }
    }
  });
  return {values.narrow(0, 0, total), positions.narrow(0, 0, total)};
}

}  // namespace

MaxPoolWinners max_pool_winners(const at::Tensor& indices, const std::vector<int64_t>& input_shape,
                                const at::Tensor& relevance, models::SparseKernel kernel) {
  // Each pooled cell's index counts within its (n, c) channel; the channel's offset comes from its row.
  const int64_t cells = input_shape[2] * input_shape[3] * input_shape[4];
  if (kernel == models::SparseKernel::Auto && relevance.device().is_cpu() &&
      (relevance.scalar_type() == at::kFloat || relevance.scalar_type() == at::kDouble || relevance.scalar_type() == at::kBFloat16)) {
    const at::Tensor r = relevance.contiguous(), idx = indices.contiguous();
    MaxPoolWinners w;
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, r.scalar_type(), "max_pool_winners", [&] { w = winners_cpu<scalar_t>(idx, r, cells); });
    return w;
  }
  const int64_t pooled_cells = relevance[0][0].numel();
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
  const at::Tensor padded = at::constant_pad_nd(input, models::pad_spec(p), -std::numeric_limits<double>::infinity());
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
  return models::crop(r, p, n).contiguous();
}

at::Tensor avg_pool_relevance(const models::Layer& layer, const at::Tensor& input, const at::Tensor& relevance) {
  const at::Tensor z = models::avg_pool(layer, input);
  const at::Tensor s = relevance / z.masked_fill(z.eq(0), 1e-7);
  return input * models::avg_pool_transpose(layer, s, {input.size(2), input.size(3), input.size(4)});
}

}  // namespace mlens::lrp
