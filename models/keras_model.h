// A Keras Sequential model as plain data: what io/ reads from a Keras file (io/keras_config.h) or a
// program builds (models/mrinet.h, the tests' networks), and what models/keras_import.h turns into a
// network. Standard C++ only: io/ fills it without LibTorch, and models/ builds from it without HDF5
// or a JSON library, so the numerical core (models/, lrp/) needs LibTorch alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlens::models {

// One weight array as Keras stores it.
struct WeightArray {
  std::string name;            // as in `weight_names`, e.g. "conv3d_1/kernel:0"
  std::vector<int64_t> shape;  // Keras order, e.g. (kd, kh, kw, in, out) for Conv3D kernels
  std::vector<double> values;  // C order; float32 files are widened exactly
};

// The weights of one Keras layer (none for layers without weights).
struct WeightGroup {
  std::string layer_name;
  std::vector<WeightArray> weights;
};

// The Keras layer classes models/keras_import.h builds, Keras' aliases included (MaxPool3D for
// MaxPooling3D, ...): io/keras_config.h reads a layer's fields only for these (another class's fields mean
// other things: ZeroPadding3D's "padding" is a list), and the importer refuses any other class naming them.
inline constexpr const char* kKerasClasses[] = {
    "InputLayer", "Conv2D", "Conv3D", "MaxPooling2D", "MaxPooling3D", "MaxPool2D", "MaxPool3D", "AveragePooling2D",
    "AveragePooling3D", "AvgPool2D", "AvgPool3D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool2D",
    "GlobalAvgPool3D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalMaxPool2D", "GlobalMaxPool3D", "Flatten",
    "Dropout", "Dense", "Activation", "Softmax", "ReLU", "LeakyReLU", "BatchNormalization"};
inline bool is_keras_class(const std::string& cls) {
  for (const char* known : kKerasClasses)
    if (cls == known) return true;
  return false;
}

inline std::string keras_classes_text() {
  std::string text;
  for (const char* known : kKerasClasses) text += (text.empty() ? "" : ", ") + std::string(known);
  return text;
}

// One layer's config: the fields mlens reads, each holding Keras' default where a config leaves it out.
// Which fields a class uses is Keras' business (e.g. `units` for Dense); the others keep their defaults.
struct KerasLayer {
  std::string class_name;                  // "Conv3D", "MaxPooling3D", "Dense", ...
  std::string name;
  std::vector<int64_t> batch_input_shape;  // (batch, D, H, W, C) or (batch, H, W, C) as recorded, -1 for None; empty if absent
  std::string data_format = "channels_last";
  std::string padding = "valid";
  std::string activation = "linear";
  std::vector<int64_t> kernel_size;        // one value, or one per spatial axis (2 or 3)
  std::vector<int64_t> pool_size;
  std::vector<int64_t> strides;            // empty: Keras' default (1 for convolutions, pool_size for pools)
  std::vector<int64_t> dilation_rate{1};
  int64_t groups = 1;                      // grouped convolutions (TF ≥ 2.3)
  int64_t filters = 0;
  int64_t units = 0;
  bool use_bias = true;
  double rate = 0;                         // Dropout
  bool keepdims = false;                   // global pooling (TF ≥ 2.6)
  // ReLU and LeakyReLU: x above `threshold`, negative_slope·x below it, capped at max_value if set.
  // LeakyReLU's `alpha` arrives here as negative_slope (Keras' default for it is 0.3).
  double negative_slope = 0;
  double threshold = 0;
  std::optional<double> max_value;
  // BatchNormalization, Softmax
  std::vector<int64_t> axis{-1};
  bool center = true;
  bool scale = true;
  double epsilon = 1e-3;
};

// The number of spatial axes a Keras layer class works on: 2 for "...2D" (Conv2D, GlobalMaxPooling2D),
// 3 for "...3D", else 0.
inline int keras_class_rank(const std::string& cls) {
  if (cls.size() < 2 || cls.back() != 'D') return 0;
  const char r = cls[cls.size() - 2];
  return r == '2' ? 2 : r == '3' ? 3 : 0;
}

struct KerasArchitecture {
  std::string name;  // the model's name in Keras
  std::vector<KerasLayer> layers;
};

struct KerasModel {
  std::string source;                             // the file, or what made the model, for messages
  std::optional<KerasArchitecture> architecture;  // absent in weights-only files
  std::vector<WeightGroup> groups;                // one per layer in file order, layers without weights too
  std::string keras_version;                      // "" when the file does not say
  std::string backend;
};

}  // namespace mlens::models
