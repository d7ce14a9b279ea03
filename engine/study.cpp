#include "engine/study.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/report.h"
#include "engine/slices.h"
#include "engine/subject.h"
#include "io/atomic_file.h"
#include "io/json.h"
#include "io/output_dir.h"
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
  return io::parse_json(in, path, false);
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

namespace {

// The cohort options of a study: maps always; the lesion settings join the configuration, so a shard or a
// resumed run with another threshold is refused instead of mixing rows.
CohortOptions study_cohort_options(const StudyOptions& o) {
  CohortOptions co = o.cohort;
  co.explain = true;
  co.configuration["lesions"] = {{"threshold", o.threshold}, {"resample", o.lesion_resample},
                                 {"space", co.mni_reference.empty() ? "subject" : "mni"}};
  return co;
}

std::string wml_row_path(const std::string& dir, const std::string& id) { return dir + "/" + id + "/wml.csv"; }

void sort_rows(io::Table& t) {
  std::sort(t.rows.begin(), t.rows.end());
  t.rows.erase(std::unique(t.rows.begin(), t.rows.end()), t.rows.end());
}

// Every row of the failures tables in DIR (failures.csv, failures-shard-*.csv, whatever the shard count).
std::vector<std::vector<std::string>> failure_rows(const std::string& dir) {
  std::vector<std::vector<std::string>> rows;
  if (!std::filesystem::is_directory(dir)) return rows;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("failures", 0) != 0 || entry.path().extension() != ".csv") continue;
    const io::Table t = io::read_csv(entry.path().string());
    if (t.columns != std::vector<std::string>{"id", "input", "error"})
      throw std::runtime_error("\"" + entry.path().string() + "\": expected a failures table (id, input, error)");
    rows.insert(rows.end(), t.rows.begin(), t.rows.end());
  }
  return rows;
}

}  // namespace

bool study_subject_completed(const CohortOptions& co, const io::Subject& s) {
  if (!subject_completed(co, s.id)) return false;
  return s.wml.empty() || !co.configuration.contains("lesions") || std::filesystem::exists(wml_row_path(co.out_dir, s.id));
}

io::Table incomplete_subjects(const std::vector<io::Subject>& cohort, const CohortOptions& co) {
  std::map<std::string, const io::Subject*> incomplete;
  for (const io::Subject& s : cohort)
    if (!study_subject_completed(co, s)) incomplete.emplace(s.id, &s);
  io::Table failures;
  failures.columns = {"id", "input", "error"};
  for (auto& row : failure_rows(co.out_dir))
    if (incomplete.count(row[0])) failures.rows.push_back(std::move(row));
  for (const auto& [id, s] : incomplete)
    if (std::none_of(failures.rows.begin(), failures.rows.end(), [&](const auto& row) { return row[0] == id; }))
      failures.rows.push_back({id, s->flair, std::string(kMissing) + " no run has finished this subject (its shard did not reach it "
                                             "or was killed: see its log; `mlens run` without --merge computes it)"});
  sort_rows(failures);
  return failures;
}

namespace {

}  // namespace

void check_study_model(const models::Ensemble& model) {
  const std::string use = "mlens run (a brain-age study: gaps, WML statistics, report)";
  models::check_single_output(model, use);
  if (model.input_channels() != 1)  // a multi-channel model comes alone (manifests take one-channel members)
    throw std::invalid_argument("model \"" + model.name + "\" takes " + std::to_string(model.input_channels()) + " channels; " + use +
                                " overlays one map per subject: run explain --cohort for a multi-channel model");
}

StudySubjects run_study_subjects(const std::vector<io::Subject>& cohort, const std::vector<io::Subject>& todo,
                                 const models::Ensemble& model, const PreprocessSpec& preprocess, const Runtime& runtime,
                                 const StudyOptions& o, const std::function<void(const std::string&)>& log,
                                 const std::function<void(const CohortProgress&)>& progress) {
  check_study_model(model);
  CohortOptions co = study_cohort_options(o);
  co.cohort_tables = false;  // merge_study writes them, over the whole cohort
  const std::string& dir = co.out_dir;
  StudySubjects result;
  log("1/4 brain-age and relevance maps" + std::string(co.mni_reference.empty() ? "" : " (and their warps to MNI)"));
  result.cohort = run_cohort(cohort, todo, model, preprocess, runtime, co, log, progress ? progress : [](const CohortProgress&) {});
  result.failures = result.cohort.failures;

  log("2/4 relevance in white-matter lesions");
  result.overlay.failures.columns = {"id", "error"};
  std::size_t step = 0;
  for (const io::Subject& s : todo) {
    if (s.wml.empty() || !subject_completed(co, s.id)) continue;
    const std::string row_path = wml_row_path(dir, s.id);
    if (!co.force && std::filesystem::exists(row_path)) {
      ++result.overlay.skipped;
      continue;
    }
    try {
      io::Table row;
      row.columns = overlay_columns();
      row.rows.push_back(overlay_row(cohort_overlay_inputs(s, dir, !co.mni_reference.empty()), o.threshold, o.lesion_resample));
      io::write_csv(row_path, row);
      ++result.overlay.done;
      if (++step % 10 == 0) log("  " + s.id + ": done");
    } catch (const std::exception& e) {
      result.overlay.failures.rows.push_back({s.id, e.what()});
      result.failures.rows.push_back({s.id, s.wml, std::string("lesion overlay: ") + e.what()});
      log("  " + s.id + ": FAILED: " + e.what());
    }
  }
  sort_rows(result.failures);
  io::write_csv(dir + (co.shard_tag.empty() ? "/failures.csv" : "/failures-" + co.shard_tag + ".csv"), result.failures);
  return result;
}

