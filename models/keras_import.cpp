#include "models/keras_import.h"

#include <cctype>
#include <cmath>
#include <stdexcept>

namespace mlens::models {
namespace {

// Bounds on sizes a config states: no layer is wider and no input larger than this (a 2048³ volume
// with 2 channels is 2^34 values), so that nothing is sized from a corrupt number.
constexpr int64_t kMaxSize = int64_t{1} << 20;
constexpr int64_t kMaxVoxels = int64_t{1} << 34;

at::Tensor to_tensor(const WeightArray& w) {
  return at::tensor(at::ArrayRef<double>(w.values), at::TensorOptions().dtype(at::kDouble)).reshape(w.shape);
}

// A class name without its rank: "MaxPooling2D" -> "MaxPooling".
std::string class_stem(const std::string& cls) { return keras_class_rank(cls) ? cls.substr(0, cls.size() - 2) : cls; }

// Walks the Keras layer list once, appending engine layers. A 2D network is a 3D one whose volumes
// have one plane (D = 1): its kernels, windows and strides get 1 on the first axis.
class Importer {
 public:
  Importer(WeightSource& weights, const std::string& source) : weights_(weights), source_(source) {}

  Sequential run(const KerasArchitecture& architecture, const std::optional<Int3>& input_shape,
                 const std::optional<Int3>& open_axes) {
    net_.name = architecture.name;
    for (const KerasLayer& l : architecture.layers)
      if (!l.batch_input_shape.empty() && shape_.empty()) set_input(l.batch_input_shape, input_shape, open_axes);
    if (shape_.empty()) {
      if (!input_shape)
        throw error("model_config", "no batch_input_shape recorded; give the input shape (D,H,W; 1,H,W for a 2D model)");
      for (int64_t d : *input_shape) positive(d, "", "the input shape's axis", kMaxSize);
      shape_ = {1, 1, (*input_shape)[0], (*input_shape)[1], (*input_shape)[2]};
      net_.input_shape = *input_shape;
    }
    for (size_t i = 0; i < architecture.layers.size(); ++i) {
      last_ = i + 1 == architecture.layers.size();
      add(architecture.layers[i]);
    }
    weights_.finish();
    return std::move(net_);
  }

 private:
  std::invalid_argument error(const std::string& layer, const std::string& what) const {
    return std::invalid_argument("\"" + source_ + "\": " + (layer.empty() ? "" : "layer \"" + layer + "\": ") + what);
  }

  // The network's spatial rank follows its input (batch_input_shape) or else its first 2D/3D layer;
  // a layer of the other rank is refused.
  void check_rank(const KerasLayer& l) {
    const int r = keras_class_rank(l.class_name);
    if (!r) return;
    if (!rank_) {
      if (r == 2 && net_.input_shape[0] != 1)
        throw error(l.name, l.class_name + " on a volume " + shape_text({shape_[2], shape_[3], shape_[4]}) +
                                ": give a 2D input shape (1,H,W)");
      rank_ = r;
      net_.spatial_rank = r;
    }
    if (r != rank_)
      throw error(l.name, l.class_name + " in a network with " + std::to_string(rank_) + "D input " +
                              shape_text(net_.keras_input_shape()));
  }

  // Keras writes one value per spatial axis; a single value stands for all of them. Each is a size ≥ 1.
  // A 2D layer's values go to (H, W), D getting 1.
  Int3 int3(const std::vector<int64_t>& v, const std::string& layer, const std::string& field) const {
    const size_t rank = rank_ ? static_cast<size_t>(rank_) : 3;
    if (v.size() != 1 && v.size() != rank)
      throw error(layer, field + " must be " + std::to_string(rank) + " integers, found " + shape_text(v));
    for (int64_t x : v) positive(x, layer, field);
    if (v.size() == 1) return rank == 2 ? Int3{1, v[0], v[0]} : Int3{v[0], v[0], v[0]};
    return rank == 2 ? Int3{1, v[0], v[1]} : Int3{v[0], v[1], v[2]};
  }

