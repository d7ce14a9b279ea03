#include "models/mrinet.h"

namespace mlens::models {

nlohmann::json mrinet_config(const Int3& s, const std::string& name) {
  using nlohmann::json;
  json layers = json::array();
  int conv = 0, pool = 0;
  const auto add_conv = [&](int filters, int k) {
    json c = {{"name", "conv3d_" + std::to_string(++conv)}, {"filters", filters}, {"kernel_size", {k, k, k}},
              {"strides", {1, 1, 1}}, {"padding", "same"}, {"data_format", "channels_last"},
              {"dilation_rate", {1, 1, 1}}, {"activation", "relu"}, {"use_bias", true}};
    if (conv == 1) c["batch_input_shape"] = {nullptr, s[0], s[1], s[2], 1};
    layers.push_back({{"class_name", "Conv3D"}, {"config", c}});
  };
  const auto add_pool = [&] {
    layers.push_back({{"class_name", "MaxPooling3D"},
                      {"config", {{"name", "max_pooling3d_" + std::to_string(++pool)}, {"pool_size", {3, 3, 3}},
                                  {"strides", {2, 2, 2}}, {"padding", "same"}, {"data_format", "channels_last"}}}});
  };
  for (auto [filters, k] : {std::pair{16, 3}, {16, 3}, {32, 3}, {64, 3}, {32, 1}}) {
    add_conv(filters, k);
    add_pool();
  }
  layers.push_back({{"class_name", "Flatten"}, {"config", {{"name", "flatten_1"}, {"data_format", "channels_last"}}}});
  layers.push_back({{"class_name", "Dropout"}, {"config", {{"name", "dropout_1"}, {"rate", 0.5}}}});
  layers.push_back({{"class_name", "Dense"},
                    {"config", {{"name", "dense_1"}, {"units", 64}, {"activation", "relu"}, {"use_bias", true}}}});
  layers.push_back({{"class_name", "Dense"},
                    {"config", {{"name", "dense_2"}, {"units", 1}, {"activation", "linear"}, {"use_bias", true}}}});
  return {{"class_name", "Sequential"}, {"config", {{"name", name}, {"layers", layers}}}};
}

RandomModel mrinet(const Int3& input_shape, uint64_t seed) {
  return random_keras_model(mrinet_config(input_shape), seed);
}

}  // namespace mlens::models
