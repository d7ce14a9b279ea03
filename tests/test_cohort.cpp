// Cohort runs: the table and its columns, failures recorded while the run goes on, shards that
// together equal the unsharded run, and a run killed with SIGKILL that resumes to byte-identical outputs.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <H5Cpp.h>
#include <itkTransformFileWriter.h>
#include <itkTranslationTransform.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/phantom.h"
#include "fixtures.h"
#include "io/cohort.h"
#include "io/keras_config.h"
#include "io/table.h"
#include "io/volume.h"
#include "io/warp.h"
#include "models/mrinet.h"
#include "stats/compare.h"

using namespace mlens;
namespace fs = std::filesystem;

namespace {

const std::string kMlens = MLENS_BINARY;

// The relative L2 error of a map against its reference, which must not be all zero (stats::relative_l2).
double relative_l2(const io::Volume& map, const io::Volume& reference) {
  REQUIRE(map.voxels.size() == reference.voxels.size());
  REQUIRE(std::any_of(reference.voxels.begin(), reference.voxels.end(), [](float v) { return v != 0; }));
  return stats::relative_l2({map.voxels.begin(), map.voxels.end()}, {reference.voxels.begin(), reference.voxels.end()});
}

// Two MRInets for `shape`, a manifest, `n` phantom subjects (+ one whose file is missing).
struct Cohort {
  test::TempDir dir;
  explicit Cohort(const models::Int3& shape, int n) {
    for (uint64_t seed : {1, 2}) io::write_keras_model(dir.path("m" + std::to_string(seed) + ".h5"), models::mrinet(shape, seed).keras);
    std::ofstream(dir.path("e.mlens.json"))
        << nlohmann::json{{"input", {{"shape", shape}}},
                          {"training", {{"age_range", {0.0, 0.5}}}},
                          {"head", {{"intercept", 0.0}, {"coefficients", {0.5, 0.5}}}},
                          {"members", {{{"model", "m1.h5"}}, {{"model", "m2.h5"}}}}}
               .dump();
    std::ofstream csv(dir.path("cohort.csv"));
    csv << "id,flair,age\n";
    for (int s = 1; s <= n; ++s) {
      const std::string id = "sub-" + std::to_string(s);
      io::write_volume(dir.path(id + ".nii.gz"), engine::phantom(shape, static_cast<uint64_t>(s)));
      csv << id << "," << id << ".nii.gz," << 20 + 7 * s << "\n";
      if (s == 2) csv << "sub-missing,nowhere.nii.gz,50\n";
    }
  }
  std::string run(const std::string& command, const std::string& out, const std::string& extra = "") const {
    return kMlens + " " + command + " --manifest " + dir.path("e.mlens.json") + " --cohort " + dir.path("cohort.csv") +
           " --out " + out + " --threads 1 " + extra;
  }
};

}  // namespace

TEST_CASE("a cohort run writes the table, records failures and goes on", "[cohort][cli]") {
  Cohort c({21, 19, 17}, 5);
  std::string out;
  CHECK(test::run(c.run("predict", c.dir.path("out")), &out) == 4);  // one subject failed
  CHECK_THAT(out, Catch::Contains("5 computed, 0 skipped (done earlier), 1 failed"));
  const io::Table t = io::read_csv(c.dir.path("out/predictions.csv"));
  REQUIRE(t.rows.size() == 5);
  CHECK(t.text("id")[1] == "sub-2");
  const io::Table f = io::read_csv(c.dir.path("out/failures.csv"));
  REQUIRE(f.rows.size() == 1);
  CHECK(f.text("id")[0] == "sub-missing");
  CHECK_THAT(f.text("error")[0], Catch::Contains("nowhere.nii.gz") && Catch::Contains("no such file"));

  // brain_age = the ensemble on the subject; the spread of the two members; gap and corrected gap.
  REQUIRE(test::run(kMlens + " predict --json --threads 1 --manifest " + c.dir.path("e.mlens.json") + " --input " +
                        c.dir.path("sub-3.nii.gz"),
                    &out) == 0);
  CHECK(t.numbers("brain_age")[2] == Approx(nlohmann::json::parse(out)["prediction"].get<double>()).epsilon(1e-6));
  const double m1 = t.numbers("member_1")[2], m2 = t.numbers("member_2")[2];
  CHECK(t.numbers("brain_age")[2] == Approx(0.5 * m1 + 0.5 * m2).epsilon(1e-6));
  CHECK(t.numbers("members_sd")[2] == Approx(std::abs(m1 - m2) / std::sqrt(2.0)).epsilon(1e-6));
  CHECK(t.numbers("gap")[2] == Approx(t.numbers("brain_age")[2] - 41));
  const auto bias = nlohmann::json::parse(test::file_bytes(c.dir.path("out/bias_model.json")));
  const double a = bias["slope"], b = bias["intercept"];
  CHECK(t.numbers("corrected_gap")[2] == Approx(t.numbers("brain_age")[2] + (41 - (a * 41 + b)) - 41).margin(1e-6));
  CHECK_THAT(bias["source"].get<std::string>(), Catch::Contains("fitted on this cohort"));
  // Untrained models predict near 0: outside the manifest's training range [0, 0.5] or not, flagged per row.
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const double y = t.numbers("brain_age")[r];
    CHECK((t.text("flags")[r] == "outside_training_range") == (y < 0 || y > 0.5));
  }
  const auto summary = nlohmann::json::parse(test::file_bytes(c.dir.path("out/summary.json")));
  CHECK(summary["completed"] == 5);
  CHECK(summary["accuracy"]["n"] == 5);
  CHECK(summary["qc"].contains("near_constant_predictions"));  // untrained: the same age for everyone

  // A re-run skips everything that is complete; --bias-model reuses the coefficients.
  CHECK(test::run(c.run("predict", c.dir.path("out"), "--bias-model " + c.dir.path("out/bias_model.json")), &out) == 4);
  CHECK_THAT(out, Catch::Contains("0 computed, 5 skipped"));
}

