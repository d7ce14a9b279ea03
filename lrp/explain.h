// The LRP backward pass: explain(net, x, composite) runs the forward pass keeping only what the
// relevance rules will need, starts from the output (the chosen neuron's relevance is its value,
// lrp/neuron.h) and walks the layers backwards, freeing each layer's saved tensors as soon as its
// relevance is computed. No autograd graph is built; every step is a LibTorch op, so the same code runs
// on CPU and CUDA.
//
// Layer kind → relevance:   Conv3d, Dense → the composite's rule (lrp/linear_rules.h)
//                           MaxPool3d, AvgPool3d → lrp/pooling_rules.h
//                           BatchNorm → lrp/batch_norm_rule.h
//                           ReLU, Dropout → unchanged; Flatten → reshaped
//                           LeakyReLU → refused (no LRP rule is defined for it here)
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "lrp/composite.h"
#include "models/sequential.h"

namespace mlens::lrp {

// The conservation account of one layer for one sample. `absorbed` = relevance_out − relevance_in: what the
// bias, ε, β-weighted inhibition or zero denominators took or added. Times are the whole batch's.
struct LayerAccount {
  std::string layer;  // name
  std::string kind;   // models::to_string(LayerKind)
  std::string rule;   // e.g. "alpha-beta(alpha=1, beta=0, bias=innvestigate)", "winner-take-all(first)"
  std::string primitive;  // what computed it: "onednn", "cudnn", "aten", "matmul", "scatter_add", ...
  double relevance_out = 0;
  double relevance_in = 0;
  double absorbed = 0;
  int64_t small_denominators = 0;
  double forward_seconds = 0;
  double backward_seconds = 0;
};

using Account = std::vector<LayerAccount>;  // in layer order

struct Explanation {
  at::Tensor prediction;         // [N]: the explained neuron's value (the sum of all outputs for neuron `all`)
  at::Tensor outputs;            // [N, K]: every output of the network
  at::Tensor neuron;             // [N] int64: the explained output per sample, −1 for `all` (lrp/neuron.h)
  at::Tensor relevance;          // [N, C, D, H, W], same dtype and device as the input
  std::vector<Account> accounts;  // [N]: each sample's own (a batch explains N samples independently)
};

// Throws std::invalid_argument when the network cannot be explained: a LeakyReLU layer or no linear layer.
void check_explainable(const models::Sequential& net);

// Throws std::invalid_argument when the composite's table names a layer the network does not have, or
// one that is not a Conv or Dense layer (listing the network's).
void check_layer_rules(const models::Sequential& net, const Composite& composite);

// `x` [N, C, D, H, W] on the network's device and dtype.
Explanation explain(const models::Sequential& net, const at::Tensor& x, const Composite& composite);

// What one sample adds to the peak memory of explain() on the network with `options` (device, dtype), in bytes: an upper estimate
// from the layers' shapes (the tensors the rules keep from the forward pass, the relevance in flight, each
// rule's temporaries, and a primitive's reordered copy of a layer's input and output). A batch of N needs
// N times it; the cohort pipeline refuses a --batch that does not fit (tests/test_batched_lrp.cpp holds it
// against the measured peak).
int64_t explanation_bytes(const models::Sequential& net, const Composite& composite, const at::TensorOptions& options);

// The role a layer plays for the composite (the first linear layer is the input layer).
Role role_of(const models::Sequential& net, size_t layer_index);

}  // namespace mlens::lrp
