// Writes the Keras fuzz target's seeds into a folder: a tiny Conv3D → MaxPooling3D → Flatten → Dense
// network as a full model (both string styles Keras writes) and as a weights-only file. Made by
// bench/fuzz rather than kept in the repository: HDF5 files are binary and this says how they were made.
#include <cstdio>
#include <string>

#include "io/keras_config.h"
#include "models/keras_import.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_keras_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const nlohmann::json layers = {
      {{"class_name", "Conv3D"},
       {"config", {{"name", "conv3d_1"}, {"filters", 2}, {"kernel_size", {3, 3, 3}}, {"strides", {1, 1, 1}}, {"padding", "same"},
                   {"data_format", "channels_last"}, {"dilation_rate", {1, 1, 1}}, {"activation", "relu"}, {"use_bias", true},
                   {"batch_input_shape", {nullptr, 5, 5, 5, 1}}}}},
      {{"class_name", "MaxPooling3D"},
       {"config", {{"name", "max_pooling3d_1"}, {"pool_size", {2, 2, 2}}, {"strides", {2, 2, 2}}, {"padding", "same"},
                   {"data_format", "channels_last"}}}},
      {{"class_name", "Flatten"}, {"config", {{"name", "flatten_1"}}}},
      {{"class_name", "Dense"}, {"config", {{"name", "dense_1"}, {"units", 1}, {"activation", "linear"}, {"use_bias", true}}}}};
  const nlohmann::json config = {{"class_name", "Sequential"}, {"config", {{"name", "tiny"}, {"layers", layers}}}};
  mlens::models::KerasModel model = mlens::models::random_keras_model(mlens::io::parse_keras_config(config, "seed"), 1).keras;
  mlens::io::write_keras_model(dir + "/tiny-vlen.h5", model, mlens::io::StringStyle::VariableLength);
  mlens::io::write_keras_model(dir + "/tiny-fixed.h5", model, mlens::io::StringStyle::FixedLength);
  model.architecture.reset();
  mlens::io::write_keras_model(dir + "/tiny-weights.h5", model);
  return 0;
}
