// Scoring a cohort: every subject through preprocessing, the ensemble and (optionally) LRP in a bounded
// pipeline (readers → device → writers), with
// per-subject outputs written atomically, failures recorded instead of stopping the run, resume by
// skipping completed subjects, and the cohort table rebuilt from all completed subjects at the end.
//
//   DIR/<id>/prediction.json      brain-age, member predictions, or a classifier's outputs (written last: it marks completion)
//   DIR/<id>/relevance.nii.gz     with explain: the map in the subject's grid (+ relevance.json)
//   DIR/<id>/relevance_mni.nii.gz with explain and an MNI reference: warped with the subject's transforms
//   DIR/predictions.csv           every completed subject of the cohort (columns in docs/cohorts.md)
//   DIR/failures.csv              subject, reason (failures-shard-I-of-N.csv for a shard)
//   DIR/summary.json              counts, accuracy, age-bias model, QC flags (this run's counts go to the log)
//   --store FILE.h5               the table and the maps (MNI stack, else per subject) for h5py/R/MATLAB
// Per-subject files hold no timings, so a resumed run produces the same bytes as an uninterrupted one.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/pipeline.h"
#include "engine/runtime.h"
#include "io/cohort.h"
#include "io/table.h"
#include "lrp/composite.h"
#include "models/ensemble.h"
#include "stats/brain_age.h"

namespace mlens::engine {

struct CohortOptions {
  std::string out_dir;
  bool explain = false;  // also relevance maps
  bool members = false;  // with explain: each member's map
  bool force = false;    // recompute completed subjects
  // The model's outputs per subject (run_cohort sets them from the model): several (a classifier, a
  // multi-task head) make the tables hold every output, and the softmax's probabilities when the analysis
  // removed one, instead of a brain-age.
  int64_t outputs = 1;
  bool softmax_removed = false;
  lrp::Composite composite;
  std::optional<stats::AgeBiasModel> bias_model;  // reuse; else fitted on this cohort's subjects with ages
  stats::AgeBiasMethod bias_method = stats::AgeBiasMethod::DeLangeCole2020;
  std::array<double, 2> training_age_range{1, 0};  // min > max: unknown
  std::string shard_tag;  // "" or "shard-2-of-3"
  bool cohort_tables = true;  // end with the cohort-wide files; false: per-subject outputs only (a shard of `mlens run`)
  std::string mni_reference;  // with explain: also warp each map onto this grid with the subject's transforms
  // The pipeline (engine/batch_pipeline.h): reader threads decode, preprocess and start the copy to the
  // device while it computes; writer threads receive the maps, map them back, warp and write (the copies:
  // engine/transfers.h). At most 2·batch subjects wait between two stages, so memory does not grow with
  // the cohort. The device runs `batch` subjects per pass (predictions and LRP): the subjects at
  // positions [b·batch, (b+1)·batch) of the run form batch b, so the bytes do not depend on the readers' pace.
  int batch = 1, readers = 1, writers = 1;
  int64_t memory_limit = 0;  // bytes a batch of explanations may use on the device; 0: what it has available
  std::string store;  // "" or an HDF5 file: the table and maps of every completed subject (io/cohort_store.h)
  // What produced the results, besides the rule, dtype and MNI grid run_cohort adds itself: the model
  // files' fingerprints. Kept in DIR/configuration.json; a run with other settings is refused unless
  // `force` (io/output_dir.h).
  nlohmann::json configuration = nlohmann::json::object();
};

// One step of a cohort run, for progress displays.
struct CohortProgress {
  std::size_t done = 0, total = 0;  // subjects handled so far (computed, skipped or failed) of this run
  std::string id, status;           // "done", "skipped", "failed: <reason>"
  double subjects_per_minute = 0, eta_seconds = 0;
};

struct CohortSummary {
  std::size_t cohort = 0, todo = 0, computed = 0, skipped = 0, failed = 0, completed = 0;
  double device_wait_seconds = 0;  // time the device waited for input (the pipeline's hidden I/O shows here)
  io::Table failures;              // id, input, error: this run's failures, sorted by id
};

// Throws std::invalid_argument when a cohort cannot run `model`: a cohort reads a volume per subject (its
// flair column: a 4D NIfTI of one volume per channel for a multi-channel network), so every network is 3D;
// a model with several outputs (a classifier) or channels is one network, whose outputs are a vector, not
// an image (an ensemble's head combines single predictions).
void check_cohort_model(const models::Ensemble& model);

// Where a subject's files go: DIR/<id>.
std::string subject_dir(const CohortOptions& options, const std::string& id);

// Whether an earlier run left `id` complete: prediction.json, and with explain its maps (MNI too when asked).
bool subject_completed(const CohortOptions& options, const std::string& id);

// The settings that change a cohort's results: options.configuration with the rule, dtype and MNI grid.
nlohmann::json cohort_configuration(const CohortOptions& options, const Runtime& runtime);

// The cohort-wide files from every completed subject of `cohort`, in cohort order: predictions.csv,
// bias_model.json (when fitted), summary.json and the HDF5 store if asked for. Returns how many are complete.
std::size_t write_cohort_tables(const std::vector<io::Subject>& cohort, const CohortOptions& options,
                                const std::function<void(const std::string&)>& log);

// Throws std::invalid_argument when a batch of explanations (options.batch, at most `subjects`) needs more
// memory than the device has available (or options.memory_limit allows), saying what it needs and which
// --batch fits. run_cohort checks it first; callers that create the directory (its lock) check it before.
void check_batch_fits(const models::Ensemble& model, const Runtime& runtime, const CohortOptions& options,
                      std::size_t subjects);

// `cohort` is the whole list (for the table); `todo` the part this process runs (a shard or all). The
// caller holds the directory's lock (io::OutputDirLock); temporaries a killed run left in the
// directories this run writes are removed first.
// `log` receives messages (warnings, QC), `progress` one call per subject.
CohortSummary run_cohort(const std::vector<io::Subject>& cohort, const std::vector<io::Subject>& todo,
                         const models::Ensemble& model, const PreprocessSpec& preprocess, const Runtime& runtime,
                         const CohortOptions& options, const std::function<void(const std::string&)>& log,
                         const std::function<void(const CohortProgress&)>& progress);

}  // namespace mlens::engine
