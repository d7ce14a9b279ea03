// Fast LRP (lrp::explain, LibTorch ops) against the naive float64 reference (lrp/reference.h) for every
// rule and bias convention, on small random networks with negative inputs, negative biases, odd sizes
// (asymmetric "same" padding), even kernels, valid padding, average pooling, BatchNorm and pooling ties.
#include "testing.h"

#include "fixtures.h"
#include "lrp/explain.h"
#include "lrp/pooling_rules.h"
#include "lrp/reference.h"
#include "models/conv.h"
#include "models/pool.h"
#include "stats/compare.h"

using namespace mlens;

namespace {

// Named tolerances (DESIGN.md §4): relative L2 of the relevance map.
constexpr double kFloat64Tolerance = 1e-6;
constexpr double kFloat32Tolerance = 1e-4;

std::vector<std::string> composites(const models::KerasArchitecture& architecture) {
  const auto [conv, dense] = test::first_conv_and_dense(architecture);
  return {"preset-a", "preset-b", "epsilon", "zplus",
          "conv=alpha-beta,dense=epsilon",  // with the bias overrides below
          "conv=epsilon,dense=alpha-beta,input=flat", "conv=alpha-beta,dense=epsilon,input=w2",
          "conv=zplus,dense=epsilon,input=zbox", "conv=gamma,dense=epsilon,input=gamma", "epsilon-plus",
          "epsilon-plus-flat", "epsilon-alpha2-beta1", "epsilon-gamma-box", "z", "lrp.z_IB", "lrp.z_plus_fast", "w2",
          "flat", "lrp.sequential_preset_b_flat", "conv=epsilon(0.25),dense=epsilon(0.1),input=zbox(0,1)",
          "conv=alpha-beta(2),dense=epsilon," + conv + "=flat," + dense + "=z", "deep_taylor", "deep_taylor.bounded"};
}

void compare(const models::Sequential& net64, const at::Tensor& x, const lrp::Composite& c, const std::string& label) {
  const auto ref = lrp::reference::explain(net64, lrp::reference::to_vector(x[0]), c);
  for (at::ScalarType dtype : {at::kDouble, at::kFloat}) {
    const models::Sequential net = net64.to(at::kCPU, dtype);
    const lrp::Explanation e = lrp::explain(net, x.to(dtype), c);
    const double err = stats::relative_l2(lrp::reference::to_vector(e.relevance), ref.relevance);
    const double tol = dtype == at::kDouble ? kFloat64Tolerance : kFloat32Tolerance;
    INFO(label << " dtype=" << (dtype == at::kDouble ? "float64" : "float32") << " relative L2 = " << err);
    CHECK(err < tol);
    CHECK(e.prediction.item<double>() == Approx(ref.prediction).epsilon(dtype == at::kDouble ? 1e-12 : 1e-5));
    CHECK(at::isfinite(e.relevance).all().item<bool>());
  }
}

}  // namespace

TEST_CASE("fast LRP equals the float64 reference for every rule", "[lrp]") {
  for (const auto& [name, config] : test::all_architectures()) {
    const auto model = models::random_keras_model(config, /*seed=*/7, /*bias_scale=*/0.3);
    const bool ties = name == "pool-first";
    const at::Tensor x = test::random_input(model.net, 11, /*quantise=*/ties);
    for (const std::string& spec : composites(config))
      for (const char* bias : {"innvestigate", "zennit", "none"}) {
        lrp::RuleOverrides o;
        o.bias = lrp::parse_bias_rule(bias);
        o.low = -2.5;
        o.high = 2.5;
        for (const char* tie : {"first", "tf"}) {
          o.ties = lrp::parse_ties(tie);
          const lrp::Composite c = lrp::with_overrides(lrp::parse_composite(spec), o);
          compare(model.net, x, c, name + " " + spec + " bias=" + bias + " ties=" + tie);
        }
      }
  }
}

