// The `mlens` command end to end on a small MRInet: each subcommand, its outputs, its exit codes, and
// docs/cli.md staying equal to `--help`.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#include "fixtures.h"
#include "io/keras_config.h"
#include "io/npy.h"
#include "io/volume.h"
#include "io/nifti_file.h"
#include "lrp/explain.h"
#include "lrp/reference.h"
#include "models/keras_import.h"
#include "stats/compare.h"
#include "networks.h"

using namespace mlens;

namespace {

const std::string kMlens = MLENS_BINARY;
const models::Int3 kShape{21, 19, 17};

// A model file, a volume in its grid (non-trivial affine) and the same model loaded in-process.
struct Setup {
  test::TempDir dir;
  std::string model, volume;
  models::Sequential net;
  Setup() {
    model = dir.path("mrinet.h5");
    volume = dir.path("vol.nii.gz");
    REQUIRE(test::run(kMlens + " init-model --input-shape 21,19,17 --seed 4 --out " + model) == 0);
    net = models::load_keras_model(io::read_keras_model(model));
    io::Volume v;
    v.shape = kShape;
    v.voxels.resize(v.size());
    at::manual_seed(1);
    const at::Tensor x = at::rand({v.size()}, at::kFloat);
    std::memcpy(v.voxels.data(), x.data_ptr<float>(), v.voxels.size() * sizeof(float));
    v.geometry.spacing = {1.2, 1.0, 0.8};
    v.geometry.origin = {-90, 12, 30};
    io::write_volume(volume, v);
  }
  at::Tensor input() const {
    const io::Volume v = io::read_volume(volume);
    return at::from_blob(const_cast<float*>(v.voxels.data()), {1, 1, kShape[0], kShape[1], kShape[2]}, at::kFloat)
        .to(at::kDouble);
  }
};

}  // namespace

TEST_CASE("mlens inspect and predict report the model and its prediction", "[cli]") {
  Setup s;
  std::string out;
  REQUIRE(test::run(kMlens + " inspect " + s.model, &out) == 0);
  CHECK_THAT(out, Catch::Contains("conv3d_1") && Catch::Contains("dense_2") && Catch::Contains("2.2.4"));
  REQUIRE(test::run(kMlens + " inspect --json " + s.model + " 2>/dev/null", &out) == 0);
  const auto j = nlohmann::json::parse(out);
  CHECK(j["parameters"] == s.net.parameter_count());
  CHECK(j["input_shape"] == std::vector<int64_t>{21, 19, 17});

  REQUIRE(test::run(kMlens + " predict --json --dtype float64 --model " + s.model + " --input " + s.volume, &out) == 0);
  const double expected = s.net.forward(s.input()).item<double>();
  CHECK(nlohmann::json::parse(out)["prediction"].get<double>() == Approx(expected).epsilon(1e-9));
}

TEST_CASE("mlens explain writes the map with the input's affine and a complete sidecar", "[cli]") {
  Setup s;
  const std::string rel = s.dir.path("rel.nii.gz");
  std::string out;
  REQUIRE(test::run(kMlens + " explain --model " + s.model + " --input " + s.volume + " --out " + rel +
                        " --rule preset-a --dtype float64 --threads 1",
                    &out) == 0);
  const io::Volume map = io::read_volume(rel), vol = io::read_volume(s.volume);
  CHECK(map.shape == vol.shape);
  for (int a = 0; a < 3; ++a) {
    CHECK(map.geometry.spacing[a] == Approx(vol.geometry.spacing[a]));
    CHECK(map.geometry.origin[a] == Approx(vol.geometry.origin[a]));
  }
  const auto e = lrp::explain(s.net, s.input(), lrp::parse_composite("preset-a"));
  const std::vector<double> written(map.voxels.begin(), map.voxels.end());
  CHECK(stats::relative_l2(written, lrp::reference::to_vector(e.relevance)) < 1e-6);
  // A float64 run writes float64 NIfTI (datatype 64) holding its digits, far below float32's 1e-8.
  const io::NiftiFile raw = io::read_nifti_file(rel);
  CHECK(raw.datatype == 64);
  const std::vector<double> expected = lrp::reference::to_vector(e.relevance);
  std::vector<double> exact(expected.size());
  const auto [ni, nj, nk] = raw.shape;
  for (int64_t i = 0; i < ni; ++i)
    for (int64_t j = 0; j < nj; ++j)
      for (int64_t k = 0; k < nk; ++k)  // the file's order is i fastest, the engine's k fastest
        std::memcpy(&exact[(i * nj + j) * nk + k], raw.bytes.data() + raw.vox_offset + 8 * (i + ni * (j + nj * k)), 8);
  CHECK(stats::relative_l2(exact, expected) < 1e-13);

  const auto side = nlohmann::json::parse(test::file_bytes(s.dir.path("rel.json")));
  CHECK(side["prediction"].get<double>() == Approx(e.prediction.item<double>()).epsilon(1e-9));
  CHECK(side["rule"]["name"] == "preset-a");
  CHECK(side["rule"]["rules"]["dense"] == "epsilon(epsilon=0.1, bias=innvestigate)");
  CHECK(side["conservation"].size() == s.net.layers.size());
  CHECK(side["options"]["dtype"] == "float64");
  CHECK(side["versions"].contains("libtorch"));
  CHECK(side["timings_seconds"]["explain"].get<double>() > 0);
}

