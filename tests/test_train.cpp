// Training: the differentiable MRInet forward on Keras-layout parameters is the same network the Keras
// import builds (so trained members are written without conversion), training learns a signal a
// closed form knows, and a trained ensemble round-trips through its manifest.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "engine/model_loader.h"
#include "engine/train.h"
#include "fixtures.h"
#include "io/manifest.h"
#include "models/keras_import.h"
#include "models/mrinet.h"

using namespace mlens;

namespace {

const models::Int3 kShape{16, 18, 14};

std::vector<at::Tensor> keras_tensors(const models::KerasModel& file) {
  std::vector<at::Tensor> out;
  for (const auto& g : file.groups)
    for (const auto& w : g.weights) out.push_back(at::tensor(w.values, at::kDouble).reshape(w.shape).to(at::kFloat));
  return out;
}

// Inputs whose age is written into the brightness of a blob, plus noise: a network can learn it.
void synthetic_cohort(int n, std::vector<at::Tensor>& inputs, std::vector<double>& ages) {
  at::manual_seed(3);
  const at::Tensor blob = at::zeros({1, kShape[0], kShape[1], kShape[2]});
  blob.narrow(1, 4, 8).narrow(2, 5, 8).narrow(3, 3, 8).fill_(1);
  for (int i = 0; i < n; ++i) {
    const double age = 20 + 60.0 * i / (n - 1);
    ages.push_back(age);
    inputs.push_back(blob * (age / 40) + 0.2 * at::randn({1, kShape[0], kShape[1], kShape[2]}));
  }
}

}  // namespace

TEST_CASE("the training forward pass is the network the Keras import builds", "[train]") {
  const models::RandomModel m = models::random_keras_model(models::mrinet_architecture(kShape), 9, 0.1);
  const at::Tensor x = at::randn({2, 1, kShape[0], kShape[1], kShape[2]});
  const at::Tensor expected = m.net.to(at::kCPU, at::kFloat).forward(x).reshape({-1});
  const at::Tensor got = engine::mrinet_forward(keras_tensors(m.keras), x, false);
  CHECK(at::allclose(got, expected, 1e-4, 1e-5));
}

TEST_CASE("training learns a known signal and the ensemble round-trips through its manifest", "[train]") {
  std::vector<at::Tensor> inputs;
  std::vector<double> ages;
  synthetic_cohort(60, inputs, ages);
  engine::TrainOptions o;
  o.members = 2;
  o.epochs = 25;
  o.patience = 25;
  o.batch = 4;
  o.learning_rate = 3e-3;
  engine::Runtime runtime;
  runtime.threads = 2;
  runtime.activate();
  int reports = 0;
  const engine::TrainResult r = engine::train_ensemble(inputs, ages, kShape, o, runtime, [&](const engine::TrainProgress&) { ++reports; });
  CHECK(reports >= 2);
  REQUIRE(r.members.size() == 2);
  CHECK(r.head_subjects == 12);
  // The mean-age predictor's MAE on ages uniform over 60 years is about 15; the trained head does far better.
  INFO("head MAE " << r.head_mae << ", r " << r.head_r);
  CHECK(r.head_mae < 5);
  CHECK(r.head_r > 0.9);

  test::TempDir dir;
  const nlohmann::json input = {{"shape", kShape}, {"voxel_size", {2, 2, 2}}, {"orientation", "RAS"},
                                {"preprocessing", {{"fit", "none"}}}};
  const std::string path = engine::write_trained_ensemble(dir.path("demo"), "demo", r, kShape, input, {{"seed", 1}});
  const io::EnsembleSpec spec = io::read_manifest(path);
  CHECK(spec.members.size() == 2);
  CHECK(spec.training_age_range[0] <= spec.training_age_range[1]);
  const models::Ensemble ensemble = engine::load_ensemble(spec, runtime);
  const at::Tensor x = at::stack({inputs[0], inputs[59]});
  double expected[2] = {r.intercept, r.intercept};
  for (int k = 0; k < 2; ++k) {
    const at::Tensor y = engine::mrinet_forward(r.members[k].keras_weights, x, false);
    for (int q = 0; q < 2; ++q) expected[q] += r.coefficients[k] * y[q].item<double>();
  }
  const at::Tensor got = ensemble.predict(x);
  for (int q = 0; q < 2; ++q) CHECK(got[q].item<double>() == Approx(expected[q]).epsilon(1e-4));
}

TEST_CASE("training refuses cohorts too small to split", "[train]") {
  std::vector<at::Tensor> inputs;
  std::vector<double> ages;
  synthetic_cohort(6, inputs, ages);
  CHECK_THROWS_WITH(engine::train_ensemble(inputs, ages, kShape, {}, engine::Runtime()), Catch::Contains("too few"));
}
