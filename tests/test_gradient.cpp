// The gradient family against the naive float64 reference (lrp/reference.h) for every architecture,
// ReLU reversal and tie mode, and the plain gradient against LibTorch's autograd, an implementation
// that shares nothing with it.
#include "testing.h"

#include "lrp/gradient.h"
#include "lrp/reference.h"
#include "networks.h"

using namespace mlens;

namespace {

double relative_l2(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return std::sqrt(d / std::max(n, 1e-300));
}

const char* name_of(lrp::Backprop m) {
  return m == lrp::Backprop::Gradient ? "gradient" : m == lrp::Backprop::Deconvnet ? "deconvnet" : "guided";
}

}  // namespace

TEST_CASE("gradient, deconvnet and guided backprop equal the float64 reference", "[gradient]") {
  for (const auto& [name, config] : test::all_architectures())
    for (const lrp::Backprop mode : {lrp::Backprop::Gradient, lrp::Backprop::Deconvnet, lrp::Backprop::Guided})
      for (const lrp::Ties ties : {lrp::Ties::First, lrp::Ties::Tf})
        for (const at::ScalarType dtype : {at::kDouble, at::kFloat}) {
          const auto model = models::random_keras_model(config, 8, 0.4);
          const at::Tensor x = test::random_input(model.net, 21, /*quantise=*/ties == lrp::Ties::Tf);
          INFO(name << " " << name_of(mode) << (ties == lrp::Ties::Tf ? " ties=tf " : " ties=first ") << at::toString(dtype));
          const std::vector<double> expected = lrp::reference::backprop(model.net, lrp::reference::to_vector(x[0]), mode, ties);
          const auto got = lrp::backprop(model.net.to(at::kCPU, dtype), x.to(dtype), mode, ties);
          CHECK(relative_l2(lrp::reference::to_vector(got.gradient[0]), expected) <= (dtype == at::kDouble ? 1e-9 : 1e-5));
          const std::vector<double> y = lrp::reference::forward(model.net, lrp::reference::to_vector(x[0]));
          CHECK(got.prediction.item<double>() == Approx(*std::max_element(y.begin(), y.end())).epsilon(1e-5).margin(1e-6));
        }
}

TEST_CASE("the gradient equals autograd's", "[gradient]") {
  for (const auto& [name, config] : test::all_architectures()) {
    const auto model = models::random_keras_model(config, 3, 0.4);
    const at::Tensor x = at::cat({test::random_input(model.net, 4), test::random_input(model.net, 5)});
    at::Tensor input = x.clone().requires_grad_(true);
    at::Tensor h = input;
    for (const auto& l : model.net.layers) h = models::forward(l, h);
    h.sum().backward();  // the samples are independent: each one's gradient is its own; all outputs
    const auto got = lrp::backprop(model.net, x, lrp::Backprop::Gradient, lrp::Ties::First, false, lrp::parse_neuron("all"));
    INFO(name);
    CHECK(at::allclose(got.gradient, input.grad(), 1e-10, 1e-12));
  }
}

