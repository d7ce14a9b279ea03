// Keras import: the imported channels-first model must compute what the Keras model computes. The
// reference is a naive channels-last float64 forward pass written here from the Keras config and the
// weights exactly as Keras stores them (kernels (kd, kh, kw, in, out), Flatten in (D, H, W, C) order).
#include "testing.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <fstream>

#include "fixtures.h"
#include <H5Cpp.h>

#include "io/keras_config.h"
#include "lrp/explain.h"
#include "lrp/reference.h"
#include "models/mrinet.h"
#include "stats/compare.h"

using namespace mlens;
using nlohmann::json;

namespace {

constexpr double kImportTolerance = 1e-6;

// A channels-last activation: shape (D, H, W, C) or (F). A 2D network's (H, W, C) is (1, H, W, C) here.
struct Act {
  std::vector<int64_t> shape;
  std::vector<double> v;
};

int64_t same_before(int64_t n, int64_t k, int64_t s, int64_t& out) {
  out = (n + s - 1) / s;
  return std::max<int64_t>((out - 1) * s + k - n, 0) / 2;
}

// A 2D layer's (H, W) values as (1, H, W); a 3D layer's as they are.
std::vector<int64_t> per_axis(const json& v) {
  std::vector<int64_t> out = v.get<std::vector<int64_t>>();
  if (out.size() == 2) out.insert(out.begin(), 1);
  return out;
}

// Keras' windows over (D, H, W): output sizes and "same" padding before each axis.
void windows(const Act& x, const std::vector<int64_t>& k, const std::vector<int64_t>& s, bool same, int64_t o[3], int64_t p[3]) {
  for (int a = 0; a < 3; ++a) {
    p[a] = 0;
    if (same)
      p[a] = same_before(x.shape[a], k[a], s[a], o[a]);
    else
      o[a] = (x.shape[a] - k[a]) / s[a] + 1;
  }
}

// The Keras model's output before a final softmax (what mlens explains).
Act keras_forward(const json& model_config, const std::vector<io::WeightGroup>& groups, const Act& input) {
  Act x = input;
  size_t g = 0;
  const auto next_weights = [&]() -> const std::vector<io::WeightArray>& {
    while (groups[g].weights.empty()) ++g;
    return groups[g++].weights;
  };
  const auto relu = [](Act& a) {
    for (double& v : a.v) v = std::max(v, 0.0);
  };
  for (const json& layer : model_config["config"]["layers"]) {
    const std::string cls = layer["class_name"];
    const json& c = layer["config"];
    if (cls == "Conv3D" || cls == "Conv2D") {
      const auto& w = next_weights();
      const auto& K = w[0];
      const std::vector<int64_t> ks = per_axis(c["kernel_size"]), st = per_axis(c["strides"]);
      const int64_t ci = K.shape[K.shape.size() - 2], co = K.shape.back();
      int64_t o[3], p[3];
      windows(x, ks, st, c["padding"] == "same", o, p);
      Act y{{o[0], o[1], o[2], co}, std::vector<double>(o[0] * o[1] * o[2] * co)};
      for (int64_t d = 0; d < o[0]; ++d)
        for (int64_t h = 0; h < o[1]; ++h)
          for (int64_t q = 0; q < o[2]; ++q)
            for (int64_t f = 0; f < co; ++f) {
              double s = w.size() > 1 ? w[1].values[f] : 0.0;
              for (int64_t a = 0; a < ks[0]; ++a)
                for (int64_t b = 0; b < ks[1]; ++b)
                  for (int64_t e = 0; e < ks[2]; ++e) {
                    const int64_t id = d * st[0] + a - p[0], ih = h * st[1] + b - p[1], iw = q * st[2] + e - p[2];
                    if (id < 0 || ih < 0 || iw < 0 || id >= x.shape[0] || ih >= x.shape[1] || iw >= x.shape[2]) continue;
                    for (int64_t cc = 0; cc < ci; ++cc)
                      s += x.v[((id * x.shape[1] + ih) * x.shape[2] + iw) * ci + cc] *
                           K.values[(((a * ks[1] + b) * ks[2] + e) * ci + cc) * co + f];
                  }
              y.v[((d * o[1] + h) * o[2] + q) * co + f] = s;
            }
      x = y;
      if (c["activation"] == "relu") relu(x);
    } else if (cls.find("Pooling") != std::string::npos) {
      const bool global = cls.rfind("Global", 0) == 0, max = cls.find("Max") != std::string::npos;
      const std::vector<int64_t> k = global ? std::vector<int64_t>(x.shape.begin(), x.shape.begin() + 3) : per_axis(c["pool_size"]);
      const std::vector<int64_t> s = global ? k : per_axis(c["strides"]);
      const int64_t C = x.shape[3];
      int64_t o[3], p[3];
      windows(x, k, s, !global && c["padding"] == "same", o, p);
      Act y{{o[0], o[1], o[2], C}, std::vector<double>(o[0] * o[1] * o[2] * C)};
      for (int64_t d = 0; d < o[0]; ++d)
        for (int64_t h = 0; h < o[1]; ++h)
          for (int64_t q = 0; q < o[2]; ++q)
            for (int64_t f = 0; f < C; ++f) {
              double m = -INFINITY, sum = 0;
              int n = 0;
              for (int64_t a = 0; a < k[0]; ++a)
                for (int64_t b = 0; b < k[1]; ++b)
                  for (int64_t e = 0; e < k[2]; ++e) {
                    const int64_t id = d * s[0] + a - p[0], ih = h * s[1] + b - p[1], iw = q * s[2] + e - p[2];
                    if (id < 0 || ih < 0 || iw < 0 || id >= x.shape[0] || ih >= x.shape[1] || iw >= x.shape[2]) continue;
                    const double v = x.v[((id * x.shape[1] + ih) * x.shape[2] + iw) * C + f];
                    m = std::max(m, v);
                    sum += v;
                    ++n;
                  }
              y.v[((d * o[1] + h) * o[2] + q) * C + f] = max ? m : sum / n;
            }
      x = y;
      if (global) x.shape = {C};
    } else if (cls == "Flatten") {
      x.shape = {static_cast<int64_t>(x.v.size())};  // channels-last C order is Keras' flatten order
    } else if (cls == "Dense") {
      // On the last axis, whatever the rank: every voxel of a volume on its own.
      const auto& w = next_weights();
      const int64_t in = w[0].shape[0], out = w[0].shape[1], rows = static_cast<int64_t>(x.v.size()) / in;
      Act y{x.shape, std::vector<double>(rows * out)};
      y.shape.back() = out;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < out; ++j) {
          double s = w[1].values[j];
          for (int64_t i = 0; i < in; ++i) s += x.v[r * in + i] * w[0].values[i * out + j];
          y.v[r * out + j] = s;
        }
      x = y;
      if (c["activation"] == "relu") relu(x);
    } else if (cls == "BatchNormalization") {
      const auto& w = next_weights();  // gamma, beta, moving_mean, moving_variance
      const int64_t C = x.shape.back();
      for (size_t i = 0; i < x.v.size(); ++i) {
        const int64_t ch = static_cast<int64_t>(i) % C;
        x.v[i] = w[0].values[ch] * (x.v[i] - w[2].values[ch]) / std::sqrt(w[3].values[ch] + 1e-3) + w[1].values[ch];
      }
    } else if (cls == "Activation") {
      if (c["activation"] == "relu") relu(x);
    }
  }
  return x;
}

