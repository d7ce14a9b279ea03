#include "io/keras_config.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "io/json.h"

namespace mlens::io {
namespace {

using nlohmann::json;

// One layer's config, read field by field; errors name the source, the layer and the field.
class FieldReader {
 public:
  FieldReader(const json& config, std::string where) : c_(config), where_(std::move(where)) {}

  bool has(const std::string& field) const { return c_.contains(field) && !c_.at(field).is_null(); }

  std::string text(const std::string& field, const std::string& fallback) const {
    if (!has(field)) return fallback;
    if (!c_.at(field).is_string()) throw wrong(field, "a string");
    return c_.at(field).get<std::string>();
  }
  double number(const std::string& field, double fallback) const {
    if (!has(field)) return fallback;
    if (!c_.at(field).is_number()) throw wrong(field, "a number");
    return c_.at(field).get<double>();
  }
  int64_t integer(const std::string& field, int64_t fallback) const {
    if (!has(field)) return fallback;
    if (!c_.at(field).is_number_integer()) throw wrong(field, "an integer");
    return c_.at(field).get<int64_t>();
  }
  bool flag(const std::string& field, bool fallback) const {
    if (!has(field)) return fallback;
    if (!c_.at(field).is_boolean()) throw wrong(field, "true or false");
    return c_.at(field).get<bool>();
  }
  // An integer or a list of integers (null entries, as in batch_input_shape's batch axis, become -1).
  std::vector<int64_t> integers(const std::string& field, std::vector<int64_t> fallback) const {
    if (!has(field)) return fallback;
    const json& v = c_.at(field);
    if (v.is_number_integer()) return {v.get<int64_t>()};
    if (!v.is_array()) throw wrong(field, "an integer or a list of integers");
    std::vector<int64_t> out;
    for (const json& e : v) {
      if (e.is_null()) out.push_back(-1);
      else if (e.is_number_integer()) out.push_back(e.get<int64_t>());
      else throw wrong(field, "a list of integers");
    }
    return out;
  }

 private:
  std::invalid_argument wrong(const std::string& field, const std::string& expected) const {
    return std::invalid_argument(where_ + ": \"" + field + "\" is " + json_excerpt(c_.at(field)) + ", expected " + expected);
  }
  const json& c_;
  std::string where_;
};

models::KerasLayer parse_layer(const json& layer, size_t index, const std::string& source) {
  const std::string at = "\"" + source + "\": model_config layer " + std::to_string(index + 1);
  if (!layer.is_object() || !layer.contains("class_name") || !layer.at("class_name").is_string())
    throw std::invalid_argument(at + " has no \"class_name\"");
  models::KerasLayer l;
  l.class_name = layer.at("class_name").get<std::string>();
  static const json empty = json::object();
  const json& c = layer.contains("config") ? layer.at("config") : empty;
  if (!c.is_object()) throw std::invalid_argument(at + " (" + l.class_name + "): \"config\" is not an object");
  l.name = FieldReader(c, at).text("name", l.class_name);
  const FieldReader f(c, "\"" + source + "\": layer \"" + l.name + "\"");
  l.batch_input_shape = f.integers("batch_input_shape", f.integers("batch_shape", {}));  // Keras 3: batch_shape
  // Other classes' fields mean other things (ZeroPadding3D's "padding" is a list): the importer
  // refuses such a layer by its class, so nothing else of it is read.
  if (!models::is_keras_class(l.class_name)) return l;
  l.data_format = f.text("data_format", l.data_format);
  l.padding = f.text("padding", l.padding);
  l.activation = f.text("activation", l.activation);
  l.kernel_size = f.integers("kernel_size", {});
  l.pool_size = f.integers("pool_size", {});
  l.strides = f.integers("strides", {});
  l.dilation_rate = f.integers("dilation_rate", l.dilation_rate);
  l.groups = f.integer("groups", l.groups);
  l.filters = f.integer("filters", 0);
  l.units = f.integer("units", 0);
  l.use_bias = f.flag("use_bias", l.use_bias);
  l.rate = f.number("rate", 0);
  l.keepdims = f.flag("keepdims", l.keepdims);
  // LeakyReLU's slope is `alpha` in Keras 2 and `negative_slope` in Keras 3, 0.3 by default.
  l.negative_slope = l.class_name == "LeakyReLU" ? f.number("alpha", f.number("negative_slope", 0.3)) : f.number("negative_slope", 0);
  l.threshold = f.number("threshold", 0);
  if (f.has("max_value")) l.max_value = f.number("max_value", 0);
  l.axis = f.integers("axis", l.axis);
  l.center = f.flag("center", l.center);
  l.scale = f.flag("scale", l.scale);
  l.epsilon = f.number("epsilon", l.epsilon);
  return l;
}

json shape_json(const std::vector<int64_t>& shape) {
  json out = json::array();
  for (int64_t d : shape) out.push_back(d < 0 ? json(nullptr) : json(d));
  return out;
}

json layer_json(const models::KerasLayer& l) {
  json c = {{"name", l.name}};
  if (!l.batch_input_shape.empty()) c["batch_input_shape"] = shape_json(l.batch_input_shape);
  const std::string& cls = l.class_name;
  const size_t axes = models::keras_class_rank(cls) == 2 ? 2 : 3;  // values in kernel_size, pool_size, strides
  const auto per_axis = [axes](const std::vector<int64_t>& v, int64_t fallback) {
    if (v.empty()) return std::vector<int64_t>(axes, fallback);
    return v.size() == 1 ? std::vector<int64_t>(axes, v[0]) : v;
  };
  const auto is = [&cls](std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&cls](const char* n) { return cls == n; });
  };
  if (is({"Conv2D", "Conv3D"})) {
    c.update({{"filters", l.filters}, {"kernel_size", per_axis(l.kernel_size, 1)}, {"strides", per_axis(l.strides, 1)},
              {"padding", l.padding}, {"data_format", l.data_format}, {"dilation_rate", per_axis(l.dilation_rate, 1)},
              {"activation", l.activation}, {"use_bias", l.use_bias}});
  } else if (is({"MaxPooling2D", "MaxPooling3D", "MaxPool2D", "MaxPool3D", "AveragePooling2D", "AveragePooling3D",
                 "AvgPool2D", "AvgPool3D"})) {
    const auto pool = per_axis(l.pool_size, 2);
    c.update({{"pool_size", pool}, {"strides", l.strides.empty() ? pool : per_axis(l.strides, 1)}, {"padding", l.padding},
              {"data_format", l.data_format}});
  } else if (cls.rfind("Global", 0) == 0) {
    c["data_format"] = l.data_format;
    if (l.keepdims) c["keepdims"] = true;  // older Keras knows no keepdims
  } else if (cls == "Flatten") {
    c["data_format"] = l.data_format;
  } else if (cls == "Dropout") {
    c["rate"] = l.rate;
  } else if (cls == "Dense") {
    c.update({{"units", l.units}, {"activation", l.activation}, {"use_bias", l.use_bias}});
  } else if (cls == "Activation") {
    c["activation"] = l.activation;
  } else if (cls == "Softmax") {
    c["axis"] = l.axis.size() == 1 ? json(l.axis[0]) : json(l.axis);
  } else if (cls == "ReLU") {
    c.update({{"negative_slope", l.negative_slope}, {"threshold", l.threshold},
              {"max_value", l.max_value ? json(*l.max_value) : json(nullptr)}});
  } else if (cls == "LeakyReLU") {
    c["alpha"] = l.negative_slope;
  } else if (cls == "BatchNormalization") {
    c.update({{"axis", l.axis.size() == 1 ? json(l.axis[0]) : json(l.axis)}, {"epsilon", l.epsilon},
              {"center", l.center}, {"scale", l.scale}});
  }
  return {{"class_name", cls}, {"config", c}};
}

}  // namespace

