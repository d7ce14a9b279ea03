// mlens overlay: one subject's relevance map against its lesion map, as one row of the WML table.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <limits>

#include "io/cohort.h"
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

struct OverlayInputs {
  std::string id, relevance, lesions, mask;
  std::vector<std::string> transforms;
  bool relevance_to_lesions = false;  // warp the relevance map into the lesion grid instead
  double age = std::numeric_limits<double>::quiet_NaN(), brain_age = std::numeric_limits<double>::quiet_NaN();
};

// One subject's row of the table (kColumns order). Throws with the file named on any problem.
std::vector<std::string> overlay_row(const OverlayInputs& in, double threshold, const std::string& resample) {
  io::Volume relevance = io::read_volume(in.relevance);
  io::Volume lesions = io::read_volume(in.lesions);
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

io::Table load_table(const std::string& out) {
  io::Table table;
  table.source = out;
  table.columns = kColumns;
  if (std::filesystem::exists(out)) {
    table = io::read_csv(out);
    if (table.columns != kColumns)
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

// Every subject of a cohort list with a `wml` lesion map, against DIR/<id>/relevance.nii.gz from
// `explain --cohort` (both in the subject's FLAIR grid), brain-age from DIR/<id>/prediction.json.
int run_cohort_overlay(const po::variables_map& vm, double threshold, const std::string& resample) {
  const std::string out = vm["out"].as<std::string>(), dir = vm["relevance-dir"].as<std::string>();
  io::Table table = load_table(out);
  io::Table failures;
  failures.columns = {"id", "error"};
  const auto cohort = io::read_cohort(vm["cohort"].as<std::string>());
  std::size_t done = 0, skipped = 0;
  for (const io::Subject& s : cohort) {
    const bool present = std::any_of(table.rows.begin(), table.rows.end(), [&](const auto& r) { return r[0] == s.id; });
    if (present && !vm.count("force")) {
      ++skipped;
      continue;
    }
    try {
      if (s.wml.empty()) throw std::invalid_argument("no lesion map (the cohort's wml column is empty)");
      OverlayInputs in;
      in.id = s.id;
      in.relevance = dir + "/" + s.id + "/relevance.nii.gz";
      in.lesions = s.wml;
      in.age = s.age;
      const std::string prediction = dir + "/" + s.id + "/prediction.json";
      if (std::filesystem::exists(prediction)) {
        std::ifstream p(prediction);
        in.brain_age = nlohmann::json::parse(p).at("brain_age").get<double>();
      }
      put_row(table, overlay_row(in, threshold, resample));
      ++done;
      log(s.id + ": done");
    } catch (const std::exception& e) {
      failures.rows.push_back({s.id, e.what()});
      log(s.id + ": FAILED: " + e.what());
    }
    io::write_csv(out, table);  // after every subject: a killed run keeps what it finished
  }
  io::write_csv(out, table);
  const std::string failures_path = std::filesystem::path(out).replace_extension("").string() + "_failures.csv";
  io::write_csv(failures_path, failures);
  std::cout << done << " done, " << skipped << " already in the table, " << failures.rows.size() << " failed -> " << out << "\n";
  return failures.rows.empty() ? kExitOk : kExitSomeFailed;
}

int run(const po::variables_map& vm) {
  const double threshold = vm["threshold"].as<double>();
  const std::string resample = vm["lesion-resample"].as<std::string>();
  if (resample != "nearest" && resample != "linear" && resample != "study")
    throw UsageError("--lesion-resample " + resample + ": expected nearest, linear or study");
  if (vm.count("cohort")) {
    if (!vm.count("relevance-dir")) throw UsageError("--cohort needs --relevance-dir DIR (the --out of explain --cohort)");
    return run_cohort_overlay(vm, threshold, resample);
  }
  if (!vm.count("relevance") || !vm.count("lesions")) throw UsageError("give --relevance and --lesions (or --cohort)");
  OverlayInputs in;
  in.relevance = vm["relevance"].as<std::string>();
  in.lesions = vm["lesions"].as<std::string>();
  in.id = vm.count("id") ? vm["id"].as<std::string>() : std::filesystem::path(in.relevance).filename().string();
  if (vm.count("mask")) in.mask = vm["mask"].as<std::string>();
  if (vm.count("transform")) in.transforms = vm["transform"].as<std::vector<std::string>>();
  in.relevance_to_lesions = vm.count("relevance-to-lesions") > 0;
  if (vm.count("age")) in.age = vm["age"].as<double>();
  if (vm.count("brain-age")) in.brain_age = vm["brain-age"].as<double>();
  const std::string out = vm["out"].as<std::string>();
  const std::vector<std::string> row = overlay_row(in, threshold, resample);

  // One table per cohort: add this subject's row, replacing an earlier row of the same id (re-runs are
  // idempotent); the file is rewritten atomically.
  io::Table table = load_table(out);
  put_row(table, row);
  io::write_csv(out, table);
  std::cout << in.id << ": " << row[1] << " lesion voxels in " << row[16] << " lesion(s), " << row[15]
            << " ml; mean relevance in lesions " << row[2] << ", expected per voxel " << row[11] << " -> " << out << "\n";
  return kExitOk;
}

}  // namespace

Command overlay_command() {
  return {"overlay",
          "relate one subject's relevance map to its lesion map (one row of the WML table)",
          "mlens overlay (--relevance REL.nii.gz --lesions LESIONS.nii.gz [--id ID] [--age A --brain-age B] | --cohort "
          "COHORT.csv --relevance-dir DIR) --out wml.csv",
          "Binarises the lesion map (LST's ples_lpa_m*.nii, BIANCA or any probability or binary map) at --threshold "
          "(strictly greater, as the study's img > 0.8), optionally restricts everything to a brain mask, and computes "
          "the study's per-subject columns (docs/wml-analysis.md): n_wml_voxel, a_wml_voxel, s_wml_voxel, a_voxel, "
          "s_voxel, as_voxel, s_pos_voxel, s_neg_voxel, p_wml_voxel, p_voxel, ap_voxel, with age, brain_age and gap "
          "when given, lesion volume in ml and the number of lesions (26-connected). The row is added to the CSV "
          "table --out (created if missing; a row with the same id is replaced). Without -t all maps must share one voxel "
          "grid (otherwise both grids are printed and nothing is written); with -t the lesion map is resampled into the "
          "relevance map's grid as --lesion-resample says. With --cohort every subject with a lesion map (wml column) is "
          "overlaid on DIR/<id>/relevance.nii.gz from explain --cohort; subjects already in the table are skipped "
          "(--force redoes them), failures go to <table>_failures.csv and the run goes on (exit 4 if any).",
          "mlens overlay --relevance sub-01_relevance.nii.gz --lesions ples_lpa_msub-01.nii.gz --id sub-01 --age 63 "
          "--brain-age 66.2 --out wml.csv",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("relevance,r", po::value<std::string>()->value_name("REL"), "relevance map (NIfTI)")(
                "lesions,l", po::value<std::string>()->value_name("LES"), "lesion probability or binary map")(
                "cohort", po::value<std::string>()->value_name("CSV"),
                "every subject of a cohort list with a wml column, against --relevance-dir")(
                "relevance-dir", po::value<std::string>()->value_name("DIR"),
                "with --cohort: the --out of explain --cohort (DIR/<id>/relevance.nii.gz, prediction.json)")(
                "force", "with --cohort: redo subjects already in the table")(
                "mask", po::value<std::string>()->value_name("MASK"), "brain mask (voxels with 0 are left out)")(
                "transform,t", po::value<std::vector<std::string>>()->composing()->value_name("FILE"),
                "transforms taking the lesion map into the relevance map's grid (ANTs order, repeatable)")(
                "relevance-to-lesions",
                "with -t: warp the relevance map into the lesion map's grid instead (linear, total kept); the "
                "transforms then map lesion-grid points into the relevance grid")(
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
