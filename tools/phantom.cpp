// mlens phantom: a synthetic FLAIR-like volume to try the pipeline on.
#include <iostream>

#include "engine/phantom.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

int run(const po::variables_map& vm) {
  const models::Int3 shape = parse_shape(vm["shape"].as<std::string>());
  const std::string out = vm["out"].as<std::string>();
  io::write_volume(out, engine::phantom(shape, vm["seed"].as<uint64_t>()));
  std::cout << out << ": phantom " << shape[0] << "x" << shape[1] << "x" << shape[2] << ", seed "
            << vm["seed"].as<uint64_t>() << "\n";
  return kExitOk;
}

}  // namespace

Command phantom_command() {
  return {"phantom",
          "write a synthetic FLAIR-like test volume (brain ellipsoid, ventricles, bright lesions)",
          "mlens phantom --shape D,H,W --out VOL.nii.gz [--seed N]",
          "Writes a deterministic synthetic volume with intensities in [0, 1]: an ellipsoidal brain of noisy tissue, "
          "two dark ventricles and six bright periventricular spheres standing in for white-matter lesions, on a zero "
          "background, 1 mm voxels centred on the origin. For trying the pipeline and for benchmarks; it is not a "
          "realistic image.",
          "mlens phantom --shape 198,198,198 --seed 1 --out phantom_198.nii.gz",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("shape", po::value<std::string>()->required()->value_name("D,H,W"), "volume size in voxels")(
                "seed", po::value<uint64_t>()->default_value(0)->value_name("N"), "random seed")(
                "out,o", po::value<std::string>()->required()->value_name("VOL"), "NIfTI file to write");
          },
          run};
}

}  // namespace mlens::tools