TEST_CASE("mlens validate passes on a matching reference and exits 3 beyond tolerance", "[cli]") {
  Setup s;
  const auto e = lrp::explain(s.net, s.input(), lrp::parse_composite("preset-a"));
  const std::vector<double> relevance = lrp::reference::to_vector(e.relevance);
  std::vector<float> ref(relevance.begin(), relevance.end());
  std::vector<char> bytes(ref.size() * 4);
  std::memcpy(bytes.data(), ref.data(), bytes.size());
  test::write_npy(s.dir.path("ref.npy"), "<f4", "False", "(1, 21, 19, 17, 1)", bytes);
  std::string out;
  const std::string base = kMlens + " validate --model " + s.model + " --input " + s.volume + " --dtype float64 ";
  CHECK(test::run(base + "--reference " + s.dir.path("ref.npy"), &out) == 0);
  CHECK_THAT(out, Catch::Contains("PASS"));
  for (float& v : ref) v *= 1.01f;
  std::memcpy(bytes.data(), ref.data(), bytes.size());
  test::write_npy(s.dir.path("off.npy"), "<f4", "False", "(21, 19, 17)", bytes);
  CHECK(test::run(base + "--reference " + s.dir.path("off.npy") + " --json", &out) == 3);
  CHECK_THAT(out, Catch::Contains("\"pass\": false"));
  test::write_npy(s.dir.path("small.npy"), "<f4", "False", "(2, 2)", std::vector<char>(16));
  CHECK(test::run(base + "--reference " + s.dir.path("small.npy"), &out) == 1);
  CHECK_THAT(out, Catch::Contains("small.npy") && Catch::Contains("does not match the model input (21,19,17)"));
}

TEST_CASE("mlens reports usage errors with exit 2 and bad files with exit 1", "[cli]") {
  Setup s;
  std::string out;
  CHECK(test::run(kMlens + " explain --input " + s.volume + " --out x.nii.gz", &out) == 2);
  CHECK_THAT(out, Catch::Contains("--model"));
  CHECK(test::run(kMlens + " frobnicate", &out) == 2);
  CHECK(test::run(kMlens + " predict --model " + s.volume + " --input " + s.volume, &out) == 1);
  CHECK_THAT(out, Catch::Contains("vol.nii.gz") && Catch::Contains("not an HDF5 file"));
  CHECK(test::run(kMlens + " explain --model " + s.model + " --input " + s.volume + " --out r.nii.gz --rule nope", &out) == 2);
  CHECK_THAT(out, Catch::Contains("unknown method"));
  REQUIRE(test::run(kMlens + " init-model --input-shape 21,19,17 --weights-only --out " + s.dir.path("w.h5")) == 0);
  CHECK(test::run(kMlens + " predict --model " + s.dir.path("w.h5") + " --input " + s.volume, &out) == 2);
  CHECK_THAT(out, Catch::Contains("--arch mrinet"));
  CHECK(test::run(kMlens + " predict --arch mrinet --input-shape 21,19,17 --model " + s.dir.path("w.h5") + " --input " +
                      s.volume, &out) == 0);
  CHECK(test::run(kMlens + " predict --arch mrinet --input-shape 22,19,17 --model " + s.dir.path("w.h5") + " --input " +
                      s.volume, &out) == 1);
  CHECK_THAT(out, Catch::Contains("not in the model's input grid 22x19x17"));

  // mlens run: the cohort is required, choices are checked, a missing MNI reference is named.
  CHECK(test::run(kMlens + " run --model " + s.model + " --out " + s.dir.path("study"), &out) == 2);
  CHECK_THAT(out, Catch::Contains("--cohort"));
  std::ofstream(s.dir.path("c.csv")) << "id,flair\nsub-1," << s.volume << "\n";
  const std::string run = kMlens + " run --model " + s.model + " --cohort " + s.dir.path("c.csv") + " --out " + s.dir.path("study");
  CHECK(test::run(run + " --lesion-resample cubic", &out) == 2);
  CHECK_THAT(out, Catch::Contains("cubic"));
  CHECK(test::run(run + " --mni " + s.dir.path("nowhere.nii.gz"), &out) == 1);
  CHECK_THAT(out, Catch::Contains("nowhere.nii.gz") && Catch::Contains("--mni none"));
  CHECK(test::run(run + " --mni none", &out) == 0);
  CHECK_THAT(out, Catch::Contains("report.html") && Catch::Contains("No lesion statistics"));
}

