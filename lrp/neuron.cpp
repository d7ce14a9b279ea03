#include "lrp/neuron.h"

#include <stdexcept>

#include "models/sequential.h"

namespace mlens::lrp {

std::string Neuron::describe() const {
  switch (mode) {
    case Mode::Max: return "max";
    case Mode::All: return "all";
    case Mode::Index: return std::to_string(index);
  }
  return "?";
}

Neuron parse_neuron(const std::string& text) {
  if (text == "max" || text == "max_activation") return {};
  if (text == "all") return {Neuron::Mode::All, 0};
  const bool digits = !text.empty() && text.size() <= 12 && text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits)
    throw std::invalid_argument("neuron \"" + text + "\": expected max, all or an output index (0, 1, ...)");
  return {Neuron::Mode::Index, std::stoll(text)};
}

void check_neuron(const models::Sequential& net, const Neuron& neuron) {
  const int64_t outputs = net.output_count();
  if (neuron.mode == Neuron::Mode::Index && neuron.index >= outputs)
    throw std::invalid_argument("neuron " + std::to_string(neuron.index) + ": model \"" + net.name + "\" has " +
                                std::to_string(outputs) + (outputs == 1 ? " output (0)" : " outputs (0 to " +
                                std::to_string(outputs - 1) + ")"));
}

at::Tensor chosen_neurons(const at::Tensor& outputs, const Neuron& neuron) {
  const auto index = outputs.options().dtype(at::kLong);
  switch (neuron.mode) {
    case Neuron::Mode::All: return at::full({outputs.size(0)}, -1, index);
    case Neuron::Mode::Index: return at::full({outputs.size(0)}, neuron.index, index);
    case Neuron::Mode::Max: return outputs.argmax(1);  // the first of equal maxima
  }
  throw std::logic_error("chosen_neurons: unknown mode");
}

at::Tensor neuron_mask(const at::Tensor& outputs, const Neuron& neuron) {
  if (neuron.mode == Neuron::Mode::All) return at::ones_like(outputs);
  return at::zeros_like(outputs).scatter_(1, chosen_neurons(outputs, neuron).unsqueeze(1), 1.0);
}

}  // namespace mlens::lrp
