#include "engine/study.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/report.h"
#include "engine/slices.h"
#include "engine/subject.h"
#include "io/atomic_file.h"
#include "io/png.h"
#include "io/svg_plot.h"
#include "io/table.h"
#include "stats/p_values.h"

namespace mlens::engine {
namespace {

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json to_json(const stats::Correlation& c) { return {{"n", c.n}, {"r", number_or_null(c.r)}, {"p", c.p}}; }

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  return nlohmann::json::parse(in, nullptr, false);
}

// Subjects for the Fig.-3 panels: spread evenly over age among those with lesion maps and maps.
std::vector<const io::Subject*> panel_subjects(const std::vector<io::Subject>& cohort, const std::string& dir, int wanted) {
  std::vector<const io::Subject*> candidates;
  for (const io::Subject& s : cohort)
    if (std::filesystem::exists(dir + "/" + s.id + "/relevance.nii.gz")) candidates.push_back(&s);
  std::stable_sort(candidates.begin(), candidates.end(), [](const io::Subject* a, const io::Subject* b) {
    return (std::isnan(a->age) ? 0 : a->age) < (std::isnan(b->age) ? 0 : b->age);
  });
  if (static_cast<int>(candidates.size()) <= wanted) return candidates;
  std::vector<const io::Subject*> chosen;
  for (int q = 0; q < wanted; ++q) chosen.push_back(candidates[(candidates.size() - 1) * q / (wanted - 1)]);
  return chosen;
}

}  // namespace

WmlAnalysis analyse_wml_table(const std::string& table_path, const std::string& figures_dir, double min_wml_voxels,
                              const std::string& expected) {
  if (expected != "ap_voxel" && expected != "a_voxel")
    throw std::invalid_argument("expected measure " + expected + ": expected ap_voxel (the study's) or a_voxel");
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

  WmlAnalysis a;
  try {
    a.result = stats::analyse_wml_cohort(in, min_wml_voxels);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("\"" + table_path + "\": " + e.what());
  }
  const stats::WmlCohortResult& r = a.result;
  const stats::PairedTTest& t = r.t_test;
  a.json = {{"table", table_path},
            {"subjects", r.subjects},
            {"min_wml_voxels", min_wml_voxels},
            {"included", r.included},
            {"left_out", {{"few_lesion_voxels", r.few_lesion_voxels.size()}, {"missing_measure", r.missing_measure.size()},
                          {"missing_measure_rows", r.missing_measure}}},
            {"measure", "a_wml_voxel"},
            {"expected", expected},
            {"paired_t_test",
             {{"n", t.n}, {"mean_a_wml_voxel", t.mean_a}, {"mean_expected", t.mean_b}, {"mean_diff", t.mean_diff},
              {"sd_diff", t.sd_diff}, {"t", t.t}, {"df", t.df}, {"p", t.p}, {"p_text", stats::format_p(t.p)},
              {"confidence", t.confidence}, {"ci_low", t.ci_low}, {"ci_high", t.ci_high}, {"d_z", t.d_z}, {"d_av", t.d_av}}},
            {"wilcoxon_signed_rank",
             {{"n", r.wilcoxon.n}, {"V", r.wilcoxon.w_plus}, {"z", r.wilcoxon.z}, {"p", r.wilcoxon.p}, {"exact", r.wilcoxon.exact}}},
            {"lesion_load_column", load_column}};
  if (r.load_gap_pearson)
    a.json["lesion_load_vs_gap"] = {{"pearson", to_json(*r.load_gap_pearson)}, {"spearman", to_json(*r.load_gap_spearman)}};
  if (r.mean_p_wml_voxel) a.json["mean_p_wml_voxel"] = *r.mean_p_wml_voxel;
  // How much of the relevance lands on the true lesions, against what lesions would get at the average
  // positive relevance per voxel (p_voxel), over the included subjects.
  if (table.has("p_wml_voxel") && table.has("p_voxel")) {
    const auto p_wml = table.numbers("p_wml_voxel"), p_avg = table.numbers("p_voxel");
    double share = 0, chance = 0, n = 0;
    for (std::size_t i = 0; i < p_wml.size(); ++i)
      if (in.n_wml_voxel[i] > min_wml_voxels && std::isfinite(p_wml[i]) && std::isfinite(p_avg[i]))
        share += p_wml[i], chance += p_avg[i], n += 1;
    if (n > 0) a.json["lesion_overlap"] = {{"subjects", n}, {"share_of_positive_relevance_in_lesions", share / n},
                                           {"share_at_average_relevance", chance / n}, {"enrichment", share / chance}};
  }
  a.summary = stats::summarise(r, expected);
  if (a.json.contains("lesion_overlap")) {
    const auto& o = a.json["lesion_overlap"];
    char line[256];
    std::snprintf(line, sizeof line,
                  "Overlap with the lesions: %.2f %% of positive relevance lies in lesion voxels, %.2f %% would at the "
                  "average relevance per voxel (%.1f-fold).\n",
                  100 * o["share_of_positive_relevance_in_lesions"].get<double>(), 100 * o["share_at_average_relevance"].get<double>(),
                  o["enrichment"].get<double>());
    a.summary += line;
  }

  std::filesystem::create_directories(figures_dir);
  a.figures.push_back(figures_dir + "/wml_relevance.svg");
  io::write_paired_plot(a.figures.back(), r.expected, r.a_wml, expected == "ap_voxel" ? "expected (ap_voxel)" : "a_voxel",
                        "in lesions (a_wml_voxel)",
                        {"Relevance per voxel, " + std::to_string(r.included) + " subjects", "", "mean relevance"});
  if (r.load_gap_pearson) {
    a.figures.push_back(figures_dir + "/lesion_load_vs_gap.svg");
    io::write_scatter_plot(a.figures.back(), in.lesion_load, in.gap, {"Lesion load vs brain-age gap", load_column, "brain-age gap (years)"});
  }
  return a;
}