TEST_CASE("every subcommand's --help teaches with an example, and docs/cli.md matches it", "[cli]") {
  const std::string docs = test::file_bytes(std::string(MLENS_SOURCE_DIR) + "/docs/cli.md");
  for (const char* cmd : {"run", "inspect", "predict", "explain", "validate", "warp", "overlay", "stats", "maps", "simulate", "train", "slices", "init-model", "phantom"}) {
    std::string out;
    REQUIRE(test::run(kMlens + " " + cmd + " --help", &out) == 0);
    CHECK_THAT(out, Catch::Contains("Example:") && Catch::Contains("Usage: mlens"));
    INFO("docs/cli.md is out of date for `mlens " << cmd << " --help`; regenerate it with scripts/cli-docs");
    CHECK(docs.find(out) != std::string::npos);
  }
}

TEST_CASE("the same inputs give the same bytes, and thread counts change maps only at float rounding", "[cli]") {
  Setup s;
  const auto explain = [&](const std::string& out, int threads) {
    return test::run(kMlens + " explain --model " + s.model + " --input " + s.volume + " --out " + s.dir.path(out) +
                     " --threads " + std::to_string(threads));
  };
  REQUIRE(explain("a.nii.gz", 2) == 0);
  REQUIRE(explain("b.nii.gz", 2) == 0);
  REQUIRE(explain("c.nii.gz", 1) == 0);
  CHECK(test::file_bytes(s.dir.path("a.nii.gz")) == test::file_bytes(s.dir.path("b.nii.gz")));
  const io::Volume a = io::read_volume(s.dir.path("a.nii.gz")), c = io::read_volume(s.dir.path("c.nii.gz"));
  CHECK(stats::relative_l2(std::vector<double>(c.voxels.begin(), c.voxels.end()), std::vector<double>(a.voxels.begin(), a.voxels.end())) < 1e-6);
}

