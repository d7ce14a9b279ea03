// The whole study in one call (`mlens run`): brain-age and relevance maps for a cohort, the maps
// warped to MNI, overlaid on the lesion maps, the cohort statistics, figures and a report.
//
//   DIR/<id>/…                   per subject, as explain --cohort --mni writes it (engine/cohort.h)
//   DIR/<id>/wml.csv             its row of the WML table (engine/overlay.h), when it has a lesion map
//   DIR/predictions.csv, summary.json, failures.csv
//   DIR/wml.csv                  the study's WML table: every subject's row, in cohort order
//   DIR/stats.json               the cohort analysis (stats/wml_cohort.h) and the relevance–lesion overlap
//   DIR/figures/*.svg|png        brain-age vs age, the study's Fig. 4, lesion load vs gap, Fig.-3 panels
//   DIR/report.html              one self-contained page with all of it
// Every stage skips what an earlier run completed, so a killed run resumes where it stopped.
// On a cluster the per-subject part runs in shards (run_study_subjects) and one merge (merge_study)
// writes the rest from what is on disk; the bytes equal those of one run_study.
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

// Throws std::invalid_argument unless `model` is what a brain-age study takes: single-output networks of
// one channel (the lesion overlay and the statistics take one map per subject).
void check_study_model(const models::Ensemble& model);

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

// The per-subject part of a study for `todo` (all of `cohort`, or a shard: options.cohort.shard_tag):
// predictions, maps (subject and MNI space) and WML rows. Failures, the overlay's too, go to failures.csv
// (failures-<tag>.csv for a shard) and are returned, sorted.
struct StudySubjects {
  CohortSummary cohort;
  OverlayCohortSummary overlay;
  io::Table failures;  // id, input, error
};
StudySubjects run_study_subjects(const std::vector<io::Subject>& cohort, const std::vector<io::Subject>& todo,
                                 const models::Ensemble& model, const PreprocessSpec& preprocess, const Runtime& runtime,
                                 const StudyOptions& options, const std::function<void(const std::string&)>& log,
                                 const std::function<void(const CohortProgress&)>& progress);

struct StudyResult {
  CohortSummary cohort;
  OverlayCohortSummary overlay;
  std::size_t completed = 0;       // subjects with every output the study makes
  io::Table failures;              // failures.csv: id, input, error
  std::size_t missing = 0;         // of them, subjects no run has finished nor recorded as failed
  std::optional<WmlAnalysis> wml;  // absent when too few subjects qualify (the reason is in `notes`)
  std::vector<std::string> notes;
  std::string report;              // path of report.html
};

// The cohort-wide part from what is on disk, computing nothing: the tables over every complete subject,
// WML table, statistics, figures and report. `failures`: this run's (run_study), or nullptr to collect
// what the shards recorded (failures*.csv) for the subjects still incomplete; an incomplete subject
// without a record is listed as missing. Refuses a directory of another configuration.
StudyResult merge_study(const std::vector<io::Subject>& cohort, const Runtime& runtime, const StudyOptions& options,
                        const io::Table* failures, const std::function<void(const std::string&)>& log);

// Whether `subject` has every output of the study in co.out_dir: the cohort's (engine/cohort.h) and, when
// the configuration includes the lesion settings and the subject has a lesion map, its WML row.
bool study_subject_completed(const CohortOptions& co, const io::Subject& subject);

// failures.csv's rows for the incomplete subjects of `cohort`: what failures*.csv recorded for them, and
// for those without a record, a row whose error starts with kMissing. Sorted by id.
inline constexpr const char* kMissing = "missing:";
io::Table incomplete_subjects(const std::vector<io::Subject>& cohort, const CohortOptions& co);

// run_study_subjects over the whole cohort, then merge_study.
StudyResult run_study(const std::vector<io::Subject>& cohort, const models::Ensemble& model, const PreprocessSpec& preprocess,
                      const Runtime& runtime, const StudyOptions& options,
                      const std::function<void(const std::string&)>& log,
                      const std::function<void(const CohortProgress&)>& progress);

}  // namespace mlens::engine
