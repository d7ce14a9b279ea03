// mlens stats: the study's cohort analysis of lesion relevance from a per-subject table.
#include <cmath>
#include <filesystem>
#include <iostream>

#include "io/atomic_file.h"
#include "io/svg_plot.h"
#include "io/table.h"
#include "stats/p_values.h"
#include "stats/wml_cohort.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json to_json(const stats::Correlation& c) {
  return {{"n", c.n}, {"r", number_or_null(c.r)}, {"p", c.p}};
}

int run(const po::variables_map& vm) {
  const std::string table_path = vm["table"].as<std::string>(), out = vm["out"].as<std::string>();
  const std::string expected = vm["expected"].as<std::string>();
  if (expected != "ap_voxel" && expected != "a_voxel")
    throw UsageError("--expected " + expected + ": expected ap_voxel (the study's) or a_voxel");
  const io::Table table = io::read_csv(table_path);

  stats::WmlCohortInput in;
  in.n_wml_voxel = table.numbers("n_wml_voxel");
  in.a_wml_voxel = table.numbers("a_wml_voxel");
  in.expected = table.numbers(expected);
  const std::string load_column = table.has("lesion_volume_ml") ? "lesion_volume_ml" : "n_wml_voxel";
  in.lesion_load = table.numbers(load_column);
  if (table.has("gap")) {
    in.gap = table.numbers("gap");
  } else if (table.has("brain_age") && table.has("age")) {
    const auto ba = table.numbers("brain_age"), age = table.numbers("age");
    for (std::size_t i = 0; i < ba.size(); ++i) in.gap.push_back(ba[i] - age[i]);
  }
  if (in.gap.empty()) in.lesion_load.clear();
  if (table.has("p_wml_voxel")) in.p_wml_voxel = table.numbers("p_wml_voxel");

  const double min_voxels = vm["min-wml-voxels"].as<double>();
  stats::WmlCohortResult r;
  try {
    r = stats::analyse_wml_cohort(in, min_voxels);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("\"" + table_path + "\": " + e.what());
  }

  std::filesystem::create_directories(out);
  const stats::PairedTTest& t = r.t_test;
  nlohmann::json j{
      {"table", table_path},
      {"subjects", r.subjects},
      {"min_wml_voxels", min_voxels},
      {"included", r.included},
      {"measure", "a_wml_voxel"},
      {"expected", expected},
      {"paired_t_test",
       {{"n", t.n}, {"mean_a_wml_voxel", t.mean_a}, {"mean_expected", t.mean_b}, {"mean_diff", t.mean_diff},
        {"sd_diff", t.sd_diff}, {"t", t.t}, {"df", t.df}, {"p", t.p}, {"p_text", stats::format_p(t.p)},
        {"confidence", t.confidence}, {"ci_low", t.ci_low}, {"ci_high", t.ci_high}, {"d_z", t.d_z}, {"d_av", t.d_av}}},
      {"wilcoxon_signed_rank",
       {{"n", r.wilcoxon.n}, {"V", r.wilcoxon.w_plus}, {"z", r.wilcoxon.z}, {"p", r.wilcoxon.p}, {"exact", r.wilcoxon.exact}}},
      {"lesion_load_column", load_column}};
  if (r.load_gap_pearson) {
    j["lesion_load_vs_gap"] = {{"pearson", to_json(*r.load_gap_pearson)}, {"spearman", to_json(*r.load_gap_spearman)}};
  }
  if (r.mean_p_wml_voxel) j["mean_p_wml_voxel"] = *r.mean_p_wml_voxel;
  io::write_text_atomically(out + "/stats.json", j.dump(2) + "\n");

  io::write_paired_plot(out + "/wml_relevance.svg", r.expected, r.a_wml, expected == "ap_voxel" ? "expected (ap_voxel)" : "a_voxel",
                        "in lesions (a_wml_voxel)",
                        {"Relevance per voxel, " + std::to_string(r.included) + " subjects", "", "mean relevance"});
  if (r.load_gap_pearson)
    io::write_scatter_plot(out + "/lesion_load_vs_gap.svg", in.lesion_load, in.gap,
                           {"Lesion load vs brain-age gap", load_column, "brain-age gap (years)"});

  std::cout << stats::summarise(r, expected) << "Wrote " << out << "/stats.json and figures (SVG).\n";
  return kExitOk;
}

}  // namespace

Command stats_command() {
  return {"stats",
          "test whether relevance concentrates in white-matter lesions across a cohort",
          "mlens stats --table TABLE.csv --out DIR [--min-wml-voxels 30] [--expected ap_voxel|a_voxel]",
          "Reads a per-subject table (written by `mlens overlay`, or by R/pandas: quoted headers, NA or empty for "
          "missing, a leading row-index column are all fine), keeps subjects with more than --min-wml-voxels lesion "
          "voxels, and compares the mean relevance in lesions (a_wml_voxel) with the expected relevance per voxel "
          "(ap_voxel) as the study did: paired t-test with 95% CI, effect sizes d_z and d_av, and the Wilcoxon "
          "signed-rank test; also lesion load (lesion_volume_ml, else n_wml_voxel) against the brain-age gap (gap, "
          "else brain_age - age) over all subjects, and the mean share of positive relevance inside lesions. Writes "
          "DIR/stats.json, DIR/wml_relevance.svg (the study's Fig. 4) and DIR/lesion_load_vs_gap.svg.",
          "mlens stats --table WMlesion.csv --out wml-stats",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("table,t", po::value<std::string>()->required()->value_name("CSV"), "per-subject table")(
                "out,o", po::value<std::string>()->required()->value_name("DIR"), "output directory")(
                "min-wml-voxels", po::value<double>()->default_value(30)->value_name("N"),
                "include subjects with more than N lesion voxels")(
                "expected", po::value<std::string>()->default_value("ap_voxel")->value_name("COL"),
                "the comparison measure: ap_voxel (mean positive relevance, the study's) or a_voxel");
          },
          run};
}

}  // namespace mlens::tools
