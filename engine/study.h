// The whole study in one call (`mlens run`): brain-age and relevance maps for a cohort, the maps
// warped to MNI, overlaid on the lesion maps, the cohort statistics, figures and a report.
//
//   DIR/<id>/…                   per subject, as explain --cohort --mni writes it (engine/cohort.h)
//   DIR/predictions.csv, summary.json, failures.csv
//   DIR/wml.csv                  the study's per-subject WML table (engine/overlay.h)
//   DIR/stats.json               the cohort analysis (stats/wml_cohort.h) and the relevance–lesion overlap
//   DIR/figures/*.svg|png        brain-age vs age, the study's Fig. 4, lesion load vs gap, Fig.-3 panels
//   DIR/report.html              one self-contained page with all of it
// Every stage skips what an earlier run completed, so a killed run resumes where it stopped.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/cohort.h"
#include "engine/overlay.h"
#include "stats/wml_cohort.h"

namespace mlens::engine {

struct StudyOptions {
  CohortOptions cohort;            // out_dir, composite, mni_reference, bias options, force
  std::string manifest;            // for the report
  double threshold = 0.8;          // lesion voxel: probability > threshold
  std::string lesion_resample = "study";
  double min_wml_voxels = 30;
  int panels = 6;                  // subjects shown as Fig.-3 panels
};

// The cohort analysis of a WML table: stats.json's content and the figures (Fig. 4, load vs gap) in
// `figures_dir`. Shared by `mlens stats` and `mlens run`. Errors name the table.
struct WmlAnalysis {
  stats::WmlCohortResult result;
  nlohmann::json json;
  std::string summary;  // the study-style paragraph
  std::vector<std::string> figures;
};
WmlAnalysis analyse_wml_table(const std::string& table_path, const std::string& figures_dir, double min_wml_voxels,
                              const std::string& expected = "ap_voxel");

struct StudyResult {
  CohortSummary cohort;
  OverlayCohortSummary overlay;
  std::optional<WmlAnalysis> wml;  // absent when too few subjects qualify (the reason is in `notes`)
  std::vector<std::string> notes;
  std::string report;              // path of report.html
};

StudyResult run_study(const std::vector<io::Subject>& cohort, const models::Ensemble& model, const PreprocessSpec& preprocess,
                      const Runtime& runtime, const StudyOptions& options,
                      const std::function<void(const std::string&)>& log,
                      const std::function<void(const CohortProgress&)>& progress);

}  // namespace mlens::engine