models::KerasArchitecture parse_keras_config(const json& model_config, const std::string& source) {
  const auto error = [&](const std::string& what) { return std::invalid_argument("\"" + source + "\": model_config: " + what); };
  if (!model_config.is_object()) throw error("is " + json_excerpt(model_config) + ", expected a JSON object");
  const std::string cls = model_config.contains("class_name") && model_config.at("class_name").is_string()
                              ? model_config.at("class_name").get<std::string>() : "";
  if (cls != "Sequential") throw error("only Sequential models are supported, found class \"" + cls + "\"");
  if (!model_config.contains("config")) throw error("no \"config\"");
  const json& cfg = model_config.at("config");
  models::KerasArchitecture a;
  const json* layers = nullptr;
  if (cfg.is_array()) {
    layers = &cfg;  // Keras < 2.2.3 stores the bare layer list
  } else if (cfg.is_object() && cfg.contains("layers") && cfg.at("layers").is_array()) {
    layers = &cfg.at("layers");
    a.name = FieldReader(cfg, "\"" + source + "\": model_config").text("name", "");
  } else {
    throw error("\"config\" has neither a layer list nor \"layers\"");
  }
  for (size_t i = 0; i < layers->size(); ++i) a.layers.push_back(parse_layer((*layers)[i], i, source));
  return a;
}

json keras_config(const models::KerasArchitecture& architecture) {
  json layers = json::array();
  for (const models::KerasLayer& l : architecture.layers) layers.push_back(layer_json(l));
  return {{"class_name", "Sequential"}, {"config", {{"name", architecture.name}, {"layers", layers}}}};
}

models::KerasModel keras_model(const KerasFile& file) {
  models::KerasModel m;
  m.source = file.path;
  if (!file.model_config.is_null()) m.architecture = parse_keras_config(file.model_config, file.path);
  m.groups = file.groups;
  m.keras_version = file.keras_version;
  m.backend = file.backend;
  return m;
}

KerasFile keras_file(const models::KerasModel& model, const std::string& path) {
  KerasFile f;
  f.path = path;
  if (model.architecture) f.model_config = keras_config(*model.architecture);
  f.groups = model.groups;
  f.keras_version = model.keras_version;
  f.backend = model.backend;
  return f;
}

models::KerasModel read_keras_model(const std::string& path) { return keras_model(read_keras_h5(path)); }

void write_keras_model(const std::string& path, const models::KerasModel& model, StringStyle strings, bool float64) {
  write_keras_h5(path, keras_file(model, path), strings, float64);
}

}  // namespace mlens::io
