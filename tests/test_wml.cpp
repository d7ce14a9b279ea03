// The WML analysis: per-subject overlay columns by hand on tiny volumes, 26-connectivity, R-style
// tables, and `mlens stats` against R 4.2.2 on the table below (t.test / wilcox.test paired,
// cor.test pearson and spearman with exact = FALSE, on n_wml_voxel vs brain_age − age).
#include "testing.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "fixtures.h"
#include "io/table.h"
#include "io/volume.h"
#include "stats/cohort_maps.h"
#include "stats/wml_overlay.h"

using namespace mlens;

namespace {
const std::string kMlens = MLENS_BINARY;

// Written as R's write.csv writes: quoted header, an unnamed row-index column, NA for missing.
const char* kTable = R"("","sic","n_wml_voxel","a_wml_voxel","ap_voxel","age","brain_age","p_wml_voxel"
"0","S01",0,NA,1.42e-05,29,24.1,0
"1","S02",131,0.00165,2.32e-05,42,41.0,0.0133
"2","S03",8,0.00069,2.14e-05,48,49.1,0.00034
"3","S04",1213,0.000247,1.67e-05,72,71.3,0.0185
"4","S05",837,0.000194,8.59e-06,61,62.7,0.0215
"5","S06",790,0.000813,1.59e-05,66,67.9,0.0439
"6","S07",82,0.00186,1.09e-05,63,71.1,0.0134
"7","S08",5032,0.000223,1.52e-05,73,74.0,0.0621
"8","S09",263,-1.99e-06,1.60e-05,71,70.5,-3.4e-05
"9","S10",35,0.000228,4.34e-06,66,69.9,0.00252
"10","S11",192,0.000447,1.03e-05,75,74.0,0.00735
"11","S12",30,0.0005,1.2e-05,50,NA,0.001
)";
}  // namespace

TEST_CASE("overlay columns follow the study's definitions", "[wml]") {
  // 2×2×2 volume: relevance r, lesion probabilities p, threshold 0.5 strictly greater (0.5 is exact in
  // float; 0.8f is 0.800000012 and would count, as it does for the study's float64 `img > 0.8`).
  const std::vector<float> r{0.5f, -0.25f, 0.0f, 1.0f, 0.0f, 0.25f, -0.5f, 2.0f};
  const std::vector<float> p{0.9f, 0.5f, 0.95f, 0.1f, 0.0f, 0.0f, 0.85f, 0.0f};
  const stats::WmlRow w = stats::wml_overlay(r, p, {}, {2, 2, 2}, 8.0, 0.5);
  // Lesion voxels: 0 (0.5), 2 (0.0), 6 (-0.5); voxel 1 sits exactly on the threshold and is out.
  CHECK(w.n_wml_voxel == 3);
  CHECK(w.s_wml_voxel == Approx(0.0));
  CHECK(w.a_wml_voxel == Approx(0.0));
  // Non-zero relevance: 0.5, -0.25, 1, 0.25, -0.5, 2 → sum 3, mean 0.5.
  CHECK(w.s_voxel == Approx(3.0));
  CHECK(w.a_voxel == Approx(0.5));
  CHECK(w.as_voxel == Approx(9.0));
  CHECK(w.s_pos_voxel == Approx(3.75));
  CHECK(w.s_neg_voxel == Approx(-0.75));
  CHECK(w.ap_voxel == Approx(3.75 / 4));
  CHECK(w.p_wml_voxel == Approx(0.0));
  CHECK(w.p_voxel == Approx(3.75 / 4 * 3 / 3.75));
  CHECK(w.lesion_volume_ml == Approx(3 * 8.0 / 1000));
  CHECK(w.lesion_count == 1);  // 0, 2 and 6 touch by faces/edges in a 2×2×2 cube
}

