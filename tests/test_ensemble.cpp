// Ensembles with linear heads: prediction c₀ + Σ c_k y_k and relevance Σ c_k R_k (also nested), the
// manifest and its checks, and `mlens explain --manifest`.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "engine/model_loader.h"
#include "fixtures.h"
#include "io/keras_config.h"
#include "io/manifest.h"
#include "io/volume.h"
#include "lrp/ensemble.h"
#include "lrp/reference.h"
#include "models/mrinet.h"
#include "stats/compare.h"

using namespace mlens;

namespace {

std::shared_ptr<const models::Sequential> network(uint64_t seed) {
  return std::make_shared<const models::Sequential>(models::random_keras_model(test::mini_mrinet(), seed, 0.2).net);
}

void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

}  // namespace

TEST_CASE("an ensemble's prediction and map are the head-weighted sums, nested too", "[ensemble]") {
  const auto a = network(1), b = network(2), c = network(3);
  models::Ensemble inner{"inner", 0.5, {{"a", 0.6, a, nullptr}, {"b", -0.4, b, nullptr}}};
  models::Ensemble outer{"outer", 1.5,
                         {{"inner", 2.0, nullptr, std::make_shared<const models::Ensemble>(inner)}, {"c", 0.25, c, nullptr}}};
  const at::Tensor x = test::random_input(*a, 4);
  const lrp::Composite preset_a = lrp::parse_composite("preset-a");
  const lrp::EnsembleExplanation e = lrp::explain(outer, x, preset_a, true);

  const auto ea = lrp::explain(*a, x, preset_a), eb = lrp::explain(*b, x, preset_a), ec = lrp::explain(*c, x, preset_a);
  const double y = 1.5 + 2.0 * (0.5 + 0.6 * ea.prediction.item<double>() - 0.4 * eb.prediction.item<double>()) +
                   0.25 * ec.prediction.item<double>();
  CHECK(e.prediction.item<double>() == Approx(y).epsilon(1e-12));
  CHECK(outer.predict(x).item<double>() == Approx(y).epsilon(1e-12));
  const at::Tensor expected = 1.2 * ea.relevance - 0.8 * eb.relevance + 0.25 * ec.relevance;
  CHECK(stats::relative_l2(lrp::reference::to_vector(e.relevance), lrp::reference::to_vector(expected)) < 1e-12);
  REQUIRE(e.members.size() == 3);
  CHECK(e.members[0].name == "inner/a");
  CHECK(e.members[1].coefficient == Approx(-0.8));
  CHECK(e.members[2].relevance.defined());
  CHECK(e.members[0].accounts.at(0).size() == a->layers.size());
}