TEST_CASE("relevance after winner-take-all pooling reaches the convolution below as winners", "[lrp][sparse]") {
  const auto account = [](const models::KerasArchitecture& config, const char* ties) {
    const auto model = models::random_keras_model(config, 7, 0.3);
    lrp::RuleOverrides o;
    o.ties = lrp::parse_ties(ties);
    return lrp::explain(model.net, test::random_input(model.net, 11), lrp::with_overrides(lrp::parse_composite("preset-a"), o))
        .accounts.at(0);
  };
  // The image layer takes the direct maps; a layer with several input channels the dense ones.
  CHECK_THAT(account(test::sparse_first(), "first")[0].primitive, Catch::Contains("sparse at the winners"));
  const auto mini = account(test::mini_mrinet(), "first");
  REQUIRE(mini[3].layer == "conv3d_2");
  CHECK_THAT(mini[3].primitive, Catch::Contains("from the winners"));
  CHECK_THAT(account(test::sparse_first(), "tf")[0].primitive, !Catch::Contains("winners"));
}

TEST_CASE("alpha-beta with other alpha and beta values matches the reference", "[lrp]") {
  const auto model = models::random_keras_model(test::mini_mrinet(), 3, 0.2);
  const at::Tensor x = test::random_input(model.net, 5);
  for (auto [alpha, beta] : {std::pair{1.5, 0.5}, {3.0, 2.0}}) {
    lrp::RuleOverrides o;
    o.alpha = alpha;
    o.beta = beta;
    compare(model.net, x, lrp::with_overrides(lrp::parse_composite("preset-b"), o),
            "alpha=" + std::to_string(alpha));
  }
}

TEST_CASE("max-pool tie rules differ exactly where a window has several maxima", "[lrp]") {
  // A single 2×2×2 window of equal values: `first` gives all relevance to cell 0, `tf` to all 8.
  const auto model = models::random_keras_model(test::pool_first(), 1);
  at::Tensor x = at::zeros({1, 1, 8, 8, 8}, at::kDouble);
  x.slice(2, 0, 2).slice(3, 0, 2).slice(4, 0, 2).fill_(1.0);
  const at::Tensor indices = models::max_pool(model.net.layers[0], x).indices;
  at::Tensor r = at::zeros({1, 1, 4, 4, 4}, at::kDouble);
  r.index_put_({0, 0, 0, 0, 0}, 2.0);
  const at::Tensor first = lrp::max_pool_relevance_first(indices, x.sizes().vec(), r);
  const at::Tensor out = models::forward(model.net.layers[0], x);
  const at::Tensor tf = lrp::max_pool_relevance_tf(model.net.layers[0], x, out, r);
  CHECK(first.sum().item<double>() == 2.0);
  CHECK(first[0][0][0][0][0].item<double>() == 2.0);
  CHECK(tf.sum().item<double>() == 16.0);
  CHECK(tf.slice(2, 0, 2).slice(3, 0, 2).slice(4, 0, 2).eq(2.0).all().item<bool>());
}

TEST_CASE("overlapping max-pool windows add relevance instead of overwriting it", "[lrp]") {
  // 3×3×3 windows with stride 2 overlap; one global maximum in the overlap wins several windows.
  const auto model = models::random_keras_model(test::mini_mrinet(), 1);
  const models::Layer& pool = model.net.layers[2];
  REQUIRE(pool.kind == models::LayerKind::MaxPool3d);
  at::Tensor x = at::zeros({1, 1, 5, 5, 5}, at::kDouble);
  x.index_put_({0, 0, 1, 1, 1}, 9.0);
  const auto pooled = models::max_pool(pool, x);
  const at::Tensor r = at::ones_like(pooled.output);
  const at::Tensor rin = lrp::max_pool_relevance_first(pooled.indices, x.sizes().vec(), r);
  CHECK(rin.sum().item<double>() == Approx(r.sum().item<double>()));
  CHECK(rin[0][0][1][1][1].item<double>() == 8.0);  // cell 1 lies in windows 0 and 1 on each axis
  // As winners: the cell appears once per window it won.
  const lrp::MaxPoolWinners w = lrp::max_pool_winners(pooled.indices, x.sizes().vec(), r);
  CHECK(w.positions.eq((1 * 5 + 1) * 5 + 1).sum().item<int64_t>() == 8);
  CHECK(at::zeros({125}, at::kDouble).index_put_({w.positions}, w.values, true).equal(rin.reshape({-1})));
}

