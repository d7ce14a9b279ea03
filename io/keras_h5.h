// Keras 2.x legacy HDF5 files (`model.save(...)` / `model.save_weights(...)`), read and written with the
// HDF5 C++ API.
//
// Layout (full model):  root attrs `model_config` (JSON), `keras_version`, `backend`;
//                       group `model_weights`, attr `layer_names` (one per layer, in order);
//                       per layer group attr `weight_names`, datasets at `<layer>/<weight name>`.
// Layout (weights only): the same layer groups and `layer_names` directly at the root.
// String attributes are fixed-length byte strings (Keras 2.2.x) or variable-length UTF-8 (TF2 Keras);
// `weight_names` of a layer without weights may be an empty array of any type. All are read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/keras_model.h"

namespace mlens::io {

// The weights are read straight into the plain types models/ builds networks from.
using models::WeightArray;
using models::WeightGroup;

// The file as stored: io/keras_config.h turns it into a models::KerasModel.
struct KerasFile {
  std::string path;
  nlohmann::json model_config;  // null for weights-only files
  std::string keras_version;    // "" when the file does not say
  std::string backend;
  std::vector<WeightGroup> groups;  // in `layer_names` order
};

// Reads a Keras .h5 file. Errors name the file and what is wrong: not HDF5, neither `model_weights` nor
// `layer_names`, unreadable `model_config` JSON, a missing weight dataset, NaN/Inf in a weight.
KerasFile read_keras_h5(const std::string& path);

namespace detail {
// The same reading in this process, without the child first: HDF5 may crash on a corrupt file. Only for
// the fuzzer's in-process target (tests/fuzz/keras_h5.cpp), which runs in libFuzzer's fork mode and so
// survives HDF5's crashes to fuzz mlens' own reading at full speed.
KerasFile read_keras_h5_uncontained(const std::string& path);
}  // namespace detail

enum class StringStyle { FixedLength, VariableLength };

// Writes `model` in the same layout (full model when model_config is set, else weights only), weights
// as float32 or float64 datasets. Used for our own models and by tests to make Keras files of both
// string styles. Written atomically.
void write_keras_h5(const std::string& path, const KerasFile& model,
                    StringStyle strings = StringStyle::VariableLength, bool float64 = false);

}  // namespace mlens::io