// The same input as a Keras (D, H, W, C) array and an engine [1, C, D, H, W] tensor.
std::pair<Act, at::Tensor> paired_input(const models::Sequential& net, uint64_t seed) {
  const at::Tensor x = test::random_input(net, seed);
  const at::Tensor last = x[0].permute({1, 2, 3, 0}).contiguous();
  return {Act{last.sizes().vec(), lrp::reference::to_vector(last)}, x};
}

double relative_error(const at::Tensor& a, const std::vector<double>& b) {
  return stats::relative_l2(lrp::reference::to_vector(a), b);
}

// A Keras file as the CLI loads it: parsed to plain data, then built.
models::Sequential load(const io::KerasFile& k) { return models::load_keras_model(io::keras_model(k)); }

io::KerasFile roundtrip(const io::KerasFile& k, const std::string& path, io::StringStyle style) {
  io::write_keras_h5(path, k, style);
  return io::read_keras_h5(path);
}

}  // namespace

TEST_CASE("imported models equal a channels-last float64 Keras forward pass", "[keras]") {
  for (const auto& [name, config] : test::all_architectures()) {
    const auto model = models::random_keras_model(config, 21, 0.4);
    const auto [x_last, x] = paired_input(model.net, 4);
    const Act expected = keras_forward(io::keras_config(config), model.keras.groups, x_last);
    INFO(name);
    CHECK(relative_error(model.net.forward(x), expected.v) < kImportTolerance);
    CHECK(relative_error(model.net.to(at::kCPU, at::kFloat).forward(x.to(at::kFloat)), expected.v) < 1e-5);
  }
}

