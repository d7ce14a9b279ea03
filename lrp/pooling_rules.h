// Relevance through pooling layers.
//
//   max, ties = first  winner-take-all: a window's relevance goes to the input that won its max
//                      (first maximum in D, H, W scan order); overlapping windows add up (scatter-add,
//                      never max_unpool3d, which overwrites and loses relevance).
//   max, ties = tf     TensorFlow's MaxPool3DGrad: every input within 1e-5 of the window maximum
//                      receives the window's full relevance (near-ties duplicate it).
//   average            proportional: R_i = x_i Σ_j (1/n_j) R_j / z_j with z_j the window average and
//                      n_j its number of real (unpadded) cells; safe division (iNNvestigate).
#pragma once

#include <ATen/ATen.h>

#include "lrp/composite.h"
#include "models/layer.h"
#include "models/sparse_conv.h"

namespace mlens::lrp {

// The winner-take-all relevance as the winners that receive any: values at flat positions of `input_shape`. With
// overlapping windows a cell that won two windows appears twice (its relevance is the sum). Auto: a parallel
// CPU loop where it applies, which lists them pooled row by pooled row across channels (for the locality of the
// convolution below), else LibTorch ops on every device, in the pooled cells' order.
struct MaxPoolWinners {
  at::Tensor values, positions;
};
MaxPoolWinners max_pool_winners(const at::Tensor& indices, const std::vector<int64_t>& input_shape,
                                const at::Tensor& relevance, models::SparseKernel kernel = models::SparseKernel::Auto);

// `indices` from models::max_pool (first) — or the layer's input and output (tf).
at::Tensor max_pool_relevance_first(const at::Tensor& indices, const std::vector<int64_t>& input_shape,
                                    const at::Tensor& relevance);
at::Tensor max_pool_relevance_tf(const models::Layer& layer, const at::Tensor& input, const at::Tensor& output,
                                 const at::Tensor& relevance);

at::Tensor avg_pool_relevance(const models::Layer& layer, const at::Tensor& input, const at::Tensor& relevance);

// The tolerance of the tf tie rule.
inline constexpr double kTfTieTolerance = 1e-5;

}  // namespace mlens::lrp
