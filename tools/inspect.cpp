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

int run(const po::variables_map& vm) {
  const engine::Runtime runtime = runtime_from(vm);
  const models::Sequential net = load_network(vm, runtime);
  const auto shapes = net.layer_shapes();
  if (vm.count("json")) {
    nlohmann::json layers = nlohmann::json::array();
    for (size_t i = 0; i < net.layers.size(); ++i)
      layers.push_back({{"name", net.layers[i].name}, {"kind", models::to_string(net.layers[i].kind)},
                        {"output_shape", shapes[i]}, {"parameters", models::parameter_count(net.layers[i])}});
    std::cout << nlohmann::json{{"model", vm["model"].as<std::string>()},
                                {"name", net.name},
                                {"keras_version", net.keras_version},
                                {"input_shape", net.input_shape},
                                {"input_channels", net.input_channels},
                                {"parameters", net.parameter_count()},
                                {"layers", layers}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << "model:         " << vm["model"].as<std::string>() << "\n"
            << "name:          " << net.name << "\n"
            << "keras version: " << (net.keras_version.empty() ? "unknown" : net.keras_version) << "\n"
            << "input:         " << net.input_shape[0] << "x" << net.input_shape[1] << "x" << net.input_shape[2]
            << " voxels, " << net.input_channels << " channel(s)\n\n";
  std::printf("%3s  %-28s %-10s %-18s %10s\n", "#", "layer", "kind", "output (C,D,H,W)", "parameters");
  for (size_t i = 0; i < net.layers.size(); ++i)
    std::printf("%3zu  %-28s %-10s %-18s %10lld\n", i, net.layers[i].name.c_str(), models::to_string(net.layers[i].kind),
                shape_text(shapes[i]).c_str(), static_cast<long long>(models::parameter_count(net.layers[i])));
  std::cout << "\nparameters:    " << net.parameter_count() << "\n";
  return kExitOk;
}

}  // namespace

Command inspect_command() {
  return {"inspect",
          "show a model's layers, shapes, parameter count and Keras version",
          "mlens inspect MODEL.h5 [--arch mrinet --input-shape D,H,W] [--json]",
          "Reads a Keras .h5 model (or a weights-only file with a named architecture) exactly as `explain` would and "
          "prints the engine's layer table: fused Keras activations appear as their own ReLU layers and folded "
          "BatchNormalization layers are named after the layer they were folded into.",
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
