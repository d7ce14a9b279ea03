// The bad-input catalogue: what a careful user (or a broken converter) feeds `mlens`, each case run as
// a command line with files this test makes itself. Every case asserts the exit code (docs/cli.md), the
// key words of the message (the file, the field, what was found or expected) and that nothing partial
// is left behind: no new file but lock files, no temporaries. docs/reliability.md lists the promises
// these cases test.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <H5Cpp.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/phantom.h"
#include "fixtures.h"
#include "io/keras_config.h"
#include "io/volume.h"
#include "models/mrinet.h"

using namespace mlens;
namespace fs = std::filesystem;

namespace {

const std::string kMlens = MLENS_BINARY;
const models::Int3 kShape{21, 19, 17};

void spit(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// JSON lists nested `levels` deep. nlohmann::json dumps, copies and compares by recursion: a value nested
// 10⁵ deep, quoted in an error message or compared, overflowed the stack (io/json.h).
std::string nested_json(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

template <typename T>
std::string patched(std::string bytes, std::size_t offset, T value) {
  bytes.replace(offset, sizeof value, reinterpret_cast<const char*>(&value), sizeof value);
  return bytes;
}

std::string gzipped(const std::string& bytes) {
  const std::string tmp = fs::temp_directory_path() / ("mlens-gz-" + std::to_string(::getpid()));
  test::zlib_write_gzip(tmp, {bytes});
  std::string out = test::file_bytes(tmp);
  fs::remove(tmp);
  return out;
}

// Every file under `dir` that is not a lock file.
std::set<std::string> files_under(const std::string& dir) {
  std::set<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (!e.is_directory() && e.path().filename().string().rfind(".mlens", 0) != 0) files.insert(e.path().string());
  return files;
}

struct Case {
  std::string name, command;
  int exit;
  std::vector<std::string> words;  // each must appear in stdout+stderr
};

// A model, a volume in its grid, a manifest, and a place for cases' files.
struct Catalogue {
  test::TempDir dir;
  std::string model = dir.path("m.h5"), volume = dir.path("v.nii"), manifest = dir.path("e.mlens.json");
  std::string nii;  // the volume's bytes (uncompressed NIfTI-1 as ITK writes it)
  std::size_t cases = 0;

  Catalogue() {
    io::write_keras_model(model, models::mrinet(kShape, 1).keras);
    io::Volume v = engine::phantom(kShape, 3);
    io::write_volume(volume, v);
    nii = test::file_bytes(volume);
    spit(manifest, R"({"input": {"shape": [21, 19, 17]}, "head": {"intercept": 1, "coefficients": [1]}, "members": [{"model": "m.h5"}]})");
  }
  std::string path(const std::string& name) const { return dir.path(name); }
  // A file made for a case (inside the catalogue's folder).
  std::string file(const std::string& name, const std::string& bytes) const {
    spit(path(name), bytes);
    return path(name);
  }
  std::string predict(const std::string& input) const { return kMlens + " predict --threads 1 --model " + model + " --input " + input; }

  void check(const Case& c) {
    ++cases;
    const std::set<std::string> before = files_under(dir.path(""));
    std::string out;
    const int code = test::run(c.command, &out);
    INFO(c.name << "\n$ " << c.command << "\n" << out);
    CHECK(code == c.exit);
    for (const std::string& w : c.words) CHECK_THAT(out, Catch::Contains(w, Catch::CaseSensitive::No));
    CHECK_THAT(out, !Catch::Contains("std::") && !Catch::Contains("basic_string") && !Catch::Contains("what():"));
    if (c.exit != 0 && c.exit != 3 && c.exit != 4) {
      std::set<std::string> added;
      for (const std::string& f : files_under(dir.path("")))
        if (!before.count(f)) added.insert(f);
      std::string list;
      for (const std::string& f : added) list += f + " ";
      INFO("left behind: " << list);
      CHECK(added.empty());
    }
  }
};

// NIfTI-1 header offsets used below.
constexpr std::size_t kDim = 40, kDatatype = 70, kPixdim = 76, kVoxOffset = 108, kQform = 252, kSform = 254,
                      kQuatern = 256, kSrow = 280, kMagic = 344;

}  // namespace

TEST_CASE("bad input catalogue: NIfTI volumes", "[catalogue][cli]") {
  Catalogue c;
  const std::string& nii = c.nii;
  const auto dim = [&](std::vector<int16_t> d) {
    std::string b = nii;
    for (std::size_t k = 0; k < d.size(); ++k) b = patched<int16_t>(b, kDim + 2 * k, d[k]);
    return b;
  };
  const float nan = std::nanf(""), inf = INFINITY;
  const std::vector<Case> cases{
      {"missing file", c.predict(c.path("absent.nii.gz")), 1, {"absent.nii.gz", "no such file"}},
      {"a directory", c.predict(c.path("")), 1, {"expected a NIfTI file name"}},
      {"a directory named .nii", (fs::create_directories(c.path("dir.nii")), c.predict(c.path("dir.nii"))), 1, {"dir.nii", "is a directory"}},
      {"not a NIfTI name", c.predict(c.file("v.mgz", nii)), 1, {"v.mgz", "ending in .nii or .nii.gz"}},
      {"empty file", c.predict(c.file("empty.nii", "")), 1, {"empty.nii", "shorter than a NIfTI-1 header"}},
      {"text", c.predict(c.file("text.nii", std::string(400, 'x'))), 1, {"text.nii", "sizeof_hdr", "expected 348"}},
      {"NIfTI-2", c.predict(c.file("two.nii", patched<int32_t>(nii, 0, 540))), 1, {"two.nii", "NIfTI-2", "nibabel"}},
      {"a .hdr/.img header", c.predict(c.file("pair.nii", patched<char>(patched<char>(nii, kMagic + 1, 'i'), kMagic + 2, '1'))), 1,
       {"pair.nii", "ni1", ".hdr/.img"}},
      {"bad magic", c.predict(c.file("magic.nii", patched<char>(nii, kMagic, 'X'))), 1, {"magic.nii", "magic"}},
      {"dim[0] = 0", c.predict(c.file("d0.nii", dim({0}))), 1, {"d0.nii", "dim[0] is 0", "1 to 7"}},
      {"dim[0] = 8", c.predict(c.file("d8.nii", dim({8}))), 1, {"dim[0] is 8"}},
      {"zero size", c.predict(c.file("zero.nii", dim({3, 21, 0, 17}))), 1, {"zero.nii", "dim[2] is 0", "at least 1"}},
      {"negative size", c.predict(c.file("neg.nii", dim({3, -21, 19, 17}))), 1, {"dim[1] is -21"}},
      {"2D", c.predict(c.file("flat.nii", dim({2, 21, 19}))), 1, {"flat.nii", "expected a 3D volume", "2D"}},
      {"4D, 3 volumes", c.predict(c.file("four.nii", dim({4, 7, 19, 17, 3}))), 1, {"four.nii", "4D NIfTI of (7,19,17,3)", "takes (21,19,17,1)"}},
      {"5D", c.predict(c.file("five.nii", dim({5, 21, 19, 17, 1, 3}))), 1, {"5D", "21x19x17x1x3"}},
      {"huge dims in a small file", c.predict(c.file("huge.nii", dim({3, 30000, 30000, 30000}))), 1, {"huge.nii", "ends after"}},
      {"700³ header alone", c.predict(c.file("header.nii", dim({3, 700, 700, 700}).substr(0, 352))), 1, {"header.nii", "ends after 0 of 343000000 voxels"}},
      {"truncated .nii", c.predict(c.file("cut.nii", nii.substr(0, nii.size() - 100))), 1, {"cut.nii", "ends after"}},
      {"truncated .nii.gz claiming 700³", c.predict(c.file("cut.nii.gz", gzipped(dim({3, 700, 700, 700})).substr(0, 3000))), 1,
       {"cut.nii.gz", "more than a gzip file of"}},
      {"truncated .nii.gz", c.predict(c.file("short.nii.gz", gzipped(nii).substr(0, 400))), 1, {"short.nii.gz", "truncated"}},
      {"not gzip", c.predict(c.file("plain.nii.gz", nii)), 1, {"plain.nii.gz", "not a gzip file"}},
      {"bad gzip checksum", [&] {
         std::string gz = gzipped(nii);
         gz[gz.size() - 6] ^= 1;
         return c.predict(c.file("crc.nii.gz", gz));
       }(), 1, {"crc.nii.gz", "checksum"}},
      {"complex voxels", c.predict(c.file("complex.nii", patched<int16_t>(nii, kDatatype, 32))), 1, {"complex.nii", "datatype 32 (complex64)"}},
      {"RGB voxels", c.predict(c.file("rgb.nii", patched<int16_t>(nii, kDatatype, 128))), 1, {"RGB24", "not a real-valued"}},
      {"datatype 0", c.predict(c.file("dt0.nii", patched<int16_t>(nii, kDatatype, 0))), 1, {"datatype 0"}},
      // ITK's reader trusted both and corrupted its heap on a displacement field (bench/fuzz, transform target).
      {"bitpix disagrees with datatype", c.predict(c.file("bitpix.nii", patched<int16_t>(nii, kDatatype + 2, 8))), 1,
       {"bitpix.nii", "bitpix is 8", "agree"}},
      {"vox_offset 0", c.predict(c.file("vo0.nii", patched<float>(nii, kVoxOffset, 0))), 1, {"vo0.nii", "vox_offset is 0", "at least 352"}},
      {"vox_offset NaN", c.predict(c.file("vonan.nii", patched<float>(nii, kVoxOffset, nan))), 1, {"vox_offset is nan"}},
      {"vox_offset past the end", c.predict(c.file("vobig.nii", patched<float>(nii, kVoxOffset, 1e8f))), 1, {"vobig.nii", "ends after 0"}},
      {"zero voxel size", c.predict(c.file("px0.nii", patched<float>(nii, kPixdim + 4, 0))), 1, {"px0.nii", "pixdim[1] is 0", "positive voxel size"}},
      {"NaN voxel size", c.predict(c.file("pxnan.nii", patched<float>(nii, kPixdim + 8, nan))), 1, {"pixdim[2] is nan"}},
      {"negative voxel size", c.predict(c.file("pxneg.nii", patched<float>(nii, kPixdim + 12, -1))), 1, {"pixdim[3] is -1"}},
      {"NaN in the sform", c.predict(c.file("sform.nii", patched<float>(patched<int16_t>(nii, kSform, 1), kSrow, nan))), 1,
       {"sform.nii", "srow_x[0] is nan", "finite"}},
      {"infinite sform offset", c.predict(c.file("sinf.nii", patched<float>(patched<int16_t>(nii, kSform, 1), kSrow + 16 + 12, inf))), 1,
       {"srow_y[3] is inf"}},
      // ITK's float SVD of this affine never ends (bench/fuzz, volume target).
      {"kilometre sform", c.predict(c.file("skm.nii", patched<float>(patched<float>(patched<int16_t>(nii, kSform, 1), kSrow + 16 + 4, 1e12f),
                                                          kSrow + 16 + 12, 9.4e-38f))), 1,
       {"skm.nii", "srow_y[1] is 9.99999996e+11", "millimetres"}},
      {"kilometre voxels", c.predict(c.file("pxkm.nii", patched<float>(nii, kPixdim + 4, 2e6f))), 1, {"pixdim[1] is 2000000", "millimetres"}},
      {"singular sform", [&] {
         std::string b = patched<int16_t>(nii, kSform, 1);
         for (int k = 0; k < 12; ++k) b = patched<float>(b, kSrow + 4 * k, 0);
         return c.predict(c.file("singular.nii", b));
       }(), 1, {"singular.nii", "singular", "invertible"}},
      {"no qform and no sform", c.predict(c.file("nogeom.nii", patched<int16_t>(patched<int16_t>(nii, kQform, 0), kSform, 0))), 1,
       {"nogeom.nii", "qform_code and sform_code are both 0"}},
      {"NaN quaternion", c.predict(c.file("quat.nii", patched<float>(nii, kQuatern, nan))), 1, {"quat.nii", "quatern_b is nan"}},
      {"NaN voxel", [&] {
         io::Volume v = io::read_volume(c.volume);
         v.at(3, 4, 5) = nan;
         io::write_volume(c.path("nanvox.nii.gz"), v);
         return c.predict(c.path("nanvox.nii.gz"));
       }(), 1, {"nanvox.nii.gz", "not finite", "(3, 4, 5)", "NaN"}},
      {"infinite voxel", [&] {
         io::Volume v = io::read_volume(c.volume);
         v.at(0, 0, 1) = -inf;
         io::write_volume(c.path("infvox.nii"), v);
         return c.predict(c.path("infvox.nii"));
       }(), 1, {"infvox.nii", "infinite"}},
      {"another grid than the model's", c.predict(c.file("small.nii", dim({3, 20, 19, 17}))), 1, {"small.nii"}},
      {"a FIFO", (::mkfifo(c.path("fifo.nii").c_str(), 0600), c.predict(c.path("fifo.nii"))), 1, {"fifo.nii", "not a regular file"}},
  };
  for (const Case& k : cases) c.check(k);

  // Unusual but valid: big-endian, gzipped, scaled, with a 4th axis of length 1: all give the same prediction.
  std::string reference;
  REQUIRE(test::run(c.predict(c.volume) + " --json", &reference) == 0);
  const double expected = nlohmann::json::parse(reference.substr(reference.find('{')))["prediction"].get<double>();
  std::string big = nii;
  for (std::size_t at : {0, 140, 144}) std::reverse(big.begin() + at, big.begin() + at + 4);
  for (std::size_t at : {36, 68, 70, 72, 74, 120, 252, 254}) std::reverse(big.begin() + at, big.begin() + at + 2);
  for (std::size_t d = 0; d < 8; ++d) std::reverse(big.begin() + 40 + 2 * d, big.begin() + 42 + 2 * d);
  for (std::size_t at : {56, 60, 64, 108, 112, 116, 124, 128, 132, 136}) std::reverse(big.begin() + at, big.begin() + at + 4);
  for (std::size_t f = 0; f < 8; ++f) std::reverse(big.begin() + 76 + 4 * f, big.begin() + 80 + 4 * f);
  for (std::size_t f = 0; f < 18; ++f) std::reverse(big.begin() + 256 + 4 * f, big.begin() + 260 + 4 * f);
  for (std::size_t at = 352; at + 4 <= big.size(); at += 4) std::reverse(big.begin() + at, big.begin() + at + 4);
  for (const std::string& file : {c.file("big-endian.nii", big), c.file("gz.nii.gz", gzipped(nii)), c.file("t1.nii", dim({4, 21, 19, 17, 1}))}) {
    std::string out;
    INFO(file);
    REQUIRE(test::run(c.predict(file) + " --json", &out) == 0);
    CHECK(nlohmann::json::parse(out.substr(out.find('{')))["prediction"].get<double>() == expected);
  }
}

TEST_CASE("bad input catalogue: Keras models", "[catalogue][cli]") {
  Catalogue c;
  const auto model = [&](const std::string& file) { return kMlens + " predict --threads 1 --model " + file + " --input " + c.volume; };
  const io::KerasFile good = io::read_keras_h5(c.model);
  const auto variant = [&](const std::string& name, const std::function<void(io::KerasFile&)>& change) {
    io::KerasFile k = good;
    change(k);
    io::write_keras_h5(c.path(name), k);
    return c.path(name);
  };
  {
    H5::H5File file(c.path("plain.h5"), H5F_ACC_TRUNC);
    file.createGroup("something_else");
  }
  // The model with its model_config attribute replaced by `text` (which need not be JSON).
  const auto with_model_config = [&](const std::string& name, const std::string& text) {
    fs::copy_file(c.model, c.path(name));
    H5::H5File file(c.path(name), H5F_ACC_RDWR);
    file.removeAttr("model_config");
    const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    const char* value = text.c_str();
    file.createAttribute("model_config", type, H5::DataSpace(H5S_SCALAR)).write(type, &value);
    return c.path(name);
  };
  const std::string bytes = test::file_bytes(c.model);
  const std::vector<Case> cases{
      {"missing model", model(c.path("absent.h5")), 1, {"absent.h5", "no such file"}},
      {"a directory", (fs::create_directories(c.path("dir.h5")), model(c.path("dir.h5"))), 1, {"dir.h5", "is a directory"}},
      {"empty file", model(c.file("empty.h5", "")), 1, {"empty.h5", "not an HDF5 file"}},
      {"text", model(c.file("text.h5", "not hdf5 at all")), 1, {"text.h5", "not an HDF5 file"}},
      {"HDF5, not Keras", model(c.path("plain.h5")), 1, {"plain.h5", "not a Keras model"}},
      {"truncated", model(c.file("half.h5", bytes.substr(0, bytes.size() / 2))), 1, {"half.h5"}},
      {"model_config not JSON", model(variant("config.h5", [](io::KerasFile& k) { k.model_config = "{not json"; })), 1,
       {"config.h5"}},
      {"unsupported layer", model(variant("leaky.h5", [](io::KerasFile& k) { k.model_config["config"]["layers"][1]["class_name"] = "LSTM"; })), 1,
       {"leaky.h5", "LSTM"}},
      {"no layers", model(variant("nolayers.h5", [](io::KerasFile& k) { k.model_config["config"].erase("layers"); })), 1, {"nolayers.h5"}},
      {"NaN weight", model(variant("nan.h5", [](io::KerasFile& k) { k.groups[0].weights[0].values[3] = std::nan(""); })), 1,
       {"nan.h5", "NaN", "conv3d_1"}},
      {"infinite weight", model(variant("inf.h5", [](io::KerasFile& k) { k.groups[0].weights[1].values[0] = INFINITY; })), 1, {"Inf"}},
      {"wrong kernel shape", model(variant("kernel.h5", [](io::KerasFile& k) {
         k.groups[0].weights[0].shape.back() += 1;
         k.groups[0].weights[0].values.resize(k.groups[0].weights[0].values.size() / (k.groups[0].weights[0].shape.back() - 1) *
                                              k.groups[0].weights[0].shape.back());
       })), 1, {"conv3d_1", "expected"}},
      {"a layer's weights missing", model(variant("short.h5", [](io::KerasFile& k) { k.groups.pop_back(); })), 1, {"no weights left"}},
      {"weights only, no --arch", model(variant("weights.h5", [](io::KerasFile& k) { k.model_config = nullptr; })), 2, {"weights.h5", "--arch"}},
      {"weights only, unknown --arch", model(c.path("weights.h5")) + " --arch resnet --input-shape 21,19,17", 2, {"resnet"}},
      {"model_config nested 10⁵ deep", model(with_model_config("nested.h5", nested_json(100000))), 1,
       {"nested.h5", "model_config", "JSON nested more than 256 levels"}},
  };
  for (const Case& k : cases) c.check(k);

  // One byte of an init-model file's metadata that makes HDF5 1.10 segfault (found by corrupting
  // bytes at random): the file is reported as corrupt and mlens exits normally.
  REQUIRE(test::run(kMlens + " init-model --input-shape 21,19,17 --seed 1 --out " + c.path("init.h5")) == 0);
  c.check({"metadata byte that crashes HDF5", model(c.file("crash.h5", patched<char>(test::file_bytes(c.path("init.h5")), 2076, 55))), 1, {"crash.h5"}});

  // Corrupted bytes anywhere in the file: an error naming the file, never a crash (the HDF5 library
  // runs in a child process first; io/contained.h).
  uint32_t x = 2026;
  int corrupted = 0;
  for (int trial = 0; trial < 24; ++trial) {
    std::string b = bytes;
    for (int k = 0; k < 6; ++k) {
      x = x * 1664525u + 1013904223u;
      const std::size_t at = (x >> 8) % std::min<std::size_t>(b.size(), 4096 + trial * 40000);
      b[at] = static_cast<char>(x >> 24);
    }
    const std::string file = c.file("corrupt-" + std::to_string(trial) + ".h5", b);
    std::string out;
    const int code = test::run(model(file) + " --json", &out);
    INFO(file << "\n" << out);
    CHECK((code == 0 || code == 1));
    if (code == 1) {
      ++corrupted;
      CHECK_THAT(out, Catch::Contains(file));
    }
  }
  CHECK(corrupted > 0);
  c.cases += 24;
}

TEST_CASE("bad input catalogue: manifests", "[catalogue][cli]") {
  Catalogue c;
  const auto predict = [&](const std::string& manifest) {
    return kMlens + " predict --threads 1 --manifest " + manifest + " --input " + c.volume;
  };
  const auto manifest = [&](const std::string& name, const std::string& json) { return predict(c.file(name, json)); };
  std::string deep = R"({"members": [{"model": "m.h5"}]})";
  for (int k = 0; k < 40; ++k) deep = R"({"members": [{"ensemble": )" + deep + "}]}";
  const std::vector<Case> cases{
      {"key typo Head", manifest("head.json", R"({"Head": {"intercept": 40}, "members": [{"model": "m.h5"}]})"), 1,
       {"head.json", "Head", "unknown key", "did you mean \"head\""}},
      {"key typo coeficients", manifest("coef.json", R"({"head": {"coeficients": [2]}, "members": [{"model": "m.h5"}]})"), 1,
       {"head.coeficients", "did you mean \"coefficients\""}},
      {"key typo in a member", manifest("member.json", R"({"members": [{"modle": "m.h5"}]})"), 1, {"members[0].modle", "did you mean \"model\""}},
      {"key typo in preprocessing", manifest("norm.json", R"({"input": {"shape": [21, 19, 17], "preprocessing": {"normalize": "unit"}}, "members": [{"model": "m.h5"}]})"), 1,
       {"input.preprocessing.normalize", "did you mean \"normalise\""}},
      {"lists itself", manifest("self.json", R"({"members": [{"manifest": "self.json"}]})"), 1, {"self.json", "cycle"}},
      {"two list each other", (c.file("b.json", R"({"members": [{"manifest": "a.json"}]})"),
                               manifest("a.json", R"({"members": [{"manifest": "b.json"}]})")), 1, {"cycle", "a.json", "b.json"}},
      {"nested 41 levels", manifest("deep.json", deep), 1, {"deep.json", "nested more than 32"}},
      {"a size nested 10⁵ deep", manifest("nested.json", R"({"input": {"shape": [21, )" + nested_json(100000) + R"(, 17]}, "members": [{"model": "m.h5"}]})"), 1,
       {"nested.json", "JSON nested more than 256 levels"}},
      {"not JSON", manifest("bad.json", "{\"members\": ["), 1, {"bad.json", "not valid JSON"}},
      {"empty file", manifest("empty.json", ""), 1, {"empty.json", "not valid JSON"}},
      {"a list at the top", manifest("list.json", "[1, 2]"), 1, {"list.json", "expected a JSON object"}},
      {"wrong type", manifest("type.json", R"({"input": {"shape": "198"}, "members": [{"model": "m.h5"}]})"), 1, {"type.json", "input.shape"}},
      {"no members", manifest("none.json", R"({"members": []})"), 1, {"none.json", "non-empty list"}},
      {"member file missing", manifest("gone.json", R"({"members": [{"model": "gone.h5"}]})"), 1, {"gone.json", "no such file", "gone.h5"}},
      {"coefficient count", manifest("count.json", R"({"head": {"coefficients": [1, 2]}, "members": [{"model": "m.h5"}]})"), 1,
       {"2 coefficients for 1 members"}},
      {"negative shape", manifest("shape.json", R"({"input": {"shape": [21, -19, 17]}, "members": [{"model": "m.h5"}]})"), 1,
       {"input.shape", "expected 1 to 32767"}},
      {"zero voxel size", manifest("vs.json", R"({"input": {"shape": [21, 19, 17], "voxel_size": [1, 0, 1]}, "members": [{"model": "m.h5"}]})"), 1,
       {"input.voxel_size", "positive"}},
      {"a directory", (fs::create_directories(c.path("dir.json")), predict(c.path("dir.json"))), 1, {"dir.json", "is a directory"}},
      {"missing manifest", predict(c.path("absent.json")), 1, {"absent.json", "cannot open"}},
  };
  for (const Case& k : cases) c.check(k);
}

TEST_CASE("bad input catalogue: options", "[catalogue][cli]") {
  Catalogue c;
  const std::string explain = kMlens + " explain --model " + c.model + " --input " + c.volume + " --out " + c.path("r.nii.gz");
  const std::vector<Case> cases{
      {"alpha and beta NaN", explain + " --rule alpha-beta --alpha nan --beta nan", 2, {"--alpha is nan", "finite"}},
      {"epsilon infinite", explain + " --epsilon inf", 2, {"--epsilon is inf"}},
      {"epsilon negative", explain + " --epsilon -1", 2, {"--epsilon is -1", "from 0"}},
      {"threads 100000", explain + " --threads 100000", 2, {"--threads is 100000", "at most 4 per core"}},
      {"threads negative", explain + " --threads -2", 2, {"--threads is -2"}},
      {"threads not a number", explain + " --threads many", 2, {"threads"}},
      {"low NaN", explain + " --low nan", 2, {"--low is nan"}},
      {"method and rule", explain + " --method gradient --rule epsilon", 2, {"--method or --rule"}},
      {"unknown method", explain + " --method occlusion", 2, {"occlusion", "gradient methods"}},
      {"integrated gradients without steps", explain + " --method integrated_gradients --steps 0", 2, {"--steps is 0"}},
      {"smoothgrad noise NaN", explain + " --method smoothgrad --noise nan", 2, {"--noise is nan"}},
      {"seed negative", kMlens + " phantom --shape 8,8,8 --seed -1 --out " + c.path("p.nii.gz"), 2, {"--seed is -1", "whole number"}},
      {"seed past 2^64", kMlens + " init-model --input-shape 8,8,8 --seed 18446744073709551616 --out " + c.path("m.h5"), 2, {"seed"}},
      {"memory negative", kMlens + " explain --model " + c.model + " --cohort " + c.path("none.csv") + " --out " + c.path("o") +
       " --batch 2 --memory -3", 2, {"--memory is -3"}},
      {"unknown option", explain + " --colour red", 2, {"colour"}},
      {"unknown command", kMlens + " explian", 2, {"unknown command", "explian"}},
      {"no command", kMlens, 2, {"Usage"}},
      {"missing --out", kMlens + " explain --model " + c.model + " --input " + c.volume, 2, {"out"}},
      {"dtype float16", explain + " --dtype float16", 2, {"float16"}},
      {"device tpu", explain + " --device tpu", 2, {"tpu"}},
      {"unknown rule", explain + " --rule sharpest", 2, {"sharpest"}},
      {"rule parameter NaN", explain + " --rule 'conv=epsilon(nan),dense=epsilon'", 2, {"epsilon", "not a finite number"}},
      {"rule parameter unknown", explain + " --rule 'zbox(gamma=1)'", 2, {"zbox", "no parameter \"gamma\""}},
      {"rule table names no such layer", explain + " --rule conv=zplus,dense=epsilon,conv9=flat", 2, {"conv9", "does not have"}},
      {"bounded deep taylor without bounds", explain + " --method deep_taylor.bounded", 2, {"--low and --high"}},
      {"bias rule", explain + " --bias-rule half", 2, {"half"}},
      {"ties", explain + " --ties random", 2, {"random"}},
      {"threshold NaN", kMlens + " overlay --relevance " + c.volume + " --lesions " + c.volume + " --threshold nan --id a --out " +
                            c.path("w.csv"), 2, {"--threshold is nan"}},
      {"threshold 1.5", kMlens + " overlay --relevance " + c.volume + " --lesions " + c.volume + " --threshold 1.5 --id a --out " +
                            c.path("w.csv"), 2, {"--threshold is 1.5", "from 0 to 1"}},
      {"tolerance NaN", kMlens + " validate --model " + c.model + " --input " + c.volume + " --reference " + c.volume + " --tolerance nan", 2,
       {"--tolerance is nan"}},
      {"min-wml-voxels negative", kMlens + " stats --table " + c.path("t.csv") + " --out " + c.path("s") + " --min-wml-voxels -3", 2,
       {"--min-wml-voxels is -3"}},
      {"batch 0", kMlens + " predict --manifest " + c.manifest + " --cohort " + c.path("c.csv") + " --out " + c.path("o") + " --batch 0", 2,
       {"--batch is 0"}},
      {"shard 5/3", kMlens + " predict --manifest " + c.manifest + " --cohort " + c.file("c.csv", "id,flair\na,v.nii\n") + " --out " +
                        c.path("o") + " --shard 5/3", 2, {"--shard"}},
      {"shard text", kMlens + " predict --manifest " + c.manifest + " --cohort " + c.path("c.csv") + " --out " + c.path("o") + " --shard one", 2,
       {"--shard one", "I/N"}},
      {"simulate 0 subjects", kMlens + " simulate --out " + c.path("sim") + " --subjects 0", 2, {"--subjects is 0"}},
  };
  for (const Case& k : cases) c.check(k);
}

TEST_CASE("bad input catalogue: lesion maps, tables, transforms and references", "[catalogue][cli]") {
  Catalogue c;
  const io::Volume v = io::read_volume(c.volume);
  const auto map = [&](const std::string& name, const std::function<void(io::Volume&)>& change) {
    io::Volume m = v;
    change(m);
    io::write_volume(c.path(name), m);
    return c.path(name);
  };
  const std::string lesions = map("lesions.nii.gz", [](io::Volume& m) { for (float& x : m.voxels) x = x > 0.5f ? 1.0f : 0.2f; });
  const io::Volume lesion = io::read_volume(lesions);
  const auto lesion_map = [&](const std::string& name, const std::function<void(io::Volume&)>& change) {
    io::Volume m = lesion;
    change(m);
    io::write_volume(c.path(name), m);
    return c.path(name);
  };
  const auto overlay = [&](const std::string& relevance, const std::string& lesion) {
    return kMlens + " overlay --relevance " + relevance + " --lesions " + lesion + " --id a --out " + c.path("wml.csv");
  };
  // 40 subjects: lesion relevance above the expected one in all but a few; one inf cell, one NA.
  std::string table = "id,n_wml_voxel,a_wml_voxel,ap_voxel\n";
  for (int s = 0; s < 40; ++s)
    table += "s" + std::to_string(s) + "," + std::to_string(s < 5 ? 10 : 100) + "," +
             (s == 7 ? "inf" : s == 8 ? "NA" : std::to_string(2.0 + 0.1 * (s % 7))) + "," + std::to_string(1.0 + 0.05 * (s % 5)) + "\n";
  std::string crlf = "\xEF\xBB\xBF";  // a UTF-8 BOM, CRLF line ends, quoted header names, as Excel writes
  for (char ch : std::string("\"id\",\"n_wml_voxel\",\"a_wml_voxel\",\"ap_voxel\"\n") + table.substr(table.find('\n') + 1))
    crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  std::vector<char> all_nan(static_cast<std::size_t>(v.size()) * 8);
  const double nan = std::nan("");
  for (std::size_t i = 0; i < all_nan.size(); i += 8) std::memcpy(&all_nan[i], &nan, 8);
  test::write_npy(c.path("nan.npy"), "<f8", "False", "(21, 19, 17)", all_nan);
  const std::string validate = kMlens + " validate --threads 1 --model " + c.model + " --input " + c.volume + " --reference ";
  const std::vector<Case> cases{
      {"lesion map 0-255", overlay(c.volume, lesion_map("l255.nii.gz", [](io::Volume& m) { m.at(1, 2, 3) = 255; })), 1,
       {"l255.nii.gz", "outside [0, 1]", "(1, 2, 3)", "rescale"}},
      {"lesion map negative", overlay(c.volume, lesion_map("lneg.nii.gz", [](io::Volume& m) { m.at(0, 0, 0) = -0.5f; })), 1, {"lneg.nii.gz", "outside"}},
      {"lesion map NaN", overlay(c.volume, lesion_map("lnan.nii.gz", [](io::Volume& m) { m.at(2, 2, 2) = NAN; })), 1, {"lnan.nii.gz", "not finite"}},
      {"relevance NaN", overlay(map("rnan.nii.gz", [](io::Volume& m) { m.at(2, 2, 2) = NAN; }), lesions), 1, {"rnan.nii.gz", "not finite"}},
      {"grids differ", overlay(c.volume, lesion_map("moved.nii.gz", [](io::Volume& m) { m.geometry.origin[0] += 5; })), 1,
       {"moved.nii.gz", "not on the same voxel grid"}},
      {"stats: a table with inf and NA", kMlens + " stats --table " + c.file("t.csv", table) + " --out " + c.path("s1"), 0,
       {"33 of 40 subjects included", "5 left out with 30 or fewer", "2 without a finite", "rows 8, 9"}},
      {"stats: BOM, CRLF, quotes", kMlens + " stats --table " + c.file("excel.csv", crlf) + " --out " + c.path("s2"), 0, {"33 of 40 subjects included"}},
      {"stats: empty file", kMlens + " stats --table " + c.file("empty.csv", "") + " --out " + c.path("s3"), 1, {"empty.csv"}},
      {"stats: header only", kMlens + " stats --table " + c.file("header.csv", "id,n_wml_voxel,a_wml_voxel,ap_voxel\n") + " --out " + c.path("s4"), 1,
       {"header.csv", "only 0 of 0"}},
      {"stats: a column missing", kMlens + " stats --table " + c.file("cols.csv", "id,n_wml_voxel\na,40\n") + " --out " + c.path("s5"), 1,
       {"cols.csv", "a_wml_voxel"}},
      {"stats: missing table", kMlens + " stats --table " + c.path("absent.csv") + " --out " + c.path("s6"), 1, {"absent.csv"}},
      {"validate: all-NaN reference", validate + c.path("nan.npy"), 1, {"nan.npy", "NaN or infinite"}},
      {"validate: wrong shape", validate + c.file("r.npy", [&] {
         test::write_npy(c.path("r.npy"), "<f8", "False", "(3, 3)", std::vector<char>(72, 0));
         return test::file_bytes(c.path("r.npy"));
       }()), 1, {"r.npy", "does not match"}},
      {"validate: garbage .npy", validate + c.file("g.npy", "\x93NUMPY garbage"), 1, {"g.npy"}},
      {"transform: a scalar volume as a displacement field", kMlens + " warp --input " + c.volume + " --reference " + c.volume + " -t " +
                                                                 c.volume + " --out " + c.path("w1.nii.gz"), 1, {"v.nii", "displacement field", "21x19x17"}},
      {"transform: garbage text", kMlens + " warp --input " + c.volume + " --reference " + c.volume + " -t " + c.file("t.txt", "garbage\n") +
                                      " --out " + c.path("w2.nii.gz"), 1, {"t.txt", "not a readable ITK/ANTs transform"}},
      {"transform: garbage .mat", kMlens + " warp --input " + c.volume + " --reference " + c.volume + " -t " + c.file("t.mat", "xx") +
                                      " --out " + c.path("w3.nii.gz"), 1, {"t.mat", "MATLAB level-4", "20 bytes"}},
      // vnl sized a buffer from this header's name length (4 GB asked for in the fuzzer).
      {"transform: .mat claiming a 2 GB name", kMlens + " warp --input " + c.volume + " --reference " + c.volume + " -t " +
                                                   c.file("big.mat", std::string("\0\0\0\0\x0c\0\0\0\x01\0\0\0\0\0\0\0\xff\xff\xff\x7f", 20) + "Affine") +
                                                   " --out " + c.path("w5.nii.gz"), 1, {"big.mat", "name (2147483647 bytes)"}},
      // Inverting this matrix looped for ever in vnl's SVD (its squares overflow); a NaN aborted there.
      {"transform: a parameter of 1e300", kMlens + " warp --input " + c.volume + " --reference " + c.volume + " -t '[" +
                                              c.file("huge.txt", "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\n"
                                                                 "Parameters: 1e300 0 0 0 1 0 0 0 1 0 0 0\nFixedParameters: 0 0 0\n") +
                                              ",1]' --out " + c.path("w6.nii.gz"), 1, {"huge.txt", "parameter 0", "at most 1e6"}},
      {"transform: missing", kMlens + " warp --input " + c.volume + " --reference " + c.volume + " -t " + c.path("none.mat") + " --out " +
                                 c.path("w4.nii.gz"), 1, {"none.mat", "no such file"}},
      {"cohort: missing columns", kMlens + " predict --manifest " + c.manifest + " --cohort " + c.file("nocol.csv", "id,image\na,v.nii\n") +
                                      " --out " + c.path("o1"), 1, {"nocol.csv", "flair"}},
      {"cohort: empty", kMlens + " predict --manifest " + c.manifest + " --cohort " + c.file("nosub.csv", "") + " --out " + c.path("o2"), 1,
       {"nosub.csv"}},
  };
  for (const Case& k : cases) c.check(k);
}

// A WML table the stats accept (40 subjects, lesion relevance above the expected one).
static std::string good_wml_table(const Catalogue& c) {
  std::string table = "id,n_wml_voxel,a_wml_voxel,ap_voxel\n";
  for (int s = 0; s < 40; ++s)
    table += "s" + std::to_string(s) + ",100," + std::to_string(2.0 + 0.1 * (s % 7)) + "," + std::to_string(1.0 + 0.05 * (s % 5)) + "\n";
  return c.file("good.csv", table);
}

TEST_CASE("bad input catalogue: where outputs go", "[catalogue][cli]") {
  Catalogue c;
  const std::string explain = kMlens + " explain --threads 1 --model " + c.model + " --input " + c.volume;
  fs::create_directories(c.path("taken.nii.gz"));
  const bool root = ::geteuid() == 0;
  const bool devices = root && ::mknod(c.path("null").c_str(), S_IFCHR | 0666, ::makedev(1, 3)) == 0 &&
                       ::mknod(c.path("full").c_str(), S_IFCHR | 0666, ::makedev(1, 7)) == 0;
  ::mkfifo(c.path("pipe.json").c_str(), 0600);
  std::vector<Case> cases{
      {"map onto a directory", explain + " --out " + c.path("taken.nii.gz"), 1, {"taken.nii.gz", "is a directory", "regular file"}},
      {"map into a missing directory", explain + " --out " + c.path("nowhere/r.nii.gz"), 1, {"nowhere", "does not exist"}},
      {"map through a file", explain + " --out " + c.path("v.nii/r.nii.gz"), 1, {"is not a directory"}},
      {"map not NIfTI", explain + " --out " + c.path("r.png"), 2, {"r.png", "expected a NIfTI file name"}},
      {"sidecar onto a FIFO", explain + " --out " + c.path("r.nii.gz") + " --sidecar " + c.path("pipe.json"), 1, {"pipe.json", "a FIFO"}},
  };
  if (devices) {
    cases.push_back({"sidecar onto a device", explain + " --out " + c.path("r2.nii.gz") + " --sidecar " + c.path("null"), 1, {"null", "a device"}});
    cases.push_back({"--json into a full disk", "{ " + kMlens + " predict --json --threads 1 --model " + c.model + " --input " + c.volume + " > " + c.path("full") + "; }",
                     1, {"standard output"}});
  }
  for (const Case& k : cases) c.check(k);

  // A full disk: a 64 KiB tmpfs, nearly filled (root only, where the machine lets the test mount).
  struct Mount {
    std::string at;
    bool ok = false;
    ~Mount() {
      if (ok) test::run("umount " + at);
    }
  } small{c.path("small")};
  fs::create_directories(small.at);
  small.ok = root && test::run("mount -t tmpfs -o size=64k tmpfs " + small.at) == 0;
  if (small.ok) {
    REQUIRE(test::run("head -c 61440 /dev/zero > " + small.at + "/fill") == 0);
    c.check({"map onto a full disk", explain + " --out " + small.at + "/r.nii.gz", 1, {"r.nii.gz", "disk full"}});
    c.check({"stats onto a full disk", kMlens + " stats --table " + good_wml_table(c) + " --out " + small.at + "/s", 1, {"disk full"}});
  } else {
    WARN("cannot mount a tmpfs here: the full-disk cases were skipped");
  }
  if (devices) {  // the device is still a device
    struct stat st;
    REQUIRE(::stat(c.path("null").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  } else {
    WARN("not root: the device cases (mknod) were skipped");
  }
  CHECK(fs::is_fifo(c.path("pipe.json")));
}

TEST_CASE("bad input catalogue: a cohort's --out is one run's, of one configuration", "[catalogue][cli][cohort]") {
  Catalogue c;
  for (int s = 1; s <= 2; ++s) io::write_volume(c.path("s" + std::to_string(s) + ".nii.gz"), engine::phantom(kShape, s));
  c.file("cohort.csv", "id,flair,age\ns1,s1.nii.gz,30\ns2,s2.nii.gz,50\n");
  io::write_keras_model(c.path("m2.h5"), models::mrinet(kShape, 2).keras);
  c.file("other.mlens.json", R"({"input": {"shape": [21, 19, 17]}, "members": [{"model": "m2.h5"}]})");
  const auto run = [&](const std::string& manifest, const std::string& extra = "") {
    return kMlens + " predict --threads 1 --manifest " + c.path(manifest) + " --cohort " + c.path("cohort.csv") + " --out " + c.path("out") + extra;
  };
  std::string out;
  REQUIRE(test::run(run("e.mlens.json"), &out) == 0);
  const std::string first = test::file_bytes(c.path("out/predictions.csv"));
  // A killed run's temporary, left in a subject's folder: the next run removes it.
  c.file("out/s1/.prediction.tmp-99999-0.json", "{");
  c.check({"another manifest into the same --out", run("other.mlens.json"), 1, {"another configuration", "m2.h5", "--force"}});
  CHECK(test::file_bytes(c.path("out/predictions.csv")) == first);
  c.check({"another process holds the directory", "flock " + c.path("out/.mlens.lock") + " " + run("e.mlens.json"), 1,
           {"another mlens process"}});
  c.check({"resumed: nothing to do", run("e.mlens.json"), 0, {"0 computed, 2 skipped"}});
  CHECK_FALSE(fs::exists(c.path("out/s1/.prediction.tmp-99999-0.json")));
  const std::string record = test::file_bytes(c.path("out/configuration.json"));
  c.file("out/configuration.json", R"({"rule": )" + nested_json(100000) + "}");
  c.check({"a record nested 10⁵ deep", run("e.mlens.json"), 1, {"configuration.json", "JSON nested more than 256 levels"}});
  c.file("out/configuration.json", record);
  c.check({"--force recomputes with the other manifest", run("other.mlens.json", " --force"), 0, {"2 computed"}});
  CHECK(test::file_bytes(c.path("out/predictions.csv")) != first);
  CHECK_THAT(test::file_bytes(c.path("out/configuration.json")), Catch::Contains("m2.h5"));
}