TEST_CASE("Keras .h5 files of both string styles load to the same model", "[keras]") {
  test::TempDir dir;
  const auto model = models::random_keras_model(test::mini_mrinet(), 5, 0.1);
  const at::Tensor x = test::random_input(model.net, 1);
  const double expected = model.net.forward(x).item<double>();
  for (auto style : {io::StringStyle::FixedLength, io::StringStyle::VariableLength}) {
    const io::KerasFile k = roundtrip(io::keras_file(model.keras), dir.path("m.h5"), style);
    CHECK(k.keras_version == "2.2.4");
    CHECK(k.backend == "tensorflow");
    CHECK(k.groups.size() == model.keras.groups.size());
    CHECK(load(k).forward(x).item<double>() == Approx(expected).epsilon(1e-6));
  }
}

TEST_CASE("the older bare-list model_config and TF2 layer names import alike", "[keras]") {
  const auto model = models::random_keras_model(test::mini_mrinet(), 5, 0.1);
  const at::Tensor x = test::random_input(model.net, 1);
  const double expected = model.net.forward(x).item<double>();
  io::KerasFile k = io::keras_file(model.keras, "old.h5");
  k.model_config["config"] = k.model_config["config"]["layers"];  // Keras < 2.2.3
  for (auto& g : k.groups) g.layer_name = g.layer_name.substr(0, g.layer_name.rfind('_'));  // conv3d_1 -> conv3d
  CHECK(load(k).forward(x).item<double>() == Approx(expected).epsilon(1e-12));
}

TEST_CASE("weights-only files load with the named MRInet architecture", "[keras]") {
  test::TempDir dir;
  const models::Int3 shape{21, 19, 17};
  const auto model = models::mrinet(shape, 3);
  io::KerasFile weights_only = io::keras_file(model.keras);
  weights_only.model_config = nullptr;
  const io::KerasFile k = roundtrip(weights_only, dir.path("w.h5"), io::StringStyle::FixedLength);
  CHECK(k.model_config.is_null());
  CHECK_THROWS_WITH(load(k), Catch::Contains("weights only") && Catch::Contains("--arch mrinet"));
  const models::KerasModel stored = io::keras_model(k);
  models::FileWeights source(stored);
  const models::Sequential net = models::import_keras(models::mrinet_architecture(shape), source, shape, k.path);
  const at::Tensor x = test::random_input(net, 2);
  CHECK(net.forward(x).item<double>() == Approx(model.net.forward(x).item<double>()).epsilon(1e-6));
}

TEST_CASE("MRInet at 198³ has the published layer sizes", "[keras]") {
  const models::Sequential net = models::import_keras(models::mrinet_architecture({198, 198, 198}),
                                                      *std::make_unique<models::RandomWeights>(0));
  const auto shapes = net.layer_shapes();
  // conv1, relu, pool1 -> 99; ... pool5 -> 7; flatten -> 7³·32.
  CHECK(shapes[2] == std::vector<int64_t>{1, 16, 99, 99, 99});
  CHECK(shapes[5] == std::vector<int64_t>{1, 16, 50, 50, 50});
  CHECK(shapes[8] == std::vector<int64_t>{1, 32, 25, 25, 25});
  CHECK(shapes[11] == std::vector<int64_t>{1, 64, 13, 13, 13});
  CHECK(shapes[14] == std::vector<int64_t>{1, 32, 7, 7, 7});
  CHECK(shapes[15] == std::vector<int64_t>{1, 10976});
  CHECK(net.output_count() == 1);
  // 16·27+16 + 16·16·27+16 + 32·16·27+32 + 64·32·27+64 + 32·64+32 + 10976·64+64 + 64+1
  CHECK(net.parameter_count() == 448 + 6928 + 13856 + 55360 + 2080 + 702528 + 65);
}

