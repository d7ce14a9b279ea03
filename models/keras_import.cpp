#include "models/keras_import.h"

#include <cmath>
#include <stdexcept>

namespace mlens::models {
namespace {

using nlohmann::json;

at::Tensor to_tensor(const io::WeightArray& w) {
  return at::tensor(at::ArrayRef<double>(w.values), at::TensorOptions().dtype(at::kDouble)).reshape(w.shape);
}

Int3 int3(const json& v, const std::string& what) {
  if (v.is_number_integer()) return {v.get<int64_t>(), v.get<int64_t>(), v.get<int64_t>()};
  if (!v.is_array() || v.size() != 3) throw std::invalid_argument(what + " must be 3 integers, found " + v.dump());
  return {v[0].get<int64_t>(), v[1].get<int64_t>(), v[2].get<int64_t>()};
}

// Walks the Keras layer list once, appending engine layers.
class Importer {
 public:
  Importer(WeightSource& weights, const std::string& source) : weights_(weights), source_(source) {}

  Sequential run(const json& model_config, const std::optional<Int3>& input_shape) {
    const json* layers = nullptr;
    const std::string cls = model_config.value("class_name", "");
    if (cls != "Sequential")
      throw error("model_config", "only Sequential models are supported, found class \"" + cls + "\"");
    const json& cfg = model_config.at("config");
    if (cfg.is_array())
      layers = &cfg;  // Keras < 2.2.3 stores the bare layer list
    else if (cfg.is_object() && cfg.contains("layers"))
      layers = &cfg.at("layers");
    else
      throw error("model_config", "\"config\" has neither a layer list nor \"layers\"");
    if (cfg.is_object()) net_.name = cfg.value("name", "");

    for (const json& layer : *layers) {
      const json& c = layer.at("config");
      if (c.contains("batch_input_shape") && shape_.empty()) set_input(c.at("batch_input_shape"), input_shape);
    }
    if (shape_.empty()) {
      if (!input_shape) throw error("model_config", "no batch_input_shape recorded; give the input shape (D,H,W)");
      shape_ = {1, 1, (*input_shape)[0], (*input_shape)[1], (*input_shape)[2]};
      net_.input_shape = *input_shape;
    }
    for (const json& layer : *layers) add(layer.at("class_name").get<std::string>(), layer.at("config"));
    weights_.finish();
    return std::move(net_);
  }

 private:
  std::invalid_argument error(const std::string& layer, const std::string& what) const {
    return std::invalid_argument("\"" + source_ + "\": " + (layer.empty() ? "" : "layer \"" + layer + "\": ") + what);
  }

  void set_input(const json& bis, const std::optional<Int3>& requested) {
    if (!bis.is_array() || bis.size() != 5)
      throw error("", "batch_input_shape " + bis.dump() + " is not (batch, D, H, W, channels)");
    const Int3 s{bis[1].get<int64_t>(), bis[2].get<int64_t>(), bis[3].get<int64_t>()};
    if (requested && *requested != s)
      throw error("", "the model was built for input " + shape_text({s[0], s[1], s[2]}) + ", not " +
                          shape_text({(*requested)[0], (*requested)[1], (*requested)[2]}));
    net_.input_shape = s;
    net_.input_channels = bis[4].get<int64_t>();
    shape_ = {1, net_.input_channels, s[0], s[1], s[2]};
  }

  void push(Layer l) {
    try {
      shape_ = output_shape(l, shape_);
    } catch (const std::invalid_argument& e) {
      throw error("", e.what());
    }
    net_.layers.push_back(std::move(l));
  }

  void check_channels_last(const std::string& name, const json& c) {
    const std::string df = c.value("data_format", "channels_last");
    if (df != "channels_last") throw error(name, "data_format \"" + df + "\" not supported (channels_last expected)");
  }

  Padding padding(const std::string& name, const json& c) {
    std::string p = c.value("padding", "valid");
    for (char& ch : p) ch = static_cast<char>(std::tolower(ch));
    if (p == "same") return Padding::Same;
    if (p == "valid") return Padding::Valid;
    throw error(name, "padding \"" + p + "\" not supported (same or valid)");
  }

