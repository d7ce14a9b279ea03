// The HDF5 cohort store (`--store cohort.h5`): a cohort's table and relevance maps in one file that
// h5py, R's rhdf5 and MATLAB open directly.
//
//   /id                      [N] strings, the subjects in cohort order
//   /table/<column>          [N] float64 per numeric column of predictions.csv (NaN = missing),
//                            [N] strings for text columns (flags)
//   /relevance_mni           [N, X, Y, Z] float32 when every map shares one grid (the MNI maps), chunked
//                            one subject per chunk, gzip; attribute "affine" (4×4, RAS mm, as nibabel's)
//   /relevance/<id>          [X, Y, Z] float32 per subject otherwise (each on its own grid), with "affine"
// A multi-channel model's maps have a channel axis after the subject's: [N, C, X, Y, Z], [C, X, Y, Z].
// Axis order as everywhere in mlens: C order over the NIfTI indices (i, j, k) — what nibabel's
// get_fdata() returns, so h5py's f["relevance_mni"][k] lines up with the NIfTI map.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "io/table.h"
#include "io/volume.h"

namespace mlens::io {

struct StoreMaps {
  std::string name;                 // "relevance_mni" (a stack) or "relevance" (a group of maps)
  bool common_grid = false;         // stack into [N, X, Y, Z]
  std::function<std::vector<Volume>(std::size_t subject)> load;  // maps (channels) of table row `subject`, read when written
};

// Writes atomically (a killed run leaves the previous store or none). Maps are streamed one subject at
// a time, so memory does not grow with the cohort. Errors name the file and the subject.
void write_cohort_store(const std::string& path, const Table& table, const StoreMaps& maps);

// The affine nibabel reports for a geometry: RAS millimetres, 4×4 row-major.
std::array<double, 16> ras_affine(const Geometry& geometry);

}  // namespace mlens::io
