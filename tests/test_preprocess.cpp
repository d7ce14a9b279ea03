// Preprocessing: reorientation keeps world positions and inverts exactly, pruning centres the brain
// box with floor offsets and unpruning returns the original voxels, clear errors for bad inputs, and
// the normalisations against their formulas.
#include "testing.h"

#include <cmath>

#include <algorithm>

#include "engine/pipeline.h"
#include "engine/preprocess.h"

using namespace mlens;

namespace {

io::Volume blob(const engine::Int3& shape, const engine::Int3& lo, const engine::Int3& hi) {
  io::Volume v;
  v.shape = shape;
  v.voxels.assign(static_cast<std::size_t>(v.size()), 0.0f);
  for (int64_t i = lo[0]; i <= hi[0]; ++i)
    for (int64_t j = lo[1]; j <= hi[1]; ++j)
      for (int64_t k = lo[2]; k <= hi[2]; ++k) v.at(i, j, k) = static_cast<float>(1 + i + 10 * j + 100 * k);
  v.geometry.spacing = {1.0, 1.5, 2.0};
  v.geometry.origin = {10, -20, 30};
  return v;
}

// World position (LPS) of voxel (i, j, k).
std::array<double, 3> world(const io::Volume& v, int64_t i, int64_t j, int64_t k) {
  const double idx[3] = {static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)};
  std::array<double, 3> p = v.geometry.origin;
  for (int r = 0; r < 3; ++r)
    for (int s = 0; s < 3; ++s) p[r] += v.geometry.direction[3 * r + s] * v.geometry.spacing[s] * idx[s];
  return p;
}

}  // namespace

TEST_CASE("orientation codes follow nibabel's aff2axcodes", "[preprocess]") {
  io::Geometry g;  // identity in ITK's LPS world: i → L, j → P, k → S
  CHECK(engine::orientation_code(g) == "LPS");
  g.direction = {1, 0, 0, 0, 0, -1, 0, -1, 0};  // columns L, I, A: FreeSurfer's conformed space
  CHECK(engine::orientation_code(g) == "LIA");
  g.direction = {-1, 0, 0, 0, 0, 1, 0, -1, 0};
  CHECK(engine::orientation_code(g) == "RIP");
  g.direction = {1, 0, 0, 0, 0, 1, 0, -1, 0};
  CHECK(engine::orientation_code(g) == "LIP");
  g.direction = {1, 0.2, 0, 0, 1, 0, 0, 0, 1};
  CHECK_THROWS_WITH(engine::orientation_code(g, "oblique.nii"), Catch::Contains("oblique.nii") && Catch::Contains("not orthonormal"));
}

TEST_CASE("reorienting keeps every voxel's world position and inverts exactly", "[preprocess]") {
  io::Volume v = blob({5, 6, 7}, {1, 1, 1}, {3, 4, 5});
  v.geometry.direction = {-1, 0, 0, 0, 0, 1, 0, -1, 0};
  const std::string original = engine::orientation_code(v.geometry);
  for (const char* code : {"LIA", "RAS", "ASL", "IPR"}) {
    const io::Volume r = engine::reorient(v, code);
    CHECK(engine::orientation_code(r.geometry) == code);
    // Every voxel value sits at the same world position as before.
    for (int64_t i = 0; i < r.shape[0]; ++i)
      for (int64_t j = 0; j < r.shape[1]; ++j)
        for (int64_t k = 0; k < r.shape[2]; ++k) {
          const auto p = world(r, i, j, k);
          bool found = false;
          for (int64_t a = 0; a < v.shape[0] && !found; ++a)
            for (int64_t b = 0; b < v.shape[1] && !found; ++b)
              for (int64_t c = 0; c < v.shape[2] && !found; ++c) {
                const auto q = world(v, a, b, c);
                if (std::abs(p[0] - q[0]) < 1e-9 && std::abs(p[1] - q[1]) < 1e-9 && std::abs(p[2] - q[2]) < 1e-9) {
                  found = true;
                  CHECK(r.at(i, j, k) == v.at(a, b, c));
                }
              }
          REQUIRE(found);
        }
    const io::Volume back = engine::reorient(r, original);
    CHECK(back.shape == v.shape);
    CHECK(back.voxels == v.voxels);
    for (int a = 0; a < 3; ++a) CHECK(back.geometry.origin[a] == Approx(v.geometry.origin[a]));
  }
  CHECK_THROWS_WITH(engine::reorient(v, "LLA"), Catch::Contains("orientation code \"LLA\""));
}

