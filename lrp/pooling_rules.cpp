#include "lrp/pooling_rules.h"

#include <limits>

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

MaxPoolWinners max_pool_winners(const at::Tensor& indices, const std::vector<int64_t>& input_shape,
                                const at::Tensor& relevance) {
  const at::Tensor flat = relevance.reshape({-1});
  const at::Tensor nonzero = flat.nonzero().squeeze(1);
  const int64_t pooled_cells = relevance[0][0].numel(), cells = input_shape[2] * input_shape[3] * input_shape[4];
  // Each pooled cell's index counts within its (n, c) channel; the channel's offset comes from its row.
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