TEST_CASE("manifests load ensembles and refuse inconsistent ones", "[ensemble]") {
  test::TempDir dir;
  for (uint64_t seed : {1, 2}) {
    auto m = models::mrinet({21, 19, 17}, seed);
    io::write_keras_model(dir.path("m" + std::to_string(seed) + ".h5"), m.keras);
  }
  auto other = models::mrinet({23, 19, 17}, 3);
  io::write_keras_model(dir.path("other.h5"), other.keras);
  models::KerasModel weights_only = models::mrinet({21, 19, 17}, 4).keras;
  weights_only.architecture.reset();
  io::write_keras_model(dir.path("w.h5"), weights_only);

  const nlohmann::json good{{"name", "test ensemble"},
                            {"input", {{"shape", {21, 19, 17}}, {"orientation", "LIA"}}},
                            {"head", {{"intercept", 2.0}, {"coefficients", {0.5, 0.3, 0.2}}}},
                            {"members", {{{"model", "m1.h5"}}, {{"model", "m2.h5"}}, {{"model", "w.h5"}, {"arch", "mrinet"}}}}};
  write_json(dir.path("good.mlens.json"), good);
  const io::EnsembleSpec spec = io::read_manifest(dir.path("good.mlens.json"));
  CHECK(spec.orientation == "LIA");
  engine::Runtime cpu64;
  cpu64.dtype = at::kDouble;
  const models::Ensemble e = engine::load_ensemble(spec, cpu64);
  CHECK(e.members.size() == 3);
  CHECK(e.input_shape() == models::Int3{21, 19, 17});

  nlohmann::json bad = good;
  bad["head"]["coefficients"] = {0.5, 0.5};
  write_json(dir.path("coef.mlens.json"), bad);
  CHECK_THROWS_WITH(io::read_manifest(dir.path("coef.mlens.json")),
                    Catch::Contains("head.coefficients") && Catch::Contains("2 coefficients for 3 members"));
  // Sizes are whole numbers in range: 3.4e89 is refused, not converted to an integer (found by bench/fuzz).
  for (const nlohmann::json& shape : {nlohmann::json{3.4e89, 19, 17}, nlohmann::json{21.5, 19, 17}, nlohmann::json{"21", 19, 17}}) {
    bad = good;
    bad["input"]["shape"] = shape;
    write_json(dir.path("huge.mlens.json"), bad);
    CHECK_THROWS_WITH(io::read_manifest(dir.path("huge.mlens.json")),
                      Catch::Contains("input.shape") && Catch::Contains("expected 1 to 32767 voxels along an axis"));
  }
  bad = good;
  bad["input"]["shape"] = {21.0, 19, 17};
  write_json(dir.path("float.mlens.json"), bad);
  CHECK(io::read_manifest(dir.path("float.mlens.json")).input_shape == models::Int3{21, 19, 17});
  bad = good;
  bad["members"][1]["model"] = "missing.h5";
  write_json(dir.path("missing.mlens.json"), bad);
  CHECK_THROWS_WITH(io::read_manifest(dir.path("missing.mlens.json")),
                    Catch::Contains("members[1].model") && Catch::Contains("missing.h5"));
  bad = good;
  bad.erase("input");
  bad["head"]["coefficients"] = {0.5, 0.5};
  bad["members"] = {{{"model", "m1.h5"}}, {{"model", "other.h5"}}};
  write_json(dir.path("geometry.mlens.json"), bad);
  CHECK_THROWS_WITH(engine::load_ensemble(io::read_manifest(dir.path("geometry.mlens.json")), cpu64),
                    Catch::Contains("member \"other.h5\" expects input 23x19x17"));
  bad = good;
  bad["input"]["shape"] = {22, 19, 17};
  bad["members"] = {{{"model", "m1.h5"}}, {{"model", "m2.h5"}}, {{"model", "m1.h5"}}};
  write_json(dir.path("shape.mlens.json"), bad);
  CHECK_THROWS_WITH(engine::load_ensemble(io::read_manifest(dir.path("shape.mlens.json")), cpu64),
                    Catch::Contains("was built for input (21,19,17), not (22,19,17)"));
  std::ofstream(dir.path("broken.mlens.json")) << "{ not json";
  CHECK_THROWS_WITH(io::read_manifest(dir.path("broken.mlens.json")), Catch::Contains("not valid JSON"));

  // Multi-level: a manifest member that is itself a manifest.
  const nlohmann::json top{{"head", {{"intercept", 0.0}, {"coefficients", {1.0, 0.5}}}},
                           {"members", {{{"manifest", "good.mlens.json"}}, {{"model", "m1.h5"}}}}};
  write_json(dir.path("top.mlens.json"), top);
  const models::Ensemble t = engine::load_ensemble(io::read_manifest(dir.path("top.mlens.json")), cpu64);
  REQUIRE(t.members.size() == 2);
  CHECK(t.members[0].ensemble != nullptr);
}