TEST_CASE("pruning centres the brain box with floor offsets and unpruning restores it", "[preprocess]") {
  const io::Volume v = blob({20, 18, 16}, {3, 5, 2}, {9, 12, 14});  // extents 7, 8, 13
  engine::PruneGeometry g;
  const io::Volume p = engine::prune(v, {12, 12, 16}, g, "sub-01");
  CHECK(g.box.lower == engine::Int3{3, 5, 2});
  CHECK(g.box.extent == engine::Int3{7, 8, 13});
  CHECK(g.offset == engine::Int3{2, 2, 1});  // floor((12 − 7) / 2), floor((12 − 8) / 2), floor((16 − 13) / 2)
  CHECK(p.at(2, 2, 1) == v.at(3, 5, 2));
  CHECK(world(p, 2, 2, 1) == world(v, 3, 5, 2));  // the pruned grid keeps world positions
  const io::Volume back = engine::unprune(p, g);
  CHECK(back.shape == v.shape);
  CHECK(back.voxels == v.voxels);  // background outside the box is 0 in both
  CHECK_THROWS_WITH(engine::prune(v, {6, 12, 16}, g, "sub-01"),
                    Catch::Contains("sub-01") && Catch::Contains("spans 7 voxels along axis i") && Catch::Contains("model's 6"));
  io::Volume empty = v;
  std::fill(empty.voxels.begin(), empty.voxels.end(), 0.0f);
  CHECK_THROWS_WITH(engine::prune(empty, {12, 12, 16}, g, "empty.nii"), Catch::Contains("empty.nii") && Catch::Contains("empty"));
}

TEST_CASE("normalisations follow their formulas", "[preprocess]") {
  io::Volume v;
  v.shape = {1, 1, 5};
  v.voxels = {0, 100, 200, 383, 500};
  io::Volume s = v;
  engine::study_uint8(s, 300);  // min_img 0, range min(300, 383) = 300
  CHECK(s.voxels[1] == Approx(std::round(255.0 * 100 / 300) / 255));
  CHECK(s.voxels[2] == Approx(std::round(255.0 * 200 / 300) / 255));
  CHECK(s.voxels[3] == Approx(1.0));  // 383 · 255 / 300 > 255: clipped at uint8's top
  CHECK(s.voxels[4] == Approx(1.0));
  io::Volume u = v;
  engine::scale_to_unit(u);
  CHECK(u.voxels[4] == 1.0f);
  CHECK(u.voxels[1] == Approx(0.2));
  io::Volume z = v;
  engine::zscore_in_brain(z);  // background (0) stays 0; the others: mean 295.75, sd 169.56...
  CHECK(z.voxels[0] == 0.0f);
  double mean = (100 + 200 + 383 + 500) / 4.0, ss = 0;
  for (double x : {100.0, 200.0, 383.0, 500.0}) ss += (x - mean) * (x - mean);
  CHECK(z.voxels[1] == Approx((100 - mean) / std::sqrt(ss / 3)));
  io::Volume zero = v;
  std::fill(zero.voxels.begin(), zero.voxels.end(), 0.0f);
  CHECK_THROWS_WITH(engine::scale_to_unit(zero, "z.nii"), Catch::Contains("not positive"));
}

