// mlens warp: move a map (or mask) into another grid, e.g. MNI152 2 mm, with ANTs/ITK transforms.
#include <iostream>

#include "io/volume.h"
#include "io/warp.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

int run(const po::variables_map& vm) {
  const std::string input = vm["input"].as<std::string>(), out = vm["out"].as<std::string>();
  const std::vector<std::string> specs =
      vm.count("transform") ? vm["transform"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const io::TransformChain chain = io::TransformChain::read(specs);
  const io::Volume warped = io::warp(io::read_volume(input), io::read_volume(vm["reference"].as<std::string>()), chain,
                                     vm.count("nearest") ? io::Interpolation::Nearest : io::Interpolation::Linear,
                                     vm.count("preserve-total") > 0);
  io::write_volume(out, warped);
  std::cout << out << ": " << warped.shape[0] << "x" << warped.shape[1] << "x" << warped.shape[2] << " through "
            << specs.size() << " transform(s)\n";
  return kExitOk;
}

}  // namespace

Command warp_command() {
  return {"warp",
          "resample a map or mask into a reference grid (e.g. MNI152 2 mm) through ANTs/ITK transforms",
          "mlens warp --input MAP.nii.gz --reference REF.nii.gz [-t TRANSFORM ...] --out OUT.nii.gz [--nearest] "
          "[--preserve-total]",
          "Resamples --input onto the grid of --reference (its size, spacing, origin and direction; Debian's "
          "mricron-data ships MNI152 2 mm grids such as /usr/share/mricron/templates/JHU-WhiteMatter-labels-2mm.nii.gz). "
          "Transforms are listed as for antsApplyTransforms: the last -t is applied first to a reference point. "
          "Affines: ITK .txt/.tfm, Matlab .mat (ANTs' GenericAffine), HDF5 .h5 (also composite transforms); "
          "displacement fields: .nii.gz (ANTs' Warp). Prefix an affine with '!' or write [file,1] for its inverse. "
          "Linear interpolation by default (maps); --nearest for masks and labels; --preserve-total rescales the "
          "result so its sum equals the input's (total relevance). Points outside the input become 0.",
          "mlens warp --input rel.nii.gz --reference MNI152_2mm.nii.gz -t sub-01_1Warp.nii.gz -t sub-01_0GenericAffine.mat "
          "--out rel_mni.nii.gz",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("input,i", po::value<std::string>()->required()->value_name("MAP"), "image to resample")(
                "reference,r", po::value<std::string>()->required()->value_name("REF"), "image whose grid to resample onto")(
                "transform,t", po::value<std::vector<std::string>>()->composing()->value_name("FILE"),
                "transform file (repeatable, ANTs order)")(
                "out,o", po::value<std::string>()->required()->value_name("OUT"), "output NIfTI")(
                "nearest", "nearest-neighbour interpolation (masks, labels)")(
                "preserve-total", "rescale so the total (sum) equals the input's");
          },
          run};
}

}  // namespace mlens::tools