TEST_CASE("mlens explain --manifest writes the ensemble map and each member's", "[ensemble][cli]") {
  test::TempDir dir;
  for (uint64_t seed : {1, 2}) io::write_keras_model(dir.path("m" + std::to_string(seed) + ".h5"), models::mrinet({21, 19, 17}, seed).keras);
  write_json(dir.path("e.mlens.json"), {{"head", {{"intercept", 3.0}, {"coefficients", {0.7, 0.3}}}},
                                        {"members", {{{"model", "m1.h5"}}, {{"model", "m2.h5"}}}}});
  io::Volume v;
  v.shape = {21, 19, 17};
  v.voxels.assign(v.size(), 0.5f);
  for (int64_t i = 0; i < v.size(); i += 3) v.voxels[i] = 0.9f;
  io::write_volume(dir.path("vol.nii.gz"), v);
  std::string out;
  REQUIRE(test::run(std::string(MLENS_BINARY) + " explain --members --dtype float64 --manifest " + dir.path("e.mlens.json") +
                        " --input " + dir.path("vol.nii.gz") + " --out " + dir.path("rel.nii.gz"),
                    &out) == 0);
  const io::Volume total = io::read_volume(dir.path("rel.nii.gz"));
  const io::Volume m1 = io::read_volume(dir.path("rel_member-1.nii.gz")), m2 = io::read_volume(dir.path("rel_member-2.nii.gz"));
  std::vector<double> sum(total.voxels.size()), got(total.voxels.begin(), total.voxels.end());
  for (std::size_t i = 0; i < sum.size(); ++i) sum[i] = 0.7 * m1.voxels[i] + 0.3 * m2.voxels[i];
  CHECK(stats::relative_l2(got, sum) < 1e-5);
  const auto j = nlohmann::json::parse(test::file_bytes(dir.path("rel.json")));
  REQUIRE(j["members"].size() == 2);
  const double y = 3.0 + 0.7 * j["members"][0]["prediction"].get<double>() + 0.3 * j["members"][1]["prediction"].get<double>();
  CHECK(j["prediction"].get<double>() == Approx(y).epsilon(1e-9));
  CHECK(j["model"]["ensemble"] == true);
}

TEST_CASE("mlens explain --manifest preprocesses a subject and writes the map in the subject's grid", "[ensemble][cli]") {
  test::TempDir dir;
  io::write_keras_model(dir.path("m1.h5"), models::mrinet({21, 19, 17}, 1).keras);
  write_json(dir.path("e.mlens.json"),
             {{"input", {{"shape", {21, 19, 17}}, {"orientation", "LIA"}, {"preprocessing", {{"fit", "prune"}, {"normalise", "unit"}}}}},
              {"members", {{{"model", "m1.h5"}}}}});
  io::Volume v;  // a subject in LPS, larger than the model grid, brain in a 15×12×10 box
  v.shape = {30, 26, 24};
  v.voxels.assign(v.size(), 0.0f);
  for (int64_t i = 5; i < 20; ++i)
    for (int64_t j = 6; j < 18; ++j)
      for (int64_t k = 4; k < 14; ++k) v.at(i, j, k) = 0.2f + 0.01f * static_cast<float>((i * 7 + j * 3 + k) % 50);
  v.geometry.origin = {-15, -13, -12};
  io::write_volume(dir.path("sub.nii.gz"), v);
  std::string out;
  REQUIRE(test::run(std::string(MLENS_BINARY) + " explain --manifest " + dir.path("e.mlens.json") + " --input " +
                        dir.path("sub.nii.gz") + " --out " + dir.path("rel.nii.gz") + " --model-space " + dir.path("rel_model.nii.gz"),
                    &out) == 0);
  const io::Volume rel = io::read_volume(dir.path("rel.nii.gz")), model_space = io::read_volume(dir.path("rel_model.nii.gz"));
  CHECK(rel.shape == v.shape);
  for (int a = 0; a < 3; ++a) CHECK(rel.geometry.origin[a] == Approx(v.geometry.origin[a]));
  CHECK(model_space.shape == models::Int3{21, 19, 17});
  double inside = 0, outside = 0, total_model = 0;
  for (int64_t i = 0; i < v.shape[0]; ++i)
    for (int64_t j = 0; j < v.shape[1]; ++j)
      for (int64_t k = 0; k < v.shape[2]; ++k)
        (v.at(i, j, k) != 0 ? inside : outside) += std::abs(rel.at(i, j, k));
  for (float x : model_space.voxels) total_model += std::abs(x);
  CHECK(outside == 0);  // nothing outside the brain box
  CHECK(inside == Approx(total_model).epsilon(1e-5));  // the whole map came back
}