TEST_CASE("the manifest's chain prepares a subject and returns maps to the subject's grid", "[preprocess]") {
  io::Volume subject = blob({30, 28, 26}, {4, 6, 3}, {20, 21, 19});
  subject.geometry.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};  // LPS
  engine::PreprocessSpec spec;
  spec.shape = {24, 24, 24};
  spec.orientation = "LIA";
  spec.fit = "prune";
  spec.normalise = "unit";
  const engine::Prepared p = engine::prepare(subject, spec, nullptr, "sub-01");
  CHECK(p.model_input.shape == engine::Int3{24, 24, 24});
  CHECK(engine::orientation_code(p.model_input.geometry) == "LIA");
  CHECK(p.reoriented);
  CHECK(p.pruned);
  // The model input itself, sent back, is the normalised subject: every voxel in place.
  const io::Volume back = engine::to_subject_space(p.model_input, p);
  CHECK(back.shape == subject.shape);
  const float max = *std::max_element(subject.voxels.begin(), subject.voxels.end());
  for (std::size_t i = 0; i < back.voxels.size(); ++i) REQUIRE(back.voxels[i] == subject.voxels[i] / max);
  for (int a = 0; a < 3; ++a) CHECK(back.geometry.origin[a] == subject.geometry.origin[a]);

  io::Volume mask = subject;
  std::fill(mask.voxels.begin(), mask.voxels.end(), 1.0f);
  mask.at(10, 10, 10) = 0;
  const engine::Prepared masked = engine::prepare(subject, spec, &mask, "sub-01");
  CHECK(engine::to_subject_space(masked.model_input, masked).at(10, 10, 10) == 0.0f);
  mask.geometry.origin = {0, 0, 0};
  CHECK_THROWS_WITH(engine::prepare(subject, spec, &mask, "sub-01"), Catch::Contains("not on the same voxel grid"));
}

TEST_CASE("a subject with NaN or infinite voxels is refused, naming the file and the first voxel", "[preprocess]") {
  io::Volume subject = blob({30, 28, 26}, {4, 6, 3}, {20, 21, 19});
  engine::PreprocessSpec spec;
  spec.shape = {24, 24, 24};
  spec.fit = "prune";
  spec.normalise = "unit";
  subject.at(12, 5, 7) = std::nanf("");
  subject.at(20, 1, 1) = INFINITY;
  CHECK_THROWS_WITH(engine::prepare(subject, spec, nullptr, "sub-01_FLAIR.nii.gz"),
                    Catch::Contains("sub-01_FLAIR.nii.gz") && Catch::Contains("2 voxel(s) are not finite") &&
                        Catch::Contains("(12, 5, 7), is NaN"));
  io::Volume mask = subject;  // voxels outside the brain mask do not count
  std::fill(mask.voxels.begin(), mask.voxels.end(), 1.0f);
  mask.at(12, 5, 7) = 0;
  mask.at(20, 1, 1) = 0;
  CHECK_NOTHROW(engine::prepare(subject, spec, &mask, "sub-01_FLAIR.nii.gz"));
}

TEST_CASE("preprocessing fields of a manifest are checked", "[preprocess]") {
  io::EnsembleSpec m;
  m.source = "m.mlens.json";
  m.input_shape = {24, 24, 24};
  m.preprocessing = {{"fit", "stretch"}};
  CHECK_THROWS_WITH(engine::preprocess_spec(m), Catch::Contains("input.preprocessing.fit") && Catch::Contains("stretch"));
  m.preprocessing = {{"fit", "prune"}, {"normalise", "study-uint8"}};
  CHECK_THROWS_WITH(engine::preprocess_spec(m), Catch::Contains("dataset_max"));
  m.preprocessing = {{"fit", "prune"}, {"normalise", "study-uint8"}, {"dataset_max", 350}};
  CHECK(engine::preprocess_spec(m).ceiling == 383);
}

TEST_CASE("a resampling grid is centred where asked and points as its code says", "[preprocess]") {
  const io::Volume grid = engine::make_grid("RAS", {2, 2, 2}, {5, 6, 7}, {1, -17, 8});
  CHECK(engine::orientation_code(grid.geometry) == "RAS");
  const auto centre = grid.geometry.world({2, 2.5, 3});
  CHECK(centre[0] == Approx(-1));   // LPS x = −RAS x
  CHECK(centre[1] == Approx(17));
  CHECK(centre[2] == Approx(8));
  CHECK(engine::orientation_code(engine::make_grid("LIA", {1, 1, 1}, {3, 3, 3}, {0, 0, 0}).geometry) == "LIA");
  CHECK_THROWS_WITH(engine::make_grid("RAX", {1, 1, 1}, {3, 3, 3}, {0, 0, 0}), Catch::Contains("RAX"));
}

