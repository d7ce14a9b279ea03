// Slice panels as the study's Fig. 3 shows them: FLAIR in grey, the lesion map as a green outline, the
// relevance map as a heat map (red→yellow for positive, blue→cyan for negative relevance). Slices are
// shown in neurological convention (the subject's right on the image's right, anterior up), whatever
// the volume's voxel orientation.
#pragma once

#include <vector>

#include "io/png.h"
#include "io/volume.h"

namespace mlens::engine {

struct SliceOptions {
  int slices = 3;          // axial slices, side by side
  int zoom = 2;            // pixels per voxel
  double relevance_percentile = 99.5;  // |R| at this percentile of the non-zero voxels is full colour
};

// Axial slices of `flair` through the brain (or through the lesions' centre of mass when a lesion map is
// given), with optional overlays on the same grid (checked). Errors name the mismatching grids.
io::RgbImage slice_panel(const io::Volume& flair, const io::Volume* lesion, const io::Volume* relevance,
                         const SliceOptions& options = {});

}  // namespace mlens::engine