StudyResult run_study(const std::vector<io::Subject>& cohort, const models::Ensemble& model, const PreprocessSpec& preprocess,
                      const Runtime& runtime, const StudyOptions& o, const std::function<void(const std::string&)>& log,
                      const std::function<void(const CohortProgress&)>& progress) {
  const std::string dir = o.cohort.out_dir, figures = dir + "/figures";
  StudyResult result;
  CohortOptions co = o.cohort;
  co.explain = true;
  log("1/4 brain-age and relevance maps" + std::string(co.mni_reference.empty() ? "" : " (and their warps to MNI)"));
  result.cohort = run_cohort(cohort, cohort, model, preprocess, runtime, co, log,
                             progress ? progress : [](const CohortProgress&) {});

  log("2/4 relevance in white-matter lesions");
  OverlayCohortOptions ov;
  ov.relevance_dir = dir;
  ov.table = dir + "/wml.csv";
  ov.mni = !co.mni_reference.empty();
  ov.threshold = o.threshold;
  ov.lesion_resample = o.lesion_resample;
  ov.force = o.cohort.force;
  std::vector<io::Subject> with_maps;
  for (const io::Subject& s : cohort)
    if (std::filesystem::exists(dir + "/" + s.id + "/prediction.json") && !s.wml.empty()) with_maps.push_back(s);
  std::size_t step = 0;
  result.overlay = overlay_cohort(with_maps, ov, [&](const std::string& id, const std::string& status) {
    if (status != "done" || ++step % 10 == 0) log("  " + id + ": " + status);
  });

  log("3/4 cohort statistics and figures");
  std::filesystem::create_directories(figures);
  ReportInputs report;
  report.manifest = o.manifest;
  report.summary = read_json(dir + "/summary.json");
  report.rule = engine::to_json(co.composite);
  report.space = ov.mni ? "MNI (" + co.mni_reference + ")" : "each subject's FLAIR grid";
  const io::Table predictions = io::read_csv(dir + "/predictions.csv");
  if (!predictions.rows.empty()) {
    report.figures.push_back({figures + "/brain_age_vs_age.svg", "Predicted brain-age against chronological age "
                                                                  "(dashed: identity; red: least-squares line)."});
    io::write_scatter_plot(report.figures.back().path, predictions.numbers("age"), predictions.numbers("brain_age"),
                           {"Brain-age vs age", "age (years)", "brain-age (years)"}, true);
  }
  try {
    WmlAnalysis a = analyse_wml_table(ov.table, figures, o.min_wml_voxels);
    io::write_text_atomically(dir + "/stats.json", a.json.dump(2) + "\n");
    report.wml_summary = a.summary;
    report.figures.push_back({a.figures[0], "The study's Fig. 4: mean relevance in lesion voxels against the expected "
                                            "relevance per voxel, one line per subject with more than " +
                                                io::csv_number(o.min_wml_voxels) + " lesion voxels."});
    if (a.figures.size() > 1) report.figures.push_back({a.figures[1], "Lesion load against the brain-age gap."});
    report.wml = a.json;
    result.wml = std::move(a);
  } catch (const std::invalid_argument& e) {
    result.notes.push_back(std::string("No lesion statistics: ") + e.what());
    report.wml_summary = result.notes.back();
  }

  log("4/4 report");
  for (const io::Subject* s : panel_subjects(cohort, dir, o.panels)) {
    try {
      const io::Volume flair = io::read_volume(s->flair);
      const io::Volume relevance = io::read_volume(dir + "/" + s->id + "/relevance.nii.gz");
      io::Volume lesion;
      if (!s->wml.empty()) lesion = io::read_volume(s->wml);
      const std::string png = figures + "/" + s->id + "_slices.png";
      io::write_png(png, slice_panel(flair, s->wml.empty() ? nullptr : &lesion, &relevance));
      const nlohmann::json p = read_json(dir + "/" + s->id + "/prediction.json");
      report.panels.push_back({s->id, s->age, p.is_object() ? p.value("brain_age", NAN) : NAN, png});
    } catch (const std::exception& e) {
      result.notes.push_back("No panel for " + s->id + ": " + e.what());
    }
  }
  report.failures.columns = {"id", "input", "error"};
  if (std::filesystem::exists(dir + "/failures.csv")) report.failures = io::read_csv(dir + "/failures.csv");
  for (const auto& row : result.overlay.failures.rows) report.failures.rows.push_back({row[0], "", "overlay: " + row[1]});
  report.notes = result.notes;
  result.report = dir + "/report.html";
  write_report(result.report, report);
  return result;
}

}  // namespace mlens::engine
