// mlens run: the whole study on a cohort — predict, explain, warp to MNI, overlay, statistics, report.
#include <filesystem>
#include <iostream>

#include "engine/study.h"
#include "io/cohort.h"
#include "io/output_dir.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

constexpr const char* kDefaultMni = "/usr/share/mricron/templates/JHU-WhiteMatter-labels-2mm.nii.gz";

int run(const po::variables_map& vm) {
  const engine::Runtime runtime = runtime_from(vm);
  const lrp::Composite composite = composite_from(vm);
  if (!vm.count("manifest") && !vm.count("model")) throw UsageError("give --manifest M (or --model FILE)");
  const LoadedModel loaded = load_model(vm, runtime);
  lrp::check_explainable(loaded.model);

  engine::StudyOptions o;
  o.cohort = cohort_options(vm, loaded, /*explain=*/true, composite);
  std::string mni = vm["mni"].as<std::string>();
  if (mni == "none") mni.clear();
  if (!mni.empty() && !std::filesystem::exists(mni))
    throw std::runtime_error("--mni \"" + mni + "\": no such file (install Debian's mricron-data, give another "
                             "reference, or --mni none to analyse lesions in each subject's grid)");
  o.cohort.mni_reference = mni;
  o.manifest = loaded.source;
  o.threshold = vm["threshold"].as<double>();
  o.lesion_resample = vm["lesion-resample"].as<std::string>();
  if (o.lesion_resample != "nearest" && o.lesion_resample != "linear" && o.lesion_resample != "study")
    throw UsageError("--lesion-resample " + o.lesion_resample + ": expected nearest, linear or study");
  o.min_wml_voxels = vm["min-wml-voxels"].as<double>();
  o.panels = vm["panels"].as<int>();

  const std::string cohort_path = vm["cohort"].as<std::string>();
  const std::vector<io::Subject> cohort = io::read_cohort(cohort_path);
  log("mlens run: " + std::to_string(cohort.size()) + " subjects from " + cohort_path + " into " + o.cohort.out_dir);
  engine::check_batch_fits(loaded.model, runtime, o.cohort, cohort.size());  // before the lock creates the directory
  const io::OutputDirLock lock(o.cohort.out_dir);
  const engine::StudyResult r =
      engine::run_study(cohort, loaded.model, loaded.preprocess, runtime, o, [](const std::string& m) { log(m); }, progress_display());
  const std::size_t failed = r.cohort.failed + r.overlay.failures.rows.size();
  std::cout << r.cohort.completed << " of " << r.cohort.cohort << " subjects scored (" << r.cohort.computed << " now, "
            << r.cohort.skipped << " earlier), " << failed << " failed.\n";
  if (r.wml) std::cout << r.wml->summary;
  for (const std::string& note : r.notes) std::cout << note << "\n";
  std::cout << "Report: " << r.report << "\n";
  return failed ? kExitSomeFailed : kExitOk;
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
          "resumes where it stopped; failing subjects are listed and the run goes on (exit 4).",
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
                "bias-model", po::value<std::string>()->value_name("JSON"), "age-bias model to apply (default: fit here)")(
                "bias-method", po::value<std::string>()->default_value("delange")->value_name("M"),
                "age-bias correction: delange or cole");
            add_pipeline_options(o);
            add_rule_options(o);
            add_runtime_options(o);
          },
          run};
}

}  // namespace mlens::tools
