// mlens run's chain on a small simulated cohort: every stage writes its outputs, the report is one
// self-contained page, and a second run resumes without recomputing anything.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "engine/model_loader.h"
#include "engine/simulate.h"
#include "engine/study.h"
#include "engine/study_status.h"
#include "fixtures.h"
#include "io/keras_config.h"
#include "io/manifest.h"
#include "io/cohort.h"
#include "io/table.h"
#include "models/mrinet.h"

using namespace mlens;

namespace {

// Six simulated subjects and a random MRInet on a 4 mm grid around the brain.
struct Study {
  test::TempDir dir;
  io::EnsembleSpec spec;
  engine::Runtime runtime;
  models::Ensemble model;
  std::vector<io::Subject> cohort;

  Study() {
    test::write_simulation_templates(dir.path("templates"));
    engine::SimulationOptions so;
    so.subjects = 6;
    so.age_min = 60;
    so.age_max = 82;
    so.jobs = 2;
    engine::simulate_cohort(engine::load_simulation_template(dir.path("templates")), dir.path("cohort"), so);
    const models::Int3 shape{16, 18, 16};
    io::write_keras_model(dir.path("m.h5"), models::random_keras_model(models::mrinet_architecture(shape), 3).keras);
    const nlohmann::json manifest = {
        {"name", "test"},
        {"input", {{"shape", shape}, {"voxel_size", {4, 4, 4}}, {"orientation", "RAS"},
                   {"preprocessing", {{"fit", "resample"}, {"centre", {0, -17, 8}}, {"normalise", "zscore"}}}}},
        {"members", {{{"model", "m.h5"}}}}};
    std::ofstream(dir.path("m.mlens.json")) << manifest.dump();
    spec = io::read_manifest(dir.path("m.mlens.json"));
    model = engine::load_ensemble(spec, runtime);
    cohort = io::read_cohort(dir.path("cohort/cohort.csv"));
  }

  engine::StudyOptions options(const std::string& out) {
    engine::StudyOptions o;
    o.cohort.out_dir = dir.path(out);
    o.cohort.composite = lrp::parse_composite("preset-a");
    o.cohort.mni_reference = dir.path("templates/JHU-WhiteMatter-labels-2mm.nii.gz");
    o.manifest = dir.path("m.mlens.json");
    o.panels = 2;
    return o;
  }
};

const auto quiet = [](const std::string&) {};

// Every file under `dir` (relative path → bytes), without the shards' own records and locks.
std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.rfind(".mlens", 0) == 0 || name.rfind("failures-shard-", 0) == 0) continue;
    files[std::filesystem::relative(e.path(), dir).string()] = test::file_bytes(e.path().string());
  }
  return files;
}

}  // namespace

TEST_CASE("the whole study runs on a simulated cohort and resumes", "[study]") {
  Study study;
  const std::vector<io::Subject>& cohort = study.cohort;
  const models::Ensemble& model = study.model;
  const engine::Runtime& runtime = study.runtime;
  const io::EnsembleSpec& spec = study.spec;
  test::TempDir& dir = study.dir;
  engine::StudyOptions o = study.options("out");
  const engine::StudyResult first = engine::run_study(cohort, model, engine::preprocess_spec(spec), runtime, o, quiet, {});
  CHECK(first.cohort.computed == 6);
  CHECK(first.overlay.done == 6);
  REQUIRE(first.wml.has_value());
  CHECK(first.wml->result.included >= 2);
  for (const char* f : {"predictions.csv", "summary.json", "wml.csv", "stats.json", "report.html", "figures/brain_age_vs_age.svg",
                        "figures/wml_relevance.svg", "sub-001/relevance_mni.nii.gz"})
    CHECK(std::filesystem::exists(dir.path("out/") + f));
  CHECK(io::read_csv(dir.path("out/wml.csv")).rows.size() == 6);
  const std::string html = test::file_bytes(first.report);
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
  CHECK(test::file_bytes(dir.path("out/stats.json")) == first.wml->json.dump(2) + "\n");
}

