// mlens run: the whole study on a cohort — predict, explain, warp to MNI, overlay, statistics, report.
#include <filesystem>
#include <iostream>
#include <optional>

#include "engine/study.h"
#include "io/cohort.h"
#include "io/output_dir.h"
#include "tools/options.h"
#include "tools/slurm.h"

namespace mlens::tools {
namespace {

constexpr const char* kDefaultMni = "/usr/share/mricron/templates/JHU-WhiteMatter-labels-2mm.nii.gz";

std::string mni_reference(const po::variables_map& vm) {
  std::string mni = vm["mni"].as<std::string>();
  if (mni == "none") return "";
  if (!std::filesystem::exists(mni))
    throw std::runtime_error("--mni \"" + mni + "\": no such file (install Debian's mricron-data, give another "
                             "reference, or --mni none to analyse lesions in each subject's grid)");
  return mni;
}

void print_outcome(const engine::StudyResult& r) {
  if (r.wml) std::cout << r.wml->summary;
  for (const std::string& note : r.notes) std::cout << note << "\n";
  std::cout << "Report: " << r.report << "\n";
}

int run(const po::variables_map& vm) {
  if (!vm.count("manifest") && !vm.count("model")) throw UsageError("give --manifest M (or --model FILE)");
  const std::string cohort_path = vm["cohort"].as<std::string>();
  const std::vector<io::Subject> cohort = io::read_cohort(cohort_path);
  if (vm.count("slurm")) {
    if (vm.count("force"))
      throw UsageError("--force with --slurm: a requeued task would compute its shard again; give another --out (or "
                       "empty this one) instead");
    // What every task would fail on, refused here instead (the model itself loads on the tasks' devices).
    for (const char* option : {"manifest", "model"})
      if (vm.count(option) && !std::filesystem::is_regular_file(vm[option].as<std::string>()))
        throw std::runtime_error(std::string("--") + option + " \"" + vm[option].as<std::string>() + "\": no such file");
    mni_reference(vm);
    return submit_to_slurm(vm, cohort_path, cohort.size());
  }
  if (vm.count("dry-run")) throw UsageError("--dry-run goes with --slurm");
  if (vm.count("merge") && (vm.count("shard") || vm.count("force")))
    throw UsageError("--merge computes nothing: drop --shard and --force");

  const engine::Runtime runtime = runtime_from(vm);
  const lrp::Composite composite = composite_from(vm);
  const LoadedModel loaded = load_model(vm, runtime, composite);
  lrp::check_explainable(loaded.model);
  engine::check_study_model(loaded.model);
  engine::StudyOptions o;
  o.cohort = cohort_options(vm, loaded, /*explain=*/true, composite);
  o.cohort.mni_reference = mni_reference(vm);
  o.manifest = loaded.source;
  o.threshold = vm["threshold"].as<double>();
  o.lesion_resample = vm["lesion-resample"].as<std::string>();
  if (o.lesion_resample != "nearest" && o.lesion_resample != "linear" && o.lesion_resample != "study")
    throw UsageError("--lesion-resample " + o.lesion_resample + ": expected nearest, linear or study");
  o.min_wml_voxels = vm["min-wml-voxels"].as<double>();
  o.panels = vm["panels"].as<int>();
  const auto to_log = [](const std::string& m) { log(m); };

  if (vm.count("merge")) {
    log("mlens run --merge: " + std::to_string(cohort.size()) + " subjects from " + cohort_path + " in " + o.cohort.out_dir);
    const io::OutputDirLock lock(o.cohort.out_dir);
    const engine::StudyResult r = engine::merge_study(cohort, runtime, o, nullptr, to_log);
    std::cout << r.completed << " of " << cohort.size() << " subjects complete, " << r.failures.rows.size() - r.missing
              << " failed, " << r.missing << " missing (" << o.cohort.out_dir << "/failures.csv).\n";
    print_outcome(r);
    return r.failures.rows.empty() ? kExitOk : kExitSomeFailed;
  }
  const std::optional<Shard> shard = shard_from(vm, cohort);
  if (shard) {
    o.cohort.shard_tag = shard->tag;
    log("mlens run --shard " + std::to_string(shard->index) + "/" + std::to_string(shard->count) + ": " +
        std::to_string(shard->subjects.size()) + " of " + std::to_string(cohort.size()) + " subjects from " + cohort_path +
        " into " + o.cohort.out_dir);
    engine::check_batch_fits(loaded.model, runtime, o.cohort, shard->subjects.size());  // before the lock creates the directory
    const io::OutputDirLock lock(o.cohort.out_dir, shard->tag);
    const engine::StudySubjects r = engine::run_study_subjects(cohort, shard->subjects, loaded.model, loaded.preprocess, runtime,
                                                               o, to_log, progress_display(shard->label));
    std::cout << shard->label << ": " << r.cohort.computed << " computed, " << r.cohort.skipped << " skipped (done earlier), "
              << r.failures.rows.size() << " failed (" << o.cohort.out_dir << "/failures-" << shard->tag << ".csv); "
              << "`mlens run` with --merge writes the cohort's tables once every shard is done.\n";
    return r.failures.rows.empty() ? kExitOk : kExitSomeFailed;
  }
  log("mlens run: " + std::to_string(cohort.size()) + " subjects from " + cohort_path + " into " + o.cohort.out_dir);
  engine::check_batch_fits(loaded.model, runtime, o.cohort, cohort.size());  // before the lock creates the directory
  const io::OutputDirLock lock(o.cohort.out_dir);
  const engine::StudyResult r = engine::run_study(cohort, loaded.model, loaded.preprocess, runtime, o, to_log, progress_display());
  std::cout << r.cohort.completed << " of " << r.cohort.cohort << " subjects scored (" << r.cohort.computed << " now, "
            << r.cohort.skipped << " earlier), " << r.failures.rows.size() << " failed.\n";
  print_outcome(r);
  return r.failures.rows.empty() ? kExitOk : kExitSomeFailed;
}

}  // namespace

Command run_command() {
  return {"run",
          "the whole study on a cohort: brain-age, relevance maps, MNI, lesion overlay, statistics, report",
          "mlens run --manifest M.mlens.json --cohort COHORT.csv --out DIR [--mni REF] [options]",
          "Runs the study's chain in one resumable command: every subject through the manifest's preprocessing and "
          "ensemble (predictions.csv with brain-age, gap and age-bias corrected gap), its LRP relevance map (--rule, "
          "default preset-a) in the subject's grid and warped to --mni with the cohort's transform column, the map "
          "overlaid on the subject's lesion map (wml column, moved the same way; --lesion-resample study binarises at "
          "--threshold first, as the study did) into DIR/wml.csv, the cohort test of whether relevance concentrates in "
          "lesions (subjects with more than --min-wml-voxels lesion voxels: paired t-test, d_z, d_av, Wilcoxon; "
          "DIR/stats.json) and DIR/report.html: one self-contained page with the accuracy, brain-age vs age, the "
          "study's Fig. 4, Fig.-3-style slice panels and the failures (figures also in DIR/figures/). A killed run "
          "resumes where it stopped; failing subjects are listed and the run goes on (exit 4). On a cluster, --slurm "
          "submits it as a job array of --shard I/N tasks (per subject only) and a --merge job after them (the rest, "
          "from what is on disk): the same bytes as one run; `mlens status` says what is done (docs/cohorts.md).",
          "mlens run --manifest weights/demo/flair-demo.mlens.json --cohort demo-cohort/cohort.csv --out demo-output",
          [](po::options_description& o, po::positional_options_description&) {
            add_model_options(o);
            o.add_options()("cohort", po::value<std::string>()->required()->value_name("CSV"),
                            "cohort: CSV with id, flair, age, wml, transform (paths relative to it) or a BIDS directory")(
                "out,o", po::value<std::string>()->required()->value_name("DIR"), "output directory")(
                "mni", po::value<std::string>()->default_value(kDefaultMni)->value_name("REF"),
                "reference grid for the lesion analysis (MNI152 2 mm); none = each subject's own grid")(
                "threshold", po::value<double>()->default_value(0.8)->value_name("T"), "lesion voxel: probability > T")(
                "lesion-resample", po::value<std::string>()->default_value("study")->value_name("HOW"),
                "moving lesion maps: study (binarise, linear, keep exact 1s), nearest or linear")(
                "min-wml-voxels", po::value<double>()->default_value(30)->value_name("N"),
                "subjects in the lesion test: more than N lesion voxels")(
                "panels", po::value<int>()->default_value(6)->value_name("N"), "subjects shown as slice panels")(
                "force", "recompute what an earlier run completed")(
                "shard", po::value<std::string>()->value_name("I/N"),
                "per subject only, for subjects I, I+N, ... (1-based): predictions, maps, WML rows; --merge writes the rest")(
                "merge", "compute nothing: the cohort's tables, statistics and report from what the shards wrote; "
                         "failed and missing subjects in failures.csv")(
                "bias-model", po::value<std::string>()->value_name("JSON"), "age-bias model to apply (default: fit here)")(
                "bias-method", po::value<std::string>()->default_value("delange")->value_name("M"),
                "age-bias correction: delange or cole");
            add_pipeline_options(o);
            add_rule_options(o);
            add_runtime_options(o);
            add_slurm_options(o);
          },
          run};
}

}  // namespace mlens::tools
