// The manifest's preprocessing chain for one subject, and its inverse for maps:
//
//   subject volume ─(× brain mask)─ reorient to input.orientation ─ prune to input.shape ─ normalise
//                                 └─ or: resample into a fixed grid ─────────────────┘
//        ▲                                                                                    │ model
//   subject-space map ◀── reorient back ◀── unprune (zeros outside the box) ◀── model-grid map ┘
//
// Manifest fields (input.preprocessing): "fit": "prune" | "resample" | "none" (the volume is already in
// the grid); "resample" takes the grid from input.shape, input.voxel_size, input.orientation and
// "centre": [x, y, z] (RAS mm, e.g. MNI coordinates), or from "reference": an image file (relative to the
// manifest) of input.shape;
// "normalise": "none" | "unit" | "zscore" | "study-uint8" (with "dataset_max", optional "ceiling" = 383).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/preprocess.h"
#include "io/manifest.h"
#include "io/volume.h"

namespace mlens::engine {

struct PreprocessSpec {
  Int3 shape{0, 0, 0};
  std::string orientation;        // "" = keep
  std::string fit = "none";       // "prune", "resample" or "none"
  std::string normalise = "none"; // "none", "unit", "zscore", "study-uint8"
  double dataset_max = 0, ceiling = 383;
  io::Volume grid;                // fit = resample: the model's grid (shape and geometry)
  // QC expectations (input.expected): the subject's maximum intensity range and the largest brain extent
  // (voxels per axis in the model's orientation); min > max / zeros when not given.
  std::array<double, 2> intensity_max_range{1, 0};
  Int3 brain_extent_max{0, 0, 0};
};

// From a manifest; errors name the manifest and the field.
PreprocessSpec preprocess_spec(const io::EnsembleSpec& manifest);

struct Prepared {
  io::Volume model_input;
  io::Volume subject;  // the subject's grid (shape and geometry; voxels not kept)
  std::string subject_orientation;
  bool reoriented = false, pruned = false, resampled = false;
  PruneGeometry prune;
  double intensity_max = 0;           // of the (masked) subject volume, before normalisation
  Int3 brain_extent{0, 0, 0};         // brain box in the model's orientation
};

// QC flags of a prepared subject against the manifest's expectations: "intensity_out_of_range",
// "brain_extent_too_large"; empty when everything is as expected (or nothing is expected).
std::vector<std::string> qc_flags(const Prepared& prepared, const PreprocessSpec& spec);

// `mask` (optional) must share the subject's grid. Pass `subject` as a temporary (or std::move it) to
// prepare it in place; a 198³ volume is 31 MB.
Prepared prepare(io::Volume subject, const PreprocessSpec& spec, const io::Volume* mask, const std::string& source);

// A map in the model's grid back into the subject's grid (same shape and affine as the subject volume);
// float64 maps stay float64.
template <typename T>
io::BasicVolume<T> to_subject_space(io::BasicVolume<T> model_map, const Prepared& prepared);

}  // namespace mlens::engine