TEST_CASE("a study in shards, merged, gives the bytes of one run, and the merge lists what is missing", "[study]") {
  Study study;
  const engine::PreprocessSpec preprocess = engine::preprocess_spec(study.spec);
  engine::run_study(study.cohort, study.model, preprocess, study.runtime, study.options("whole"), quiet, {});

  engine::StudyOptions o = study.options("sharded");
  const auto run_shard = [&](int k, int n) {
    engine::StudyOptions so = o;
    so.cohort.shard_tag = "shard-" + std::to_string(k) + "-of-" + std::to_string(n);
    return engine::run_study_subjects(study.cohort, io::shard(study.cohort, k, n), study.model, preprocess, study.runtime, so, quiet, {});
  };
  // Two of three shards, out of order: the merge writes what it can and names the missing subjects.
  CHECK(run_shard(3, 3).cohort.computed == 2);
  CHECK(run_shard(1, 3).cohort.computed == 2);
  CHECK_FALSE(std::filesystem::exists(study.dir.path("sharded/predictions.csv")));  // a shard writes nothing cohort-wide
  CHECK_FALSE(std::filesystem::exists(study.dir.path("sharded/failures.csv")));
  engine::StudyResult partial = engine::merge_study(study.cohort, study.runtime, o, nullptr, quiet);
  CHECK(partial.completed == 4);
  CHECK(partial.missing == 2);
  REQUIRE(partial.failures.rows.size() == 2);
  CHECK(partial.failures.rows[0][0] == "sub-002");
  CHECK(partial.failures.rows[1][0] == "sub-005");
  CHECK(partial.failures.rows[0][2].rfind(engine::kMissing, 0) == 0);
  CHECK(io::read_csv(study.dir.path("sharded/predictions.csv")).rows.size() == 4);

  const engine::StudyStatus before = engine::study_status(study.cohort, study.dir.path("sharded"), 3);
  CHECK(before.total.completed == 4);
  CHECK(before.shards[1].missing == 2);
  CHECK(before.shards[0].completed == 2);
  CHECK_FALSE(before.complete());

  // The last shard, then the merge: byte for byte the single run's outputs.
  CHECK(run_shard(2, 3).cohort.computed == 2);
  const engine::StudyResult merged = engine::merge_study(study.cohort, study.runtime, o, nullptr, quiet);
  CHECK(merged.completed == 6);
  CHECK(merged.failures.rows.empty());
  const auto whole = files_of(study.dir.path("whole")), sharded = files_of(study.dir.path("sharded"));
  CHECK(whole.size() > 40);
  for (const auto& [name, bytes] : whole) {
    INFO(name);
    REQUIRE(sharded.count(name));
    CHECK(sharded.at(name) == bytes);
  }
  CHECK(sharded.size() == whole.size());
  CHECK(engine::study_status(study.cohort, study.dir.path("sharded"), 3).complete());

  // Another lesion threshold on the same directory would mix rows: refused, naming the setting.
  o.threshold = 0.5;
  CHECK_THROWS_WITH(engine::merge_study(study.cohort, study.runtime, o, nullptr, quiet), Catch::Contains("lesions"));
}

TEST_CASE("a subject that fails in a shard is named by the merge with its shard's message", "[study]") {
  Study study;
  std::vector<io::Subject> cohort = study.cohort;
  cohort[3].flair = study.dir.path("missing.nii.gz");
  engine::StudyOptions o = study.options("out");
  o.cohort.shard_tag = "shard-2-of-2";
  const engine::StudySubjects shard =
      engine::run_study_subjects(cohort, io::shard(cohort, 2, 2), study.model, engine::preprocess_spec(study.spec), study.runtime, o, quiet, {});
  REQUIRE(shard.failures.rows.size() == 1);
  CHECK(shard.failures.rows[0][0] == "sub-004");
  CHECK(io::read_csv(study.dir.path("out/failures-shard-2-of-2.csv")).rows == shard.failures.rows);
  o.cohort.shard_tag.clear();
  const engine::StudyResult merged = engine::merge_study(cohort, study.runtime, o, nullptr, quiet);
  CHECK(merged.completed == 2);
  CHECK(merged.missing == 3);  // shard 1 never ran
  const io::Table failures = io::read_csv(study.dir.path("out/failures.csv"));
  REQUIRE(failures.rows.size() == 4);
  CHECK(failures.rows[2][0] == "sub-004");
  CHECK(failures.rows[2][2] == shard.failures.rows[0][2]);
  CHECK(failures.rows[2][2].find("missing.nii.gz") != std::string::npos);
  const engine::StudyStatus status = engine::study_status(cohort, study.dir.path("out"), 2);
  CHECK(status.shards[1].failed == 1);
  CHECK(status.shards[0].missing == 3);
}