TEST_CASE("any Keras CNN from .npy: a 2D three-channel classifier, each neuron, .npy out, validate", "[cli]") {
  test::TempDir dir;
  io::write_keras_model(dir.path("c2d.h5"), models::random_keras_model(test::strided_2d(), 3, 0.2).keras);
  const models::Sequential net = models::load_keras_model(io::read_keras_model(dir.path("c2d.h5")));  // float32 weights
  // One sample as Keras takes it: (H, W, C), float32.
  const at::Tensor x = test::random_input(net, 5).to(at::kFloat).to(at::kDouble);
  io::NpyArray a;
  a.shape = {12, 10, 3};
  a.values = lrp::reference::to_vector(x[0].permute({1, 2, 3, 0}).contiguous());
  io::write_npy(dir.path("x.npy"), a);
  const auto command = [&](const std::string& sub, const std::string& rest) {
    return kMlens + " " + sub + " --model " + dir.path("c2d.h5") + " --input " + dir.path("x.npy") + " " + rest;
  };
  std::string out;
  // inspect shows the Keras input, the outputs and each window and stride on the network's own axes.
  REQUIRE(test::run(kMlens + " inspect " + dir.path("c2d.h5"), &out) == 0);
  CHECK_THAT(out, Catch::Contains("(12,10,3) as Keras takes it (2D") && Catch::Contains("outputs:       4 (the final softmax") &&
                      Catch::Contains("1x2 valid"));
  REQUIRE(test::run(kMlens + " inspect --json " + dir.path("c2d.h5") + " 2>/dev/null", &out) == 0);
  const nlohmann::json info = nlohmann::json::parse(out);
  CHECK(info["keras_input_shape"] == std::vector<int64_t>{12, 10, 3});
  CHECK(info["spatial_rank"] == 2);
  CHECK(info["outputs"] == 4);
  CHECK(info["layers"][0]["window"].get<std::string>().find("/2") != std::string::npos);

  REQUIRE(test::run(command("predict", "--json"), &out) == 0);
  const nlohmann::json p = nlohmann::json::parse(out);
  const at::Tensor y = net.forward(x).reshape({-1});
  REQUIRE(p["outputs"].size() == 4);
  for (int k = 0; k < 4; ++k) CHECK(p["outputs"][k].get<double>() == Approx(y[k].item<double>()).epsilon(1e-5));
  CHECK(p["softmax_removed"] == true);
  CHECK(p["probabilities"][0].get<double>() + p["probabilities"][1].get<double>() + p["probabilities"][2].get<double>() +
            p["probabilities"][3].get<double>() == Approx(1.0));
  // The same sample as a 4D NIfTI of one plane (1×12×10) per channel.
  std::vector<io::Volume> planes(3);
  for (int c = 0; c < 3; ++c) {
    planes[c].shape = {1, 12, 10};
    const at::Tensor v = x[0][c].contiguous().to(at::kFloat);
    planes[c].voxels.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
  }
  io::write_volumes(dir.path("x.nii.gz"), planes);
  REQUIRE(test::run(kMlens + " predict --json --model " + dir.path("c2d.h5") + " --input " + dir.path("x.nii.gz"), &out) == 0);
  CHECK(nlohmann::json::parse(out)["outputs"] == p["outputs"]);

  // Output 2 with epsilon in float64: the map in the input's shape, float64, equal to the reference's.
  lrp::Composite c = lrp::parse_composite("epsilon");
  c.neuron = lrp::parse_neuron("2");
  REQUIRE(test::run(command("explain", "--rule epsilon --neuron 2 --dtype float64 --out " + dir.path("r.npy")), &out) == 0);
  CHECK_THAT(out, Catch::Contains("(output 2 of 4)"));
  const io::NpyArray r = io::read_npy(dir.path("r.npy"));
  CHECK(r.shape == std::vector<int64_t>{12, 10, 3});
  CHECK(r.float64);
  const auto ref = lrp::reference::explain(net, lrp::reference::to_vector(x[0]), c);
  const at::Tensor ref_last = at::tensor(ref.relevance, at::kDouble).reshape({3, 1, 12, 10}).permute({1, 2, 3, 0});
  CHECK(stats::relative_l2(r.values, lrp::reference::to_vector(ref_last.contiguous())) < 1e-9);
  const nlohmann::json sidecar = nlohmann::json::parse(test::file_bytes(dir.path("r.json")));
  CHECK(sidecar["neuron"]["index"] == 2);
  CHECK(sidecar["neuron"]["selection"] == "2");
  CHECK(sidecar["neuron"]["value"].get<double>() == Approx(y[2].item<double>()).epsilon(1e-5));
  CHECK(sidecar["rule"]["neuron"] == "2");

  // The same map validates; float32 runs of a float32 input write float32; every neuron mode and method runs.
  CHECK(test::run(command("validate", "--rule epsilon --neuron 2 --dtype float64 --reference " + dir.path("r.npy")), &out) == 0);
  CHECK_THAT(out, Catch::Contains("PASS"));
  REQUIRE(test::run(command("explain", "--method integrated_gradients --steps 4 --neuron all --out " + dir.path("ig.npy")), &out) == 0);
  CHECK_FALSE(io::read_npy(dir.path("ig.npy")).float64);
  REQUIRE(test::run(command("explain", "--rule lrp.sequential_preset_a --out " + dir.path("max.npy") + " --json"), &out) == 0);
  CHECK(nlohmann::json::parse(out.substr(out.find('{')))["neuron"]["index"] == y.argmax().item<int64_t>());  // past the log lines

  // Usage errors: an output the model lacks, a NIfTI --out, a manifest.
  CHECK(test::run(command("explain", "--neuron 4 --out " + dir.path("bad.npy")), &out) == 2);
  CHECK_THAT(out, Catch::Contains("4 outputs (0 to 3)"));
  CHECK(test::run(command("explain", "--out " + dir.path("bad.nii.gz")), &out) == 2);
  CHECK(test::run(command("explain", "--neuron first --out " + dir.path("bad.npy")), &out) == 2);
  // An array of the wrong shape names both.
  a.shape = {10, 12, 3};
  io::write_npy(dir.path("t.npy"), a);
  CHECK(test::run(kMlens + " predict --model " + dir.path("c2d.h5") + " --input " + dir.path("t.npy"), &out) == 1);
  CHECK_THAT(out, Catch::Contains("(10,12,3)") && Catch::Contains("takes (12,10,3)"));
}

