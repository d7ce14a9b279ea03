// mlens slices: a PNG of axial slices with lesion outline and relevance heat map, for QC and figures.
#include <iostream>

#include "engine/slices.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

int run(const po::variables_map& vm) {
  const io::Volume flair = io::read_volume(vm["input"].as<std::string>());
  io::Volume lesion, relevance;
  if (vm.count("lesion")) lesion = io::read_volume(vm["lesion"].as<std::string>());
  if (vm.count("relevance")) relevance = io::read_volume(vm["relevance"].as<std::string>());
  engine::SliceOptions o;
  o.slices = vm["count"].as<int>();
  o.zoom = vm["zoom"].as<int>();
  const std::string out = vm["out"].as<std::string>();
  io::write_png(out, engine::slice_panel(flair, vm.count("lesion") ? &lesion : nullptr,
                                         vm.count("relevance") ? &relevance : nullptr, o));
  std::cout << out << "\n";
  return kExitOk;
}

}  // namespace

Command slices_command() {
  return {"slices",
          "draw axial slices with a lesion outline and a relevance heat map (PNG)",
          "mlens slices --input FLAIR.nii.gz [--lesion WML.nii.gz] [--relevance REL.nii.gz] --out PANEL.png",
          "Draws axial slices of a volume in neurological convention (the subject's right on the right, anterior up) as "
          "the study's Fig. 3 does: the image in grey, lesion voxels (probability > 0.5) outlined in green, and relevance "
          "as a heat map, red to yellow for positive and blue to cyan for negative values, full colour at the 99.5th "
          "percentile of |relevance|. With a lesion map the slices go through the lesions, else evenly through the "
          "brain. All volumes must share one grid.",
          "mlens slices --input sub-001/flair.nii.gz --lesion sub-001/lesion.nii.gz --relevance out/sub-001/relevance.nii.gz --out sub-001.png",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("input,i", po::value<std::string>()->required()->value_name("VOL"), "image shown in grey")(
                "lesion", po::value<std::string>()->value_name("WML"), "lesion probability map to outline")(
                "relevance", po::value<std::string>()->value_name("REL"), "relevance map to overlay")(
                "count", po::value<int>()->default_value(3)->value_name("N"), "number of slices")(
                "zoom", po::value<int>()->default_value(2)->value_name("N"), "pixels per voxel")(
                "out,o", po::value<std::string>()->required()->value_name("PNG"), "PNG file to write");
          },
          run};
}

}  // namespace mlens::tools
