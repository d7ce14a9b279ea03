// From files to networks and ensembles: the one place that combines io/ (Keras files, manifests) with
// models/ (import, ensembles).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "engine/runtime.h"
#include "io/manifest.h"
#include "models/ensemble.h"
#include "models/sequential.h"

namespace mlens::engine {

// A weights-only file without an architecture: the caller's options are incomplete.
struct MissingArchitecture : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A full Keras model, or a weights-only file with `arch` ("mrinet") and `input_shape`. Errors name the
// file and say which option is missing. `open_axes` fills the axes a full model leaves open (None) when
// `input_shape` is not given (models::import_keras). The network is on the runtime's device and dtype.
models::Sequential load_network(const std::string& path, const std::string& arch,
                                const std::optional<models::Int3>& input_shape, const Runtime& runtime,
                                const std::optional<models::Int3>& open_axes = std::nullopt);

// Every member of a manifest (recursively), checked to share one input geometry, which must also be
// the manifest's `input.shape` when that is given.
models::Ensemble load_ensemble(const io::EnsembleSpec& spec, const Runtime& runtime);

}  // namespace mlens::engine