TEST_CASE("a multi-channel model from a 4D NIfTI: one volume per channel in, one map per channel out", "[cli]") {
  test::TempDir dir;
  // 7×9×8×3 (Conv3D stride 2, Dense per voxel, global average pooling), saved with its spatial axes open
  // (None): the input's size fills them.
  models::RandomModel rm = models::random_keras_model(test::global_3d(), 8, 0.2);
  const models::Sequential net = models::load_keras_model(rm.keras);
  for (int a = 1; a <= 3; ++a) rm.keras.architecture->layers.at(0).batch_input_shape.at(a) = -1;
  io::write_keras_model(dir.path("m.h5"), rm.keras);
  const at::Tensor x = test::random_input(net, 3).to(at::kFloat).to(at::kDouble);  // [1, 3, 7, 9, 8]
  std::vector<io::Volume> channels(3);
  for (int c = 0; c < 3; ++c) {
    channels[c].shape = {7, 9, 8};
    channels[c].geometry.spacing = {1.5, 1, 2};
    channels[c].geometry.origin = {10, -20, 5};
    const at::Tensor v = x[0][c].contiguous().to(at::kFloat);
    channels[c].voxels.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
  }
  io::write_volumes(dir.path("x.nii.gz"), channels);
  const auto command = [&](const std::string& sub, const std::string& input, const std::string& rest) {
    return kMlens + " " + sub + " --model " + dir.path("m.h5") + " --input " + dir.path(input) + " " + rest;
  };
  std::string out;
  REQUIRE(test::run(command("predict", "x.nii.gz", "--json"), &out) == 0);
  const at::Tensor y = net.forward(x).reshape({-1});
  const nlohmann::json p = nlohmann::json::parse(out);
  REQUIRE(p["outputs"].size() == 3);
  for (int k = 0; k < 3; ++k) CHECK(p["outputs"][k].get<double>() == Approx(y[k].item<double>()).epsilon(1e-5));

  // The map of output 1 in float64: a 4D NIfTI of three maps on the input's grid, equal to the reference's.
  REQUIRE(test::run(command("explain", "x.nii.gz", "--rule epsilon --neuron 1 --dtype float64 --out " + dir.path("r.nii.gz")),
                    &out) == 0);
  const std::vector<io::Volume> maps = io::read_volumes(dir.path("r.nii.gz"));
  REQUIRE(maps.size() == 3);
  CHECK(maps[0].geometry.spacing[2] == Approx(2));
  CHECK(maps[2].geometry.origin[1] == Approx(-20));
  CHECK(io::read_nifti_file(dir.path("r.nii.gz"), io::NiftiLayout::Volumes).datatype == 64);  // float64
  lrp::Composite c = lrp::parse_composite("epsilon");
  c.neuron = lrp::parse_neuron("1");
  const auto ref = lrp::reference::explain(net, lrp::reference::to_vector(x[0]), c);  // channels first, as the volumes
  std::vector<double> mine;
  for (const io::Volume& m : maps) mine.insert(mine.end(), m.voxels.begin(), m.voxels.end());
  CHECK(stats::relative_l2(mine, ref.relevance) < 1e-6);  // the float32 storage of the reader

  // The same map as .npy (channels last) and validate against the 4D NIfTI.
  REQUIRE(test::run(command("explain", "x.nii.gz", "--rule epsilon --neuron 1 --dtype float64 --out " + dir.path("r.npy")), &out) == 0);
  CHECK(io::read_npy(dir.path("r.npy")).shape == std::vector<int64_t>{7, 9, 8, 3});
  CHECK(test::run(command("validate", "x.nii.gz", "--rule epsilon --neuron 1 --dtype float64 --reference " + dir.path("r.nii.gz")),
                  &out) == 0);
  CHECK_THAT(out, Catch::Contains("PASS"));
  CHECK(test::run(command("validate", "x.nii.gz", "--rule epsilon --neuron 1 --dtype float64 --reference " + dir.path("r.npy")),
                  &out) == 0);

  // A .npy of another size runs too: its size fills the open axes.
  io::NpyArray big;
  big.shape = {9, 11, 10, 3};
  big.values.assign(9 * 11 * 10 * 3, 0.5);
  io::write_npy(dir.path("big.npy"), big);
  REQUIRE(test::run(command("predict", "big.npy", "--json"), &out) == 0);
  CHECK(nlohmann::json::parse(out)["outputs"].size() == 3);

  // A 3D volume, or a 4D file of two volumes, names what the model takes.
  io::write_volume(dir.path("one.nii.gz"), channels[0]);
  CHECK(test::run(command("predict", "one.nii.gz", ""), &out) == 1);
  CHECK_THAT(out, Catch::Contains("3 channels") && Catch::Contains("4D NIfTI of 3 volumes"));
  io::write_volumes(dir.path("two.nii.gz"), std::vector<io::Volume>(channels.begin(), channels.begin() + 2));
  CHECK(test::run(command("predict", "two.nii.gz", ""), &out) == 1);
  CHECK_THAT(out, Catch::Contains("4D NIfTI of (7,9,8,2) (2 volumes)") && Catch::Contains("takes (7,9,8,3)"));
  CHECK(test::run(command("explain", "two.nii.gz", "--mask " + dir.path("one.nii.gz") + " --out " + dir.path("m.nii.gz")), &out) == 2);
}

