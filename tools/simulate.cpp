// mlens simulate: a FLAIR cohort with ground truth (lesions, transforms to MNI) on the Colin27 brain.
#include <iostream>

#include "engine/simulate.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

int run(const po::variables_map& vm) {
  engine::SimulationOptions o;
  o.subjects = vm["subjects"].as<int>();
  o.seed = vm["seed"].as<uint64_t>();
  o.age_min = vm["age-min"].as<double>();
  o.age_max = vm["age-max"].as<double>();
  o.jobs = vm["jobs"].as<int>();
  const std::string out = vm["out"].as<std::string>();
  const engine::SimulationTemplate t = engine::load_simulation_template(vm["templates"].as<std::string>());
  engine::simulate_cohort(t, out, o, [](int done, int total) {
    log("simulate: " + std::to_string(done) + "/" + std::to_string(total) + " subjects");
  });
  std::cout << out << "/cohort.csv: " << o.subjects << " simulated subjects, seed " << o.seed << "\n";
  return kExitOk;
}

}  // namespace

Command simulate_command() {
  return {"simulate",
          "simulate a FLAIR cohort with known ages, lesions and transforms to MNI (Colin27 brain)",
          "mlens simulate --out DIR [--subjects N] [--seed N] [--age-min A] [--age-max A]",
          "Builds a cohort on the Colin27 brain in MNI space from Debian's mricron-data. Per subject, from its own seed: "
          "an age (uniform between --age-min and --age-max), FLAIR-like contrast (CSF dark, white matter darker than grey "
          "matter, lesions bright), ageing (grey matter next to CSF turns into CSF, the ventricles expand), white-matter "
          "lesions whose number and size grow with age (periventricular and deep, irregular, soft-edged), a small rigid "
          "motion and a smooth random deformation, a bias field and Rician noise. Writes DIR/sub-NNN/flair.nii.gz "
          "(skull-stripped, int16), lesion.nii.gz (ground-truth lesion probability), mask.nii.gz (brain mask), "
          "to_mni.nii.gz (the exact transform to the MNI 2 mm grid as an ANTs displacement field) and DIR/cohort.csv "
          "(id, flair, age, sex, wml, transform, mask, lesion_ml, lesion_count), which `mlens predict/explain/overlay "
          "--cohort` and `mlens run` read as it is. The same options give byte-identical files, whatever --jobs is.",
          "mlens simulate --out sim --subjects 60 --seed 1 --jobs 2",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("out,o", po::value<std::string>()->required()->value_name("DIR"), "directory to write the cohort to")(
                "subjects,n", po::value<int>()->default_value(60)->value_name("N"), "number of subjects")(
                "seed", po::value<uint64_t>()->default_value(1)->value_name("N"), "random seed of the cohort")(
                "age-min", po::value<double>()->default_value(18)->value_name("A"), "youngest age (years)")(
                "age-max", po::value<double>()->default_value(82)->value_name("A"), "oldest age (years)")(
                "jobs,j", po::value<int>()->default_value(1)->value_name("N"), "subjects simulated in parallel")(
                "templates", po::value<std::string>()->default_value("/usr/share/mricron/templates")->value_name("DIR"),
                "directory holding ch2bet.nii.gz and JHU-WhiteMatter-labels-2mm.nii.gz");
          },
          run};
}

}  // namespace mlens::tools
