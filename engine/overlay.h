// One subject's relevance map against its lesion map, as one row of the study's WML table, and the same
// for every subject of a cohort run (resumable: rows already in the table are kept).
#pragma once

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "io/cohort.h"
#include "io/table.h"
#include "io/volume.h"

namespace mlens::engine {

// id, n_wml_voxel, a_wml_voxel, s_wml_voxel, a_voxel, s_voxel, as_voxel, s_pos_voxel, s_neg_voxel,
// p_wml_voxel, p_voxel, ap_voxel, age, brain_age, gap, lesion_volume_ml, lesion_count, threshold
const std::vector<std::string>& overlay_columns();

struct OverlayInputs {
  std::string id, relevance, lesions, mask;
  std::vector<std::string> transforms;  // take the lesion map into the relevance map's grid (ANTs order)
  bool relevance_to_lesions = false;    // warp the relevance map into the lesion grid instead
  double age = std::numeric_limits<double>::quiet_NaN(), brain_age = std::numeric_limits<double>::quiet_NaN();
};

// A lesion map (LST's ples_lpa probabilities or a binary mask), refused, naming the file and the first
// bad voxel, when a value is NaN or outside [0, 1]: a 0-255 mask or a label map thresholded at 0.8 would
// silently count every labelled voxel.
io::Volume read_lesion_map(const std::string& path);

// "nearest", "linear" or "study" (binarise, interpolate linearly, keep exact 1s, as the study did).
// Throws with the file named on any problem.
std::vector<std::string> overlay_row(const OverlayInputs& in, double threshold, const std::string& lesion_resample);

// The table at `path` (empty with overlay_columns() when it does not exist); throws when it exists with
// other columns.
io::Table load_overlay_table(const std::string& path);
// Adds `row`, replacing a row with the same id.
void put_row(io::Table& table, std::vector<std::string> row);

// A cohort subject's overlay: DIR/<id>/relevance[_mni].nii.gz against the wml column's map (moved by the
// transform column when `mni`), brain-age from DIR/<id>/prediction.json. Throws when the subject has no
// lesion map, or no transform while `mni`.
OverlayInputs cohort_overlay_inputs(const io::Subject& subject, const std::string& relevance_dir, bool mni);

struct OverlayCohortOptions {
  std::string relevance_dir;  // the --out of explain --cohort
  std::string table;          // the CSV to write (rewritten after every subject)
  bool mni = false;           // overlay DIR/<id>/relevance_mni.nii.gz with the lesion map moved by the cohort's transforms
  double threshold = 0.8;
  std::string lesion_resample = "nearest";
  bool force = false;
};

struct OverlayCohortSummary {
  std::size_t done = 0, skipped = 0;
  io::Table failures;  // id, error
};

// Every subject with a lesion map (the wml column); brain-age from DIR/<id>/prediction.json.
OverlayCohortSummary overlay_cohort(const std::vector<io::Subject>& cohort, const OverlayCohortOptions& options,
                                    const std::function<void(const std::string& id, const std::string& status)>& report);

}  // namespace mlens::engine
