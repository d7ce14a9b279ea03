// A simulated FLAIR cohort with ground truth, built on the Colin27 brain in MNI space (Debian's
// mricron-data: ch2bet.nii.gz for the anatomy, JHU-WhiteMatter-labels-2mm.nii.gz for the MNI 2 mm grid).
//
// Per subject, everything drawn from one seed:
//   tissue      partial-volume CSF/GM/WM fractions from Colin27's T1 intensities (three-class k-means)
//   ageing      grey matter next to CSF turns into CSF (sulcal widening, cortical thinning) and the
//               ventricles expand (a radial deformation), both growing with age with individual rates
//   lesions     white-matter lesions, periventricular and deep, whose number and size grow with age:
//               ellipsoids with irregular boundaries and soft edges (a lesion probability map)
//   contrast    FLAIR-like: CSF dark, white matter darker than grey matter, lesions bright
//   anatomy     a small rigid motion plus a smooth random deformation; the exact transform to MNI is
//               written as an ANTs/ITK displacement field on the MNI 2 mm grid
//   scanner     a smooth multiplicative bias field and Rician noise
// The subject's grid is the template's (1 mm); the FLAIR is skull-stripped (zero outside the brain).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/volume.h"

namespace mlens::engine {

struct SimulationTemplate {
  io::Volume grid;                      // the template's 1 mm grid (shape and geometry; voxels unused)
  io::Volume mni_2mm;                   // the grid of the transforms (shape and geometry)
  std::vector<float> csf, gm, wm;       // partial-volume fractions; all 0 outside the brain
  std::vector<float> outer;             // closeness to CSF or the brain's outside (smoothed fraction)
  std::vector<int64_t> periventricular, deep;  // candidate lesion centres (voxel indices)
  std::array<double, 3> ventricle_centre{};    // world (LPS mm)
};

// Reads ch2bet.nii.gz and JHU-WhiteMatter-labels-2mm.nii.gz from `directory`; errors name the file.
SimulationTemplate load_simulation_template(const std::string& directory);

struct SimulatedSubject {
  double age = 0;
  int lesion_count = 0;
  double lesion_ml = 0;                // Σ probability × voxel volume, in the subject's grid
  io::Volume flair, lesion, mask;      // subject grid
  std::array<io::Volume, 3> to_mni;    // displacement field on the MNI 2 mm grid: MNI point m ↦ m + u(m)
};

SimulatedSubject simulate_subject(const SimulationTemplate& t, double age, uint64_t seed);

struct SimulationOptions {
  int subjects = 60;
  uint64_t seed = 1;
  double age_min = 18, age_max = 82;
  int jobs = 1;  // subjects simulated in parallel; the output does not depend on it
};

// Writes DIR/sub-NNN/{flair,lesion,mask,to_mni}.nii.gz and DIR/cohort.csv (id, flair, age, sex, wml,
// transform, mask, lesion_ml, lesion_count). Subject i's seed and age depend only on (seed, i), so the
// same options give byte-identical files. `progress` is called after each subject (from any thread).
void simulate_cohort(const SimulationTemplate& t, const std::string& directory, const SimulationOptions& options,
                     const std::function<void(int done, int total)>& progress = {});

}  // namespace mlens::engine
