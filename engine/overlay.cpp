#include "engine/overlay.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/json.h"
#include "io/volume.h"
#include "io/warp.h"
#include "stats/wml_overlay.h"

namespace mlens::engine {

const std::vector<std::string>& overlay_columns() {
  static const std::vector<std::string> columns{
      "id",      "n_wml_voxel", "a_wml_voxel", "s_wml_voxel", "a_voxel", "s_voxel",          "as_voxel",     "s_pos_voxel", "s_neg_voxel",
      "p_wml_voxel", "p_voxel", "ap_voxel",    "age",         "brain_age", "gap",     "lesion_volume_ml", "lesion_count", "threshold"};
  return columns;
}

io::Volume read_lesion_map(const std::string& path) {
  io::Volume lesions = io::read_volume(path);
  io::require_values(lesions, path, 0, 1, "lesion probabilities in [0, 1] (a binary mask holds 0 and 1; rescale a 0-255 mask first)");
  return lesions;
}

std::vector<std::string> overlay_row(const OverlayInputs& in, double threshold, const std::string& resample) {
  if (resample != "nearest" && resample != "linear" && resample != "study")
    throw std::invalid_argument("lesion resampling \"" + resample + "\": expected nearest, linear or study");
  io::Volume relevance = io::read_volume(in.relevance);
  io::require_values(relevance, in.relevance);
  io::Volume lesions = read_lesion_map(in.lesions);
  double threshold_used = threshold;
  if (!in.transforms.empty() && in.relevance_to_lesions) {
    // The other way round: the lesion map stays as segmented, the relevance map is interpolated
    // linearly with its total kept (relevance is an amount per voxel).
    relevance = io::warp(relevance, lesions, io::TransformChain::read(in.transforms), io::Interpolation::Linear, true);
  } else if (!in.transforms.empty()) {
    // Bring the lesion map into the relevance map's grid (docs/wml-analysis.md for the three ways).
    const io::TransformChain chain = io::TransformChain::read(in.transforms);
    if (resample == "linear") {
      lesions = io::warp(lesions, relevance, chain, io::Interpolation::Linear);
    } else if (resample == "nearest") {
      lesions = io::warp(lesions, relevance, chain, io::Interpolation::Nearest);
    } else {
      // The study: binarise at the threshold in native space, move the binary map with linear
      // interpolation, cast to uint8 (truncation): only voxels interpolated to exactly 1 stay lesions.
      for (float& v : lesions.voxels) v = v > threshold ? 1.0f : 0.0f;
      lesions = io::warp(lesions, relevance, chain, io::Interpolation::Linear);
      for (float& v : lesions.voxels) v = v >= 1.0f ? 1.0f : 0.0f;
      threshold_used = 0.5;  // the map is binary now
    }
  }
  io::require_same_grid(relevance, in.relevance, lesions, in.lesions);
  io::Volume mask;
  if (!in.mask.empty()) {
    mask = io::read_volume(in.mask);
    io::require_same_grid(relevance, in.relevance, mask, in.mask);
  }
  const auto& sp = relevance.geometry.spacing;
  const stats::WmlRow w =
      stats::wml_overlay(relevance.voxels, lesions.voxels, mask.voxels, relevance.shape, sp[0] * sp[1] * sp[2], threshold_used);
  return {in.id,
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
          io::csv_number(in.age),
          io::csv_number(in.brain_age),
          io::csv_number(in.brain_age - in.age),
          io::csv_number(w.lesion_volume_ml),
          std::to_string(w.lesion_count),
          io::csv_number(threshold)};
}

io::Table load_overlay_table(const std::string& out) {
  io::Table table;
  table.source = out;
  table.columns = overlay_columns();
  if (std::filesystem::exists(out)) {
    table = io::read_csv(out);
    if (table.columns != overlay_columns())
      throw std::invalid_argument("\"" + out + "\" exists but is not an mlens overlay table (different columns)");
  }
  return table;
}

void put_row(io::Table& table, std::vector<std::string> row) {
  table.rows.erase(std::remove_if(table.rows.begin(), table.rows.end(),
                                  [&](const std::vector<std::string>& r) { return r[0] == row[0]; }),
                   table.rows.end());
  table.rows.push_back(std::move(row));
}

OverlayInputs cohort_overlay_inputs(const io::Subject& s, const std::string& relevance_dir, bool mni) {
  if (s.wml.empty()) throw std::invalid_argument("no lesion map (the cohort's wml column is empty)");
  OverlayInputs in;
  in.id = s.id;
  in.relevance = relevance_dir + "/" + s.id + (mni ? "/relevance_mni.nii.gz" : "/relevance.nii.gz");
  in.lesions = s.wml;
  in.age = s.age;
  if (mni) {
    if (s.transforms.empty()) throw std::invalid_argument("no transform to MNI (the cohort's transform column is empty)");
    in.transforms = s.transforms;
  }
  const std::string prediction = relevance_dir + "/" + s.id + "/prediction.json";
  if (std::filesystem::exists(prediction)) {
    std::ifstream p(prediction);
    in.brain_age = io::parse_json(p, "\"" + prediction + "\"").at("brain_age").get<double>();
  }
  return in;
}

OverlayCohortSummary overlay_cohort(const std::vector<io::Subject>& cohort, const OverlayCohortOptions& o,
                                    const std::function<void(const std::string&, const std::string&)>& report) {
  io::Table table = load_overlay_table(o.table);
  OverlayCohortSummary summary;
  summary.failures.columns = {"id", "error"};
  for (const io::Subject& s : cohort) {
    const bool present = std::any_of(table.rows.begin(), table.rows.end(), [&](const auto& r) { return r[0] == s.id; });
    if (present && !o.force) {
      ++summary.skipped;
      continue;
    }
    try {
      const OverlayInputs in = cohort_overlay_inputs(s, o.relevance_dir, o.mni);
      put_row(table, overlay_row(in, o.threshold, o.lesion_resample));
      ++summary.done;
      if (report) report(s.id, "done");
    } catch (const std::exception& e) {
      summary.failures.rows.push_back({s.id, e.what()});
      if (report) report(s.id, std::string("FAILED: ") + e.what());
    }
    io::write_csv(o.table, table);  // after every subject: a killed run keeps what it finished
  }
  io::write_csv(o.table, table);
  return summary;
}

}  // namespace mlens::engine