TEST_CASE("bad Keras files get precise errors", "[keras]") {
  test::TempDir dir;
  std::ofstream(dir.path("text.h5")) << "definitely not hdf5";
  CHECK_THROWS_WITH(io::read_keras_h5(dir.path("text.h5")), Catch::Contains("text.h5") && Catch::Contains("not an HDF5 file"));
  CHECK_THROWS_WITH(io::read_keras_h5(dir.path("none.h5")), Catch::Contains("no such file"));

  const auto model = models::random_keras_model(test::mini_mrinet(), 5);
  {  // HDF5, but neither model_weights nor layer_names.
    H5::H5File file(dir.path("plain.h5"), H5F_ACC_TRUNC);
    file.createGroup("something_else");
  }
  CHECK_THROWS_WITH(io::read_keras_h5(dir.path("plain.h5")), Catch::Contains("no group \"model_weights\""));
  {
    io::KerasFile k = io::keras_file(model.keras);
    k.groups[0].weights[0].shape = {3, 3, 3, 1, 5};
    k.groups[0].weights[0].values.resize(3 * 3 * 3 * 5);
    k.path = dir.path("shape.h5");
    CHECK_THROWS_WITH(load(k), Catch::Contains("conv3d_1") && Catch::Contains("(3,3,3,1,5)") &&
                                                       Catch::Contains("expected (3,3,3,1,4)"));
  }
  {
    io::KerasFile k = io::keras_file(model.keras);
    k.groups[0].weights[1].values[2] = std::nan("");
    io::write_keras_h5(dir.path("nan.h5"), k);
    CHECK_THROWS_WITH(io::read_keras_h5(dir.path("nan.h5")), Catch::Contains("NaN") && Catch::Contains("conv3d_1/bias:0"));
  }
  {
    io::KerasFile k = io::keras_file(model.keras);
    k.model_config["config"]["layers"][1]["class_name"] = "Conv2D";
    k.path = "conv2d.h5";
    CHECK_THROWS_WITH(load(k), Catch::Contains("max_pooling3d_1") && Catch::Contains("Conv2D in a network with 3D input"));
  }
  {
    io::KerasFile k = io::keras_file(model.keras);
    k.groups.pop_back();
    k.path = "short.h5";
    CHECK_THROWS_WITH(load(k), Catch::Contains("no weights left for layer \"dense_2\""));
  }
  {
    io::KerasFile k = io::keras_file(model.keras);
    k.model_config["config"]["layers"][0]["config"]["activation"] = "tanh";
    k.path = "tanh.h5";
    CHECK_THROWS_WITH(load(k), Catch::Contains("activation \"tanh\" not supported"));
  }
  {  // A weight stored chunked: compressed, all of it (read as stored); or with chunks never written,
     // whose values the file does not hold (refused before anything is allocated for them).
    const io::KerasFile k = io::keras_file(model.keras);
    const io::WeightArray& kernel = k.groups[0].weights[0];
    const auto store_chunked = [&](const std::string& name, bool deflate, bool every_chunk) {
      io::write_keras_h5(dir.path(name), k);
      H5::H5File file(dir.path(name), H5F_ACC_RDWR);
      const std::string at = "/model_weights/" + k.groups[0].layer_name + "/" + kernel.name;
      file.unlink(at);
      const std::vector<hsize_t> dims(kernel.shape.begin(), kernel.shape.end());
      std::vector<hsize_t> chunk = dims;
      chunk.back() = 1;  // one chunk per output channel
      H5::DSetCreatPropList layout;
      layout.setChunk(static_cast<int>(chunk.size()), chunk.data());
      if (deflate) layout.setDeflate(6);
      const H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
      H5::DataSet ds = file.createDataSet(at, H5::PredType::IEEE_F32LE, space, layout);
      if (every_chunk) {
        ds.write(kernel.values.data(), H5::PredType::NATIVE_DOUBLE);
      } else {  // the first output channel only
        std::vector<hsize_t> start(dims.size(), 0);
        H5::DataSpace part = space;
        part.selectHyperslab(H5S_SELECT_SET, chunk.data(), start.data());
        const hsize_t n = kernel.values.size() / dims.back();
        std::vector<double> first(n);
        for (hsize_t i = 0; i < n; ++i) first[i] = kernel.values[i * dims.back()];
        ds.write(first.data(), H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, &n), part);
      }
    };
    store_chunked("deflated.h5", true, true);
    const io::KerasFile deflated = io::read_keras_h5(dir.path("deflated.h5"));
    REQUIRE(deflated.groups[0].weights[0].values.size() == kernel.values.size());
    for (size_t i = 0; i < kernel.values.size(); ++i)
      CHECK(deflated.groups[0].weights[0].values[i] == static_cast<double>(static_cast<float>(kernel.values[i])));
    store_chunked("unwritten.h5", false, false);
    CHECK_THROWS_WITH(io::read_keras_h5(dir.path("unwritten.h5")),
                      Catch::Contains("unwritten.h5") && Catch::Contains(kernel.name) &&
                          Catch::Contains("claims " + std::to_string(kernel.values.size()) + " values of 4 bytes") &&
                          Catch::Contains("the file is corrupt"));
    store_chunked("unwritten-deflated.h5", true, false);  // within deflate's ratio, yet chunks missing
    CHECK_THROWS_WITH(io::read_keras_h5(dir.path("unwritten-deflated.h5")),
                      Catch::Contains("unwritten-deflated.h5") && Catch::Contains(kernel.name) &&
                          Catch::Contains("has 1 of its " + std::to_string(kernel.shape.back()) + " chunks written"));
  }
}