StudyResult merge_study(const std::vector<io::Subject>& cohort, const Runtime& runtime, const StudyOptions& o,
                        const io::Table* known_failures, const std::function<void(const std::string&)>& log) {
  const CohortOptions co = study_cohort_options(o);
  const std::string dir = co.out_dir, figures = dir + "/figures";
  std::filesystem::create_directories(dir);
  io::require_configuration(dir, cohort_configuration(co, runtime), false);
  StudyResult result;
  result.failures = known_failures ? *known_failures : incomplete_subjects(cohort, co);
  for (const io::Subject& s : cohort) result.completed += study_subject_completed(co, s);
  for (const auto& row : result.failures.rows) result.missing += row[2].rfind(kMissing, 0) == 0;
  io::write_csv(dir + "/failures.csv", result.failures);

  log("3/4 cohort statistics and figures");
  result.cohort.cohort = cohort.size();
  result.cohort.completed = write_cohort_tables(cohort, co, log);
  io::Table wml;
  wml.columns = overlay_columns();
  for (const io::Subject& s : cohort) {
    if (s.wml.empty() || !study_subject_completed(co, s)) continue;
    const io::Table row = io::read_csv(wml_row_path(dir, s.id));
    if (row.columns != wml.columns || row.rows.size() != 1)
      throw std::runtime_error("\"" + wml_row_path(dir, s.id) + "\": expected one row of the WML table (engine/overlay.h)");
    wml.rows.push_back(row.rows[0]);
  }
  io::write_csv(dir + "/wml.csv", wml);

  std::filesystem::create_directories(figures);
  ReportInputs report;
  report.manifest = o.manifest;
  report.summary = read_json(dir + "/summary.json");
  report.rule = engine::to_json(co.composite);
  report.space = co.mni_reference.empty() ? "each subject's FLAIR grid" : "MNI (" + co.mni_reference + ")";
  const io::Table predictions = io::read_csv(dir + "/predictions.csv");
  if (!predictions.rows.empty()) {
    report.figures.push_back({figures + "/brain_age_vs_age.svg", "Predicted brain-age against chronological age "
                                                                  "(dashed: identity; red: least-squares line)."});
    io::write_scatter_plot(report.figures.back().path, predictions.numbers("age"), predictions.numbers("brain_age"),
                           {"Brain-age vs age", "age (years)", "brain-age (years)"}, true);
  }
  try {
    WmlAnalysis a = analyse_wml_table(dir + "/wml.csv", figures, o.min_wml_voxels);
    a.json["table"] = "wml.csv";  // beside stats.json: the same bytes wherever DIR lies
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
  const std::vector<const io::Subject*> panels = panel_subjects(cohort, dir, o.panels);
  // Panels an earlier merge chose (over fewer subjects) go, so the directory holds this report's figures only.
  for (const auto& entry : std::filesystem::directory_iterator(figures)) {
    const std::string name = entry.path().filename().string();
    const auto chosen = [&](const io::Subject* s) { return name == s->id + "_slices.png"; };
    if (name.size() > 11 && name.compare(name.size() - 11, 11, "_slices.png") == 0 && std::none_of(panels.begin(), panels.end(), chosen))
      std::filesystem::remove(entry.path());
  }
  for (const io::Subject* s : panels) {
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
  report.failures = result.failures;
  report.notes = result.notes;
  result.report = dir + "/report.html";
  write_report(result.report, report);
  return result;
}

StudyResult run_study(const std::vector<io::Subject>& cohort, const models::Ensemble& model, const PreprocessSpec& preprocess,
                      const Runtime& runtime, const StudyOptions& o, const std::function<void(const std::string&)>& log,
                      const std::function<void(const CohortProgress&)>& progress) {
  const StudySubjects subjects = run_study_subjects(cohort, cohort, model, preprocess, runtime, o, log, progress);
  StudyResult result = merge_study(cohort, runtime, o, &subjects.failures, log);
  const std::size_t completed = result.cohort.completed;
  result.cohort = subjects.cohort;
  result.cohort.completed = completed;
  result.overlay = subjects.overlay;
  return result;
}

}  // namespace mlens::engine
