#include "lrp/batch_norm_rule.h"

namespace mlens::lrp {

at::Tensor batch_norm_relevance(const models::Layer& layer, const at::Tensor& x, const at::Tensor& y,
                                const at::Tensor& relevance) {
  std::vector<int64_t> view(x.dim(), 1);
  view[1] = -1;
  const at::Tensor mean = layer.mean.view(view), beta = layer.beta.view(view);
  const at::Tensor denominator = (x - mean) * y;
  return x * (y - beta) * relevance / denominator.masked_fill(denominator.eq(0), 1e-7);
}

}  // namespace mlens::lrp
