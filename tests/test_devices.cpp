// Device-agnostic code paths on the CPU: float32 vs float64 and the Runtime's parsing. The CUDA
// comparison lives in test_cuda.cpp (label gpu).
#include "testing.h"

#include "engine/runtime.h"
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

TEST_CASE("float32 and float64 explanations agree", "[engine]") {
  const auto model = models::random_keras_model(test::mini_mrinet(), 8);
  const at::Tensor x = test::random_input(model.net, 8).abs();
  const auto c = lrp::parse_composite("preset-a");
  const auto e64 = lrp::explain(model.net, x, c);
  const auto e32 = lrp::explain(model.net.to(at::kCPU, at::kFloat), x.to(at::kFloat), c);
  const double err = ((e32.relevance.to(at::kDouble) - e64.relevance).norm() / e64.relevance.norm()).item<double>();
  CHECK(err < 1e-4);
}
