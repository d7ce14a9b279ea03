// mlens overlay: one subject's relevance map against its lesion map, as one row of the WML table.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <limits>

#include "io/table.h"
#include "io/volume.h"
#include "io/warp.h"
#include "stats/wml_overlay.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

const std::vector<std::string> kColumns{"id",          "n_wml_voxel", "a_wml_voxel", "s_wml_voxel",      "a_voxel",
                                        "s_voxel",     "as_voxel",    "s_pos_voxel", "s_neg_voxel",      "p_wml_voxel",
                                        "p_voxel",     "ap_voxel",    "age",         "brain_age",        "gap",
                                        "lesion_volume_ml", "lesion_count", "threshold"};

int run(const po::variables_map& vm) {
  const std::string rel_path = vm["relevance"].as<std::string>(), les_path = vm["lesions"].as<std::string>();
  const std::string out = vm["out"].as<std::string>();
  const double threshold = vm["threshold"].as<double>();
  // After --lesion-resample study the map is binary (0/1): any threshold below 1 keeps its lesions.
  const double threshold_after = vm.count("transform") && vm["lesion-resample"].as<std::string>() == "study" ? 0.5 : threshold;
  const io::Volume relevance = io::read_volume(rel_path);
  io::Volume lesions = io::read_volume(les_path);
  const std::string resample = vm["lesion-resample"].as<std::string>();
  if (vm.count("transform")) {
    // Bring the lesion map into the relevance map's grid (docs/wml-analysis.md for the three ways).
    const io::TransformChain chain = io::TransformChain::read(vm["transform"].as<std::vector<std::string>>());
    if (resample == "linear") {
      lesions = io::warp(lesions, relevance, chain, io::Interpolation::Linear);
    } else if (resample == "nearest") {
      lesions = io::warp(lesions, relevance, chain, io::Interpolation::Nearest);
    } else if (resample == "study") {
      // The study: binarise at the threshold in native space, move the binary map with linear
      // interpolation, cast to uint8 (truncation): only voxels interpolated to exactly 1 stay lesions.
      for (float& v : lesions.voxels) v = v > threshold ? 1.0f : 0.0f;
      lesions = io::warp(lesions, relevance, chain, io::Interpolation::Linear);
      for (float& v : lesions.voxels) v = v >= 1.0f ? 1.0f : 0.0f;
    } else {
      throw UsageError("--lesion-resample " + resample + ": expected nearest, linear or study");
    }
  }
  io::require_same_grid(relevance, rel_path, lesions, les_path);
  io::Volume mask;
  if (vm.count("mask")) {
    mask = io::read_volume(vm["mask"].as<std::string>());
    io::require_same_grid(relevance, rel_path, mask, vm["mask"].as<std::string>());
  }
  const auto& sp = relevance.geometry.spacing;
  const stats::WmlRow w =
      stats::wml_overlay(relevance.voxels, lesions.voxels, mask.voxels, relevance.shape, sp[0] * sp[1] * sp[2], threshold_after);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double age = vm.count("age") ? vm["age"].as<double>() : nan;
  const double brain_age = vm.count("brain-age") ? vm["brain-age"].as<double>() : nan;
  const std::string id = vm.count("id") ? vm["id"].as<std::string>() : std::filesystem::path(rel_path).filename().string();
  const std::vector<std::string> row{id,
                                     std::to_string(w.n_wml_voxel),
                                     io::csv_number(w.a_wml_voxel),
                                     io::csv_number(w.s_wml_voxel),
                                     io::csv_number(w.a_voxel),
                                     io::csv_number(w.s_voxel),
                                     io::csv_number(w.as_voxel),
                                     io::csv_number(w.s_pos_voxel),
                                     io::csv_number(w.s_neg_voxel),
                                     io::csv_number(w.p_wml_voxel),
                                     io::csv_number(w.p_voxel),
                                     io::csv_number(w.ap_voxel),
                                     io::csv_number(age),
                                     io::csv_number(brain_age),
                                     io::csv_number(brain_age - age),
                                     io::csv_number(w.lesion_volume_ml),
                                     std::to_string(w.lesion_count),
                                     io::csv_number(threshold)};

  // One table per cohort: add this subject's row, replacing an earlier row of the same id (re-runs are
  // idempotent); the file is rewritten atomically.
  io::Table table;
  table.source = out;
  table.columns = kColumns;
  if (std::filesystem::exists(out)) {
    table = io::read_csv(out);
    if (table.columns != kColumns)
      throw std::invalid_argument("\"" + out + "\" exists but is not an mlens overlay table (different columns)");
    table.rows.erase(std::remove_if(table.rows.begin(), table.rows.end(),
                                    [&](const std::vector<std::string>& r) { return r[0] == id; }),
                     table.rows.end());
  }
  table.rows.push_back(row);
  io::write_csv(out, table);
  std::cout << id << ": " << w.n_wml_voxel << " lesion voxels in " << w.lesion_count << " lesion(s), "
            << w.lesion_volume_ml << " ml; mean relevance in lesions " << io::csv_number(w.a_wml_voxel)
            << ", expected per voxel " << w.ap_voxel << " -> " << out << "\n";
  return kExitOk;
}

}  // namespace

