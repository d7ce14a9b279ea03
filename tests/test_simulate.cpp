// The simulated cohort: deterministic for a seed (whatever the thread count), transforms that really
// take the subject to MNI, and ageing that shows (more lesions, more CSF). Runs on a small synthetic
// "Colin27" made here (an ellipsoid brain with a WM core, a GM shell and deep ventricles), so the test
// needs no files outside the repository.
#include "testing.h"

#include <cmath>
#include <filesystem>

#include "engine/simulate.h"
#include "fixtures.h"
#include "io/table.h"
#include "io/warp.h"

using namespace mlens;

namespace {

double dice(const io::Volume& a, const io::Volume& b) {
  double both = 0, sum = 0;
  for (std::size_t v = 0; v < a.voxels.size(); ++v) {
    const bool x = a.voxels[v] > 0.5f, y = b.voxels[v] > 0.5f;
    both += x && y;
    sum += x + y;
  }
  return 2 * both / sum;
}

}  // namespace

TEST_CASE("a simulated cohort is byte-identical for a seed, whatever the number of threads", "[simulate]") {
  test::TempDir dir;
  test::write_simulation_templates(dir.path(""));
  const engine::SimulationTemplate t = engine::load_simulation_template(dir.path(""));
  CHECK(!t.periventricular.empty());
  CHECK(!t.deep.empty());
  engine::SimulationOptions o;
  o.subjects = 3;
  o.seed = 5;
  engine::simulate_cohort(t, dir.path("a"), o);
  o.jobs = 2;
  engine::simulate_cohort(t, dir.path("b"), o);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path("a"))) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = std::filesystem::relative(entry.path(), dir.path("a")).string();
    INFO(rel);
    CHECK(test::file_bytes(entry.path().string()) == test::file_bytes(dir.path("b/" + rel)));
  }
  o.seed = 6;
  engine::simulate_cohort(t, dir.path("c"), o);
  CHECK(test::file_bytes(dir.path("a/sub-001/flair.nii.gz")) != test::file_bytes(dir.path("c/sub-001/flair.nii.gz")));
  const io::Table table = io::read_csv(dir.path("a/cohort.csv"));
  CHECK(table.columns == std::vector<std::string>{"id", "flair", "age", "sex", "wml", "transform", "mask", "lesion_ml", "lesion_count"});
  for (double age : table.numbers("age")) CHECK((age >= 18 && age <= 82));
}

TEST_CASE("a simulated subject's transform takes it to the template", "[simulate]") {
  test::TempDir dir;
  test::write_simulation_templates(dir.path(""));
  const engine::SimulationTemplate t = engine::load_simulation_template(dir.path(""));
  const engine::SimulatedSubject s = engine::simulate_subject(t, 75, 11);
  io::write_displacement_field(dir.path("to_mni.nii.gz"), s.to_mni);
  // The template's brain on the MNI grid, and the subject's brain mask brought there with and without its transform.
  io::Volume brain = t.grid;
  brain.voxels.resize(brain.size());
  for (int64_t v = 0; v < brain.size(); ++v) brain.voxels[v] = t.csf[v] + t.gm[v] + t.wm[v];
  const io::Volume expected = io::warp(brain, t.mni_2mm, io::TransformChain(), io::Interpolation::Linear);
  const io::Volume warped = io::warp(s.mask, t.mni_2mm, io::TransformChain::read({dir.path("to_mni.nii.gz")}), io::Interpolation::Linear);
  const io::Volume unwarped = io::warp(s.mask, t.mni_2mm, io::TransformChain(), io::Interpolation::Linear);
  const double aligned = dice(warped, expected), unaligned = dice(unwarped, expected);
  INFO("Dice with the transform " << aligned << ", without " << unaligned);
  CHECK(aligned > 0.97);
  CHECK(aligned > unaligned + 0.01);
}

TEST_CASE("simulated ageing: more lesion volume and more CSF in older subjects", "[simulate]") {
  test::TempDir dir;
  test::write_simulation_templates(dir.path(""));
  const engine::SimulationTemplate t = engine::load_simulation_template(dir.path(""));
  double lesions[2] = {0, 0}, dark[2] = {0, 0};
  for (int seed = 1; seed <= 4; ++seed)
    for (int old = 0; old < 2; ++old) {
      const engine::SimulatedSubject s = engine::simulate_subject(t, old ? 80 : 20, seed);
      lesions[old] += s.lesion_ml;
      for (std::size_t v = 0; v < s.flair.voxels.size(); ++v) dark[old] += s.mask.voxels[v] > 0 && s.flair.voxels[v] < 300;
    }
  INFO("lesion ml young " << lesions[0] << " old " << lesions[1] << "; CSF-dark voxels young " << dark[0] << " old " << dark[1]);
  CHECK(lesions[1] > 3 * lesions[0]);
  CHECK(dark[1] > 1.1 * dark[0]);
}
