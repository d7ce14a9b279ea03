// One subject through a model or ensemble: volume in the model's grid -> prediction, or prediction +
// relevance map in the same grid and with the same affine as the input.
#pragma once

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "engine/runtime.h"
#include "engine/transfers.h"
#include "io/npy.h"
#include "io/volume.h"
#include "lrp/ensemble.h"
#include "models/ensemble.h"

namespace mlens::engine {

// {"name", "rules": {role: rule.describe()}, "max_pool_ties"} (+ "method" and its parameters for a gradient
// method): how sidecars, configuration records and reports name what explained.
nlohmann::json to_json(const lrp::Composite& composite);

// One sample's outputs [K] as predictions record them: {"outputs", "softmax_removed"} and, when the model
// ends in a softmax that the network leaves out (its outputs are the logits), that softmax's "probabilities".
nlohmann::json outputs_json(const at::Tensor& outputs, bool softmax_removed);

// The volume as a [1, 1, D, H, W] tensor on the runtime's device and dtype. Throws when its shape is
// not the model's input shape (naming both) or when it holds NaN/Inf.
at::Tensor to_input(const io::Volume& volume, const models::Int3& input_shape, const Runtime& runtime,
                    const std::string& source);
// The same checks, and the volume as a float32 [1, 1, D, H, W] tensor in host memory that a copy to the
// device starts from directly (Transfers::host_tensor); the device converts it to the runtime's dtype.
at::Tensor host_input(const io::Volume& volume, const models::Int3& input_shape, const Transfers& transfers,
                      const std::string& source);

// A .npy array as `net`'s input [1, C, D, H, W] on the runtime's device and dtype. The array holds one
// sample as Keras takes it (net.keras_input_shape(): channels-last, (D, H, W, C) or (H, W, C)), with or
// without a batch axis of 1. Throws naming `source`, the shape found and the one expected, or a value
// that is NaN or infinite.
at::Tensor array_input(const io::NpyArray& array, const models::Sequential& net, const Runtime& runtime,
                       const std::string& source);

// Volumes of one grid (a 4D NIfTI's, one per channel) as the sample Keras takes: (D, H, W, C), float32.
io::NpyArray channels_last(const std::vector<io::Volume>& channels);

// A map [1, C, D, H, W] as the array the input was: `shape` (channels-last, as array_input read it),
// float64 when `float64`.
io::NpyArray to_array(const at::Tensor& map, const std::vector<int64_t>& shape, bool float64);

// A single network as an ensemble of one (coefficient 1, intercept 0): same prediction, same map.
models::Ensemble as_ensemble(models::Sequential net);

// A [1, 1, D, H, W] (or [D, H, W]) tensor as a float32 volume with `like`'s geometry.
io::Volume to_volume(const at::Tensor& map, const io::Volume& like);
// The same in float64 (what a float64 run writes).
io::Volume64 to_volume64(const at::Tensor& map, const io::Volume& like);
// A map [1, C, D, H, W] as C volumes with `like`'s grid (a 4D NIfTI's channels), float32 or float64.
template <typename T>
std::vector<io::BasicVolume<T>> to_volumes(const at::Tensor& map, const io::Volume& like);

double predict(const models::Ensemble& model, const io::Volume& volume, const Runtime& runtime,
               const std::string& source);

lrp::EnsembleExplanation explain(const models::Ensemble& model, const io::Volume& volume, const lrp::Composite& composite,
                                 const Runtime& runtime, const std::string& source, bool keep_member_maps = false);

}  // namespace mlens::engine
