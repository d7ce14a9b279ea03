// mlens maps: voxel-wise cohort maps of relevance and lesions in a common grid.
#include <filesystem>
#include <iostream>
#include <optional>

#include "engine/overlay.h"
#include "io/paths.h"
#include "io/table.h"
#include "io/volume.h"
#include "stats/cohort_maps.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

int run(const po::variables_map& vm) {
  const std::string list_path = vm["list"].as<std::string>(), out = vm["out"].as<std::string>();
  const io::Table list = io::read_csv(list_path);
  const auto relevance = list.text("relevance"), lesions = list.text("lesions");
  const std::string base = std::filesystem::path(list_path).parent_path().string();
  const auto resolve = [&](const std::string& p) { return io::resolve_relative(base, p); };
  if (relevance.empty()) throw std::invalid_argument("\"" + list_path + "\": no subjects listed");
  std::optional<io::Volume> grid;
  std::optional<stats::CohortMaps> maps;
  for (std::size_t r = 0; r < relevance.size(); ++r) {
    const std::string rel_path = resolve(relevance[r]), les_path = resolve(lesions[r]);
    const io::Volume rel = io::read_volume(rel_path), les = engine::read_lesion_map(les_path);
    io::require_values(rel, rel_path);
    if (!grid) {
      grid = rel;
      maps.emplace(rel.voxels.size(), vm["threshold"].as<double>());
    }
    io::require_same_grid(*grid, resolve(relevance[0]), rel, rel_path);
    io::require_same_grid(*grid, resolve(relevance[0]), les, les_path);
    maps->add(rel.voxels, les.voxels);
    log("[" + std::to_string(r + 1) + "/" + std::to_string(relevance.size()) + "] " + rel_path);
  }
  std::filesystem::create_directories(out);
  const auto write = [&](const std::string& name, std::vector<float> voxels) {
    io::Volume v = *grid;
    v.voxels = std::move(voxels);
    io::write_volume(out + "/" + name, v);
  };
  write("mean_relevance.nii.gz", maps->mean_relevance());
  write("lesion_frequency.nii.gz", maps->lesion_frequency());
  write("mean_relevance_in_lesions.nii.gz", maps->mean_relevance_in_lesions());
  std::cout << maps->subjects() << " subjects -> " << out
            << "/{mean_relevance,lesion_frequency,mean_relevance_in_lesions}.nii.gz\n";
  return kExitOk;
}

}  // namespace

Command maps_command() {
  return {"maps",
          "voxel-wise cohort maps: mean relevance, lesion frequency, mean relevance inside lesions",
          "mlens maps --list MAPS.csv --out DIR [--threshold 0.8]",
          "Reads a CSV with columns relevance and lesions (paths relative to it; all maps in one common grid, e.g. "
          "MNI152 2 mm after `mlens warp`) and writes DIR/mean_relevance.nii.gz (mean over subjects), "
          "DIR/lesion_frequency.nii.gz (share of subjects with lesion value > --threshold at the voxel) and "
          "DIR/mean_relevance_in_lesions.nii.gz (mean relevance over the subjects with a lesion there; 0 where "
          "none has one). Subjects are added one at a time, so memory does not grow with the cohort.",
          "mlens maps --list mni_maps.csv --out cohort-maps",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("list,l", po::value<std::string>()->required()->value_name("CSV"),
                            "table with columns relevance, lesions")(
                "out,o", po::value<std::string>()->required()->value_name("DIR"), "output directory")(
                "threshold", po::value<double>()->default_value(0.8)->value_name("T"), "lesion voxel: value > T");
          },
          run};
}

}  // namespace mlens::tools
