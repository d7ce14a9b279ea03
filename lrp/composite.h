// A composite: what explains each layer. It is data: a gradient method (lrp/gradient.h), or LRP's table
// from layer role to rule:
//
//   preset-a  conv = alpha-beta(α=1, β=0), dense = epsilon(ε=0.1)   iNNvestigate lrp.sequential_preset_a
//   preset-b  conv = alpha-beta(α=2, β=1), dense = epsilon(ε=0.1)   iNNvestigate lrp.sequential_preset_b
//   epsilon   conv = dense = epsilon(ε=1e-7)                          iNNvestigate lrp.epsilon
//   zplus     conv = dense = z+                                       iNNvestigate lrp.z_plus
//   preset-a-flat, preset-b-flat   the same with flat on the input layer   lrp.sequential_preset_a_flat, ...
//   epsilon-plus, epsilon-plus-flat, epsilon-alpha2-beta1, epsilon-gamma-box   Zennit's composites
//             (EpsilonPlus, ...: dense = epsilon(1e-6), conv = alpha-beta with the bias split, or gamma)
//
// or one rule everywhere ("w2", "epsilon(0.25)"), or a user table "conv=alpha-beta,dense=epsilon(0.1),
// input=zbox(0,1),conv3d_1=flat". iNNvestigate's analyzer names are accepted as given (lrp.z_IB,
// lrp.sequential_preset_a, deep_taylor.bounded, gradient, integrated_gradients, ...), so that a line of
// its Python can be pasted. The role `input` is the first linear layer (the one that sees the image);
// without an `input` entry it gets its conv/dense rule.
// Pooling, flatten, dropout and ReLU layers have fixed rules (lrp/explain.h); max-pooling's tie rule
// is part of the composite, and so is the output neuron the explanation starts from (lrp/neuron.h).
#pragma once

#include <map>
#include <optional>
#include <string>


#include "lrp/neuron.h"
#include "lrp/rule.h"

namespace mlens::lrp {

enum class Role { Input, Conv, Dense };
const char* to_string(Role role);

// Max-pooling ties (DESIGN.md §4): `first` gives a window's relevance to its first maximum in
// (D, H, W) scan order (PyTorch); `tf` gives it in full to every input within 1e-5 of the maximum
// (TensorFlow's CPU MaxPool3DGrad, which iNNvestigate's gradient uses).
enum class Ties { First, Tf };
Ties parse_ties(const std::string& name);
const char* to_string(Ties ties);

// The gradient family (lrp/gradient.h), or LRP with the composite's rules, or iNNvestigate's DeepTaylor:
// LRP with z+ on every linear layer (z-box on the input layer for deep_taylor.bounded), started from
// max(0, y), average pooling and batch normalisation passed as iNNvestigate's DeepTaylor passes them
// (the gradient's uniform split; identity).
enum class Method { Lrp, DeepTaylor, Gradient, InputTimesGradient, IntegratedGradients, SmoothGrad, Deconvnet, GuidedBackprop };
const char* to_string(Method method);  // iNNvestigate's analyzer name ("lrp" for LRP)

// iNNvestigate's defaults (IntegratedGradients(steps=64), reference input 0; SmoothGrad(augment_by_n=64),
// Gaussian noise of standard deviation 1, absolute, as 1.x's noise_scale=1 and 2.x's fixed 1.0).
struct GradientOptions {
  int steps = 64;            // integrated gradients: points x₀ + (x − x₀)·k/steps, k = 0..steps−1
  double reference = 0;      // integrated gradients: the reference input x₀, every voxel
  int samples = 64;          // smoothgrad: noisy copies averaged
  double noise = 1;          // smoothgrad: the noise's standard deviation
  uint64_t seed = 0;         // smoothgrad: the noise's seed (copy k's noise depends on seed and k only)
  int points_per_pass = 8;   // integrated gradients, smoothgrad: points sent through the network at once
};

struct Composite {
  std::string name;
  Method method = Method::Lrp;
  std::map<Role, Rule> rules;                     // LRP: must hold Conv and Dense; Input optional
  std::map<std::string, Rule> layer_rules;        // LRP: by Keras layer name, before the layer's role
  GradientOptions gradient;                       // the gradient family's parameters
  Ties ties = Ties::First;
  Neuron neuron;                                  // where the explanation starts

  // The rule of a linear layer: its own entry by name, else its role's.
  const Rule& rule_for(Role role, const std::string& layer_name = "") const;
};

// A preset name, a gradient method, an iNNvestigate analyzer name, one rule for every linear layer
// ("epsilon(0.25)", "flat") or a table "key=rule[,key=rule...]" whose keys are roles (input, conv,
// dense) or layer names ("conv3d_1=flat"; "layer:dense=..." for a layer named like a role), e.g.
// "conv=epsilon(0.25),dense=epsilon(0.1),input=zbox(0,1)". Rules as lrp::parse_rule takes them.
Composite parse_composite(const std::string& spec);

// Parameters given on the command line; each applies to every rule that has that parameter.
struct RuleOverrides {
  std::optional<double> epsilon, alpha, beta, low, high, gamma;
  std::optional<BiasRule> bias;
  std::optional<Ties> ties;
};
Composite with_overrides(Composite composite, const RuleOverrides& overrides);


}  // namespace mlens::lrp