TEST_CASE("the gradient methods equal their formulas over the float64 reference", "[gradient]") {
  using lrp::reference::backprop;
  using lrp::reference::to_vector;
  for (const auto& [name, config] : test::all_architectures()) {
    const auto model = models::random_keras_model(config, 6, 0.4);
    const at::Tensor x = test::random_input(model.net, 31);
    const std::vector<double> xv = to_vector(x[0]);
    const size_t cells = xv.size();
    // The averaging methods follow the neuron chosen at x itself (lrp/neuron.h) along every point.
    const std::vector<double> y = lrp::reference::forward(model.net, xv);
    const lrp::Neuron at_x{lrp::Neuron::Mode::Index, std::max_element(y.begin(), y.end()) - y.begin()};
    const auto method = [&](const char* spec, int points_per_pass = 8) {
      lrp::Composite c = lrp::parse_composite(spec);
      c.gradient.steps = 5;
      c.gradient.samples = 3;
      c.gradient.reference = 0.25;
      c.gradient.noise = 0.5;
      c.gradient.seed = 17;
      c.gradient.points_per_pass = points_per_pass;
      return c;
    };
    const auto got = [&](const lrp::Composite& c) { return to_vector(lrp::explain(model.net, x, c).relevance[0]); };
    INFO(name);
    // input × gradient
    std::vector<double> g = backprop(model.net, xv, lrp::Backprop::Gradient, lrp::Ties::First), want(cells);
    for (size_t i = 0; i < cells; ++i) want[i] = xv[i] * g[i];
    CHECK(relative_l2(got(method("input_t_gradient")), want) <= 1e-9);
    // integrated gradients: (x − x₀) · mean over k = 0..steps−1 of the gradient at x₀ + (x − x₀)·k/steps
    std::fill(want.begin(), want.end(), 0.0);
    for (int k = 0; k < 5; ++k) {
      std::vector<double> point(cells);
      for (size_t i = 0; i < cells; ++i) point[i] = 0.25 + (xv[i] - 0.25) * k / 5.0;
      const std::vector<double> gk = backprop(model.net, point, lrp::Backprop::Gradient, lrp::Ties::First, false, at_x);
      for (size_t i = 0; i < cells; ++i) want[i] += gk[i] / 5.0;
    }
    for (size_t i = 0; i < cells; ++i) want[i] *= xv[i] - 0.25;
    CHECK(relative_l2(got(method("integrated_gradients")), want) <= 1e-9);
    CHECK(relative_l2(got(method("integrated_gradients", 2)), want) <= 1e-9);  // points per pass change nothing
    // smoothgrad: the mean gradient at x + noise_k
    std::fill(want.begin(), want.end(), 0.0);
    for (int k = 0; k < 3; ++k) {
      const std::vector<double> noise = to_vector(lrp::smoothgrad_noise(x[0].sizes().vec(), 17, k, 0.5));
      std::vector<double> point(cells);
      for (size_t i = 0; i < cells; ++i) point[i] = xv[i] + noise[i];
      const std::vector<double> gk = backprop(model.net, point, lrp::Backprop::Gradient, lrp::Ties::First, false, at_x);
      for (size_t i = 0; i < cells; ++i) want[i] += gk[i] / 3.0;
    }
    CHECK(relative_l2(got(method("smoothgrad")), want) <= 1e-9);
    CHECK(relative_l2(got(method("smoothgrad", 1)), want) <= 1e-9);
    // deconvnet and guided backprop start from the output's value: with ReLUs reversed, its sign matters
    for (const auto& [spec, mode] : {std::pair{"deconvnet", lrp::Backprop::Deconvnet}, std::pair{"guided_backprop", lrp::Backprop::Guided}}) {
      lrp::Composite c = lrp::parse_composite(spec);
      const auto e = lrp::explain(model.net, x, c);
      CHECK(e.prediction.item<double>() == Approx(y[static_cast<size_t>(at_x.index)]).epsilon(1e-12));
      CHECK(relative_l2(to_vector(e.relevance[0]), lrp::reference::backprop(model.net, xv, mode, lrp::Ties::First, true)) <= 1e-9);
    }
  }
}

TEST_CASE("iNNvestigate's analyzer names select mlens' methods", "[gradient]") {
  CHECK(lrp::parse_composite("lrp.sequential_preset_a").name == "preset-a");
  CHECK(lrp::parse_composite("lrp.z_plus").name == "zplus");
  CHECK(lrp::parse_composite("integrated_gradients").method == lrp::Method::IntegratedGradients);
  CHECK(lrp::parse_composite("input_t_gradient").method == lrp::Method::InputTimesGradient);
  CHECK(lrp::parse_composite("guided_backprop").method == lrp::Method::GuidedBackprop);
  CHECK_THROWS_WITH(lrp::parse_composite("occlusion"), Catch::Contains("gradient methods"));
}

TEST_CASE("the gradient family follows the chosen neuron", "[gradient][neuron]") {
  const auto model = models::random_keras_model(test::global_3d(), 9, 0.4);
  const at::Tensor x = test::random_input(model.net, 3);
  const std::vector<double> xv = lrp::reference::to_vector(x[0]);
  for (const char* text : {"0", "2", "all", "max"})
    for (const lrp::Backprop mode : {lrp::Backprop::Gradient, lrp::Backprop::Deconvnet, lrp::Backprop::Guided}) {
      const lrp::Neuron neuron = lrp::parse_neuron(text);
      const bool from_output = mode != lrp::Backprop::Gradient;
      INFO(text << " " << name_of(mode));
      const auto got = lrp::backprop(model.net, x, mode, lrp::Ties::First, from_output, neuron);
      CHECK(relative_l2(lrp::reference::to_vector(got.gradient[0]),
                        lrp::reference::backprop(model.net, xv, mode, lrp::Ties::First, from_output, neuron)) <= 1e-9);
    }
  // Against autograd for one index: the gradient of that output alone.
  at::Tensor input = x.clone().requires_grad_(true);
  at::Tensor h = input;
  for (const auto& l : model.net.layers) h = models::forward(l, h);
  h.reshape({-1})[1].backward();
  const auto got = lrp::backprop(model.net, x, lrp::Backprop::Gradient, lrp::Ties::First, false, lrp::parse_neuron("1"));
  CHECK(at::allclose(got.gradient, input.grad(), 1e-10, 1e-12));
}
