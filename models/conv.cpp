#include "models/conv.h"

#include <stdexcept>

namespace mlens::models {
namespace {

bool use_onednn(const at::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && at::hasMKLDNN() &&
         at::globalContext().userEnabledMkldnn();
}

at::Tensor conv_primitive_call(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Int3& pad) {
  const std::array<int64_t, 3> one{1, 1, 1};
  c10::optional<at::Tensor> bias = b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt;
  if (use_onednn(x)) return at::mkldnn_convolution(x.contiguous(), w.contiguous(), bias, pad, one, one, 1);
  return at::conv3d(x, w, b, one, pad);
}

}  // namespace

at::Tensor conv3d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Pads& pads) {
  if (pads.symmetric()) return conv_primitive_call(x, w, b, pads.before);
  // constant_pad_nd takes (last axis first) before/after pairs.
  const at::Tensor padded = at::constant_pad_nd(
      x, {pads.before[2], pads.after[2], pads.before[1], pads.after[1], pads.before[0], pads.after[0]}, 0.0);
  return conv_primitive_call(padded, w, b, {0, 0, 0});
}

at::Tensor conv3d_transpose_sparse(const at::Tensor& s, const at::Tensor& w, const Pads& pads, const Int3& input_size) {
  const int64_t N = s.size(0), O = s.size(1), D = s.size(2), H = s.size(3), W = s.size(4), C = w.size(1);
  const int64_t kd = w.size(2), kh = w.size(3), kw = w.size(4);
  // Accumulate into a grid padded by k − 1 per axis, so no window needs a bounds check: entry (o, p)
  // adds w[o, c, off] · s[o, p] to padded cell p + off, i.e. input cell p + off − before.
  const int64_t Dp = D + kd - 1, Hp = H + kh - 1, Wp = W + kw - 1;
  const at::Tensor flat = s.reshape({-1});
  const at::Tensor idx = flat.nonzero().squeeze(1);
  const at::Tensor values = flat.index_select(0, idx);
  const at::Tensor x = idx.remainder(W), y = idx.div(W, "floor").remainder(H), z = idx.div(W * H, "floor").remainder(D);
  const at::Tensor o = idx.div(W * H * D, "floor").remainder(O), n = idx.div(W * H * D * O, "floor");
  const at::Tensor corner = ((n * C * Dp + z) * Hp + y) * Wp + x;  // padded cell of offset (0, 0, 0), channel 0
  const at::Tensor weights = w.reshape({O, C * kd * kh * kw}).index_select(0, o);  // [nnz, C·k³]
  at::Tensor padded = at::zeros({N * C * Dp * Hp * Wp}, s.options());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t a = 0; a < kd; ++a)
      for (int64_t b = 0; b < kh; ++b)
        for (int64_t e = 0; e < kw; ++e) {
          const int64_t shift = ((c * Dp + a) * Hp + b) * Wp + e;
          const int64_t column = ((c * kd + a) * kh + b) * kw + e;
          padded.index_add_(0, corner + shift, weights.select(1, column) * values);
        }
  return padded.view({N, C, Dp, Hp, Wp})
      .narrow(2, pads.before[0], input_size[0])
      .narrow(3, pads.before[1], input_size[1])
      .narrow(4, pads.before[2], input_size[2])
      .contiguous();
}

at::Tensor conv3d_transpose(const at::Tensor& s, const at::Tensor& w, const Pads& pads, const Int3& input_size,
                            std::string* primitive) {
  if (w.size(1) == 1 && s.count_nonzero().item<int64_t>() < kSparseAdjointDensity * static_cast<double>(s.numel())) {
    if (primitive) *primitive = "sparse";
    return conv3d_transpose_sparse(s, w, pads, input_size);
  }
  if (primitive) *primitive = conv_primitive(s);
  // Adjoint of a stride-1 convolution with padding (b, a): a convolution with the spatially flipped,
  // channel-swapped kernel and padding (k−1−b, k−1−a). Its output has exactly the input's size.
  const at::Tensor flipped = w.flip({2, 3, 4}).transpose(0, 1).contiguous();
  Pads adjoint;
  for (int a = 0; a < 3; ++a) {
    const int64_t k = w.size(2 + a);
    adjoint.before[a] = k - 1 - pads.before[a];
    adjoint.after[a] = k - 1 - pads.after[a];
    if (adjoint.before[a] < 0 || adjoint.after[a] < 0)
      throw std::invalid_argument("conv3d_transpose: padding larger than kernel − 1");
  }
  at::Tensor r = conv3d(s, flipped, at::Tensor(), adjoint);
  for (int a = 0; a < 3; ++a)
    if (r.size(2 + a) != input_size[a]) throw std::logic_error("conv3d_transpose: output size mismatch");
  return r;
}

const char* conv_primitive(const at::Tensor& x) {
  if (use_onednn(x)) return "onednn";
  if (x.device().is_cuda()) return "cudnn";
  return "aten";
}

}  // namespace mlens::models