  void activation(const std::string& name, const std::string& keras_class, const std::string& act) {
    if (act == "linear") return;
    if (act != "relu")
      throw error(name, keras_class + " activation \"" + act + "\" not supported (relu or linear)");
    push(Layer{LayerKind::ReLU, name + "/relu"});
  }

  std::vector<at::Tensor> take(const std::string& name, const std::string& keras_class,
                               const std::vector<ExpectedWeight>& expected) {
    std::vector<at::Tensor> out;
    for (const io::WeightArray& w : weights_.take(name, keras_class, expected)) out.push_back(to_tensor(w));
    return out;
  }

  void add(const std::string& cls, const json& c) {
    const std::string name = c.value("name", cls);
    if (cls == "InputLayer") return;
    if (cls == "Conv3D") return add_conv(name, c);
    if (cls == "Dense") return add_dense(name, c);
    if (cls == "MaxPooling3D" || cls == "MaxPool3D" || cls == "AveragePooling3D" || cls == "AvgPool3D") {
      check_channels_last(name, c);
      Layer l{(cls[0] == 'M') ? LayerKind::MaxPool3d : LayerKind::AvgPool3d, name};
      l.kernel = int3(c.at("pool_size"), name + ": pool_size");
      l.stride = c.contains("strides") && !c.at("strides").is_null() ? int3(c.at("strides"), name + ": strides") : l.kernel;
      l.padding = padding(name, c);
      return push(std::move(l));
    }
    if (cls == "Flatten") {
      check_channels_last(name, c);
      if (shape_.size() == 5) {
        // perm[ours] = keras: our flatten index ((c·D + d)·H + h)·W + w, Keras' ((d·H + h)·W + w)·C + c.
        const int64_t C = shape_[1], D = shape_[2], H = shape_[3], W = shape_[4];
        flatten_perm_ = at::arange(D * H * W * C, at::kLong).view({D, H, W, C}).permute({3, 0, 1, 2}).reshape({-1});
      }
      return push(Layer{LayerKind::Flatten, name});
    }
    if (cls == "Dropout") {
      Layer l{LayerKind::Dropout, name};
      l.rate = c.value("rate", 0.0);
      return push(std::move(l));
    }
    if (cls == "Activation") return activation(name, cls, c.value("activation", "linear"));
    if (cls == "ReLU") {
      const bool plain = (!c.contains("max_value") || c.at("max_value").is_null()) && c.value("threshold", 0.0) == 0.0;
      const double slope = c.value("negative_slope", 0.0);
      if (!plain) throw error(name, "ReLU with max_value or threshold is not supported");
      Layer l{slope == 0.0 ? LayerKind::ReLU : LayerKind::LeakyReLU, name};
      l.negative_slope = slope;
      return push(std::move(l));
    }
    if (cls == "LeakyReLU") {
      Layer l{LayerKind::LeakyReLU, name};
      l.negative_slope = c.value("alpha", 0.3);
      return push(std::move(l));
    }
    if (cls == "BatchNormalization") return add_batch_norm(name, c);
    throw error(name, "Keras layer class \"" + cls +
                          "\" is not supported (supported: Conv3D, MaxPooling3D, AveragePooling3D, Flatten, Dropout, "
                          "Dense, Activation, BatchNormalization, ReLU, LeakyReLU)");
  }

  void add_conv(const std::string& name, const json& c) {
    check_channels_last(name, c);
    if (shape_.size() != 5) throw error(name, "Conv3D after Flatten");
    if (int3(c.value("strides", json::array({1, 1, 1})), "strides") != Int3{1, 1, 1})
      throw error(name, "Conv3D strides other than 1 are not supported");
    if (int3(c.value("dilation_rate", json::array({1, 1, 1})), "dilation_rate") != Int3{1, 1, 1})
      throw error(name, "Conv3D dilation other than 1 is not supported");
    const Int3 k = int3(c.at("kernel_size"), name + ": kernel_size");
    const int64_t in = shape_[1], out = c.at("filters").get<int64_t>();
    const bool use_bias = c.value("use_bias", true);
    std::vector<ExpectedWeight> expected{{"kernel", {k[0], k[1], k[2], in, out}}};
    if (use_bias) expected.push_back({"bias", {out}});
    const auto w = take(name, "Conv3D", expected);
    Layer l{LayerKind::Conv3d, name};
    l.weight = w[0].permute({4, 3, 0, 1, 2}).contiguous();
    l.bias = use_bias ? w[1] : at::zeros({out}, at::kDouble);
    l.padding = padding(name, c);
    push(std::move(l));
    activation(name, "Conv3D", c.value("activation", "linear"));
  }