TEST_CASE("shards 1/3, 2/3 and 3/3 together equal the unsharded run", "[cohort][cli]") {
  Cohort c({21, 19, 17}, 5);
  std::string out;
  test::run(c.run("explain", c.dir.path("all")), &out);
  for (const char* s : {"1/3", "2/3", "3/3"}) test::run(c.run("explain", c.dir.path("sharded"), std::string("--shard ") + s), &out);
  CHECK(test::file_bytes(c.dir.path("sharded/predictions.csv")) == test::file_bytes(c.dir.path("all/predictions.csv")));
  for (int s = 1; s <= 5; ++s) {
    const std::string id = "sub-" + std::to_string(s);
    CHECK(test::file_bytes(c.dir.path("sharded/" + id + "/relevance.nii.gz")) == test::file_bytes(c.dir.path("all/" + id + "/relevance.nii.gz")));
  }
  // The failure lands in the shard that owns it (sub-missing is the 3rd subject: shard 3/3).
  CHECK(io::read_csv(c.dir.path("sharded/failures-shard-3-of-3.csv")).rows.size() == 1);
  CHECK(io::read_csv(c.dir.path("sharded/failures-shard-1-of-3.csv")).rows.empty());
  CHECK(test::run(c.run("explain", c.dir.path("x"), "--shard 4/3"), &out) == 2);
}

TEST_CASE("the pipeline's threads and batches do not change the outputs", "[cohort][cli]") {
  Cohort c({21, 19, 17}, 5);
  std::string out;
  test::run(c.run("explain", c.dir.path("plain")), &out);
  test::run(c.run("explain", c.dir.path("threads"), "--readers 2 --writers 2"), &out);
  CHECK(test::file_bytes(c.dir.path("threads/predictions.csv")) == test::file_bytes(c.dir.path("plain/predictions.csv")));
  CHECK(test::file_bytes(c.dir.path("threads/failures.csv")) == test::file_bytes(c.dir.path("plain/failures.csv")));
  for (int s = 1; s <= 5; ++s)
    for (const char* file : {"relevance.nii.gz", "prediction.json"}) {
      const std::string rel = "sub-" + std::to_string(s) + "/" + file;
      INFO(rel);
      CHECK(test::file_bytes(c.dir.path("threads/") + rel) == test::file_bytes(c.dir.path("plain/") + rel));
    }
  // Batched predictions agree with one-at-a-time predictions to float rounding.
  test::run(c.run("predict", c.dir.path("one")), &out);
  test::run(c.run("predict", c.dir.path("batched"), "--batch 3"), &out);
  const auto one = io::read_csv(c.dir.path("one/predictions.csv")).numbers("brain_age");
  const auto batched = io::read_csv(c.dir.path("batched/predictions.csv")).numbers("brain_age");
  REQUIRE(one.size() == 5);
  REQUIRE(batched.size() == 5);
  for (std::size_t i = 0; i < one.size(); ++i) CHECK(batched[i] == Approx(one[i]).epsilon(1e-5));
  CHECK(io::read_csv(c.dir.path("batched/failures.csv")).rows.size() == 1);
  CHECK(test::run(c.run("predict", c.dir.path("x"), "--batch 0"), &out) == 2);
}

