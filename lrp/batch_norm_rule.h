// Relevance through a BatchNorm layer that could not be folded into a convolution (iNNvestigate's
// BatchNormalizationReverseLayer): elementwise R_x = x·(y − β)·R / ((x − μ)·y), safe division.
// Since y − β = scale·(x − μ), this is the z-rule of the per-channel affine map with its shift.
#pragma once

#include <ATen/ATen.h>

#include "models/layer.h"

namespace mlens::lrp {

at::Tensor batch_norm_relevance(const models::Layer& layer, const at::Tensor& input, const at::Tensor& output,
                                const at::Tensor& relevance);

}  // namespace mlens::lrp
