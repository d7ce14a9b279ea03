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
  if (net.outputs_image() && neuron.mode != Neuron::Mode::All)
    throw std::invalid_argument("model \"" + net.name + "\" outputs an image " + models::shape_text(net.final_shape()) +
                                ", not a vector of outputs: explain it with --neuron all");
  const int64_t outputs = net.output_count();
  if (neuron.mode == Neuron::Mode::Index && neuron.index >= outputs)
    throw std::invalid_argument("neuron " + std::to_string(neuron.index) + ": model \"" + net.name + "\" has " +
                                std::to_string(outputs) + (outputs == 1 ? " output (0)" : " outputs (0 to " +
                                std::to_string(outputs - 1) + ")"));
}

at::Tensor Start::chosen(const at::Tensor& y) const { return y.masked_fill(mask.view(y.sizes()).eq(0), 0); }

Start start_from(const at::Tensor& y, const Neuron& neuron) {
  Start s;
  s.outputs = y.reshape({y.size(0), -1}).clone();
  const auto index = s.outputs.options().dtype(at::kLong);
  switch (neuron.mode) {
    case Neuron::Mode::All: s.neuron = at::full({s.outputs.size(0)}, -1, index); break;
    case Neuron::Mode::Index: s.neuron = at::full({s.outputs.size(0)}, neuron.index, index); break;
    case Neuron::Mode::Max: s.neuron = s.outputs.argmax(1); break;  // the first of equal maxima
  }
  s.mask = neuron.mode == Neuron::Mode::All ? at::ones_like(s.outputs)
                                            : at::zeros_like(s.outputs).scatter_(1, s.neuron.unsqueeze(1), 1.0);
  s.prediction = s.chosen(s.outputs).sum(1);
  return s;
}

}  // namespace mlens::lrp