TEST_CASE("batched explanations are the subjects' own, reproducible, and refused when they cannot fit", "[cohort][cli][batch]") {
  Cohort c({21, 19, 17}, 5);
  std::string out;
  test::run(c.run("explain", c.dir.path("one"), "--members"), &out);
  for (const char* dir : {"batched", "again"})
    REQUIRE(test::run(c.run("explain", c.dir.path(dir), "--members --batch 3 --readers 2 --writers 2"), &out) == 4);
  CHECK_THAT(out, Catch::Contains("5 computed"));
  for (int s = 1; s <= 5; ++s) {
    const std::string id = "sub-" + std::to_string(s);
    INFO(id);
    // The same batches give the same bytes, however the readers and writers interleave.
    for (const char* file : {"relevance.nii.gz", "relevance_member-1.nii.gz", "relevance.json", "prediction.json"})
      CHECK(test::file_bytes(c.dir.path("again/" + id + "/") + file) == test::file_bytes(c.dir.path("batched/" + id + "/") + file));
    // Against one at a time: the same map to float rounding, the same subject in the sidecar.
    const io::Volume batched = io::read_volume(c.dir.path("batched/" + id + "/relevance.nii.gz"));
    const io::Volume one = io::read_volume(c.dir.path("one/" + id + "/relevance.nii.gz"));
    CHECK(relative_l2(batched, one) <= 1e-6);
    const auto sidecar = nlohmann::json::parse(test::file_bytes(c.dir.path("batched/" + id + "/relevance.json")));
    const auto single = nlohmann::json::parse(test::file_bytes(c.dir.path("one/" + id + "/relevance.json")));
    CHECK(sidecar["id"] == id);
    CHECK(sidecar["prediction"].get<double>() == Approx(single["prediction"].get<double>()).epsilon(1e-6));
    const auto& layers = sidecar["conservation"][0]["layers"];
    CHECK(layers.size() == single["conservation"][0]["layers"].size());
    CHECK(layers.back()["relevance_out"].get<double>() ==
          Approx(single["conservation"][0]["layers"].back()["relevance_out"].get<double>()).epsilon(1e-6));
  }
  // A batch that cannot fit is refused before anything is written, with what it needs.
  REQUIRE(test::run(c.run("explain", c.dir.path("tight"), "--batch 4 --memory 0.001"), &out) == 1);
  CHECK_THAT(out, Catch::Contains("--batch 4") && Catch::Contains("needs about") && Catch::Contains("GiB") &&
                      Catch::Contains("--memory") && Catch::Contains("use --batch"));
  CHECK(!fs::exists(c.dir.path("tight")));
  CHECK(test::run(c.run("explain", c.dir.path("x"), "--memory -1"), &out) == 2);
}

TEST_CASE("gradient methods run through cohorts and record what explained", "[cohort][cli][gradient]") {
  Cohort c({21, 19, 17}, 3);
  std::string out;
  REQUIRE(test::run(c.run("explain", c.dir.path("ig"), "--method integrated_gradients --steps 4 --batch 2"), &out) == 4);
  const auto sidecar = nlohmann::json::parse(test::file_bytes(c.dir.path("ig/sub-3/relevance.json")));
  CHECK(sidecar["rule"]["method"] == "integrated_gradients");
  CHECK(sidecar["rule"]["integrated_gradients"]["steps"] == 4);
  CHECK(sidecar["conservation"][0]["layers"].empty());  // a gradient conserves nothing
  // The cohort's map is the single explanation's.
  REQUIRE(test::run(kMlens + " explain --threads 1 --manifest " + c.dir.path("e.mlens.json") + " --input " +
                        c.dir.path("sub-3.nii.gz") + " --method integrated_gradients --steps 4 --out " + c.dir.path("one.nii.gz"),
                    &out) == 0);
  const io::Volume one = io::read_volume(c.dir.path("one.nii.gz")), cohort = io::read_volume(c.dir.path("ig/sub-3/relevance.nii.gz"));
  CHECK(relative_l2(cohort, one) <= 1e-6);
  // Another method into the same --out is another configuration.
  CHECK(test::run(c.run("explain", c.dir.path("ig"), "--method smoothgrad --samples 2"), &out) == 1);
}

