// mlens status: where a study (or cohort) run stands, per shard, from its output directory alone.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "engine/study_status.h"
#include "io/cohort.h"
#include "io/json.h"
#include "tools/options.h"
#include "tools/slurm.h"

namespace mlens::tools {
namespace {

int status(const po::variables_map& vm) {
  const std::string dir = vm["out"].as<std::string>();
  nlohmann::json plan = nlohmann::json::object();
  const std::string plan_path = slurm_plan_path(dir);
  if (std::ifstream in{plan_path}) {
    plan = io::parse_json(in, plan_path, false);
    if (!plan.is_object()) throw std::runtime_error("\"" + plan_path + "\": expected the JSON object `mlens run --slurm` writes");
  }
  std::string cohort_path;
  if (vm.count("cohort"))
    cohort_path = vm["cohort"].as<std::string>();
  else if (plan.contains("cohort") && plan["cohort"].is_string())
    cohort_path = plan["cohort"].get<std::string>();
  else
    throw UsageError("give --cohort CSV (\"" + plan_path + "\", which names it, does not exist)");
  int shards = 1;
  if (vm.count("shards"))
    shards = vm["shards"].as<int>();
  else if (plan.contains("tasks") && plan["tasks"].is_number_integer())
    shards = plan["tasks"].get<int>();

  const std::vector<io::Subject> cohort = io::read_cohort(cohort_path);
  const engine::StudyStatus s = engine::study_status(cohort, dir, shards);
  std::cout << dir << ": " << s.total.completed << " of " << s.total.subjects << " subjects complete, " << s.total.failed
            << " failed, " << s.total.missing << " missing";
  if (plan.contains("array_job") && plan["array_job"].is_string())
    std::cout << " (Slurm array job " << plan["array_job"].get<std::string>() << ", merge job " << plan.value("merge_job", "?") << ")";
  std::cout << "\n";
  if (std::filesystem::exists(dir + "/report.html"))
    std::cout << "merged: " << dir << "/report.html (a merge after the last change rewrites it)\n";
  std::printf("\n%-10s %9s %10s %7s %8s\n", "shard", "subjects", "completed", "failed", "missing");
  std::vector<engine::ShardStatus> rows = s.shards;
  if (rows.size() > 1) rows.push_back(s.total);
  for (const auto& r : rows) std::printf("%-10s %9zu %10zu %7zu %8zu\n", r.label.c_str(), r.subjects, r.completed, r.failed, r.missing);
  std::fflush(stdout);
  if (!s.incomplete.rows.empty()) {
    std::cout << "\nFailed or missing:\n";
    for (const auto& row : s.incomplete.rows)
      std::cout << "  " << row[0] << (shards > 1 ? " (shard " + row[1] + ")" : "") << ": " << row[3] << "\n";
  }
  return s.complete() ? kExitOk : kExitSomeFailed;
}

}  // namespace

Command status_command() {
  return {"status",
          "where a study stands: completed, failed and missing subjects per shard, from its output directory",
          "mlens status --out DIR [--cohort CSV] [--shards N]",
          "Reads DIR alone (no scheduler needed, so it works on a login node, during or after the run): per shard, "
          "the subjects with every output the run makes (its DIR/configuration.json says which: predictions, maps, "
          "MNI maps, WML rows), those that failed (with the message their shard recorded) and those that no run has "
          "finished nor recorded (a task that was killed, is still running or never started). The cohort and the "
          "number of shards come from DIR/slurm/plan.json when `mlens run --slurm` wrote it. Exit 0 when every "
          "subject is complete, 4 otherwise.",
          "mlens status --out results",
          [](po::options_description& o, po::positional_options_description&) {
            o.add_options()("out,o", po::value<std::string>()->required()->value_name("DIR"), "the run's output directory")(
                "cohort", po::value<std::string>()->value_name("CSV"), "the cohort (default: the one DIR/slurm/plan.json names)")(
                "shards", po::value<int>()->value_name("N"), "shards the run used (default: DIR/slurm/plan.json's tasks, else 1)");
          },
          status};
}

}  // namespace mlens::tools
