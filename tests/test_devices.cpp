// Device-agnostic code paths on the CPU: float32 vs float64, the Runtime's parsing, transfers. The CUDA
// comparison is the device check (tests/device_check.cpp, CTest label gpu).
#include "testing.h"

#include <ATen/Parallel.h>

#include "engine/runtime.h"
#include "engine/transfers.h"
#include "fixtures.h"
#include "lrp/explain.h"

using namespace mlens;

TEST_CASE("runtime options are parsed and checked", "[engine]") {
  const auto r = engine::Runtime::parse("cpu", "float64", 2);
  CHECK(r.device.is_cpu());
  CHECK(r.dtype == at::kDouble);
  CHECK(r.thread_count() == 2);
  CHECK(r.dtype_name() == "float64");
  CHECK_THROWS_WITH(engine::Runtime::parse("tpu", "float32", 0), Catch::Contains("expected cpu, cuda or cuda:N"));
  CHECK_THROWS_WITH(engine::Runtime::parse("cpu", "half", 0), Catch::Contains("float32 or float64"));
  CHECK_THROWS_AS(engine::Runtime::parse("cpu", "float32", -1), std::invalid_argument);
  if (!at::hasCUDA()) CHECK_THROWS_WITH(engine::Runtime::parse("cuda", "float32", 0), Catch::Contains("no CUDA support"));
}

TEST_CASE("exact float32 unless fast math is asked for: TF32 off in cuDNN and cuBLAS, bf16 computes in bfloat16", "[engine]") {
  const int threads = at::get_num_threads();
  auto tf32 = engine::Runtime::parse("cpu", "float32", threads, "tf32");
  tf32.activate();
  CHECK(at::globalContext().allowTF32CuDNN());
  CHECK(at::globalContext().allowTF32CuBLAS());
  CHECK(tf32.dtype == at::kFloat);
  CHECK(tf32.dtype_name() == "tf32");
  // Every other runtime turns it off again (LibTorch allows TF32 in cuDNN by default).
  const auto exact = engine::Runtime::parse("cpu", "float32", threads);
  exact.activate();
  CHECK_FALSE(at::globalContext().allowTF32CuDNN());
  CHECK_FALSE(at::globalContext().allowTF32CuBLAS());
  const auto bf16 = engine::Runtime::parse("cpu", "float32", threads, "bf16");
  CHECK(bf16.dtype == at::kBFloat16);
  CHECK(bf16.dtype_name() == "bfloat16");
  CHECK_THROWS_WITH(engine::Runtime::parse("cpu", "float64", threads, "bf16"), Catch::Contains("does not go with --dtype float64"));
  CHECK_THROWS_WITH(engine::Runtime::parse("cpu", "float32", threads, "fp16"), Catch::Contains("expected none, tf32 or bf16"));
}

TEST_CASE("float32 and float64 explanations agree", "[engine]") {
  const auto model = models::random_keras_model(test::mini_mrinet(), 8);
  const at::Tensor x = test::random_input(model.net, 8).abs();
  const auto c = lrp::parse_composite("preset-a");
  const auto e64 = lrp::explain(model.net, x, c);
  const auto e32 = lrp::explain(model.net.to(at::kCPU, at::kFloat), x.to(at::kFloat), c);
  const double err = ((e32.relevance.to(at::kDouble) - e64.relevance).norm() / e64.relevance.norm()).item<double>();
  CHECK(err < 1e-4);
}

// On the CPU a transfer is no copy and nothing to wait for; the GPU's copy stream and pinned memory are
// checked by the device check (tests/device_check.cpp, "transfers"), under the same calls.
TEST_CASE("transfers on the CPU hand over the same tensors", "[engine]") {
  const engine::Transfers transfers(at::kCPU);
  at::Tensor host = transfers.host_tensor({2, 3}, at::kFloat);
  CHECK(host.device().is_cpu());
  CHECK_FALSE(host.is_pinned());
  host.copy_(at::arange(6, at::kFloat).reshape({2, 3}));
  engine::Transfer up = transfers.to_device({host});
  const std::vector<at::Tensor> on_device = up.on_device();
  REQUIRE(on_device.size() == 1);
  CHECK(on_device[0].data_ptr() == host.data_ptr());
  CHECK(up.on_device().empty());  // handed over
  const at::Tensor y = on_device[0] * 2;
  engine::Transfer down = transfers.to_host({y, host});
  const std::vector<at::Tensor> on_host = down.on_host();
  REQUIRE(on_host.size() == 2);
  CHECK(on_host[0].data_ptr() == y.data_ptr());
  CHECK(at::equal(on_host[0], at::arange(0, 12, 2, at::kFloat).reshape({2, 3})));
  CHECK(engine::Transfer().on_host().empty());
}
