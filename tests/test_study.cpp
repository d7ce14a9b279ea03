// mlens run's chain on a small simulated cohort: every stage writes its outputs, the report is one
// self-contained page, and a second run resumes without recomputing anything.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/model_loader.h"
#include "engine/simulate.h"
#include "engine/study.h"
#include "fixtures.h"
#include "io/keras_config.h"
#include "io/manifest.h"
#include "io/table.h"
#include "models/mrinet.h"

using namespace mlens;

namespace {

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("the whole study runs on a simulated cohort and resumes", "[study]") {
  test::TempDir dir;
  test::write_simulation_templates(dir.path("templates"));
  engine::SimulationOptions so;
  so.subjects = 6;
  so.age_min = 60;
  so.age_max = 82;
  so.jobs = 2;
  engine::simulate_cohort(engine::load_simulation_template(dir.path("templates")), dir.path("cohort"), so);

  // A random MRInet on a 4 mm grid around the brain.
  const models::Int3 shape{16, 18, 16};
  io::write_keras_model(dir.path("m.h5"), models::random_keras_model(models::mrinet_architecture(shape), 3).keras);
  const nlohmann::json manifest = {
      {"name", "test"},
      {"input", {{"shape", shape}, {"voxel_size", {4, 4, 4}}, {"orientation", "RAS"},
                 {"preprocessing", {{"fit", "resample"}, {"centre", {0, -17, 8}}, {"normalise", "zscore"}}}}},
      {"members", {{{"model", "m.h5"}}}}};
  std::ofstream(dir.path("m.mlens.json")) << manifest.dump();
  const io::EnsembleSpec spec = io::read_manifest(dir.path("m.mlens.json"));
  engine::Runtime runtime;
  const models::Ensemble model = engine::load_ensemble(spec, runtime);
  const std::vector<io::Subject> cohort = io::read_cohort(dir.path("cohort/cohort.csv"));

  engine::StudyOptions o;
  o.cohort.out_dir = dir.path("out");
  o.cohort.composite = lrp::parse_composite("preset-a");
  o.cohort.mni_reference = dir.path("templates/JHU-WhiteMatter-labels-2mm.nii.gz");
  o.manifest = dir.path("m.mlens.json");
  o.panels = 2;
  const auto quiet = [](const std::string&) {};
  const engine::StudyResult first = engine::run_study(cohort, model, engine::preprocess_spec(spec), runtime, o, quiet, {});
  CHECK(first.cohort.computed == 6);
  CHECK(first.overlay.done == 6);
  REQUIRE(first.wml.has_value());
  CHECK(first.wml->result.included >= 2);
  for (const char* f : {"predictions.csv", "summary.json", "wml.csv", "stats.json", "report.html", "figures/brain_age_vs_age.svg",
                        "figures/wml_relevance.svg", "sub-001/relevance_mni.nii.gz"})
    CHECK(std::filesystem::exists(dir.path("out/") + f));
  CHECK(io::read_csv(dir.path("out/wml.csv")).rows.size() == 6);
  const std::string html = text_of(first.report);
  CHECK(html.find("<svg") != std::string::npos);
  std::size_t panels = 0;
  for (auto at = html.find("data:image/png;base64,"); at != std::string::npos; at = html.find("data:image/png;base64,", at + 1)) ++panels;
  CHECK(panels == 2);
  // Nothing to fetch: the page opens from disk.
  CHECK(html.find("src=\"http") == std::string::npos);
  CHECK(html.find("href=\"http") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);

  const engine::StudyResult second = engine::run_study(cohort, model, engine::preprocess_spec(spec), runtime, o, quiet, {});
  CHECK(second.cohort.computed == 0);
  CHECK(second.cohort.skipped == 6);
  CHECK(second.overlay.skipped == 6);
  CHECK(text_of(dir.path("out/stats.json")) == first.wml->json.dump(2) + "\n");
}
