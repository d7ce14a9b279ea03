// 3D pooling with TensorFlow's padding semantics, and the adjoints the relevance rules need.
//
// "same" padding is asymmetric in TensorFlow (the extra cell goes after) and padded cells never take
// part: they never win a max and are not counted in an average.
#pragma once

#include <ATen/ATen.h>

#include "models/layer.h"

namespace mlens::models {

struct MaxPoolResult {
  at::Tensor output;
  at::Tensor indices;  // per output cell, the flat index (over D·H·W of the input) of the first maximum
};

// Max pooling. The winner of a window with ties is its first maximum in (D, H, W) scan order.
MaxPoolResult max_pool(const Layer& layer, const at::Tensor& x);

// Average pooling over the cells inside the input (TensorFlow's divisor).
at::Tensor avg_pool(const Layer& layer, const at::Tensor& x);

// Adjoint of avg_pool: input cell i receives Σ_j s_j / n_j over the windows j that contain it.
at::Tensor avg_pool_transpose(const Layer& layer, const at::Tensor& s, const Int3& input_size);

}  // namespace mlens::models