TEST_CASE("the winners' CPU loop equals the portable path on every device", "[lrp]") {
  // Several channels and a batch, so the channel offsets count; enough cells for several blocks.
  at::manual_seed(21);
  const models::Layer pool = models::random_keras_model(test::mini_mrinet(), 1).net.layers[2];
  for (const auto dtype : {at::kFloat, at::kDouble}) {
    const at::Tensor x = at::randn({2, 3, 81, 83, 85}, dtype);
    const auto pooled = models::max_pool(pool, x);
    const at::Tensor r = at::randn(pooled.output.sizes(), dtype).mul_(at::rand(pooled.output.sizes()).lt(0.3));
    const lrp::MaxPoolWinners fast = lrp::max_pool_winners(pooled.indices, x.sizes().vec(), r);
    const lrp::MaxPoolWinners portable =
        lrp::max_pool_winners(pooled.indices, x.sizes().vec(), r, models::SparseKernel::Portable);
    REQUIRE(fast.positions.numel() > (1 << 16));
    // The same (position, value) pairs, listed in another order.
    const auto sorted = [](const lrp::MaxPoolWinners& w) {
      const at::Tensor key = w.positions.to(at::kDouble) * 1e3 + w.values.to(at::kDouble).clamp(-100, 100);
      const at::Tensor order = std::get<1>(key.sort());
      return std::pair{w.positions.index_select(0, order), w.values.index_select(0, order)};
    };
    const auto [fast_positions, fast_values] = sorted(fast);
    const auto [portable_positions, portable_values] = sorted(portable);
    CHECK(fast_positions.equal(portable_positions));
    CHECK(fast_values.equal(portable_values));
  }
}