  void add_dense(const std::string& name, const json& c) {
    if (shape_.size() != 2) throw error(name, "Dense on a volume: a Flatten layer must come first");
    const int64_t in = shape_[1], out = c.at("units").get<int64_t>();
    const bool use_bias = c.value("use_bias", true);
    std::vector<ExpectedWeight> expected{{"kernel", {in, out}}};
    if (use_bias) expected.push_back({"bias", {out}});
    const auto w = take(name, "Dense", expected);
    at::Tensor kernel = w[0];
    if (flatten_perm_.defined()) kernel = kernel.index_select(0, flatten_perm_);
    flatten_perm_ = at::Tensor();
    Layer l{LayerKind::Dense, name};
    l.weight = kernel.t().contiguous();
    l.bias = use_bias ? w[1] : at::zeros({out}, at::kDouble);
    push(std::move(l));
    activation(name, "Dense", c.value("activation", "linear"));
  }

  void add_batch_norm(const std::string& name, const json& c) {
    const json axis = c.value("axis", json(-1));
    const int64_t a = axis.is_array() ? (axis.size() == 1 ? axis[0].get<int64_t>() : 99) : axis.get<int64_t>();
    const int64_t rank = static_cast<int64_t>(shape_.size());
    if (a != -1 && a != rank - 1) throw error(name, "BatchNormalization over axis " + axis.dump() + " (channels axis -1 expected)");
    const int64_t n = shape_[1];
    const bool scale = c.value("scale", true), center = c.value("center", true);
    std::vector<ExpectedWeight> expected;
    if (scale) expected.push_back({"gamma", {n}});
    if (center) expected.push_back({"beta", {n}});
    expected.push_back({"moving_mean", {n}});
    expected.push_back({"moving_variance", {n}});
    const auto w = take(name, "BatchNormalization", expected);
    size_t i = 0;
    at::Tensor gamma = scale ? w[i++] : at::ones({n}, at::kDouble);
    at::Tensor beta = center ? w[i++] : at::zeros({n}, at::kDouble);
    at::Tensor mean = w[i++], var = w[i++];
    if (flatten_perm_.defined()) {
      for (at::Tensor* t : {&gamma, &beta, &mean, &var}) *t = t->index_select(0, flatten_perm_);
    }
    const at::Tensor s = gamma / at::sqrt(var + c.value("epsilon", 1e-3));

    if (!net_.layers.empty() && net_.layers.back().is_linear()) {
      // Fold into the preceding linear layer: s·(W x + b − μ) + β.
      Layer& prev = net_.layers.back();
      std::vector<int64_t> view(prev.weight.dim(), 1);
      view[0] = n;
      prev.weight = (prev.weight * s.view(view)).contiguous();
      prev.bias = s * (prev.bias - mean) + beta;
      prev.name += "+" + name;
      return;
    }
    Layer l{LayerKind::BatchNorm, name};
    l.weight = s;
    l.bias = beta - s * mean;
    l.mean = mean;
    l.beta = beta;
    push(std::move(l));
  }