TEST_CASE("box resampling averages the source over each target voxel and its adjoint keeps the total", "[preprocess]") {
  // Source: 1 mm voxels; target: 2 mm voxels whose extents cover whole 2x2x2 blocks of source voxels, so
  // the box filter is exactly the block mean (a naive reference written here).
  io::Volume source;
  source.shape = {8, 10, 6};
  source.voxels.resize(source.size());
  for (std::size_t v = 0; v < source.voxels.size(); ++v) source.voxels[v] = static_cast<float>(std::sin(0.37 * v) * 5 + v % 7);
  io::Volume grid;
  grid.shape = {4, 5, 3};
  grid.geometry.spacing = {2, 2, 2};
  grid.geometry.origin = {0.5, 0.5, 0.5};  // centre of target voxel 0 lies between source voxels 0 and 1
  const io::Volume out = engine::resample_box(source, grid);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 5; ++j)
      for (int64_t k = 0; k < 3; ++k) {
        double mean = 0;
        for (int d = 0; d < 8; ++d) mean += source.at(2 * i + (d >> 2), 2 * j + ((d >> 1) & 1), 2 * k + (d & 1)) / 8.0;
        REQUIRE(out.at(i, j, k) == Approx(mean).margin(1e-5));
      }

  // Adjoint: <A x, y> = <x, Aᵀ y>, and Σ Aᵀ y = Σ y when the grid lies inside the source.
  io::Volume y = out;
  for (std::size_t v = 0; v < y.voxels.size(); ++v) y.voxels[v] = static_cast<float>(std::cos(1.3 * v));
  const io::Volume back = engine::resample_box_adjoint(y, source);
  double lhs = 0, rhs = 0, total_y = 0, total_back = 0;
  for (std::size_t v = 0; v < y.voxels.size(); ++v) lhs += double(out.voxels[v]) * y.voxels[v], total_y += y.voxels[v];
  for (std::size_t v = 0; v < back.voxels.size(); ++v) rhs += double(source.voxels[v]) * back.voxels[v], total_back += back.voxels[v];
  CHECK(lhs == Approx(rhs).epsilon(1e-5));
  CHECK(total_back == Approx(total_y).epsilon(1e-5));
}

TEST_CASE("fit resample brings a subject into the manifest's grid and maps back keeping their total", "[preprocess]") {
  io::Volume subject = blob({30, 28, 26}, {4, 6, 3}, {20, 21, 19});
  io::EnsembleSpec m;
  m.source = "m.mlens.json";
  m.input_shape = {12, 14, 10};
  m.voxel_size = {3, 3, 3};
  m.orientation = "RAS";
  const auto centre = subject.geometry.world({14.5, 13.5, 12.5});
  m.preprocessing = {{"fit", "resample"}, {"centre", {-centre[0], -centre[1], centre[2]}}, {"normalise", "none"}};
  const engine::PreprocessSpec spec = engine::preprocess_spec(m);
  const engine::Prepared p = engine::prepare(subject, spec, nullptr, "sub-01");
  CHECK(p.resampled);
  CHECK(p.model_input.shape == engine::Int3{12, 14, 10});
  CHECK(engine::orientation_code(p.model_input.geometry) == "RAS");
  io::Volume map = p.model_input;
  double total = 0;
  for (float x : map.voxels) total += x;
  const io::Volume back = engine::to_subject_space(map, p);
  CHECK(back.shape == subject.shape);
  double back_total = 0;
  for (float x : back.voxels) back_total += x;
  CHECK(back_total == Approx(total).epsilon(1e-4));

  m.preprocessing = {{"fit", "resample"}};
  CHECK_THROWS_WITH(engine::preprocess_spec(m), Catch::Contains("centre") && Catch::Contains("reference"));
}
