#include "engine/model_loader.h"

#include <filesystem>
#include <stdexcept>

#include "io/keras_config.h"
#include "models/keras_import.h"
#include "models/mrinet.h"

namespace mlens::engine {

models::Sequential load_network(const std::string& path, const std::string& arch,
                                const std::optional<models::Int3>& input_shape, const Runtime& runtime,
                                const std::optional<models::Int3>& open_axes) {
  const models::KerasModel file = io::keras_model(io::read_keras_h5(path));
  models::Sequential net;
  if (file.architecture) {
    if (!arch.empty())
      throw std::invalid_argument("\"" + path + "\" holds a full model (architecture included); an architecture name "
                                  "is only for weights-only files");
    net = models::load_keras_model(file, input_shape, open_axes);
  } else {
    if (arch.empty())
      throw MissingArchitecture("\"" + path + "\" holds weights only; name the architecture: --arch mrinet "
                                  "--input-shape D,H,W (or \"arch\" in a manifest)");
    if (arch != "mrinet") throw std::invalid_argument("\"" + path + "\": unknown architecture \"" + arch + "\" (known: mrinet)");
    if (!input_shape) throw std::invalid_argument("\"" + path + "\": the mrinet architecture needs the input shape D,H,W");
    models::FileWeights weights(file);
    net = models::import_keras(models::mrinet_architecture(*input_shape), weights, input_shape, path);
    net.keras_version = file.keras_version;
  }
  if (net.name.empty()) net.name = path;
  return net.to(runtime.device, runtime.dtype);
}

models::Ensemble load_ensemble(const io::EnsembleSpec& spec, const Runtime& runtime) {
  models::Ensemble e;
  e.name = spec.name.empty() ? spec.source : spec.name;
  e.intercept = spec.intercept;
  const bool shape_given = spec.input_shape[0] > 0;
  const std::optional<models::Int3> shape = shape_given ? std::optional<models::Int3>(spec.input_shape) : std::nullopt;
  for (const auto& m : spec.members) {
    models::EnsembleMember member;
    member.coefficient = m.coefficient;
    if (m.ensemble) {
      auto sub = std::make_shared<models::Ensemble>(load_ensemble(*m.ensemble, runtime));
      member.name = sub->name;
      member.ensemble = sub;
    } else {
      member.name = std::filesystem::path(m.model).filename().string();
      member.network = std::make_shared<models::Sequential>(load_network(m.model, m.arch, shape, runtime));
      if (member.network->input_channels != 1)  // the manifest's preprocessing prepares one volume per subject
        throw std::invalid_argument("\"" + spec.source + "\": member \"" + m.model + "\" takes " +
                                    std::to_string(member.network->input_channels) + " channels; an ensemble's members take one "
                                    "(explain a multi-channel model alone, with --model)");
    }
    e.members.push_back(std::move(member));
  }
  models::check_same_input(e);
  if (shape_given && e.input_shape() != spec.input_shape)
    throw std::invalid_argument("\"" + spec.source + "\": input.shape says " + std::to_string(spec.input_shape[0]) + "x" +
                                std::to_string(spec.input_shape[1]) + "x" + std::to_string(spec.input_shape[2]) +
                                " but the members expect " + std::to_string(e.input_shape()[0]) + "x" +
                                std::to_string(e.input_shape()[1]) + "x" + std::to_string(e.input_shape()[2]));
  return e;
}

}  // namespace mlens::engine
