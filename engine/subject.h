// One subject through one model: volume in the model's grid -> prediction, or prediction + relevance
// map in the same grid and with the same affine as the input.
#pragma once

#include <ATen/ATen.h>

#include "engine/runtime.h"
#include "io/volume.h"
#include "lrp/explain.h"
#include "models/sequential.h"

namespace mlens::engine {

// The volume as a [1, 1, D, H, W] tensor on the runtime's device and dtype. Throws when its shape is
// not the model's input shape (naming both) or when it holds NaN/Inf.
at::Tensor to_input(const io::Volume& volume, const models::Sequential& net, const Runtime& runtime,
                    const std::string& source);

// A [1, 1, D, H, W] (or [D, H, W]) tensor as a float32 volume with `like`'s geometry.
io::Volume to_volume(const at::Tensor& map, const io::Volume& like);

double predict(const models::Sequential& net, const io::Volume& volume, const Runtime& runtime,
               const std::string& source);

lrp::Explanation explain(const models::Sequential& net, const io::Volume& volume, const lrp::Composite& composite,
                         const Runtime& runtime, const std::string& source);

}  // namespace mlens::engine
