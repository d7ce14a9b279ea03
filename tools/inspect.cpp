// mlens inspect: what is inside a model file.
#include <cstdio>
#include <iostream>

#include "tools/options.h"

namespace mlens::tools {
namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t;
  for (size_t i = 1; i < s.size(); ++i) t += (i > 1 ? "x" : "") + std::to_string(s[i]);
  return t;
}

// A convolution's or pooling's window, stride and padding on the network's own axes (H, W in 2D), e.g.
// "3x3x3/2 same"; "" for other layers.
std::string window_text(const models::Layer& l, int rank) {
  const bool conv = l.kind == models::LayerKind::Conv3d;
  if (!conv && l.kind != models::LayerKind::MaxPool3d && l.kind != models::LayerKind::AvgPool3d) return "";
  const models::Int3 kernel = conv ? models::Int3{l.weight.size(2), l.weight.size(3), l.weight.size(4)} : l.kernel;
  std::string t, step;
  for (int a = 3 - rank; a < 3; ++a) {
    t += (a > 3 - rank ? "x" : "") + std::to_string(kernel[a]);
    step += (a > 3 - rank ? "x" : "") + std::to_string(l.stride[a]);
  }
  if (l.stride != models::Int3{1, 1, 1}) t += "/" + step;
  return t + (l.padding == models::Padding::Same ? " same" : " valid");
}

int run(const po::variables_map& vm) {
  const engine::Runtime runtime = runtime_from(vm);
  const models::Sequential net = load_network(vm, runtime);
  const auto shapes = net.layer_shapes();
  if (vm.count("json")) {
    nlohmann::json layers = nlohmann::json::array();
    for (size_t i = 0; i < net.layers.size(); ++i) {
      nlohmann::json layer{{"name", net.layers[i].name}, {"kind", models::to_string(net.layers[i].kind)},
                           {"output_shape", shapes[i]}, {"parameters", models::parameter_count(net.layers[i])}};
      if (const std::string w = window_text(net.layers[i], net.spatial_rank); !w.empty()) layer["window"] = w;
      layers.push_back(layer);
    }
    std::cout << nlohmann::json{{"model", vm["model"].as<std::string>()},
                                {"name", net.name},
                                {"keras_version", net.keras_version},
                                {"spatial_rank", net.spatial_rank},
                                {"keras_input_shape", net.keras_input_shape()},
                                {"input_shape", net.input_shape},
                                {"input_channels", net.input_channels},
                                {"outputs", net.output_count()},
                                {"softmax_removed", net.softmax_removed},
                                {"parameters", net.parameter_count()},
                                {"layers", layers}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << "model:         " << vm["model"].as<std::string>() << "\n"
            << "name:          " << net.name << "\n"
            << "keras version: " << (net.keras_version.empty() ? "unknown" : net.keras_version) << "\n"
            << "input:         " << models::shape_text(net.keras_input_shape()) << " as Keras takes it ("
            << (net.spatial_rank == 2 ? "2D: H,W" : "3D: D,H,W") << ",channels)\n"
            << "outputs:       " << net.output_count()
            << (net.softmax_removed ? " (the final softmax is left out: explanations start from the logits)" : "") << "\n\n";
  std::printf("%3s  %-28s %-10s %-16s %-18s %10s\n", "#", "layer", "kind", "window/stride", "output (C,D,H,W)", "parameters");
  for (size_t i = 0; i < net.layers.size(); ++i)
    std::printf("%3zu  %-28s %-10s %-16s %-18s %10lld\n", i, net.layers[i].name.c_str(), models::to_string(net.layers[i].kind),
                window_text(net.layers[i], net.spatial_rank).c_str(), shape_text(shapes[i]).c_str(),
                static_cast<long long>(models::parameter_count(net.layers[i])));
  std::cout << "\nparameters:    " << net.parameter_count() << "\n";
  return kExitOk;
}

}  // namespace

Command inspect_command() {
  return {"inspect",
          "show a model's input, outputs, layers, shapes, parameter count and Keras version",
          "mlens inspect MODEL.h5 [--arch mrinet --input-shape D,H,W] [--json]",
          "Reads a Keras .h5 model (or a weights-only file with a named architecture) exactly as `explain` would and "
          "prints the input it takes (as Keras: channels last), its outputs and the engine's layer table with each "
          "convolution's and pooling's window, stride and padding: fused Keras activations appear as their own ReLU "
          "layers, folded BatchNormalization layers are named after the layer they were folded into, a 2D network's "
          "layers are 3D ones with one plane (D = 1), and global poolings are poolings over the whole image.",
          "mlens inspect mrinet_198.h5",
          [](po::options_description& o, po::positional_options_description& p) {
            add_model_options(o, /*ensembles=*/false);
            add_runtime_options(o);
            o.add_options()("json", "print JSON instead of a table");
            p.add("model", 1);
          },
          run};
}

}  // namespace mlens::tools
