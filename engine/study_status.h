// Where a study stands, from its output directory alone (no scheduler needed): `mlens status`.
// Per shard (subject k of the cohort belongs to shard k mod N + 1, as io::shard deals them) the subjects
// with every output (engine/study.h), those that failed (recorded in a failures table) and those that no
// run has finished nor recorded. What a complete subject has is read from DIR/configuration.json.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "io/cohort.h"
#include "io/table.h"

namespace mlens::engine {

struct ShardStatus {
  std::string label;  // "3/8", or "all" for the whole cohort
  std::size_t subjects = 0, completed = 0, failed = 0, missing = 0;
};

struct StudyStatus {
  std::vector<ShardStatus> shards;  // one per shard
  ShardStatus total;
  io::Table incomplete;             // id, shard, input, error: the failed and missing subjects, sorted by id
  bool complete() const { return total.completed == total.subjects; }
};

// Throws, naming the file, when DIR has no configuration.json (no run has started there) or an
// unreadable failures table.
StudyStatus study_status(const std::vector<io::Subject>& cohort, const std::string& dir, int shards);

}  // namespace mlens::engine