TEST_CASE("fast math is opt-in and validate prints what it costs against exact float32", "[cli]") {
  Setup s;
  std::string out;
  const std::string base = kMlens + " validate --model " + s.model + " --input " + s.volume + " --reference " + s.dir.path("ref.nii.gz");
  REQUIRE(test::run(kMlens + " explain --model " + s.model + " --input " + s.volume + " --out " + s.dir.path("ref.nii.gz"), &out) == 0);
  // Exact float32 by default: no fast-math line, and the map equals itself.
  REQUIRE(test::run(base, &out) == 0);
  CHECK_THAT(out, !Catch::Contains("fast math"));
  // TF32 is a CUDA tensor-core format: on the CPU nothing changes.
  REQUIRE(test::run(base + " --fast-math tf32 --json", &out) == 0);
  const nlohmann::json tf32 = nlohmann::json::parse(out.substr(out.find('{')));
  CHECK(tf32["fast_math"]["mode"] == "tf32");
  CHECK(tf32["fast_math"]["relative_l2_vs_float32"] == 0);
  // bfloat16 throughout: an error of a few percent, printed, and beyond validate's default tolerance.
  CHECK(test::run(base + " --fast-math bf16 --json", &out) == 3);
  const nlohmann::json bf16 = nlohmann::json::parse(out.substr(out.find('{')));
  CHECK(bf16["fast_math"]["mode"] == "bfloat16");
  const double error = bf16["fast_math"]["relative_l2_vs_float32"];
  CHECK(error > 1e-4);
  CHECK(error < 0.2);
  CHECK(bf16["relative_l2"].get<double>() == Approx(error).epsilon(1e-9));  // the reference is the float32 map
  // explain records it; float64 and an unknown mode are usage errors.
  REQUIRE(test::run(kMlens + " explain --fast-math bf16 --model " + s.model + " --input " + s.volume + " --out " +
                        s.dir.path("bf.nii.gz") + " --json 2>/dev/null", &out) == 0);
  CHECK(nlohmann::json::parse(out.substr(out.find('{')))["options"]["dtype"] == "bfloat16");
  CHECK(io::read_nifti_file(s.dir.path("bf.nii.gz")).datatype == 16);  // written as float32
  // A prediction keeps its digits: the network's output is bfloat16, the head sums in float32.
  REQUIRE(test::run(kMlens + " predict --json --model " + s.model + " --input " + s.volume, &out) == 0);
  const double exact = nlohmann::json::parse(out)["prediction"];
  REQUIRE(test::run(kMlens + " predict --json --fast-math bf16 --model " + s.model + " --input " + s.volume, &out) == 0);
  CHECK(nlohmann::json::parse(out)["prediction"].get<double>() == Approx(exact).epsilon(0.02));
  CHECK(test::run(kMlens + " train --cohort none.csv --out " + s.dir.path("tr") + " --fast-math bf16", &out) == 2);
  CHECK_THAT(out, Catch::Contains("train computes in float32"));
  CHECK(test::run(base + " --fast-math bf16 --dtype float64", &out) == 2);
  CHECK_THAT(out, Catch::Contains("does not go with --dtype float64"));
  CHECK(test::run(base + " --fast-math fp8", &out) == 2);
  CHECK_THAT(out, Catch::Contains("expected none, tf32 or bf16"));
}
