#include "networks.h"

namespace mlens::test {
namespace {

models::KerasArchitecture sequential(std::vector<models::KerasLayer> layers, std::vector<int64_t> input) {
  layers[0].batch_input_shape = {-1, input[0], input[1], input[2], input[3]};
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

std::vector<std::pair<std::string, models::KerasArchitecture>> all_architectures() {
  return {{"mini-mrinet", mini_mrinet()}, {"mixed", mixed()}, {"pool-first", pool_first()}, {"sparse-first", sparse_first()}};
}

at::Tensor random_input(const models::Sequential& net, uint64_t seed, bool quantise) {
  at::manual_seed(seed);
  at::Tensor x = at::randn({1, net.input_channels, net.input_shape[0], net.input_shape[1], net.input_shape[2]},
                           at::TensorOptions().dtype(at::kDouble));
  if (quantise) x = (x * 4).round() / 4;
  return x;
}

}  // namespace mlens::test
