#include "models/conv.h"

#include "models/sparse_conv.h"

#include <stdexcept>

namespace mlens::models {
namespace {

bool use_onednn(const at::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && at::hasMKLDNN() &&
         at::globalContext().userEnabledMkldnn();
}

at::Tensor conv_primitive_call(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Int3& pad,
                               const Int3& stride) {
  const std::array<int64_t, 3> one{1, 1, 1};
  c10::optional<at::Tensor> bias = b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt;
  if (use_onednn(x)) return at::mkldnn_convolution(x.contiguous(), w.contiguous(), bias, pad, stride, one, 1);
  return at::conv3d(x, w, b, stride, pad);
}

// The adjoint of a strided convolution: ATen's transposed convolution over the padded input (whose
// last cells, when no window reaches them, it leaves out), then cropped to the input.
at::Tensor strided_transpose(const at::Tensor& s, const at::Tensor& w, const Pads& pads, const Int3& input_size,
                             const Int3& stride) {
  at::Tensor r = at::conv_transpose3d(s, w, {}, stride);
  Pads missing;  // after the cells no window reaches
  for (int a = 0; a < 3; ++a) missing.after[a] = input_size[a] + pads.before[a] + pads.after[a] - r.size(2 + a);
  return crop(at::constant_pad_nd(r, pad_spec(missing), 0.0), pads, input_size).contiguous();
}

}  // namespace

at::Tensor conv3d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Pads& pads, const Int3& stride) {
  if (pads.symmetric()) return conv_primitive_call(x, w, b, pads.before, stride);
  return conv_primitive_call(at::constant_pad_nd(x, pad_spec(pads), 0.0), w, b, {0, 0, 0}, stride);
}

at::Tensor conv3d_transpose(const at::Tensor& s, const at::Tensor& w, const Pads& pads, const Int3& input_size,
                            std::string* primitive, const Int3& stride) {
  if (stride != Int3{1, 1, 1}) {
    if (primitive) *primitive = "aten transposed";
    return strided_transpose(s, w, pads, input_size, stride);
  }
  if (w.size(1) == 1) {  // only single-channel adjoints can pay (sparse_maps_pay): skip the pass otherwise
    const at::Tensor positions = s.reshape({-1}).nonzero().squeeze(1);
    if (sparse_maps_pay(w, positions.numel(), s.numel())) {
      if (primitive) *primitive = "sparse";
      return conv3d_transpose_at(s.reshape({-1}).index_select(0, positions), positions, w, pads, s.sizes().vec(),
                                 input_size);
    }
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
