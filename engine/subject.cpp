#include "engine/subject.h"

#include <cmath>
#include <stdexcept>

namespace mlens::engine {

nlohmann::json to_json(const lrp::Composite& c) {
  nlohmann::json rules = nlohmann::json::object();
  for (const auto& [role, rule] : c.rules) rules[lrp::to_string(role)] = rule.describe();
  nlohmann::json j{{"name", c.name}, {"rules", rules}, {"max_pool_ties", lrp::to_string(c.ties)}};
  if (!c.layer_rules.empty()) {
    nlohmann::json layers = nlohmann::json::object();
    for (const auto& [layer, rule] : c.layer_rules) layers[layer] = rule.describe();
    j["layer_rules"] = layers;
  }
  // LRP's record is as it was before the gradient methods, so that earlier cohort directories still resume.
  if (c.method != lrp::Method::Lrp) j["method"] = lrp::to_string(c.method);
  const lrp::GradientOptions& g = c.gradient;
  if (c.method == lrp::Method::IntegratedGradients) j["integrated_gradients"] = {{"steps", g.steps}, {"reference", g.reference}};
  if (c.method == lrp::Method::SmoothGrad) j["smoothgrad"] = {{"samples", g.samples}, {"noise", g.noise}, {"seed", g.seed}};
  return j;
}

at::Tensor to_input(const io::Volume& v, const models::Int3& input_shape, const Runtime& runtime,
                    const std::string& source) {
  if (v.shape != input_shape)
    throw std::invalid_argument("\"" + source + "\": volume of size " + std::to_string(v.shape[0]) + "x" +
                                std::to_string(v.shape[1]) + "x" + std::to_string(v.shape[2]) +
                                " is not in the model's input grid " + std::to_string(input_shape[0]) + "x" +
                                std::to_string(input_shape[1]) + "x" + std::to_string(input_shape[2]) +
                                " (preprocess it to the model's grid first)");
  for (size_t i = 0; i < v.voxels.size(); ++i)
    if (!std::isfinite(v.voxels[i]))
      throw std::invalid_argument("\"" + source + "\": voxel " + std::to_string(i) + " is " +
                                  (std::isnan(v.voxels[i]) ? "NaN" : "Inf"));
  // from_blob does not copy: clone before the volume can go away, then move to the device.
  const at::Tensor cpu = at::from_blob(const_cast<float*>(v.voxels.data()), {1, 1, v.shape[0], v.shape[1], v.shape[2]},
                                       at::TensorOptions().dtype(at::kFloat));
  return cpu.to(runtime.device, runtime.dtype, /*non_blocking=*/false, /*copy=*/true);
}

namespace {

template <typename T>
io::BasicVolume<T> map_volume(const at::Tensor& map, const io::Volume& like) {
  const at::Tensor m = map.detach().to(at::kCPU, c10::CppTypeToScalarType<T>::value).contiguous().reshape({-1});
  if (m.numel() != like.size()) throw std::invalid_argument("to_volume: map and volume differ in size");
  io::BasicVolume<T> out;
  out.shape = like.shape;
  out.geometry = like.geometry;
  out.voxels.assign(m.data_ptr<T>(), m.data_ptr<T>() + m.numel());
  return out;
}

}  // namespace

io::Volume to_volume(const at::Tensor& map, const io::Volume& like) { return map_volume<float>(map, like); }
io::Volume64 to_volume64(const at::Tensor& map, const io::Volume& like) { return map_volume<double>(map, like); }

models::Ensemble as_ensemble(models::Sequential net) {
  models::Ensemble e;
  e.name = net.name;
  if (net.input_channels != 1)
    throw std::invalid_argument("model \"" + net.name + "\" takes " + std::to_string(net.input_channels) +
                                " channels per voxel; a NIfTI volume gives one");
  e.members.push_back({net.name, 1.0, std::make_shared<const models::Sequential>(std::move(net)), nullptr});
  return e;
}

double predict(const models::Ensemble& model, const io::Volume& volume, const Runtime& runtime,
               const std::string& source) {
  return model.predict(to_input(volume, model.input_shape(), runtime, source))[0].item<double>();
}

lrp::EnsembleExplanation explain(const models::Ensemble& model, const io::Volume& volume, const lrp::Composite& composite,
                                 const Runtime& runtime, const std::string& source, bool keep_member_maps) {
  return lrp::explain(model, to_input(volume, model.input_shape(), runtime, source), composite, keep_member_maps);
}

}  // namespace mlens::engine
