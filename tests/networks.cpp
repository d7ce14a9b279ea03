#include "networks.h"

namespace mlens::test {
namespace {

// `input` without the batch axis: (D, H, W, C), or (H, W, C) for a 2D network.
models::KerasArchitecture sequential(std::vector<models::KerasLayer> layers, std::vector<int64_t> input) {
  input.insert(input.begin(), -1);
  layers[0].batch_input_shape = input;
  return {"test", std::move(layers)};
}

}  // namespace

models::KerasLayer conv(const std::string& name, int64_t filters, std::vector<int64_t> kernel, const std::string& padding,
                        const std::string& activation, bool bias) {
  models::KerasLayer l{"Conv3D", name};
  l.filters = filters;
  l.kernel_size = std::move(kernel);
  l.strides = {1, 1, 1};
  l.dilation_rate = {1, 1, 1};
  l.padding = padding;
  l.activation = activation;
  l.use_bias = bias;
  return l;
}

models::KerasLayer pool(const std::string& cls, const std::string& name, int64_t size, int64_t stride, const std::string& padding) {
  models::KerasLayer l{cls, name};
  l.pool_size = {size, size, size};
  l.strides = {stride, stride, stride};
  l.padding = padding;
  return l;
}

models::KerasLayer dense(const std::string& name, int64_t units, const std::string& activation) {
  models::KerasLayer l{"Dense", name};
  l.units = units;
  l.activation = activation;
  return l;
}

models::KerasLayer layer(const std::string& cls, const std::string& name) {
  models::KerasLayer l{cls, name};
  if (cls == "Dropout") l.rate = 0.5;
  if (cls == "Activation") l.activation = "relu";
  return l;
}

models::KerasLayer conv2d(const std::string& name, int64_t filters, std::vector<int64_t> kernel, std::vector<int64_t> strides,
                          const std::string& padding, const std::string& activation) {
  models::KerasLayer l{"Conv2D", name};
  l.filters = filters;
  l.kernel_size = std::move(kernel);
  l.strides = std::move(strides);
  l.dilation_rate = {1, 1};
  l.padding = padding;
  l.activation = activation;
  return l;
}

models::KerasLayer pool2d(const std::string& cls, const std::string& name, std::vector<int64_t> size,
                          std::vector<int64_t> strides, const std::string& padding) {
  models::KerasLayer l{cls, name};
  l.pool_size = std::move(size);
  l.strides = std::move(strides);
  l.padding = padding;
  return l;
}

models::KerasArchitecture mini_mrinet() {
  return sequential({conv("conv3d_1", 4, {3, 3, 3}, "same", "relu"), pool("MaxPooling3D", "max_pooling3d_1", 3, 2, "same"),
                     conv("conv3d_2", 6, {3, 3, 3}, "same", "relu"), pool("MaxPooling3D", "max_pooling3d_2", 3, 2, "same"),
                     conv("conv3d_3", 5, {1, 1, 1}, "same", "relu"), layer("Flatten", "flatten_1"),
                     layer("Dropout", "dropout_1"), dense("dense_1", 8, "relu"), dense("dense_2", 1, "linear")},
                    {13, 17, 11, 1});
}

models::KerasArchitecture mixed() {
  return sequential({conv("conv3d_1", 3, {2, 2, 2}, "same", "relu"), pool("AveragePooling3D", "average_pooling3d_1", 2, 2, "valid"),
                     conv("conv3d_2", 4, {3, 2, 3}, "valid", "linear"), layer("BatchNormalization", "batch_normalization_1"),
                     layer("Activation", "activation_1"), pool("MaxPooling3D", "max_pooling3d_1", 2, 3, "same"),
                     layer("Flatten", "flatten_1"), dense("dense_1", 5, "relu"),
                     layer("BatchNormalization", "batch_normalization_2"), dense("dense_2", 1, "linear")},
                    {9, 10, 11, 2});
}

models::KerasArchitecture pool_first() {
  return sequential({pool("MaxPooling3D", "max_pooling3d_1", 2, 2, "valid"), conv("conv3d_1", 3, {3, 3, 3}, "same", "relu"),
                     pool("MaxPooling3D", "max_pooling3d_2", 3, 2, "same"), layer("Flatten", "flatten_1"),
                     dense("dense_1", 4, "relu"), dense("dense_2", 1, "linear")},
                    {8, 8, 8, 1});
}

models::KerasArchitecture sparse_first() {
  return sequential({conv("conv3d_1", 3, {3, 3, 3}, "same", "relu"), pool("MaxPooling3D", "max_pooling3d_1", 3, 3, "same"),
                     conv("conv3d_2", 4, {3, 3, 3}, "same", "relu"), layer("Flatten", "flatten_1"),
                     dense("dense_1", 1, "linear")},
                    {13, 17, 11, 1});
}

models::KerasArchitecture strided_2d() {
  return sequential({conv2d("conv2d_1", 4, {3, 3}, {2, 2}, "same", "relu"),
                     pool2d("MaxPooling2D", "max_pooling2d_1", {2, 2}, {2, 2}, "same"),
                     conv2d("conv2d_2", 5, {2, 2}, {1, 2}, "valid", "relu"), layer("Flatten", "flatten_1"),
                     dense("dense_1", 6, "relu"), dense("dense_2", 4, "softmax")},
                    {12, 10, 3});
}

models::KerasArchitecture global_3d() {
  models::KerasLayer strided = conv("conv3d_1", 4, {3, 3, 3}, "valid", "relu");
  strided.strides = {2, 2, 2};
  return sequential({strided, dense("dense_1", 5, "relu"), layer("BatchNormalization", "batch_normalization_1"),
                     models::KerasLayer{"GlobalAveragePooling3D", "global_average_pooling3d_1"}, dense("dense_2", 3, "linear")},
                    {7, 9, 8, 3});
}

models::KerasArchitecture global_max_2d() {
  return sequential({conv2d("conv2d_1", 3, {3, 2}, {2, 3}, "same", "relu"),
                     pool2d("AveragePooling2D", "average_pooling2d_1", {2, 3}, {1, 2}, "same"),
                     models::KerasLayer{"GlobalMaxPooling2D", "global_max_pooling2d_1"}, dense("dense_1", 2, "linear")},
                    {9, 11, 1});
}

std::vector<std::pair<std::string, models::KerasArchitecture>> all_architectures() {
  return {{"mini-mrinet", mini_mrinet()}, {"mixed", mixed()},       {"pool-first", pool_first()},
          {"sparse-first", sparse_first()}, {"strided-2d", strided_2d()}, {"global-3d", global_3d()},
          {"global-max-2d", global_max_2d()}};
}

std::pair<std::string, std::string> first_conv_and_dense(const models::KerasArchitecture& architecture) {
  std::string conv, dense;
  for (const models::KerasLayer& l : architecture.layers) {
    if (conv.empty() && l.class_name.rfind("Conv", 0) == 0) conv = l.name;
    if (dense.empty() && l.class_name == "Dense") dense = l.name;
  }
  return {conv, dense};
}

at::Tensor random_input(const models::Sequential& net, uint64_t seed, bool quantise) {
  at::manual_seed(seed);
  at::Tensor x = at::randn({1, net.input_channels, net.input_shape[0], net.input_shape[1], net.input_shape[2]},
                           at::TensorOptions().dtype(at::kDouble));
  if (quantise) x = (x * 4).round() / 4;
  return x;
}

}  // namespace mlens::test
