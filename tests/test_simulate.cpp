// The simulated cohort: deterministic for a seed (whatever the thread count), transforms that really
// take the subject to MNI, and ageing that shows (more lesions, more CSF). Runs on a small synthetic
// "Colin27" made here (an ellipsoid brain with a WM core, a GM shell and deep ventricles), so the test
// needs no files outside the repository.
#include "testing.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/simulate.h"
#include "fixtures.h"
#include "io/table.h"
#include "io/warp.h"

using namespace mlens;

namespace {

double ellipsoid(const std::array<double, 3>& p, const std::array<double, 3>& c, const std::array<double, 3>& r) {
  double s = 0;
  for (int a = 0; a < 3; ++a) s += (p[a] - c[a]) * (p[a] - c[a]) / (r[a] * r[a]);
  return s;
}

void write_templates(const std::string& dir) {
  io::Volume t1;
  t1.shape = {64, 76, 64};
  t1.geometry.origin = {31.5, 37.5 + 17, 8 - 31.5};  // LPS; centre of the grid at RAS (0, -17, 8)
  t1.geometry.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};  // RAS voxel axes, as ch2bet
  t1.voxels.assign(t1.size(), 0.f);
  const std::array<double, 3> centre{0, 17, 8};
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < 76; ++j)
      for (int64_t k = 0; k < 64; ++k) {
        const auto p = t1.geometry.world({double(i), double(j), double(k)});
        float v = 0;
        if (ellipsoid(p, centre, {29, 35, 29}) <= 1) v = 80;           // grey matter
        if (ellipsoid(p, centre, {24, 30, 24}) <= 1) v = 110;          // white matter
        if (ellipsoid(p, centre, {6, 13, 6}) <= 1) v = 30;             // ventricles
        const double e = ellipsoid(p, centre, {29, 35, 29});
        const bool cortex = e > 0.55 && e <= 1;
        if (cortex && (std::abs(p[0]) < 1 || std::fmod(std::abs(p[1] - 17) + 2, 7) < 1.2 || std::fmod(std::abs(p[2] - 8) + 2, 7) < 1.2))
          v = 30;  // sulci
        t1.at(i, j, k) = v;
      }
  io::write_volume(dir + "/ch2bet.nii.gz", t1);
  io::Volume mni;
  mni.shape = {34, 40, 34};
  mni.geometry.spacing = {2, 2, 2};
  mni.geometry.origin = {33, 39 + 17, 8 - 33};
  mni.geometry.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  mni.voxels.assign(mni.size(), 0.f);
  io::write_volume(dir + "/JHU-WhiteMatter-labels-2mm.nii.gz", mni);
}

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

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
  write_templates(dir.path(""));
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
    CHECK(bytes(entry.path().string()) == bytes(dir.path("b/" + rel)));
  }
  o.seed = 6;
  engine::simulate_cohort(t, dir.path("c"), o);
  CHECK(bytes(dir.path("a/sub-001/flair.nii.gz")) != bytes(dir.path("c/sub-001/flair.nii.gz")));
  const io::Table table = io::read_csv(dir.path("a/cohort.csv"));
  CHECK(table.columns == std::vector<std::string>{"id", "flair", "age", "sex", "wml", "transform", "mask", "lesion_ml", "lesion_count"});
  for (double age : table.numbers("age")) CHECK((age >= 18 && age <= 82));
}

TEST_CASE("a simulated subject's transform takes it to the template", "[simulate]") {
  test::TempDir dir;
  write_templates(dir.path(""));
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
  write_templates(dir.path(""));
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
