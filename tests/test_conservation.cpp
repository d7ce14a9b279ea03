// Conservation: without biases, z+ and epsilon with ε → 0 hand the prediction down to the input
// unchanged; the per-layer account adds up and matches the reference's.
#include "testing.h"

#include "fixtures.h"
#include "lrp/explain.h"
#include "lrp/reference.h"

using namespace mlens;

namespace {
lrp::Explanation run(const char* spec, double epsilon, const models::Sequential& net, const at::Tensor& x) {
  lrp::RuleOverrides o;
  o.bias = lrp::BiasRule::None;
  o.epsilon = epsilon;
  return lrp::explain(net, x, lrp::with_overrides(lrp::parse_composite(spec), o));
}
}  // namespace

TEST_CASE("z+ and epsilon without bias conserve relevance", "[lrp][conservation]") {
  const auto model = models::random_keras_model(test::mini_mrinet(), 9, 0.5);
  const at::Tensor x = test::random_input(model.net, 3);
  for (const char* spec : {"zplus", "epsilon"}) {
    const auto e = run(spec, 1e-12, model.net, x);
    INFO(spec);
    CHECK(e.relevance.sum().item<double>() == Approx(e.prediction.item<double>()).epsilon(1e-6));
  }
}

TEST_CASE("biases absorb relevance, and the account says how much", "[lrp][conservation]") {
  const auto model = models::random_keras_model(test::mini_mrinet(), 9, 0.5);
  const at::Tensor x = test::random_input(model.net, 3);
  const lrp::Composite preset_a = lrp::parse_composite("preset-a");
  const auto e = lrp::explain(model.net, x, preset_a);
  const auto ref = lrp::reference::explain(model.net, lrp::reference::to_vector(x[0]), preset_a);
  REQUIRE(e.accounts[0].size() == model.net.layers.size());
  CHECK(e.accounts[0].back().relevance_out == Approx(e.prediction.item<double>()));
  double absorbed = 0;
  for (size_t i = 0; i < e.accounts[0].size(); ++i) {
    const auto& a = e.accounts[0][i];
    INFO(a.layer << " " << a.kind);
    CHECK(a.absorbed == Approx(a.relevance_out - a.relevance_in));
    CHECK(a.relevance_in == Approx(ref.layer_relevance_in[i]).epsilon(1e-6));
    if (i + 1 < e.accounts[0].size()) CHECK(e.accounts[0][i + 1].relevance_in == Approx(a.relevance_out));
    if (a.kind == "ReLU" || a.kind == "Dropout" || a.kind == "Flatten") CHECK(a.absorbed == 0);
    absorbed += a.absorbed;
  }
  CHECK(e.relevance.sum().item<double>() == Approx(e.prediction.item<double>() - absorbed));
  CHECK(e.accounts[0].front().rule == "alpha-beta(alpha=1, beta=0, bias=innvestigate)");
}

TEST_CASE("max-pooling with tf ties duplicates relevance on exact ties", "[lrp][conservation]") {
  // All-zero input: every pooling window ties; `first` conserves, `tf` multiplies.
  const auto model = models::random_keras_model(test::pool_first(), 4, 0.5);
  const at::Tensor x = at::zeros({1, 1, 8, 8, 8}, at::kDouble);
  lrp::Composite c = lrp::parse_composite("zplus");
  const auto first = lrp::explain(model.net, x, c);
  c.ties = lrp::Ties::Tf;
  const auto tf = lrp::explain(model.net, x, c);
  CHECK(first.accounts[0][0].absorbed == Approx(0).margin(1e-12));
  const double in = tf.accounts[0][0].relevance_in, out = tf.accounts[0][0].relevance_out;
  CHECK(in == Approx(8 * out));
}