TEST_CASE("rule tables and parameters are validated", "[lrp]") {
  CHECK_THROWS_WITH(lrp::parse_composite("preset-z"), Catch::Contains("unknown method"));
  CHECK_THROWS_WITH(lrp::parse_composite("conv=alpha-beta"), Catch::Contains("no entry for dense"));
  CHECK_THROWS_WITH(lrp::parse_composite("conv=magic,dense=epsilon"), Catch::Contains("unknown LRP rule"));
  CHECK_THROWS_WITH(lrp::parse_composite("epsilon(0.1"), Catch::Contains("parentheses"));
  CHECK_THROWS_WITH(lrp::parse_composite("epsilon(0.1, 2)"), Catch::Contains("takes 1 parameter"));
  CHECK_THROWS_WITH(lrp::parse_composite("epsilon(x)"), Catch::Contains("not a finite number"));
  CHECK_THROWS_WITH(lrp::parse_composite("epsilon(nan)"), Catch::Contains("not a finite number"));
  CHECK_THROWS_WITH(lrp::parse_composite("zbox(gamma=1)"), Catch::Contains("no parameter \"gamma\""));
  CHECK_THROWS_WITH(lrp::parse_composite("flat(bias=none)"), Catch::Contains("no parameter \"bias\""));
  CHECK_THROWS_WITH(lrp::parse_composite("alpha-beta(3, 1)"), Catch::Contains("alpha - beta = 1"));
  CHECK_THROWS_WITH(lrp::with_overrides(lrp::parse_composite("deep_taylor.bounded"), {}), Catch::Contains("--low and --high"));

  // Parameters, positional or named; one of alpha and beta determines the other.
  const lrp::Composite t = lrp::parse_composite("conv=alpha-beta(2),dense=epsilon(epsilon=0.25, bias=none),input=zbox(0, 1)");
  CHECK(t.rule_for(lrp::Role::Conv).beta == 1);
  CHECK(t.rule_for(lrp::Role::Dense).epsilon == 0.25);
  CHECK(t.rule_for(lrp::Role::Dense).bias == lrp::BiasRule::None);
  CHECK(t.rule_for(lrp::Role::Input).low == 0);
  CHECK(t.rule_for(lrp::Role::Input).high == 1);
  // iNNvestigate's names: the IgnoreBias forms drop the bias, the Flat presets put flat on the input layer.
  CHECK(lrp::parse_composite("lrp.epsilon_IB").rule_for(lrp::Role::Conv).bias == lrp::BiasRule::None);
  CHECK(lrp::parse_composite("lrp.alpha_2_beta_1_IB").rule_for(lrp::Role::Dense).alpha == 2);
  CHECK(lrp::parse_composite("lrp.sequential_preset_a_flat").rule_for(lrp::Role::Input).kind == lrp::RuleKind::Flat);
  CHECK(lrp::parse_composite("lrp.sequential_preset_a_flat").rule_for(lrp::Role::Conv).kind == lrp::RuleKind::AlphaBeta);
  CHECK(lrp::parse_composite("deep_taylor").method == lrp::Method::DeepTaylor);

  // Layer names refine the roles, and must name a Conv or Dense layer of the network.
  const lrp::Composite named = lrp::parse_composite("conv=zplus,dense=epsilon,conv3d_2=flat,layer:dense=w2");
  CHECK(named.rule_for(lrp::Role::Conv, "conv3d_2").kind == lrp::RuleKind::Flat);
  CHECK(named.rule_for(lrp::Role::Conv, "conv3d_1").kind == lrp::RuleKind::ZPlus);
  CHECK(named.rule_for(lrp::Role::Dense, "dense").kind == lrp::RuleKind::WSquare);
  const auto model = models::random_keras_model(test::mini_mrinet(), 7, 0.3);
  const at::Tensor x = test::random_input(model.net, 11);
  CHECK_THROWS_WITH(lrp::explain(model.net, x, lrp::parse_composite("conv=zplus,dense=epsilon,conv9=flat")),
                    Catch::Contains("does not have") && Catch::Contains("conv3d_1"));
  CHECK_THROWS_WITH(lrp::explain(model.net, x, lrp::parse_composite("conv=zplus,dense=epsilon,flatten_1=flat")),
                    Catch::Contains("Flatten"));
  lrp::RuleOverrides o;
  o.alpha = 2;
  o.beta = 0;
  CHECK_THROWS_WITH(lrp::with_overrides(lrp::parse_composite("preset-a"), o), Catch::Contains("alpha - beta = 1"));
  const lrp::Composite a = lrp::parse_composite("preset-a");
  CHECK(a.rule_for(lrp::Role::Input).kind == lrp::RuleKind::AlphaBeta);
  CHECK(a.rule_for(lrp::Role::Dense).epsilon == 0.1);
}

TEST_CASE("LeakyReLU networks run forward but are refused by LRP", "[lrp]") {
  models::KerasArchitecture config = test::pool_first();
  models::KerasLayer leaky{"LeakyReLU", "leaky_re_lu_1"};
  leaky.negative_slope = 0.2;
  config.layers.insert(config.layers.begin() + 2, leaky);
  const auto model = models::random_keras_model(config, 2);
  const at::Tensor x = test::random_input(model.net, 1);
  const auto ref = lrp::reference::forward(model.net, lrp::reference::to_vector(x[0]));
  CHECK(model.net.forward(x).item<double>() == Approx(ref[0]).epsilon(1e-12));
  CHECK_THROWS_WITH(lrp::explain(model.net, x, lrp::parse_composite("preset-a")), Catch::Contains("LeakyReLU"));
}

