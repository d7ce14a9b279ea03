// A synthetic FLAIR-like test volume: an ellipsoidal "brain" with noisy tissue, darker ventricles and a
// few bright periventricular "lesions" on a zero background. Deterministic for a seed. For trying the
// pipeline, tests and benchmarks (the realistic cohort simulator is issue 5); not an anatomical model.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "io/volume.h"

namespace mlens::engine {

io::Volume phantom(const std::array<int64_t, 3>& shape, uint64_t seed);

// `count` phantoms of seeds first_seed, first_seed + 1, ... as a float32 [count, 1, D, H, W] CPU tensor.
at::Tensor phantom_batch(const std::array<int64_t, 3>& shape, uint64_t first_seed, int64_t count);

}  // namespace mlens::engine
