#include "engine/subject.h"

#include <algorithm>
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
  // LRP's record is as it was before the gradient methods and neurons, so that earlier cohort directories still resume.
  if (c.method != lrp::Method::Lrp) j["method"] = lrp::to_string(c.method);
  if (c.neuron.mode != lrp::Neuron::Mode::Max) j["neuron"] = c.neuron.describe();
  const lrp::GradientOptions& g = c.gradient;
  if (c.method == lrp::Method::IntegratedGradients) j["integrated_gradients"] = {{"steps", g.steps}, {"reference", g.reference}};
  if (c.method == lrp::Method::SmoothGrad) j["smoothgrad"] = {{"samples", g.samples}, {"noise", g.noise}, {"seed", g.seed}};
  return j;
}

nlohmann::json outputs_json(const at::Tensor& outputs, bool softmax_removed) {
  const at::Tensor y = outputs.to(at::kCPU, at::kDouble).contiguous();
  const auto values = [](const at::Tensor& t) { return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel()); };
  nlohmann::json j{{"outputs", values(y)}, {"softmax_removed", softmax_removed}};
  if (softmax_removed) j["probabilities"] = values(at::softmax(y, 0));
  return j;
}

namespace {

void check_input(const io::Volume& v, const models::Int3& input_shape, const std::string& source) {
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
}

}  // namespace

at::Tensor to_input(const io::Volume& v, const models::Int3& input_shape, const Runtime& runtime,
                    const std::string& source) {
  check_input(v, input_shape, source);
  // from_blob does not copy: clone before the volume can go away, then move to the device.
  const at::Tensor cpu = at::from_blob(const_cast<float*>(v.voxels.data()), {1, 1, v.shape[0], v.shape[1], v.shape[2]},
                                       at::TensorOptions().dtype(at::kFloat));
  return cpu.to(runtime.device, runtime.dtype, /*non_blocking=*/false, /*copy=*/true);
}

at::Tensor host_input(const io::Volume& v, const models::Int3& input_shape, const Transfers& transfers,
                      const std::string& source) {
  check_input(v, input_shape, source);
  at::Tensor host = transfers.host_tensor({1, 1, v.shape[0], v.shape[1], v.shape[2]}, at::kFloat);
  std::copy(v.voxels.begin(), v.voxels.end(), host.data_ptr<float>());
  return host;
}

at::Tensor array_input(const io::NpyArray& a, const models::Sequential& net, const Runtime& runtime,
                       const std::string& source) {
  const std::vector<int64_t> want = net.keras_input_shape();
  std::vector<int64_t> got = a.shape;
  if (got.size() == want.size() + 1 && got[0] == 1) got.erase(got.begin());  // a batch of one
  if (got != want)
    throw std::invalid_argument("\"" + source + "\": array of shape " + models::shape_text(a.shape) +
                                " does not fit model \"" + net.name + "\", which takes " + models::shape_text(want) +
                                " (channels last, as Keras; a leading batch axis of 1 may be given)");
  for (size_t i = 0; i < a.values.size(); ++i)
    if (!std::isfinite(a.values[i]))
      throw std::invalid_argument("\"" + source + "\": value " + std::to_string(i) + " is " +
                                  (std::isnan(a.values[i]) ? "NaN" : "infinite"));
  // (D, H, W, C) in C order, a 2D network's (H, W, C) with D = 1, then channels first.
  const models::Int3& s = net.input_shape;
  const at::Tensor last = at::from_blob(const_cast<double*>(a.values.data()), {1, s[0], s[1], s[2], net.input_channels},
                                        at::TensorOptions().dtype(at::kDouble));
  // A contiguous copy (the array goes away), then to the device.
  return last.permute({0, 4, 1, 2, 3}).clone(at::MemoryFormat::Contiguous).to(runtime.device, runtime.dtype);
}

io::NpyArray channels_last(const std::vector<io::Volume>& channels) {
  const io::Volume& first = channels.at(0);
  const std::size_t n = first.voxels.size(), c = channels.size();
  io::NpyArray a;
  a.shape = {first.shape[0], first.shape[1], first.shape[2], static_cast<int64_t>(c)};
  a.values.resize(n * c);
  for (std::size_t k = 0; k < c; ++k)
    for (std::size_t i = 0; i < n; ++i) a.values[i * c + k] = channels[k].voxels[i];
  return a;
}

io::NpyArray to_array(const at::Tensor& map, const std::vector<int64_t>& shape, bool float64) {
  const at::Tensor last = map.detach().to(at::kCPU, at::kDouble).permute({0, 2, 3, 4, 1}).contiguous().reshape({-1});
  io::NpyArray a;
  a.shape = shape;
  a.float64 = float64;
  a.values.assign(last.data_ptr<double>(), last.data_ptr<double>() + last.numel());
  if (static_cast<int64_t>(a.values.size()) != c10::multiply_integers(shape))
    throw std::logic_error("to_array: map and shape differ in size");
  return a;
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

template <typename T>
std::vector<io::BasicVolume<T>> to_volumes(const at::Tensor& map, const io::Volume& like) {
  std::vector<io::BasicVolume<T>> out;
  for (int64_t c = 0; c < map.size(1); ++c) out.push_back(map_volume<T>(map[0][c], like));
  return out;
}
template std::vector<io::Volume> to_volumes(const at::Tensor&, const io::Volume&);
template std::vector<io::Volume64> to_volumes(const at::Tensor&, const io::Volume&);

models::Ensemble as_ensemble(models::Sequential net) {
  models::Ensemble e;
  e.name = net.name;
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
