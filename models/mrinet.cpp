#include "models/mrinet.h"

namespace mlens::models {

KerasArchitecture mrinet_architecture(const Int3& s, const std::string& name) {
  KerasArchitecture a{name, {}};
  int conv = 0, pool = 0;
  const auto add_conv = [&](int64_t filters, int64_t k) {
    KerasLayer l{"Conv3D", "conv3d_" + std::to_string(++conv)};
    if (conv == 1) l.batch_input_shape = {-1, s[0], s[1], s[2], 1};
    l.filters = filters;
    l.kernel_size = {k, k, k};
    l.strides = {1, 1, 1};
    l.dilation_rate = {1, 1, 1};
    l.padding = "same";
    l.activation = "relu";
    a.layers.push_back(l);
  };
  const auto add_pool = [&] {
    KerasLayer l{"MaxPooling3D", "max_pooling3d_" + std::to_string(++pool)};
    l.pool_size = {3, 3, 3};
    l.strides = {2, 2, 2};
    l.padding = "same";
    a.layers.push_back(l);
  };
  for (auto [filters, k] : {std::pair{16, 3}, {16, 3}, {32, 3}, {64, 3}, {32, 1}}) {
    add_conv(filters, k);
    add_pool();
  }
  a.layers.push_back({"Flatten", "flatten_1"});
  KerasLayer dropout{"Dropout", "dropout_1"};
  dropout.rate = 0.5;
  a.layers.push_back(dropout);
  int dense_count = 0;
  for (auto [units, activation] : {std::pair{64, "relu"}, {1, "linear"}}) {
    KerasLayer dense{"Dense", "dense_" + std::to_string(++dense_count)};
    dense.units = units;
    dense.activation = activation;
    a.layers.push_back(dense);
  }
  return a;
}

RandomModel mrinet(const Int3& input_shape, uint64_t seed) {
  return random_keras_model(mrinet_architecture(input_shape), seed);
}

}  // namespace mlens::models
