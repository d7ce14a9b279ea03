#include "models/sequential.h"

#include <c10/core/InferenceMode.h>

#include <stdexcept>

namespace mlens::models {

void check_input(const Sequential& net, const at::Tensor& x) {
  const bool ok = x.dim() == 5 && x.size(1) == net.input_channels && x.size(2) == net.input_shape[0] &&
                  x.size(3) == net.input_shape[1] && x.size(4) == net.input_shape[2];
  if (ok) return;
  std::string got = "(";
  for (int64_t i = 0; i < x.dim(); ++i) got += (i ? "," : "") + std::to_string(x.size(i));
  throw std::invalid_argument("input of shape " + got + ") does not fit model \"" + net.name + "\", which expects (N," +
                              std::to_string(net.input_channels) + "," + std::to_string(net.input_shape[0]) + "," +
                              std::to_string(net.input_shape[1]) + "," + std::to_string(net.input_shape[2]) + ")");
}

at::Tensor Sequential::forward(const at::Tensor& x) const {
  check_input(*this, x);
  c10::InferenceMode no_graph;
  at::Tensor h = x;
  for (const Layer& l : layers) h = models::forward(l, h);
  return h;
}

Sequential Sequential::to(const at::Device& device, at::ScalarType dtype) const {
  Sequential copy = *this;
  for (Layer& l : copy.layers)
    for (at::Tensor* t : {&l.weight, &l.bias, &l.mean, &l.beta})
      if (t->defined()) *t = t->to(device, dtype).contiguous();
  return copy;
}

std::vector<std::vector<int64_t>> Sequential::layer_shapes() const {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> s{1, input_channels, input_shape[0], input_shape[1], input_shape[2]};
  for (const Layer& l : layers) {
    s = output_shape(l, s);
    shapes.push_back(s);
  }
  return shapes;
}

std::vector<int64_t> Sequential::keras_input_shape() const {
  std::vector<int64_t> s(input_shape.begin() + (spatial_rank == 2 ? 1 : 0), input_shape.end());
  s.push_back(input_channels);
  return s;
}

std::vector<int64_t> Sequential::final_shape() const {
  if (layers.empty()) return {1, input_channels, input_shape[0], input_shape[1], input_shape[2]};
  return layer_shapes().back();
}

int64_t Sequential::output_count() const {
  const std::vector<int64_t> last = final_shape();
  return c10::multiply_integers(last.begin() + 1, last.end());
}

bool Sequential::outputs_image() const {
  const std::vector<int64_t> last = final_shape();
  return last.size() == 5 && last[2] * last[3] * last[4] > 1;
}

int64_t Sequential::parameter_count() const {
  int64_t n = 0;
  for (const Layer& l : layers) n += models::parameter_count(l);
  return n;
}

}  // namespace mlens::models
