// Keras' model_config JSON to plain data (models/keras_model.h) and back, and a Keras file to a model.
//
// The config is read field by field into models::KerasLayer with Keras' defaults where a field is left
// out; fields mlens does not use (initializers, regularisers, dtype, trainable) are ignored. Whether a
// layer is supported is for models/keras_import.h to say. Written configs carry every field Keras 2.2
// and TF2 Keras need to load the model again.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "io/keras_h5.h"
#include "models/keras_model.h"

namespace mlens::io {

// A Sequential model_config, either the {"layers": [...]} form or the bare list older Keras writes.
// Errors name `source`, the layer and the field: another model class, no layer list, a field of the
// wrong type.
models::KerasArchitecture parse_keras_config(const nlohmann::json& model_config, const std::string& source);

// The Sequential model_config of `architecture`.
nlohmann::json keras_config(const models::KerasArchitecture& architecture);

// A Keras file as plain data: its config parsed (none in weights-only files), its weights as read.
models::KerasModel keras_model(const KerasFile& file);

// The Keras file that holds `model` (the config written by keras_config), for write_keras_h5.
KerasFile keras_file(const models::KerasModel& model, const std::string& path = "");

// read_keras_h5 and keras_model; write_keras_h5 of keras_file.
models::KerasModel read_keras_model(const std::string& path);
void write_keras_model(const std::string& path, const models::KerasModel& model,
                       StringStyle strings = StringStyle::VariableLength, bool float64 = false);

}  // namespace mlens::io