  // A size read from the config, before anything is sized from it: at least 1 and at most `limit`.
  int64_t positive(int64_t v, const std::string& layer, const std::string& field, int64_t limit = kMaxSize) const {
    if (v < 1 || v > limit)
      throw error(layer, field + " is " + std::to_string(v) + ", expected 1 to " + std::to_string(limit));
    return v;
  }

  // (batch, D, H, W, channels), or (batch, H, W, channels) for a 2D network.
  void set_input(const std::vector<int64_t>& bis, const std::optional<Int3>& requested, const std::optional<Int3>& open_axes) {
    if (bis.size() != 5 && bis.size() != 4)
      throw error("", "batch_input_shape " + shape_text(bis) + " is neither (batch, D, H, W, channels) nor (batch, H, W, channels)");
    rank_ = static_cast<int>(bis.size()) - 2;
    net_.spatial_rank = rank_;
    // Axes recorded as None (-1) take the requested input shape, as Keras models built for any size do.
    Int3 s = rank_ == 3 ? Int3{bis[1], bis[2], bis[3]} : Int3{1, bis[1], bis[2]};
    const std::optional<Int3> fill = requested ? requested : open_axes;
    for (int a = 0; a < 3; ++a)
      if (s[a] == -1) {
        if (!fill)
          throw error("", "batch_input_shape " + shape_text(bis) + " leaves axis " + std::to_string(a + rank_ - 2) +
                              " open (None); give the input shape (D,H,W; 1,H,W for a 2D model)");
        s[a] = (*fill)[a];
      }
    for (int a = 0; a < 3; ++a) positive(s[a], "", "batch_input_shape " + shape_text(bis) + ": a spatial axis");
    const int64_t channels = bis.back();
    positive(channels, "", "batch_input_shape " + shape_text(bis) + ": the channel axis");
    if (s[0] * s[1] * s[2] > kMaxVoxels / channels)
      throw error("", "batch_input_shape " + shape_text(bis) + " holds more than " + std::to_string(kMaxVoxels) + " values");
    if (requested && *requested != s)
      throw error("", "the model was built for input " + shape_text({s[0], s[1], s[2]}) + ", not " +
                          shape_text({(*requested)[0], (*requested)[1], (*requested)[2]}));
    net_.input_shape = s;
    net_.input_channels = channels;
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

  void check_channels_last(const KerasLayer& l) {
    if (l.data_format != "channels_last")
      throw error(l.name, "data_format \"" + l.data_format + "\" not supported (channels_last expected)");
  }

  // The rank of the current activation as Keras has it, batch axis included: (N, D, H, W, C), (N, H, W, C)
  // in 2D, (N, F) when flat.
  int64_t keras_rank() const {
    return shape_.size() == 5 ? (rank_ ? rank_ : 3) + 2 : static_cast<int64_t>(shape_.size());
  }

  void check_volume(const KerasLayer& l) {
    if (shape_.size() != 5) throw error(l.name, l.class_name + " after the volume was flattened to " + shape_text(shape_));
  }

  Padding padding(const KerasLayer& l) {
    std::string p = l.padding;
    for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (p == "same") return Padding::Same;
    if (p == "valid") return Padding::Valid;
    throw error(l.name, "padding \"" + l.padding + "\" not supported (same or valid)");
  }

  // A layer's activation: ReLU becomes a layer of its own; a softmax that ends the model is left out
  // for the analysis (iNNvestigate's model_wo_softmax), the network then ends in the logits.
  void activation(const KerasLayer& l, const std::string& name) {
    if (name == "linear") return;
    if (name == "relu") return push(Layer{LayerKind::ReLU, l.name + "/relu"});
    if (name == "softmax" && last_) {
      net_.softmax_removed = true;
      return;
    }
    if (last_)
      throw error(l.name, "output activation \"" + name + "\" is not supported (linear, or softmax, which the analysis "
                          "removes as iNNvestigate does)");
    throw error(l.name, l.class_name + " activation \"" + name + "\" not supported (relu or linear" +
                            (name == "softmax" ? "; softmax only on the last layer)" : ")"));
  }

  std::vector<at::Tensor> take(const KerasLayer& l, const std::vector<ExpectedWeight>& expected) {
    std::vector<at::Tensor> out;
    for (const WeightArray& w : weights_.take(l.name, l.class_name, expected)) out.push_back(to_tensor(w));
    return out;
  }

  void add(const KerasLayer& l) {
    const std::string& cls = l.class_name;
    if (!is_keras_class(cls))
      throw error(l.name, "Keras layer class \"" + cls + "\" is not supported (supported: " + keras_classes_text() + ")");
    check_rank(l);
    const std::string stem = class_stem(cls);
    if (cls == "InputLayer") return;
    if (stem == "Conv" && keras_class_rank(cls)) return add_conv(l);
    if (cls == "Dense") return add_dense(l);
    if ((stem == "MaxPooling" || stem == "MaxPool" || stem == "AveragePooling" || stem == "AvgPool") && keras_class_rank(cls)) {
      check_channels_last(l);
      check_volume(l);
      Layer pool{(cls[0] == 'M') ? LayerKind::MaxPool3d : LayerKind::AvgPool3d, l.name};
      pool.kernel = int3(l.pool_size, l.name, "pool_size");
      pool.stride = l.strides.empty() ? pool.kernel : int3(l.strides, l.name, "strides");
      pool.padding = padding(l);
      return push(std::move(pool));
    }
    if ((stem == "GlobalAveragePooling" || stem == "GlobalAvgPool" || stem == "GlobalMaxPooling" || stem == "GlobalMaxPool") &&
        keras_class_rank(cls))
      return add_global_pool(l);
    if (cls == "Flatten") {
      check_channels_last(l);
      if (shape_.size() == 5) flattened_ = {shape_[1], shape_[2], shape_[3], shape_[4]};
      return push(Layer{LayerKind::Flatten, l.name});
    }
    if (cls == "Dropout") {
      Layer dropout{LayerKind::Dropout, l.name};
      dropout.rate = l.rate;
      return push(std::move(dropout));
    }
    if (cls == "Activation") return activation(l, l.activation);
    if (cls == "Softmax") {
      if (l.axis.size() != 1 || (l.axis[0] != -1 && l.axis[0] != keras_rank() - 1))
        throw error(l.name, "Softmax over axis " + shape_text(l.axis) + " (the last axis expected)");
      return activation(l, "softmax");
    }
    if (cls == "ReLU" || cls == "LeakyReLU") {
      if (l.max_value || l.threshold != 0.0) throw error(l.name, cls + " with max_value or threshold is not supported");
      Layer relu{l.negative_slope == 0.0 ? LayerKind::ReLU : LayerKind::LeakyReLU, l.name};
      relu.negative_slope = l.negative_slope;
      return push(std::move(relu));
    }
    if (cls == "BatchNormalization") return add_batch_norm(l);
    throw std::logic_error("Keras layer class \"" + cls + "\" is listed in kKerasClasses but not built");
  }

  void add_conv(const KerasLayer& l) {
    check_channels_last(l);
    check_volume(l);
    if (int3(l.dilation_rate, l.name, "dilation_rate") != Int3{1, 1, 1})
      throw error(l.name, l.class_name + " dilation other than 1 is not supported");
    if (l.groups != 1)
      throw error(l.name, "grouped " + l.class_name + " (groups " + std::to_string(l.groups) + ") is not supported");
    const Int3 k = int3(l.kernel_size, l.name, "kernel_size");
    const int64_t in = shape_[1], out = positive(l.filters, l.name, "filters");
    // Keras kernels are (kd, kh, kw, in, out), or (kh, kw, in, out) in 2D.
    std::vector<int64_t> kernel_shape{k[0], k[1], k[2], in, out};
    if (rank_ == 2) kernel_shape.erase(kernel_shape.begin());
    std::vector<ExpectedWeight> expected{{"kernel", kernel_shape}};
    if (l.use_bias) expected.push_back({"bias", {out}});
    const auto w = take(l, expected);
    Layer conv{LayerKind::Conv3d, l.name};
    conv.weight = w[0].reshape({k[0], k[1], k[2], in, out}).permute({4, 3, 0, 1, 2}).contiguous();
    conv.bias = l.use_bias ? w[1] : at::zeros({out}, at::kDouble);
    conv.stride = l.strides.empty() ? Int3{1, 1, 1} : int3(l.strides, l.name, "strides");
    conv.padding = padding(l);
    push(std::move(conv));
    activation(l, l.activation);
  }

  // Keras' global pooling is a pooling whose one window is the whole volume, then (keepdims false, the
  // default) a Flatten: no rule of its own, iNNvestigate treats it as the pooling it is.
  void add_global_pool(const KerasLayer& l) {
    check_channels_last(l);
    check_volume(l);
    const bool max = class_stem(l.class_name).rfind("GlobalMax", 0) == 0;
    Layer pool{max ? LayerKind::MaxPool3d : LayerKind::AvgPool3d, l.name};
    pool.kernel = pool.stride = {shape_[2], shape_[3], shape_[4]};
    push(std::move(pool));
    if (!l.keepdims) push(Layer{LayerKind::Flatten, l.name + "/flatten"});
  }

  // On a flat input a Dense is a matrix; on a volume it acts on the channels of every voxel (Keras
  // applies it to the last axis), a 1×1×1 convolution.
  void add_dense(const KerasLayer& l) {
    const int64_t in = shape_[1], out = positive(l.units, l.name, "units");
    std::vector<ExpectedWeight> expected{{"kernel", {in, out}}};
    if (l.use_bias) expected.push_back({"bias", {out}});
    const auto w = take(l, expected);
    at::Tensor kernel = w[0];
    const at::Tensor perm = flatten_perm();
    if (perm.defined()) kernel = kernel.index_select(0, perm);
    flattened_.clear();
    Layer dense{LayerKind::Dense, l.name};
    dense.weight = kernel.t().contiguous();
    if (shape_.size() == 5) {
      dense.kind = LayerKind::Conv3d;
      dense.pointwise_dense = true;
      dense.weight = dense.weight.view({out, in, 1, 1, 1});
    }
    dense.bias = l.use_bias ? w[1] : at::zeros({out}, at::kDouble);
    push(std::move(dense));
    activation(l, l.activation);
  }

  void add_batch_norm(const KerasLayer& l) {
    if (l.axis.size() != 1 || (l.axis[0] != -1 && l.axis[0] != keras_rank() - 1))
      throw error(l.name, "BatchNormalization over axis " + shape_text(l.axis) + " (channels axis -1 expected)");
    const int64_t n = shape_[1];
    std::vector<ExpectedWeight> expected;
    if (l.scale) expected.push_back({"gamma", {n}});
    if (l.center) expected.push_back({"beta", {n}});
    expected.push_back({"moving_mean", {n}});
    expected.push_back({"moving_variance", {n}});
    const auto w = take(l, expected);
    size_t i = 0;
    at::Tensor gamma = l.scale ? w[i++] : at::ones({n}, at::kDouble);
    at::Tensor beta = l.center ? w[i++] : at::zeros({n}, at::kDouble);
    at::Tensor mean = w[i++], var = w[i++];
    const at::Tensor perm = flatten_perm();
    if (perm.defined()) {
      for (at::Tensor* t : {&gamma, &beta, &mean, &var}) *t = t->index_select(0, perm);
    }
    const at::Tensor s = gamma / at::sqrt(var + l.epsilon);

    if (!net_.layers.empty() && net_.layers.back().is_linear()) {
      // Fold into the preceding linear layer: s·(W x + b − μ) + β.
      Layer& prev = net_.layers.back();
      std::vector<int64_t> view(prev.weight.dim(), 1);
      view[0] = n;
      prev.weight = (prev.weight * s.view(view)).contiguous();
      prev.bias = s * (prev.bias - mean) + beta;
      prev.name += "+" + l.name;
      return;
    }
    Layer bn{LayerKind::BatchNorm, l.name};
    bn.weight = s;
    bn.bias = beta - s * mean;
    bn.mean = mean;
    bn.beta = beta;
    push(std::move(bn));
  }

  WeightSource& weights_;
  std::string source_;
  Sequential net_;
  int rank_ = 0;       // spatial axes of the input (2 or 3), 0 until known
  bool last_ = false;  // the layer being added is the model's last
  std::vector<int64_t> shape_;  // current activation shape, channels-first, batch 1
  std::vector<int64_t> flattened_;  // (C, D, H, W) between a Flatten of a volume and the next Dense

  // Keras flattens (D, H, W, C), the engine (C, D, H, W): perm[ours] = keras, our index
  // ((c·D + d)·H + h)·W + w, Keras' ((d·H + h)·W + w)·C + c. Made only once the weights it reorders
  // have been taken, so its size is bounded by what the file holds.
  at::Tensor flatten_perm() const {
    if (flattened_.empty()) return {};
    const int64_t C = flattened_[0], D = flattened_[1], H = flattened_[2], W = flattened_[3];
    return at::arange(D * H * W * C, at::kLong).view({D, H, W, C}).permute({3, 0, 1, 2}).reshape({-1});
  }
};

}  // namespace

std::vector<WeightArray> FileWeights::take(const std::string& layer, const std::string& keras_class,
                                               const std::vector<ExpectedWeight>& expected) {
  while (next_ < file_.groups.size() && file_.groups[next_].weights.empty()) ++next_;
  if (next_ >= file_.groups.size())
    throw std::invalid_argument("\"" + file_.source + "\": no weights left for layer \"" + layer + "\" (" + keras_class +
                                "); the file holds fewer weighted layers than the architecture");
  const WeightGroup& g = file_.groups[next_++];
  const std::string where = "\"" + file_.source + "\": layer \"" + layer + "\" (" + keras_class + "), weights of group \"" +
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
    throw std::invalid_argument("\"" + file_.source + "\": weights of group \"" + file_.groups[next_].layer_name +
                                "\" are left over: the file holds more weighted layers than the architecture");
}

double RandomWeights::uniform(double lo, double hi) {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return lo + (hi - lo) * static_cast<double>(z >> 11) * 0x1.0p-53;
}

std::vector<WeightArray> RandomWeights::take(const std::string& layer, const std::string&,
                                                 const std::vector<ExpectedWeight>& expected) {
  WeightGroup g{layer, {}};
  for (const ExpectedWeight& e : expected) {
    WeightArray w{layer + "/" + e.role + ":0", e.shape, {}};
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

Sequential import_keras(const KerasArchitecture& architecture, WeightSource& weights, const std::optional<Int3>& input_shape,
                        const std::string& source, const std::optional<Int3>& open_axes) {
  return Importer(weights, source).run(architecture, input_shape, open_axes);
}

Sequential load_keras_model(const KerasModel& model, const std::optional<Int3>& input_shape,
                            const std::optional<Int3>& open_axes) {
  if (!model.architecture)
    throw std::invalid_argument("\"" + model.source + "\" holds weights only (no model_config); name the architecture, "
                                "e.g. --arch mrinet --input-shape 198,198,198");
  FileWeights weights(model);
  Sequential net = import_keras(*model.architecture, weights, input_shape, model.source, open_axes);
  net.keras_version = model.keras_version;
  return net;
}

RandomModel random_keras_model(const KerasArchitecture& architecture, uint64_t seed, double bias_scale) {
  RandomWeights weights(seed, bias_scale);
  RandomModel m;
  m.net = import_keras(architecture, weights, std::nullopt, "random model");
  m.keras.source = "random model";
  m.keras.architecture = architecture;
  // The layout is Keras 2.2's; saying so keeps Keras' own loader from applying its Keras-1 conversions.
  m.keras.keras_version = "2.2.4";
  m.keras.backend = "tensorflow";
  size_t next = 0;
  for (const KerasLayer& layer : architecture.layers) {
    if (next < weights.recorded().size() && weights.recorded()[next].layer_name == layer.name)
      m.keras.groups.push_back(weights.recorded()[next++]);
    else
      m.keras.groups.push_back({layer.name, {}});
  }
  return m;
}

}  // namespace mlens::models