TEST_CASE("2D networks, global pooling, Dense on a volume and a final softmax import as Keras defines them", "[keras]") {
  const models::Sequential net2d = models::random_keras_model(test::strided_2d(), 1).net;
  CHECK(net2d.spatial_rank == 2);
  CHECK(net2d.input_shape == models::Int3{1, 12, 10});
  CHECK(net2d.input_channels == 3);
  CHECK(net2d.softmax_removed);  // the network ends in the logits
  CHECK(net2d.output_count() == 4);
  CHECK(net2d.layers[0].stride == models::Int3{1, 2, 2});
  const models::Sequential global = models::random_keras_model(test::global_3d(), 1).net;
  CHECK_FALSE(global.softmax_removed);
  CHECK(global.layers[2].pointwise_dense);  // dense_1, after conv3d_1 and its ReLU
  CHECK(lrp::role_of(global, 2) == lrp::Role::Dense);
  CHECK(global.output_count() == 3);
  CHECK(global.final_shape() == std::vector<int64_t>{1, 3});
  CHECK_FALSE(global.outputs_image());
  models::Sequential no_layers = global;  // outputs its input: an image, whatever its size says
  no_layers.layers.clear();
  const models::Int3 in = global.input_shape;
  CHECK(no_layers.final_shape() == std::vector<int64_t>{1, global.input_channels, in[0], in[1], in[2]});
  CHECK(no_layers.outputs_image());
  CHECK(no_layers.output_count() == global.input_channels * in[0] * in[1] * in[2]);

  const auto refused = [](models::KerasArchitecture a) {
    std::string what;
    try {
      models::random_keras_model(a, 1);
    } catch (const std::invalid_argument& e) {
      what = e.what();
    }
    return what;
  };
  models::KerasArchitecture a = test::strided_2d();
  a.layers.back().activation = "sigmoid";
  CHECK_THAT(refused(a), Catch::Contains("dense_2") && Catch::Contains("output activation \"sigmoid\" is not supported"));
  a = test::strided_2d();
  a.layers[0].activation = "softmax";
  CHECK_THAT(refused(a), Catch::Contains("conv2d_1") && Catch::Contains("softmax only on the last layer"));
  a = test::global_3d();
  a.layers[0].class_name = "Conv2D";
  CHECK_THAT(refused(a), Catch::Contains("Conv2D in a network with 3D input (7,9,8,3)"));
  a = test::strided_2d();
  a.layers[0].strides = {2, 2, 2};
  CHECK_THAT(refused(a), Catch::Contains("strides must be 2 integers"));
  a = test::global_max_2d();
  a.layers[2].keepdims = true;  // (N, 1, 1, C): the Dense then acts per voxel of a 1×1 image
  const auto kept = models::random_keras_model(a, 1);
  CHECK(kept.net.layers.back().pointwise_dense);
  CHECK(io::parse_keras_config(io::keras_config(a), "k.h5").layers[2].keepdims);
  const auto flat = models::random_keras_model(test::global_max_2d(), 1);
  const at::Tensor x = test::random_input(flat.net, 2);
  CHECK(kept.net.forward(x).reshape({-1}).equal(flat.net.forward(x).reshape({-1})));
}

