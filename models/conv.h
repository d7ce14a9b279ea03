// 3D convolutions, behind one function so the primitive is chosen in one place.
//
// On this CPU the primitive decides the speed by 10-70× (docs/performance.md): ATen's generic
// `conv3d` dispatch is slow for some shapes and for all transposed convolutions, while oneDNN is fast
// for all of them. So float32 on CPU calls oneDNN directly, everything else (float64, CUDA/cuDNN) goes
// through `at::conv3d`. A stride-1 transposed convolution is computed as a convolution with the kernel
// flipped in space and its in/out channels swapped, which keeps it on the fast primitive.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "models/layer.h"

namespace mlens::models {

// y = conv(x, w) + b with zero padding `pads` (asymmetric padding is applied explicitly) and `stride`.
// x [N, Cin, D, H, W], w [Cout, Cin, kd, kh, kw], b [Cout] or undefined.
at::Tensor conv3d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Pads& pads,
                  const Int3& stride = {1, 1, 1});

// The adjoint of conv3d(·, w, no bias, pads, stride) applied to s [N, Cout, D', H', W'], shaped like its
// input: Σ_j w_ij s_j for every input cell i. This is the "gradient" step of every LRP rule.
// `primitive`, when given, receives which path ran ("sparse" or conv_primitive's name). Where
// sparse_maps_pay (models/sparse_conv.h) it runs conv3d_transpose_at over the non-zeros (stride 1).
at::Tensor conv3d_transpose(const at::Tensor& s, const at::Tensor& w, const Pads& pads, const Int3& input_size,
                            std::string* primitive = nullptr, const Int3& stride = {1, 1, 1});

// Which primitive conv3d uses for tensors like `x` ("onednn", "cudnn", "aten"), for benchmark tables.
const char* conv_primitive(const at::Tensor& x);

}  // namespace mlens::models