TEST_CASE("an empty lesion map gives n_wml_voxel = 0 and empty means", "[wml]") {
  const stats::WmlRow w = stats::wml_overlay({1, 2, 3}, {0, 0, 0}, {}, {1, 1, 3}, 1.0);
  CHECK(w.n_wml_voxel == 0);
  CHECK(std::isnan(w.a_wml_voxel));
  CHECK(w.p_wml_voxel == 0);
  CHECK(w.lesion_count == 0);
  CHECK_THROWS_WITH(stats::wml_overlay({1, 2}, {0, 0, 0}, {}, {1, 1, 3}, 1.0), Catch::Contains("share one grid"));
}

TEST_CASE("a brain mask removes voxels from every set", "[wml]") {
  const stats::WmlRow w = stats::wml_overlay({1, 2, 3}, {1, 1, 0}, {1, 0, 1}, {1, 1, 3}, 1.0);
  CHECK(w.n_wml_voxel == 1);
  CHECK(w.s_voxel == Approx(4.0));
}

TEST_CASE("lesions are counted as 26-connected components", "[wml]") {
  // 3×3×3: corners (0,0,0) and (1,1,1) touch diagonally (one component); (0,0,2) is separate from
  // (1,1,1)? It touches it diagonally too, so all three are one; (2,2,0) touches (1,1,1) as well.
  std::vector<uint8_t> b(27, 0);
  const auto at = [](int i, int j, int k) { return (i * 3 + j) * 3 + k; };
  b[at(0, 0, 0)] = b[at(1, 1, 1)] = b[at(2, 2, 0)] = 1;
  CHECK(stats::count_components_26(b, {3, 3, 3}) == 1);
  b[at(1, 1, 1)] = 0;
  CHECK(stats::count_components_26(b, {3, 3, 3}) == 2);
  std::vector<uint8_t> line(7, 0);
  line[0] = line[2] = line[4] = 1;  // gaps of one voxel along a line: three components
  CHECK(stats::count_components_26(line, {1, 1, 7}) == 3);
}

TEST_CASE("R and pandas tables are read as they are", "[wml]") {
  const io::Table t = io::parse_csv(kTable, "wml.csv");
  CHECK(t.columns.front().empty());
  CHECK(t.rows.size() == 12);
  const auto a = t.numbers("a_wml_voxel");
  CHECK(std::isnan(a[0]));
  CHECK(a[1] == Approx(0.00165));
  CHECK(t.text("sic")[11] == "S12");
  const io::Table pandas = io::parse_csv("Unnamed: 0,x,y\r\n0,1.5,\r\n1,\"2,5\",nan\r\n", "p.csv");
  CHECK(pandas.columns[0].empty());
  CHECK(std::isnan(pandas.numbers("y")[0]));
  CHECK(pandas.text("x")[1] == "2,5");
  CHECK_THROWS_WITH(pandas.numbers("x"), Catch::Contains("\"2,5\" is not a number") && Catch::Contains("row 2"));
  CHECK_THROWS_WITH(t.numbers("gap"), Catch::Contains("no column \"gap\"") && Catch::Contains("n_wml_voxel"));
  CHECK_THROWS_WITH(io::parse_csv("a,b\n1,2,3\n", "bad.csv"), Catch::Contains("line 2 has 3 fields"));
  // Round trip through our writer.
  CHECK(io::parse_csv(io::to_csv(t), "again").rows == t.rows);
}