TEST_CASE("model_config JSON and the plain architecture convert both ways", "[keras]") {
  for (const auto& [name, architecture] : test::all_architectures()) {
    INFO(name);
    const models::KerasArchitecture back = io::parse_keras_config(io::keras_config(architecture), "x.h5");
    REQUIRE(back.layers.size() == architecture.layers.size());
    CHECK(io::keras_config(back) == io::keras_config(architecture));
    // The same network, weights and all, from either side.
    const auto a = models::random_keras_model(architecture, 3, 0.2), b = models::random_keras_model(back, 3, 0.2);
    const at::Tensor x = test::random_input(a.net, 1);
    CHECK(a.net.forward(x).equal(b.net.forward(x)));
  }
  // Keras' defaults where a config leaves fields out; Keras' bare integers for tuples.
  const nlohmann::json sparse = {{"class_name", "Sequential"},
                                 {"config", {{"layers", {{{"class_name", "MaxPooling3D"}, {"config", {{"pool_size", 2}}}},
                                                         {{"class_name", "LeakyReLU"}, {"config", nlohmann::json::object()}}}}}}};
  const models::KerasArchitecture a = io::parse_keras_config(sparse, "s.h5");
  CHECK(a.layers[0].name == "MaxPooling3D");
  CHECK(a.layers[0].pool_size == std::vector<int64_t>{2});
  CHECK(a.layers[0].strides.empty());  // Keras: strides default to the pool size
  CHECK(a.layers[0].padding == "valid");
  CHECK(a.layers[1].negative_slope == 0.3);
}

TEST_CASE("malformed model_config fields are refused with the layer and the field", "[keras]") {
  const nlohmann::json config = io::keras_config(test::mini_mrinet());
  const auto refused = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json c = config;
    change(c);
    std::string what;
    try {
      models::random_keras_model(io::parse_keras_config(c, "bad.h5"), 1);
    } catch (const std::exception& e) {
      what = e.what();
    }
    return what;
  };
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][0]["config"]["filters"] = "four"; }),
             Catch::Contains("bad.h5") && Catch::Contains("conv3d_1") && Catch::Contains("\"filters\" is \"four\", expected an integer"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][1]["config"]["pool_size"] = {3, 3.5, 3}; }),
             Catch::Contains("max_pooling3d_1") && Catch::Contains("pool_size"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][0]["config"]["groups"] = 2; }),
             Catch::Contains("grouped Conv3D"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][2].erase("class_name"); }),
             Catch::Contains("layer 3 has no \"class_name\""));
  CHECK_THAT(refused([](nlohmann::json& c) { c["class_name"] = "Model"; }), Catch::Contains("only Sequential"));
  CHECK_THAT(refused([](nlohmann::json& c) { c = "{not json"; }), Catch::Contains("expected a JSON object"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][1]["config"]["pool_size"] = {3, 3}; }),
             Catch::Contains("pool_size must be 3 integers, found (3,3)"));
  // Sizes are checked before anything is sized from them (a corrupt file must not allocate terabytes).
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][0]["config"]["batch_input_shape"] = {nullptr, 2000000, 1, 1, 1}; }),
             Catch::Contains("batch_input_shape") && Catch::Contains("expected 1 to"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][0]["config"]["batch_input_shape"] = {nullptr, 4096, 4096, 4096, 1}; }),
             Catch::Contains("holds more than 17179869184 values"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][0]["config"]["batch_input_shape"] = {nullptr, nullptr, 17, 11, 1}; }),
             Catch::Contains("leaves axis 1 open (None)"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][0]["config"]["filters"] = 0; }),
             Catch::Contains("conv3d_1") && Catch::Contains("filters is 0, expected 1 to"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][1]["config"]["strides"] = {2, -1, 2}; }),
             Catch::Contains("max_pooling3d_1") && Catch::Contains("strides is -1"));
  CHECK_THAT(refused([](nlohmann::json& c) { c["config"]["layers"][7]["config"]["units"] = int64_t{1} << 40; }),
             Catch::Contains("dense_1") && Catch::Contains("units is 1099511627776"));
}
