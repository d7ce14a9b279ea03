// `mlens run --slurm`: the study as a Slurm job array, task k running `mlens run ... --shard k/N`, and a
// merge job (`mlens run ... --merge`) that Slurm starts after the array whatever its tasks' outcome
// (afterany), so failed and missing subjects are reported. The scripts are plain sbatch files in
// DIR/slurm/, written to be read and edited; DIR/slurm/plan.json records the plan for `mlens status`.
#pragma once

#include <cstddef>
#include <string>

#include "tools/command.h"

namespace mlens::tools {

// --slurm, --tasks, --subjects-per-task, --partition, --time, --cpus, --gpus, --mem, --account, --dry-run
void add_slurm_options(po::options_description& options);

// Writes DIR/slurm/array.sbatch, merge.sbatch and plan.json, creates DIR/slurm/logs/ and, unless
// --dry-run, submits both with `sbatch --parsable`; prints the job ids and how to follow them.
// `cohort_path` and `subjects` are the cohort's; the scripts repeat the command line's other options.
int submit_to_slurm(const po::variables_map& vm, const std::string& cohort_path, std::size_t subjects);

// DIR/slurm/plan.json: the cohort (absolute path), subjects, tasks and job ids of the submission.
std::string slurm_plan_path(const std::string& out_dir);

}  // namespace mlens::tools