TEST_CASE("max pooling's CPU loop equals ATen's pooling, ties and padding included", "[lrp]") {
  // ATen's max_pool3d_with_indices runs when autograd needs the graph (the benchmark's baseline, CUDA).
  at::manual_seed(5);
  for (const auto padding : {models::Padding::Same, models::Padding::Valid})
    for (const models::Int3 kernel : {models::Int3{2, 2, 2}, models::Int3{3, 2, 3}})
      for (const models::Int3 stride : {models::Int3{2, 2, 2}, models::Int3{1, 2, 2}}) {
        models::Layer l{models::LayerKind::MaxPool3d};
        l.kernel = kernel;
        l.stride = stride;
        l.padding = padding;
        // Rounded values make ties common.
        const at::Tensor x = at::randn({2, 3, 9, 8, 7}, at::kDouble).mul(2).round();
        const models::MaxPoolResult fast = models::max_pool(l, x);
        const models::MaxPoolResult aten = models::max_pool(l, x.clone().requires_grad_());
        CHECK(at::equal(fast.output, aten.output.detach()));
        CHECK(at::equal(fast.indices, aten.indices));
      }
}

TEST_CASE("every output neuron can start the explanation: max, an index, or all", "[lrp][neuron]") {
  const auto model = models::random_keras_model(test::strided_2d(), 5, 0.3);
  const at::Tensor x = at::cat({test::random_input(model.net, 1), test::random_input(model.net, 2)});
  const at::Tensor outputs = model.net.forward(x);
  for (const char* neuron : {"max", "0", "3", "all"})
    for (const char* spec : {"preset-a", "epsilon", "deep_taylor", "gradient", "guided_backprop", "integrated_gradients"}) {
      lrp::Composite c = lrp::parse_composite(spec);
      c.neuron = lrp::parse_neuron(neuron);
      c.gradient.steps = 4;
      const lrp::Explanation e = lrp::explain(model.net, x, c);
      INFO(spec << " neuron " << neuron);
      CHECK(e.outputs.equal(outputs));
      for (int64_t q = 0; q < 2; ++q) {
        const int64_t want = c.neuron.mode == lrp::Neuron::Mode::All     ? -1
                             : c.neuron.mode == lrp::Neuron::Mode::Index ? c.neuron.index
                                                                         : outputs[q].argmax().item<int64_t>();
        CHECK(e.neuron[q].item<int64_t>() == want);
        CHECK(e.prediction[q].item<double>() ==
              Approx(want < 0 ? outputs[q].sum().item<double>() : outputs[q][want].item<double>()).epsilon(1e-12));
        const bool gradient = c.method != lrp::Method::Lrp && c.method != lrp::Method::DeepTaylor;
        if (gradient) continue;  // the gradient family's own test follows the neuron through the reference too
        const auto ref = lrp::reference::explain(model.net, lrp::reference::to_vector(x[q]), c);
        CHECK(stats::relative_l2(lrp::reference::to_vector(e.relevance[q]), ref.relevance) < kFloat64Tolerance);
      }
    }
  lrp::Composite c = lrp::parse_composite("preset-a");
  c.neuron = lrp::parse_neuron("4");
  CHECK_THROWS_WITH(lrp::explain(model.net, x, c), Catch::Contains("neuron 4") && Catch::Contains("4 outputs (0 to 3)"));
  CHECK_THROWS_WITH(lrp::parse_neuron("-1"), Catch::Contains("expected max, all or an output index"));
  // A network that ends in a convolution outputs an image: only `all` starts from it.
  models::KerasArchitecture image = test::global_3d();
  image.layers.resize(3);  // conv3d_1, dense_1 (per voxel), batch_normalization_1
  const auto fully_convolutional = models::random_keras_model(image, 5, 0.3);
  const at::Tensor v = test::random_input(fully_convolutional.net, 3);
  lrp::Composite all = lrp::parse_composite("preset-a");
  CHECK_THROWS_WITH(lrp::explain(fully_convolutional.net, v, all), Catch::Contains("outputs an image") && Catch::Contains("--neuron all"));
  all.neuron = lrp::parse_neuron("all");
  const auto ref = lrp::reference::explain(fully_convolutional.net, lrp::reference::to_vector(v[0]), all);
  CHECK(stats::relative_l2(lrp::reference::to_vector(lrp::explain(fully_convolutional.net, v, all).relevance), ref.relevance) <
        kFloat64Tolerance);
  CHECK_THROWS_WITH(lrp::parse_neuron("first"), Catch::Contains("neuron \"first\""));
}
