// mlens overlay: one subject's relevance map against its lesion map, as one row of the WML table.
#include <filesystem>
#include <iostream>

#include "engine/overlay.h"
#include "io/cohort.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

// Every subject of a cohort list with a `wml` lesion map, against the maps of `explain --cohort`.
int run_cohort_overlay(const po::variables_map& vm, double threshold, const std::string& resample) {
  engine::OverlayCohortOptions o;
  o.relevance_dir = vm["relevance-dir"].as<std::string>();
  o.table = vm["out"].as<std::string>();
  o.mni = vm["space"].as<std::string>() == "mni";
  o.threshold = threshold;
  o.lesion_resample = resample;
  o.force = vm.count("force") > 0;
  const auto summary = engine::overlay_cohort(io::read_cohort(vm["cohort"].as<std::string>()), o,
                                              [](const std::string& id, const std::string& status) { log(id + ": " + status); });
  const std::string failures_path = std::filesystem::path(o.table).replace_extension("").string() + "_failures.csv";
  io::write_csv(failures_path, summary.failures);
  std::cout << summary.done << " done, " << summary.skipped << " already in the table, " << summary.failures.rows.size()
            << " failed -> " << o.table << "\n";
  return summary.failures.rows.empty() ? kExitOk : kExitSomeFailed;
}

int run(const po::variables_map& vm) {
  const double threshold = vm["threshold"].as<double>();
  const std::string resample = vm["lesion-resample"].as<std::string>();
  if (resample != "nearest" && resample != "linear" && resample != "study")
    throw UsageError("--lesion-resample " + resample + ": expected nearest, linear or study");
  const std::string space = vm["space"].as<std::string>();
  if (space != "subject" && space != "mni") throw UsageError("--space " + space + ": expected subject or mni");
  if (vm.count("cohort")) {
    if (!vm.count("relevance-dir")) throw UsageError("--cohort needs --relevance-dir DIR (the --out of explain --cohort)");
    return run_cohort_overlay(vm, threshold, resample);
  }
  if (!vm.count("relevance") || !vm.count("lesions")) throw UsageError("give --relevance and --lesions (or --cohort)");
  engine::OverlayInputs in;
  in.relevance = vm["relevance"].as<std::string>();
  in.lesions = vm["lesions"].as<std::string>();
  in.id = vm.count("id") ? vm["id"].as<std::string>() : std::filesystem::path(in.relevance).filename().string();
  if (vm.count("mask")) in.mask = vm["mask"].as<std::string>();
  if (vm.count("transform")) in.transforms = vm["transform"].as<std::vector<std::string>>();
  in.relevance_to_lesions = vm.count("relevance-to-lesions") > 0;
  if (vm.count("age")) in.age = vm["age"].as<double>();
  if (vm.count("brain-age")) in.brain_age = vm["brain-age"].as<double>();
  const std::string out = vm["out"].as<std::string>();
  const std::vector<std::string> row = engine::overlay_row(in, threshold, resample);

  // One table per cohort: add this subject's row, replacing an earlier row of the same id (re-runs are
  // idempotent); the file is rewritten atomically.
  io::Table table = engine::load_overlay_table(out);
  engine::put_row(table, row);
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
                "space", po::value<std::string>()->default_value("subject")->value_name("S"),
                "with --cohort: subject (DIR/<id>/relevance.nii.gz on the FLAIR's grid) or mni (relevance_mni.nii.gz "
                "from explain --mni; the lesion maps move with the cohort's transform column, as in the study)")(
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
