// CUDA against CPU for the same model and input. Skips (exit 0, says so) without a CUDA LibTorch or GPU.
#include <ATen/ATen.h>

#include <iostream>

#include "networks.h"
#include "lrp/explain.h"

using namespace mlens;

int main() {
  if (!at::hasCUDA()) {
    std::cout << "test_cuda: skipped (no CUDA in this LibTorch build or no GPU)\n";
    return 0;
  }
  const auto model = models::random_keras_model(test::mini_mrinet(), 8, 0.2);
  const at::Tensor x = test::random_input(model.net, 8).to(at::kFloat);
  const auto c = lrp::parse_composite("preset-a");
  const auto cpu = lrp::explain(model.net.to(at::kCPU, at::kFloat), x, c);
  const auto gpu = lrp::explain(model.net.to(at::kCUDA, at::kFloat), x.to(at::kCUDA), c);
  const double err = ((gpu.relevance.cpu() - cpu.relevance).norm() / cpu.relevance.norm()).item<double>();
  std::cout << "test_cuda: relative L2 CPU vs CUDA = " << err << "\n";
  return err < 1e-4 ? 0 : 1;
}