Command overlay_command() {
  return {"overlay",
          "relate one subject's relevance map to its lesion map (one row of the WML table)",
          "mlens overlay --relevance REL.nii.gz --lesions LESIONS.nii.gz --out wml.csv [--id ID] [--age A --brain-age B]",
          "Binarises the lesion map (LST's ples_lpa_m*.nii, BIANCA or any probability or binary map) at --threshold "
          "(strictly greater, as the study's img > 0.8), optionally restricts everything to a brain mask, and computes "
          "the study's per-subject columns (docs/wml-analysis.md): n_wml_voxel, a_wml_voxel, s_wml_voxel, a_voxel, "
          "s_voxel, as_voxel, s_pos_voxel, s_neg_voxel, p_wml_voxel, p_voxel, ap_voxel, with age, brain_age and gap "
          "when given, lesion volume in ml and the number of lesions (26-connected). The row is added to the CSV "
          "table --out (created if missing; a row with the same id is replaced). Without -t all maps must share one voxel "
          "grid (otherwise both grids are printed and nothing is written); with -t the lesion map is resampled into the "
          "relevance map's grid as --lesion-resample says.",
          "mlens overlay --relevance sub-01_relevance.nii.gz --lesions ples_lpa_msub-01.nii.gz --id sub-01 --age 63 "
          "--brain-age 66.2 --out wml.csv",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("relevance,r", po::value<std::string>()->required()->value_name("REL"), "relevance map (NIfTI)")(
                "lesions,l", po::value<std::string>()->required()->value_name("LES"), "lesion probability or binary map")(
                "mask", po::value<std::string>()->value_name("MASK"), "brain mask (voxels with 0 are left out)")(
                "transform,t", po::value<std::vector<std::string>>()->composing()->value_name("FILE"),
                "transforms taking the lesion map into the relevance map's grid (ANTs order, repeatable)")(
                "lesion-resample", po::value<std::string>()->default_value("nearest")->value_name("HOW"),
                "with -t: nearest (default), linear (interpolate probabilities, then threshold) or study (binarise, "
                "interpolate linearly, keep exact 1s, as the study did)")(
                "threshold", po::value<double>()->default_value(0.8)->value_name("T"), "lesion voxel: value > T")(
                "id", po::value<std::string>()->value_name("ID"), "subject id (default: the relevance file name)")(
                "age", po::value<double>()->value_name("A"), "chronological age")(
                "brain-age", po::value<double>()->value_name("B"), "predicted brain-age")(
                "out,o", po::value<std::string>()->required()->value_name("CSV"), "table to add the row to");
          },
          run};
}

}  // namespace mlens::tools
