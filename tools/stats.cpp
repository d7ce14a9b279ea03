// mlens stats: the study's cohort analysis of lesion relevance from a per-subject table.
#include <filesystem>
#include <iostream>

#include "engine/study.h"
#include "io/atomic_file.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

int run(const po::variables_map& vm) {
  const std::string table_path = vm["table"].as<std::string>(), out = vm["out"].as<std::string>();
  const std::string expected = vm["expected"].as<std::string>();
  if (expected != "ap_voxel" && expected != "a_voxel")
    throw UsageError("--expected " + expected + ": expected ap_voxel (the study's) or a_voxel");
  std::filesystem::create_directories(out);
  const engine::WmlAnalysis a = engine::analyse_wml_table(table_path, out, vm["min-wml-voxels"].as<double>(), expected);
  io::write_text_atomically(out + "/stats.json", a.json.dump(2) + "\n");
  std::cout << a.summary << "Wrote " << out << "/stats.json and figures (SVG).\n";
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
