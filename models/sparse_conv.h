// A stride-1 3D convolution evaluated at a few of its output cells, and its adjoint scattered from
// values at those cells.
//
// After winner-take-all max-pooling only the windows' winners carry relevance (≤ 1/8 of a
// convolution's outputs, ~1 % at MRInet's first layer), so an LRP rule needs its denominators z_j only
// there and redistributes only from there. At the image layer (one input channel) that makes the
// rule's two convolutions over 124 M outputs (198³ × 16) a few dozen multiply-adds per winner.
//
// `positions` are flat indices into the convolution's output [N, Cout, D', H', W'] (int64). On the CPU
// (float32/float64) both maps are direct loops; on every other device they are LibTorch gathers and
// index_adds, so the same code runs on CUDA.
#pragma once

#include <ATen/ATen.h>

#include "models/layer.h"

namespace mlens::models {

// The dense tensor of `shape` holding `values` at the flat `positions` and zeros elsewhere; values at
// repeated positions add up.
at::Tensor scatter_dense(const at::Tensor& values, const at::Tensor& positions, const std::vector<int64_t>& shape);

// Whether the direct maps pay over a dense convolution for `entries` of `outputs` output cells: with
// one input channel (the image layer) at ≤ 10 % density, where the dense primitive vectorises badly
// and each entry costs only k³ multiply-adds. With many input channels oneDNN/cuDNN win.
bool sparse_maps_pay(const at::Tensor& w, int64_t entries, int64_t outputs);

// Auto: the CPU loops where they apply, else LibTorch ops. Portable: LibTorch ops on every device
// (what CUDA runs; tests run it on the CPU too).
enum class SparseKernel { Auto, Portable };

// Σ_i x_i w_ij (+ b_j) for the output cells j in `positions`: [K]. x [N, Cin, D, H, W],
// w [Cout, Cin, kd, kh, kw], b [Cout] or undefined, `pads` the zero padding (before/after per axis).
at::Tensor conv3d_at(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Pads& pads,
                     const at::Tensor& positions, SparseKernel kernel = SparseKernel::Auto);

// Σ_j w_ij s_j over the output cells j in `positions` with values `s` [K], for every input cell i:
// shaped [N, Cin, input_size...]. `output_shape` is the convolution's output shape [N, Cout, D', H', W'].
at::Tensor conv3d_transpose_at(const at::Tensor& s, const at::Tensor& positions, const at::Tensor& w,
                               const Pads& pads, const std::vector<int64_t>& output_shape, const Int3& input_size,
                               SparseKernel kernel = SparseKernel::Auto);

}  // namespace mlens::models
