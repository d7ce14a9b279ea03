// mlens init-model: an untrained MRInet as a Keras .h5 file (for trying the pipeline and benchmarks).
#include <iostream>

#include "io/keras_config.h"
#include "models/mrinet.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

int run(const po::variables_map& vm) {
  if (vm["arch"].as<std::string>() != "mrinet") throw UsageError("--arch " + vm["arch"].as<std::string>() + ": known: mrinet");
  const models::Int3 shape = parse_shape(vm["input-shape"].as<std::string>());
  models::RandomModel m = models::mrinet(shape, vm["seed"].as<uint64_t>());
  const std::string out = vm["out"].as<std::string>();
  if (vm.count("weights-only")) m.keras.architecture.reset();
  io::write_keras_model(out, m.keras);
  std::cout << out << ": MRInet for " << shape[0] << "x" << shape[1] << "x" << shape[2] << ", "
            << m.net.parameter_count() << " parameters, seed " << vm["seed"].as<uint64_t>() << "\n";
  return kExitOk;
}

}  // namespace

Command init_model_command() {
  return {"init-model",
          "write an untrained MRInet (Keras-default initialisation) as a Keras .h5 file",
          "mlens init-model --input-shape D,H,W --out MODEL.h5 [--seed N] [--weights-only]",
          "Builds xai4mri's MRInet for the given input size with Glorot-uniform kernels and zero biases drawn from a "
          "seeded generator (the same seed gives the same file) and saves it in Keras 2.x HDF5 layout, loadable by "
          "every mlens command and by Keras itself. Untrained: its predictions mean nothing; use it to try the "
          "pipeline, test and benchmark.",
          "mlens init-model --input-shape 198,198,198 --seed 1 --out mrinet_198.h5",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("arch", po::value<std::string>()->default_value("mrinet")->value_name("NAME"), "architecture")(
                "input-shape", po::value<std::string>()->required()->value_name("D,H,W"), "model input size")(
                "seed", po::value<uint64_t>()->default_value(0)->value_name("N"), "random seed")(
                "out,o", po::value<std::string>()->required()->value_name("FILE"), "Keras .h5 file to write")(
                "weights-only", "write only the weights, as model.save_weights does");
          },
          run};
}

}  // namespace mlens::tools
