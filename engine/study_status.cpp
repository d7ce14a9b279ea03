#include "engine/study_status.h"

#include <algorithm>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/study.h"
#include "io/json.h"

namespace mlens::engine {

StudyStatus study_status(const std::vector<io::Subject>& cohort, const std::string& dir, int shards) {
  const std::string path = dir + "/configuration.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("\"" + path + "\": not found (no run has started in \"" + dir + "\")");
  CohortOptions co;
  co.out_dir = dir;
  co.configuration = io::parse_json(in, path, false);
  if (!co.configuration.is_object()) throw std::runtime_error("\"" + path + "\": expected a JSON object");
  // The outputs a complete subject has, as the run that wrote the directory stated them.
  co.explain = co.configuration.contains("rule");
  if (co.configuration.contains("mni_reference")) co.mni_reference = co.configuration["mni_reference"].get<std::string>();

  StudyStatus status;
  const std::size_t n = static_cast<std::size_t>(std::max(1, shards));
  for (std::size_t k = 0; k < n; ++k)
    status.shards.push_back({shards > 1 ? std::to_string(k + 1) + "/" + std::to_string(n) : "all"});
  status.total.label = "all";
  std::map<std::string, std::size_t> shard_of;
  for (std::size_t k = 0; k < cohort.size(); ++k) {
    ShardStatus& s = status.shards[k % n];
    ++s.subjects;
    ++status.total.subjects;
    shard_of[cohort[k].id] = k % n;
    if (study_subject_completed(co, cohort[k])) ++s.completed, ++status.total.completed;
  }
  status.incomplete.columns = {"id", "shard", "input", "error"};
  std::string previous;
  for (const auto& row : incomplete_subjects(cohort, co).rows) {
    ShardStatus& s = status.shards[shard_of.at(row[0])];
    status.incomplete.rows.push_back({row[0], s.label, row[1], row[2]});
    if (row[0] == previous) continue;  // a subject with several records counts once
    previous = row[0];
    const bool missing = row[2].rfind(kMissing, 0) == 0;
    ++(missing ? s.missing : s.failed);
    ++(missing ? status.total.missing : status.total.failed);
  }
  return status;
}

}  // namespace mlens::engine