  WeightSource& weights_;
  std::string source_;
  Sequential net_;
  std::vector<int64_t> shape_;  // current activation shape, channels-first, batch 1
  at::Tensor flatten_perm_;     // set between a Flatten of a volume and the next Dense
};

}  // namespace

std::vector<io::WeightArray> FileWeights::take(const std::string& layer, const std::string& keras_class,
                                               const std::vector<ExpectedWeight>& expected) {
  while (next_ < file_.groups.size() && file_.groups[next_].weights.empty()) ++next_;
  if (next_ >= file_.groups.size())
    throw std::invalid_argument("\"" + file_.path + "\": no weights left for layer \"" + layer + "\" (" + keras_class +
                                "); the file holds fewer weighted layers than the architecture");
  const io::WeightGroup& g = file_.groups[next_++];
  const std::string where = "\"" + file_.path + "\": layer \"" + layer + "\" (" + keras_class + "), weights of group \"" +
                            g.layer_name + "\"";
  if (g.weights.size() != expected.size())
    throw std::invalid_argument(where + ": expected " + std::to_string(expected.size()) + " arrays, found " +
                                std::to_string(g.weights.size()));
  for (size_t i = 0; i < expected.size(); ++i)
    if (g.weights[i].shape != expected[i].shape)
      throw std::invalid_argument(where + ": weight \"" + g.weights[i].name + "\" (" + expected[i].role +
                                  ") has shape " + shape_text(g.weights[i].shape) + ", expected " +
                                  shape_text(expected[i].shape));
  return g.weights;
}

void FileWeights::finish() {
  while (next_ < file_.groups.size() && file_.groups[next_].weights.empty()) ++next_;
  if (next_ < file_.groups.size())
    throw std::invalid_argument("\"" + file_.path + "\": weights of group \"" + file_.groups[next_].layer_name +
                                "\" are left over: the file holds more weighted layers than the architecture");
}

double RandomWeights::uniform(double lo, double hi) {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return lo + (hi - lo) * static_cast<double>(z >> 11) * 0x1.0p-53;
}

std::vector<io::WeightArray> RandomWeights::take(const std::string& layer, const std::string&,
                                                 const std::vector<ExpectedWeight>& expected) {
  io::WeightGroup g{layer, {}};
  for (const ExpectedWeight& e : expected) {
    io::WeightArray w{layer + "/" + e.role + ":0", e.shape, {}};
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    w.values.resize(n);
    double lo = -bias_scale_, hi = bias_scale_;
    if (e.role == "kernel") {
      // Glorot uniform: limit √(6 / (fan_in + fan_out)); a kernel's last two axes are (in, out).
      int64_t receptive = 1;
      for (size_t i = 0; i + 2 < e.shape.size(); ++i) receptive *= e.shape[i];
      const double fan_in = static_cast<double>(receptive * e.shape[e.shape.size() - 2]);
      const double fan_out = static_cast<double>(receptive * e.shape.back());
      hi = std::sqrt(6.0 / (fan_in + fan_out));
      lo = -hi;
    } else if (e.role == "gamma" || e.role == "moving_variance") {
      lo = 1.0 - bias_scale_;
      hi = 1.0 + bias_scale_;
    }
    for (double& v : w.values) v = uniform(lo, hi);
    g.weights.push_back(std::move(w));
  }
  recorded_.push_back(g);
  return g.weights;
}

Sequential import_keras(const nlohmann::json& model_config, WeightSource& weights, const std::optional<Int3>& input_shape,
                        const std::string& source) {
  try {
    return Importer(weights, source).run(model_config, input_shape);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("\"" + source + "\": model_config is malformed (" + e.what() + ")");
  }
}

Sequential load_keras_model(const io::KerasFile& file, const std::optional<Int3>& input_shape) {
  if (file.model_config.is_null())
    throw std::invalid_argument("\"" + file.path + "\" holds weights only (no model_config); name the architecture, "
                                "e.g. --arch mrinet --input-shape 198,198,198");
  FileWeights weights(file);
  Sequential net = import_keras(file.model_config, weights, input_shape, file.path);
  net.keras_version = file.keras_version;
  return net;
}

RandomModel random_keras_model(const nlohmann::json& model_config, uint64_t seed, double bias_scale) {
  RandomWeights weights(seed, bias_scale);
  RandomModel m;
  m.net = import_keras(model_config, weights, std::nullopt, "random model");
  m.keras.model_config = model_config;
  // The layout is Keras 2.2's; saying so keeps Keras' own loader from applying its Keras-1 conversions.
  m.keras.keras_version = "2.2.4";
  m.keras.backend = "tensorflow";
  // Every Keras layer gets a group, weighted or not, as model.save writes them.
  const nlohmann::json& cfg = model_config.at("config");
  const nlohmann::json& layers = cfg.is_array() ? cfg : cfg.at("layers");
  size_t next = 0;
  for (const auto& layer : layers) {
    const std::string name = layer.at("config").value("name", "");
    if (next < weights.recorded().size() && weights.recorded()[next].layer_name == name)
      m.keras.groups.push_back(weights.recorded()[next++]);
    else
      m.keras.groups.push_back({name, {}});
  }
  return m;
}

}  // namespace mlens::models