TEST_CASE("a run killed with SIGKILL resumes to byte-identical outputs", "[cohort][cli]") {
  const int n = 10;
  Cohort c({40, 40, 40}, n);
  std::string out;
  test::run(c.run("explain", c.dir.path("whole")), &out);

  // Start the same run, kill it once two subjects are complete, then run it again.
  const std::string killed = c.dir.path("killed");
  REQUIRE(test::run(c.run("explain", killed) + " > /dev/null 2>&1 & echo $! > " + c.dir.path("pid")) == 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(killed + "/sub-2/prediction.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(test::run("kill -9 $(cat " + c.dir.path("pid") + ")") == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int complete = 0;
  for (int s = 1; s <= n; ++s) complete += fs::exists(killed + "/sub-" + std::to_string(s) + "/prediction.json");
  INFO("subjects complete when killed: " << complete);
  REQUIRE(complete < n);  // it really was interrupted

  test::run(c.run("explain", killed), &out);
  CHECK_THAT(out, Catch::Contains(std::to_string(complete) + " skipped"));
  for (const char* file : {"predictions.csv", "failures.csv", "bias_model.json"})
    CHECK(test::file_bytes(killed + "/" + file) == test::file_bytes(c.dir.path("whole/") + file));
  for (int s = 1; s <= n; ++s)
    for (const char* file : {"relevance.nii.gz", "relevance.json", "prediction.json"}) {
      const std::string rel = "sub-" + std::to_string(s) + "/" + file;
      INFO(rel);
      CHECK(test::file_bytes(killed + "/" + rel) == test::file_bytes(c.dir.path("whole/") + rel));
    }
}

TEST_CASE("explain --cohort --mni warps every map with the subject's transforms", "[cohort][warp][cli]") {
  Cohort c({21, 19, 17}, 2);
  io::register_transform_io();
  {
    auto t = itk::TranslationTransform<double, 3>::New();
    itk::TranslationTransform<double, 3>::OutputVectorType shift;
    shift[0] = 1;
    shift[1] = 0;
    shift[2] = 0;
    t->Translate(shift);
    auto w = itk::TransformFileWriterTemplate<double>::New();
    w->SetInput(t);
    w->SetFileName(c.dir.path("to_mni.txt"));
    w->Update();
  }
  std::ofstream(c.dir.path("cohort.csv")) << "id,flair,age,transform\nsub-1,sub-1.nii.gz,30,to_mni.txt\nsub-2,sub-2.nii.gz,40,\n";
  io::Volume mni;
  mni.shape = {12, 10, 9};
  mni.geometry.spacing = {2, 2, 2};
  mni.voxels.assign(static_cast<std::size_t>(mni.size()), 0.0f);
  io::write_volume(c.dir.path("mni.nii.gz"), mni);
  std::string out;
  CHECK(test::run(c.run("explain", c.dir.path("out"), "--mni " + c.dir.path("mni.nii.gz") + " --store " + c.dir.path("c.h5")), &out) == 4);
  const io::Volume warped = io::read_volume(c.dir.path("out/sub-1/relevance_mni.nii.gz"));
  CHECK(warped.shape == std::array<int64_t, 3>{12, 10, 9});
  const io::Volume expected = io::warp(io::read_volume(c.dir.path("out/sub-1/relevance.nii.gz")), mni,
                                       io::TransformChain::read({c.dir.path("to_mni.txt")}), io::Interpolation::Linear);
  CHECK(warped.voxels == expected.voxels);
  const io::Table f = io::read_csv(c.dir.path("out/failures.csv"));
  REQUIRE(f.rows.size() == 1);
  CHECK_THAT(f.text("error")[0], Catch::Contains("no transform"));

  // The HDF5 store holds the completed subject: its id, its table row and its MNI map with the affine.
  H5::H5File store(c.dir.path("c.h5"), H5F_ACC_RDONLY);
  H5::DataSet stack = store.openDataSet("relevance_mni");
  hsize_t dims[4];
  stack.getSpace().getSimpleExtentDims(dims);
  CHECK(dims[0] == 1);
  CHECK(dims[1] == 12);
  CHECK(dims[3] == 9);
  std::vector<float> stored(12 * 10 * 9);
  stack.read(stored.data(), H5::PredType::NATIVE_FLOAT);
  CHECK(stored == warped.voxels);
  double affine[16];
  stack.openAttribute("affine").read(H5::PredType::NATIVE_DOUBLE, affine);
  CHECK(affine[0] == Approx(-2));  // LPS x axis → RAS: −2 mm
  CHECK(affine[10] == Approx(2));
  double brain_age = 0;
  store.openDataSet("table/brain_age").read(&brain_age, H5::PredType::NATIVE_DOUBLE);
  CHECK(brain_age == Approx(io::read_csv(c.dir.path("out/predictions.csv")).numbers("brain_age")[0]));
}

TEST_CASE("overlay --cohort runs every subject against the explain outputs and resumes", "[cohort][wml][cli]") {
  Cohort c({21, 19, 17}, 3);
  std::string out;
  test::run(c.run("explain", c.dir.path("out")), &out);
  for (int s = 1; s <= 2; ++s) {
    io::Volume les = io::read_volume(c.dir.path("sub-" + std::to_string(s) + ".nii.gz"));
    for (float& v : les.voxels) v = v > 0.85f ? 0.9f : 0.0f;  // the phantom's bright "lesions"
    io::write_volume(c.dir.path("les-" + std::to_string(s) + ".nii.gz"), les);
  }
  std::ofstream(c.dir.path("wml_cohort.csv")) << "id,flair,age,wml\nsub-1,sub-1.nii.gz,30,les-1.nii.gz\n"
                                                 "sub-2,sub-2.nii.gz,40,les-2.nii.gz\nsub-3,sub-3.nii.gz,50,\n";
  const std::string cmd = kMlens + " overlay --cohort " + c.dir.path("wml_cohort.csv") + " --relevance-dir " +
                          c.dir.path("out") + " --out " + c.dir.path("wml.csv");
  CHECK(test::run(cmd, &out) == 4);  // sub-3 has no lesion map
  CHECK_THAT(out, Catch::Contains("2 done, 0 already in the table, 1 failed"));
  const io::Table t = io::read_csv(c.dir.path("wml.csv"));
  REQUIRE(t.rows.size() == 2);
  const auto prediction = nlohmann::json::parse(test::file_bytes(c.dir.path("out/sub-2/prediction.json")));
  CHECK(t.numbers("brain_age")[1] == Approx(prediction["brain_age"].get<double>()));
  CHECK(t.numbers("age")[1] == 40);
  CHECK(t.numbers("n_wml_voxel")[0] > 0);
  CHECK_THAT(io::read_csv(c.dir.path("wml_failures.csv")).text("error")[0], Catch::Contains("no lesion map"));
  CHECK(test::run(cmd, &out) == 4);
  CHECK_THAT(out, Catch::Contains("0 done, 2 already in the table"));
}

TEST_CASE("a BIDS dataset is a cohort: FLAIR images per subject and session, ages from participants.tsv", "[cohort]") {
  test::TempDir dir;
  const std::string root = dir.path("bids");
  const auto touch = [&](const std::string& rel) {
    fs::create_directories(fs::path(root + "/" + rel).parent_path());
    io::write_volume(root + "/" + rel, engine::phantom({21, 19, 17}, 1));
  };
  touch("sub-01/anat/sub-01_FLAIR.nii.gz");
  touch("sub-02/ses-1/anat/sub-02_ses-1_FLAIR.nii.gz");
  touch("sub-02/ses-2/anat/sub-02_ses-2_FLAIR.nii.gz");
  touch("sub-03/anat/sub-03_T1w.nii.gz");  // no FLAIR: not a subject here
  std::ofstream(root + "/participants.tsv") << "participant_id\tage\tsex\nsub-01\t63\tF\nsub-02\tn/a\tM\nsub-03\t40\tF\n";
  const auto subjects = io::read_cohort(root);
  REQUIRE(subjects.size() == 3);
  CHECK(subjects[0].id == "sub-01");
  CHECK(subjects[0].age == 63);
  CHECK(subjects[0].sex == "F");
  CHECK(subjects[1].id == "sub-02_ses-1");
  CHECK(std::isnan(subjects[1].age));
  CHECK(subjects[2].id == "sub-02_ses-2");
  CHECK_THAT(subjects[2].flair, Catch::EndsWith("sub-02/ses-2/anat/sub-02_ses-2_FLAIR.nii.gz"));
  fs::create_directories(dir.path("empty/sub-09/anat"));
  CHECK_THROWS_WITH(io::read_cohort(dir.path("empty")), Catch::Contains("expected a BIDS dataset"));

  // And the CLI takes the directory where a cohort CSV would go.
  io::write_keras_model(dir.path("m.h5"), models::mrinet({21, 19, 17}, 1).keras);
  std::string out;
  CHECK(test::run(kMlens + " predict --model " + dir.path("m.h5") + " --cohort " + root + " --out " + dir.path("out"), &out) == 0);
  CHECK(io::read_csv(dir.path("out/predictions.csv")).rows.size() == 3);
}

TEST_CASE("inputs unlike what the manifest expects are flagged in the table and the summary", "[cohort][cli]") {
  Cohort c({21, 19, 17}, 2);
  std::ofstream(c.dir.path("e.mlens.json"))
      << nlohmann::json{{"input", {{"shape", {21, 19, 17}}, {"expected", {{"intensity_max", {0.0, 0.5}}, {"brain_extent_max", {30, 30, 10}}}}}},
                        {"members", {{{"model", "m1.h5"}}}}}
             .dump();
  std::ofstream(c.dir.path("cohort.csv")) << "id,flair,age\nsub-1,sub-1.nii.gz,30\nsub-2,sub-2.nii.gz,40\n";
  std::string out;
  REQUIRE(test::run(c.run("predict", c.dir.path("out")), &out) == 0);
  const io::Table t = io::read_csv(c.dir.path("out/predictions.csv"));
  // The phantom's intensities reach ~1 (> 0.5) and its brain spans more than 10 voxels along k.
  CHECK_THAT(t.text("flags")[0], Catch::Contains("intensity_out_of_range") && Catch::Contains("brain_extent_too_large"));
  const auto summary = nlohmann::json::parse(test::file_bytes(c.dir.path("out/summary.json")));
  CHECK(summary["qc"]["flagged"]["intensity_out_of_range"] == 2);
  const auto prediction = nlohmann::json::parse(test::file_bytes(c.dir.path("out/sub-1/prediction.json")));
  CHECK(prediction["qc"]["intensity_max"].get<double>() > 0.5);
}

TEST_CASE("a classifier's cohort: every output, the softmax's probabilities, the neuron each map starts from", "[cohort][cli]") {
  test::TempDir dir;
  // A one-channel 3D classifier (7×9×8: Conv3D stride 2, Dense per voxel, BatchNorm, global average
  // pooling, 3 outputs) ending in a softmax, and three subjects in its input grid (+ one missing).
  models::KerasArchitecture a = test::global_3d();
  a.layers.front().batch_input_shape.back() = 1;
  a.layers.back().activation = "softmax";
  const models::RandomModel rm = models::random_keras_model(a, 5, 0.2);
  io::write_keras_model(dir.path("m.h5"), rm.keras);
  std::ofstream csv(dir.path("cohort.csv"));
  csv << "id,flair,age\n";
  for (int s = 1; s <= 3; ++s) {
    io::Volume v = engine::phantom({7, 9, 8}, static_cast<uint64_t>(s));
    for (float& x : v.voxels) x = x * 2 - 1;  // negative inputs too
    io::write_volume(dir.path("sub-" + std::to_string(s) + ".nii.gz"), v);
    csv << "sub-" << s << ",sub-" << s << ".nii.gz," << 60 + s << "\n";
  }
  csv << "sub-missing,nowhere.nii.gz,50\n";
  csv.close();
  const auto run = [&](const std::string& command, const std::string& out, const std::string& extra) {
    return kMlens + " " + command + " --model " + dir.path("m.h5") + " --cohort " + dir.path("cohort.csv") + " --out " +
           dir.path(out) + " --threads 1 " + extra;
  };
  const auto single = [&](const std::string& command, int s, const std::string& extra) {
    return kMlens + " " + command + " --model " + dir.path("m.h5") + " --input " + dir.path("sub-" + std::to_string(s) + ".nii.gz") +
           " --threads 1 " + extra;
  };
  std::string out;

  // predict: the outputs and probabilities of a single prediction, the largest output; no age-bias model.
  REQUIRE(test::run(run("predict", "p", "--batch 2"), &out) == 4);  // the missing subject failed
  const io::Table p = io::read_csv(dir.path("p/predictions.csv"));
  CHECK(p.columns == std::vector<std::string>{"id", "age", "output_0", "output_1", "output_2", "probability_0", "probability_1",
                                              "probability_2", "argmax", "flags"});
  REQUIRE(p.rows.size() == 3);
  std::vector<int> counts(3, 0);
  for (int s = 1; s <= 3; ++s) {
    REQUIRE(test::run(single("predict", s, "--json"), &out) == 0);
    const auto j = nlohmann::json::parse(out);
    for (int k = 0; k < 3; ++k) {
      CHECK(p.numbers("output_" + std::to_string(k))[s - 1] == Approx(j["outputs"][k].get<double>()).epsilon(1e-6));
      CHECK(p.numbers("probability_" + std::to_string(k))[s - 1] == Approx(j["probabilities"][k].get<double>()).epsilon(1e-6));
    }
    const std::vector<double> y = j["outputs"];
    const int argmax = static_cast<int>(std::max_element(y.begin(), y.end()) - y.begin());
    CHECK(p.numbers("argmax")[s - 1] == argmax);
    ++counts[argmax];
    CHECK(p.numbers("age")[s - 1] == 60 + s);
  }
  const auto summary = nlohmann::json::parse(test::file_bytes(dir.path("p/summary.json")));
  CHECK(summary["completed"] == 3);
  CHECK(summary["outputs"] == 3);
  CHECK(summary["argmax_counts"] == counts);
  CHECK(!summary.contains("age_bias"));
  CHECK(!fs::exists(dir.path("p/bias_model.json")));
  // A hand-edited prediction.json is refused by name when the tables are rebuilt.
  auto edited = nlohmann::json::parse(test::file_bytes(dir.path("p/sub-2/prediction.json")));
  edited["argmax"] = 7;
  std::ofstream(dir.path("p/sub-2/prediction.json")) << edited.dump();
  CHECK(test::run(run("predict", "p", ""), &out) == 1);
  CHECK_THAT(out, Catch::Contains("sub-2/prediction.json") && Catch::Contains("\"argmax\" 7 is not an output"));

  // explain --neuron 2 in float64: each subject's map is the single explanation's, batched or not.
  REQUIRE(test::run(run("explain", "e", "--rule epsilon --neuron 2 --dtype float64 --batch 2"), &out) == 4);
  const io::Table e = io::read_csv(dir.path("e/predictions.csv"));
  CHECK(e.columns.back() == "flags");
  REQUIRE(e.rows.size() == 3);
  for (int s = 1; s <= 3; ++s) {
    CHECK(e.numbers("neuron")[s - 1] == 2);
    CHECK(e.numbers("neuron_value")[s - 1] == Approx(e.numbers("output_2")[s - 1]).epsilon(1e-12));
    REQUIRE(test::run(single("explain", s, "--rule epsilon --neuron 2 --dtype float64 --out " + dir.path("one.nii.gz")), &out) == 0);
    const io::Volume one = io::read_volume(dir.path("one.nii.gz"));
    const io::Volume map = io::read_volume(dir.path("e/sub-" + std::to_string(s) + "/relevance.nii.gz"));
    CHECK(relative_l2(map, one) <= 1e-6);  // float64 maps, read back as float32
    const auto sidecar = nlohmann::json::parse(test::file_bytes(dir.path("e/sub-" + std::to_string(s) + "/relevance.json")));
    CHECK(sidecar["neuron"]["index"] == 2);
    CHECK(sidecar["neuron"]["selection"] == "2");
  }
  CHECK(nlohmann::json::parse(test::file_bytes(dir.path("e/summary.json")))["neuron"] == "2");
  // Another neuron into the same --out is another configuration; max starts from each subject's largest output.
  CHECK(test::run(run("explain", "e", "--rule epsilon --dtype float64"), &out) == 1);
  REQUIRE(test::run(run("explain", "max", "--rule epsilon"), &out) == 4);
  const io::Table m = io::read_csv(dir.path("max/predictions.csv"));
  CHECK(m.numbers("neuron") == m.numbers("argmax"));

  // What a cohort cannot run, refused before anything is written: a 2D model, a study.
  io::write_keras_model(dir.path("2d.h5"), models::random_keras_model(test::global_max_2d(), 5).keras);
  CHECK(test::run(kMlens + " predict --model " + dir.path("2d.h5") + " --cohort " + dir.path("cohort.csv") + " --out " +
                      dir.path("2d"), &out) == 1);
  CHECK_THAT(out, Catch::Contains("takes 2D images") && Catch::Contains("a volume per subject"));
  CHECK(!fs::exists(dir.path("2d")));
  CHECK(test::run(kMlens + " run --model " + dir.path("m.h5") + " --cohort " + dir.path("cohort.csv") + " --out " + dir.path("study"),
                  &out) != 0);
  CHECK_THAT(out, Catch::Contains("3 outputs") && Catch::Contains("brain-age study"));
}

TEST_CASE("a multi-channel model's cohort: a 4D NIfTI per subject in, one map per channel out", "[cohort][cli]") {
  test::TempDir dir;
  // global_3d: 7×9×8×3 (Conv3D stride 2, Dense per voxel, BatchNorm, global average pooling), 3 outputs.
  io::write_keras_model(dir.path("m.h5"), models::random_keras_model(test::global_3d(), 6, 0.2).keras);
  std::ofstream csv(dir.path("cohort.csv"));
  csv << "id,flair\n";
  for (int s = 1; s <= 2; ++s) {
    std::vector<io::Volume> channels;
    for (int c = 0; c < 3; ++c) {
      io::Volume v = engine::phantom({7, 9, 8}, static_cast<uint64_t>(10 * s + c));
      v.geometry.spacing = {1.5, 1, 2};
      for (float& x : v.voxels) x = x * 2 - 1;
      channels.push_back(std::move(v));
    }
    io::write_volumes(dir.path("sub-" + std::to_string(s) + ".nii.gz"), channels);
    csv << "sub-" << s << ",sub-" << s << ".nii.gz\n";
  }
  io::write_volume(dir.path("one.nii.gz"), engine::phantom({7, 9, 8}, 3));  // one volume for three channels
  csv << "sub-3d,one.nii.gz\n";
  csv.close();
  std::string out;
  REQUIRE(test::run(kMlens + " explain --model " + dir.path("m.h5") + " --cohort " + dir.path("cohort.csv") + " --out " + dir.path("e") +
                        " --threads 1 --rule epsilon --neuron 1 --dtype float64 --batch 2 --store " + dir.path("e.h5"),
                    &out) == 4);
  const io::Table f = io::read_csv(dir.path("e/failures.csv"));
  REQUIRE(f.rows.size() == 1);
  CHECK_THAT(f.text("error")[0], Catch::Contains("one.nii.gz") && Catch::Contains("1 volume(s), but the model takes 3 channels"));
  H5::H5File store(dir.path("e.h5"), H5F_ACC_RDONLY);
  for (int s = 1; s <= 2; ++s) {
    const std::string id = "sub-" + std::to_string(s);
    // The cohort's map is the single explanation of the same 4D file: one volume per channel.
    REQUIRE(test::run(kMlens + " explain --threads 1 --model " + dir.path("m.h5") + " --input " + dir.path(id + ".nii.gz") +
                          " --rule epsilon --neuron 1 --dtype float64 --out " + dir.path("single.nii.gz"),
                      &out) == 0);
    const std::vector<io::Volume> single = io::read_volumes(dir.path("single.nii.gz"));
    const std::vector<io::Volume> maps = io::read_volumes(dir.path("e/" + id + "/relevance.nii.gz"));
    REQUIRE(maps.size() == 3);
    REQUIRE(single.size() == 3);
    double norm = 0;
    for (int c = 0; c < 3; ++c) {
      CHECK(maps[c].geometry.spacing[0] == Approx(1.5));
      for (std::size_t k = 0; k < maps[c].voxels.size(); ++k) {
        CHECK(maps[c].voxels[k] == single[c].voxels[k]);
        norm += std::abs(maps[c].voxels[k]);
      }
    }
    CHECK(norm > 0);
    // The store holds [C, X, Y, Z] per subject.
    const H5::DataSet ds = store.openDataSet("relevance/" + id);
    hsize_t dims[4];
    REQUIRE(ds.getSpace().getSimpleExtentNdims() == 4);
    ds.getSpace().getSimpleExtentDims(dims);
    CHECK(std::vector<hsize_t>(dims, dims + 4) == std::vector<hsize_t>{3, 7, 9, 8});
    std::vector<float> stored(3 * 7 * 9 * 8);
    ds.read(stored.data(), H5::PredType::NATIVE_FLOAT);
    CHECK(stored[2 * 504 + 17] == maps[2].voxels[17]);
  }
  // A study overlays one map per subject.
  CHECK(test::run(kMlens + " run --model " + dir.path("m.h5") + " --cohort " + dir.path("cohort.csv") + " --out " + dir.path("study"),
                  &out) != 0);
  CHECK_THAT(out, Catch::Contains("3 outputs") && Catch::Contains("explain --cohort"));
  models::KerasArchitecture single_output = test::global_3d();
  single_output.layers.back().units = 1;
  io::write_keras_model(dir.path("m1.h5"), models::random_keras_model(single_output, 6).keras);
  CHECK(test::run(kMlens + " run --model " + dir.path("m1.h5") + " --cohort " + dir.path("cohort.csv") + " --out " + dir.path("study"),
                  &out) != 0);
  CHECK_THAT(out, Catch::Contains("takes 3 channels") && Catch::Contains("explain --cohort"));
  CHECK(!fs::exists(dir.path("study")));
  // An ensemble's preprocessing prepares one volume per subject: manifests take one-channel members.
  std::ofstream(dir.path("e.mlens.json"))
      << nlohmann::json{{"head", {{"intercept", 0.0}, {"coefficients", {1.0}}}}, {"members", {{{"model", "m1.h5"}}}}}.dump();
  CHECK(test::run(kMlens + " predict --manifest " + dir.path("e.mlens.json") + " --cohort " + dir.path("cohort.csv") + " --out " +
                      dir.path("ensemble"), &out) == 1);
  CHECK_THAT(out, Catch::Contains("m1.h5\" takes 3 channels; an ensemble's members take one"));
}
