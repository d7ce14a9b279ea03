#include "tools/slurm.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "tools/options.h"

namespace mlens::tools {
namespace fs = std::filesystem;
namespace {

// Options that shape the submission, not the study: left out of the commands the jobs run.
const std::set<std::string>& slurm_option_names() {
  static const std::set<std::string> names{"slurm", "tasks", "subjects-per-task", "partition", "time", "cpus",
                                           "gpus",  "mem",   "account",           "dry-run"};
  return names;
}

// A word for bash, quoted only when it needs it.
std::string shell_word(const std::string& word) {
  if (!word.empty() && std::regex_match(word, std::regex("[A-Za-z0-9_./=,:+@%^-]+"))) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// The command line's options as the user wrote them, without the Slurm ones and those in `drop`.
std::string repeated_options(const std::set<std::string>& drop) {
  std::string words;
  for (const po::option& o : given_options()) {
    if (slurm_option_names().count(o.string_key) || drop.count(o.string_key)) continue;
    for (const std::string& token : o.original_tokens) words += " " + shell_word(token);
  }
  return words;
}

std::string checked(const po::variables_map& vm, const std::string& name, const std::string& pattern, const std::string& expected) {
  const std::string value = vm[name].as<std::string>();
  if (!std::regex_match(value, std::regex(pattern))) throw UsageError("--" + name + " " + value + ": expected " + expected);
  return value;
}

// `sbatch --parsable ARGS`: the job id it prints ("123" or "123;cluster"). Throws with sbatch's own words.
std::string sbatch(const std::string& args) {
  const std::string command = "sbatch --parsable " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run sbatch");
  std::string out;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  const int status = ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  const std::string id = out.substr(0, out.find(';'));
  if (status != 0 || !std::regex_match(id, std::regex("[0-9]+")))
    throw std::runtime_error("`" + command.substr(0, command.size() - 5) + "` failed: " + (out.empty() ? "no output" : out));
  return id;
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  return false;
}

}  // namespace

void add_slurm_options(po::options_description& o) {
  o.add_options()("slurm", "submit the study to Slurm: a job array of shards and a merge job after it (DIR/slurm/)")(
      "tasks", po::value<int>()->value_name("N"), "--slurm: array tasks (shards); default: --subjects-per-task")(
      "subjects-per-task", po::value<int>()->default_value(100)->value_name("K"), "--slurm: subjects per array task")(
      "partition", po::value<std::string>()->value_name("P"), "--slurm: partition (sbatch --partition)")(
      "time", po::value<std::string>()->value_name("T"), "--slurm: time limit per task, e.g. 04:00:00 (sbatch --time)")(
      "cpus", po::value<int>()->default_value(4)->value_name("C"), "--slurm: CPUs per task, also its --threads")(
      "gpus", po::value<int>()->value_name("G"), "--slurm: GPUs per task (sbatch --gres=gpu:G); the tasks run --device cuda")(
      "mem", po::value<std::string>()->value_name("M"), "--slurm: memory per task, e.g. 16G (sbatch --mem)")(
      "account", po::value<std::string>()->value_name("A"), "--slurm: account to charge (sbatch --account)")(
      "dry-run", "--slurm: write the job scripts, submit nothing");
}

std::string slurm_plan_path(const std::string& out_dir) { return out_dir + "/slurm/plan.json"; }

int submit_to_slurm(const po::variables_map& vm, const std::string& cohort_path, std::size_t subjects) {
  if (vm.count("shard") || vm.count("merge")) throw UsageError("--slurm writes the shards' and the merge's commands itself: drop --shard/--merge");
  if (subjects == 0) throw std::runtime_error("\"" + cohort_path + "\": the cohort has no subjects");
  const std::size_t per_task = static_cast<std::size_t>(vm["subjects-per-task"].as<int>());
  std::size_t tasks = vm.count("tasks") ? static_cast<std::size_t>(vm["tasks"].as<int>()) : (subjects + per_task - 1) / per_task;
  tasks = std::min(tasks, subjects);  // no empty shards
  const int cpus = vm["cpus"].as<int>();
  std::string resources = "#SBATCH --cpus-per-task=" + std::to_string(cpus) + "\n";
  std::string shared;  // for both jobs
  if (vm.count("partition")) shared += "#SBATCH --partition=" + checked(vm, "partition", "[A-Za-z0-9_.,-]+", "a partition name") + "\n";
  if (vm.count("account")) shared += "#SBATCH --account=" + checked(vm, "account", "[A-Za-z0-9_.-]+", "an account name") + "\n";
  if (vm.count("time")) shared += "#SBATCH --time=" + checked(vm, "time", "[0-9]+([-:][0-9]+){0,3}", "a Slurm time, e.g. 04:00:00 or 1-00:00:00") + "\n";
  if (vm.count("mem")) shared += "#SBATCH --mem=" + checked(vm, "mem", "[0-9]+[KMGT]?", "a Slurm memory size, e.g. 16G") + "\n";
  resources += shared;
  if (vm.count("gpus")) resources += "#SBATCH --gres=gpu:" + std::to_string(vm["gpus"].as<int>()) + "\n";

  const std::string out = vm["out"].as<std::string>();
  const fs::path slurm_dir = fs::absolute(out) / "slurm", logs = slurm_dir / "logs";
  fs::create_directories(logs);  // Slurm does not create the directories of --output
  const std::string mlens = fs::read_symlink("/proc/self/exe").string();
  const std::string name = "mlens-" + fs::absolute(out).lexically_normal().filename().string();
  const std::string header = "#!/bin/bash\n# Written by `mlens run --slurm` (docs/cohorts.md). Edit freely; the options below are sbatch's.\n";
  const std::string where = "#SBATCH --chdir=" + shell_word(fs::current_path().string()) + "\n";

  std::string task_options = repeated_options({});
  if (!vm.count("threads")) task_options += " --threads \"${SLURM_CPUS_PER_TASK}\"";
  if (vm.count("gpus") && !vm.count("device")) task_options += " --device cuda";
  const std::string array =
      header +
      "# Task k of the array runs shard k of " + std::to_string(tasks) + ": subjects k, k+" + std::to_string(tasks) +
      ", ... of the cohort, per subject only (predictions,\n# maps, WML rows). A task the scheduler kills or preempts is "
      "requeued and resumes its shard; the log is appended to.\n"
      "#SBATCH --job-name=" + shell_word(name) + "\n"
      "#SBATCH --array=1-" + std::to_string(tasks) + "\n" + resources +
      "#SBATCH --requeue\n#SBATCH --open-mode=append\n"
      "#SBATCH --output=" + shell_word((logs / "shard-%a.log").string()) + "\n" + where +
      "set -euo pipefail\n"
      "echo \"mlens: shard ${SLURM_ARRAY_TASK_ID}/" + std::to_string(tasks) + " on $(hostname), start ${SLURM_RESTART_COUNT:-0}\" >&2\n"
      "exec " + shell_word(mlens) + " run" + task_options + " --shard \"${SLURM_ARRAY_TASK_ID}/" + std::to_string(tasks) + "\"\n";
  const std::string merge =
      header +
      "# After the array (afterany: also when tasks failed): the cohort-wide outputs from what the shards wrote;\n"
      "# computes nothing, lists failed and missing subjects in failures.csv (exit 4 when there are any).\n"
      "#SBATCH --job-name=" + shell_word(name + "-merge") + "\n"
      "#SBATCH --cpus-per-task=1\n" + shared +
      "#SBATCH --output=" + shell_word((logs / "merge.log").string()) + "\n" + where +
      "set -euo pipefail\n"
      "exec " + shell_word(mlens) + " run" + repeated_options({"device", "threads", "batch", "memory"}) + " --threads 1 --merge\n";
  const std::string array_script = (slurm_dir / "array.sbatch").string(), merge_script = (slurm_dir / "merge.sbatch").string();
  io::write_text_atomically(array_script, array);
  io::write_text_atomically(merge_script, merge);

  nlohmann::json plan{{"cohort", fs::absolute(cohort_path).lexically_normal().string()},
                      {"subjects", subjects},
                      {"tasks", tasks},
                      {"array_script", array_script},
                      {"merge_script", merge_script},
                      {"logs", logs.string()},
                      {"array_job", nullptr},
                      {"merge_job", nullptr}};
  const auto write_plan = [&] { io::write_text_atomically(slurm_plan_path(out), plan.dump(2) + "\n"); };
  write_plan();
  std::cout << "Wrote " << array_script << " (" << tasks << " tasks, up to " << (subjects + tasks - 1) / tasks
            << " subjects each) and " << merge_script << ".\n";
  if (vm.count("dry-run")) {
    std::cout << "Submit them with:\n  job=$(sbatch --parsable " << shell_word(array_script) << ")\n"
              << "  sbatch --dependency=afterany:$job " << shell_word(merge_script) << "\n";
    return kExitOk;
  }
  if (!on_path("sbatch"))
    throw std::runtime_error("sbatch is not on PATH: submit from a Slurm login node, or write the scripts with --dry-run "
                             "and submit them where Slurm is");
  const std::string array_job = sbatch(shell_word(array_script));
  plan["array_job"] = array_job;
  write_plan();
  const std::string merge_job = sbatch("--dependency=afterany:" + array_job + " " + shell_word(merge_script));
  plan["merge_job"] = merge_job;
  write_plan();
  std::cout << "Submitted array job " << array_job << " and merge job " << merge_job << " (after every task, also failed ones).\n"
            << "Follow them:\n  squeue -j " << array_job << "," << merge_job << "\n"
            << "  sacct -j " << array_job << "," << merge_job << " --format=JobID,JobName,State,ExitCode,Elapsed,MaxRSS\n"
            << "  mlens status --out " << shell_word(out) << "\n"
            << "Logs: " << logs.string() << "/shard-K.log, merge.log\n";
  return kExitOk;
}

}  // namespace mlens::tools