TEST_CASE("text quoted from files is written as valid UTF-8, other bytes escaped", "[wml][io]") {
  CHECK(io::printable("sub-01 Müller 脳 🧠\tok\n") == "sub-01 Müller 脳 🧠\tok\n");  // UTF-8 kept
  CHECK(io::printable(std::string("layer \xff\xfe\0x", 10)) == "layer \\xff\\xfe\\x00x");
  CHECK(io::printable("M\xfcller.nii") == "M\\xfcller.nii");  // Latin-1
  CHECK(io::printable("\xc3") == "\\xc3");                      // a sequence cut short
  CHECK(io::printable("\xc0\xaf") == "\\xc0\\xaf");             // an overlong '/'
  CHECK(io::printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");    // a UTF-16 surrogate
  CHECK(io::printable("bell\a\rend") == "bell\\x07\\x0dend");
  io::Table t{"t", {"id", "error"}, {{"s\xff", "bad \x01"}}};
  CHECK(io::to_csv(t) == "id,error\ns\\xff,bad \\x01\n");
}

TEST_CASE("mlens stats reproduces R on a study-style table", "[wml][cli]") {
  test::TempDir dir;
  std::ofstream(dir.path("wml.csv")) << kTable;
  std::string out;
  REQUIRE(test::run(kMlens + " stats --table " + dir.path("wml.csv") + " --out " + dir.path("stats"), &out) == 0);
  CHECK_THAT(out, Catch::Contains("9 of 12 subjects") && Catch::Contains("t(8) = 2.73"));
  const auto j = nlohmann::json::parse(test::file_bytes(dir.path("stats/stats.json")));
  CHECK(j["included"] == 9);
  const auto& t = j["paired_t_test"];
  CHECK(t["t"].get<double>() == Approx(2.7281971780131080).epsilon(1e-9));
  CHECK(t["df"].get<double>() == 8);
  CHECK(t["p"].get<double>() == Approx(2.5917965885054451e-02).epsilon(1e-8));
  CHECK(t["ci_low"].get<double>() == Approx(9.5238986218920506e-05).epsilon(1e-8));
  CHECK(t["ci_high"].get<double>() == Approx(1.1356232360033016e-03).epsilon(1e-8));
  CHECK(j["wilcoxon_signed_rank"]["V"].get<double>() == 44);
  CHECK(j["wilcoxon_signed_rank"]["p"].get<double>() == Approx(0.0078125).epsilon(1e-12));
  CHECK(j["lesion_load_vs_gap"]["pearson"]["r"].get<double>() == Approx(-0.00059760825251458293).epsilon(1e-8));
  CHECK(j["lesion_load_vs_gap"]["pearson"]["p"].get<double>() == Approx(0.99860864339688748537).epsilon(1e-8));
  CHECK(j["lesion_load_vs_gap"]["spearman"]["r"].get<double>() == Approx(0.050114025233602574).epsilon(1e-10));
  CHECK(j["lesion_load_vs_gap"]["spearman"]["p"].get<double>() == Approx(0.883665268126761383).epsilon(1e-8));
  CHECK(j["mean_p_wml_voxel"].get<double>() == Approx(0.020281777777777777).epsilon(1e-12));
  CHECK(std::ifstream(dir.path("stats/wml_relevance.svg")).good());
  CHECK(std::ifstream(dir.path("stats/lesion_load_vs_gap.svg")).good());

  CHECK(test::run(kMlens + " stats --min-wml-voxels 5000 --table " + dir.path("wml.csv") + " --out " + dir.path("s2"),
                  &out) == 1);
  CHECK_THAT(out, Catch::Contains("only 1 of 12 subjects"));
}

TEST_CASE("mlens overlay adds one row per subject and refuses mismatched grids", "[wml][cli]") {
  test::TempDir dir;
  io::Volume rel, les;
  rel.shape = les.shape = {4, 4, 4};
  rel.voxels.assign(64, 0.0f);
  les.voxels.assign(64, 0.0f);
  rel.geometry.spacing = les.geometry.spacing = {2, 2, 2};
  for (int v = 0; v < 64; ++v) rel.voxels[v] = static_cast<float>((v % 7) - 2) / 8;
  for (int v : {5, 6, 21, 40}) les.voxels[v] = 0.9f;
  io::write_volume(dir.path("rel.nii.gz"), rel);
  io::write_volume(dir.path("les.nii.gz"), les);
  const std::string base = kMlens + " overlay --relevance " + dir.path("rel.nii.gz") + " --lesions " + dir.path("les.nii.gz") +
                           " --out " + dir.path("wml.csv");
  std::string out;
  REQUIRE(test::run(base + " --id a --age 60 --brain-age 64.5", &out) == 0);
  REQUIRE(test::run(base + " --id b", &out) == 0);
  REQUIRE(test::run(base + " --id a --age 60 --brain-age 65", &out) == 0);  // replaces a's row
  const io::Table t = io::read_csv(dir.path("wml.csv"));
  REQUIRE(t.rows.size() == 2);
  CHECK(t.text("id") == std::vector<std::string>{"b", "a"});
  const stats::WmlRow w = stats::wml_overlay(rel.voxels, les.voxels, {}, rel.shape, 8.0);
  CHECK(t.numbers("n_wml_voxel")[1] == 4);
  CHECK(t.numbers("a_wml_voxel")[1] == Approx(w.a_wml_voxel));
  CHECK(t.numbers("ap_voxel")[1] == Approx(w.ap_voxel));
  CHECK(t.numbers("gap")[1] == Approx(5.0));
  CHECK(std::isnan(t.numbers("gap")[0]));
  CHECK(t.numbers("lesion_volume_ml")[1] == Approx(4 * 8.0 / 1000));
  CHECK(t.numbers("lesion_count")[1] == w.lesion_count);

  les.geometry.origin = {0, 0, 5};
  io::write_volume(dir.path("shifted.nii.gz"), les);
  CHECK(test::run(kMlens + " overlay --relevance " + dir.path("rel.nii.gz") + " --lesions " + dir.path("shifted.nii.gz") +
                      " --out " + dir.path("x.csv"),
                  &out) == 1);
  CHECK_THAT(out, Catch::Contains("not on the same voxel grid") && Catch::Contains("origin (0, 0, 5)") &&
                      Catch::Contains("origin (0, 0, 0)"));
  CHECK_FALSE(std::ifstream(dir.path("x.csv")).good());
}

TEST_CASE("cohort maps average relevance, count lesions and average relevance inside lesions", "[wml]") {
  stats::CohortMaps maps(3, 0.8);
  maps.add({1, 2, 3}, {0.9f, 0.0f, 0.9f});
  maps.add({3, 4, 5}, {0.9f, 0.9f, 0.1f});
  CHECK(maps.mean_relevance() == std::vector<float>{2, 3, 4});
  CHECK(maps.lesion_frequency() == std::vector<float>{1, 0.5, 0.5});
  CHECK(maps.mean_relevance_in_lesions() == std::vector<float>{2, 4, 3});
  CHECK_THROWS_WITH(maps.add({1, 2}, {0, 0}), Catch::Contains("the first had 3"));
}

TEST_CASE("mlens maps writes the three cohort maps", "[wml][cli]") {
  test::TempDir dir;
  io::Volume v;
  v.shape = {2, 1, 1};
  v.voxels = {1, 2};
  io::write_volume(dir.path("r1.nii.gz"), v);
  v.voxels = {3, 6};
  io::write_volume(dir.path("r2.nii.gz"), v);
  v.voxels = {1, 0};
  io::write_volume(dir.path("l1.nii.gz"), v);
  v.voxels = {1, 1};
  io::write_volume(dir.path("l2.nii.gz"), v);
  std::ofstream(dir.path("list.csv")) << "relevance,lesions\nr1.nii.gz,l1.nii.gz\nr2.nii.gz,l2.nii.gz\n";
  std::string out;
  REQUIRE(test::run(kMlens + " maps --list " + dir.path("list.csv") + " --out " + dir.path("maps"), &out) == 0);
  CHECK(io::read_volume(dir.path("maps/mean_relevance.nii.gz")).voxels == std::vector<float>{2, 4});
  CHECK(io::read_volume(dir.path("maps/lesion_frequency.nii.gz")).voxels == std::vector<float>{1, 0.5});
  CHECK(io::read_volume(dir.path("maps/mean_relevance_in_lesions.nii.gz")).voxels == std::vector<float>{2, 6});
}
