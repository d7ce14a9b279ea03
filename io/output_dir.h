// An output directory that runs write into over many sessions (a cohort's --out): one run at a time,
// and only results of one configuration.
//
// A second process on the same directory would compute every subject again and race the first on the
// table; a second run with another model or rule would keep the first run's per-subject results as
// "done" and mix the two in one table. Both are refused here, by a lock that dies with its process and
// by DIR/configuration.json, the record of what produced the results.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace mlens::io {

// Holds DIR/.mlens.lock (flock, released when the process ends however it ends). Without `part` the
// lock is exclusive; a part (a shard, e.g. "shard-2-of-8") shares it with the other parts and holds
// DIR/.mlens-<part>.lock exclusively, so shards run side by side but never twice, nor beside a whole run.
// Throws, naming the directory, when another process holds what is asked for.
class OutputDirLock {
 public:
  explicit OutputDirLock(const std::string& dir, const std::string& part = "");
  ~OutputDirLock();
  OutputDirLock(const OutputDirLock&) = delete;
  OutputDirLock& operator=(const OutputDirLock&) = delete;

 private:
  int whole_ = -1, part_ = -1;
};

// Compares `configuration` (a JSON object: the settings that change results, e.g. model files'
// fingerprints, rule, dtype) with DIR/configuration.json. A setting both state must be equal: else it
// throws, naming the settings that differ, unless `replace` (then the record is rewritten; the caller
// recomputes everything). Settings only one states are merged into the record.
void require_configuration(const std::string& dir, const nlohmann::json& configuration, bool replace);

// "crc64 <16 hex digits>, <bytes> bytes": identifies a file's content (ISA-L's CRC-64; not a defence
// against a forger, a check against mixing up models). Errors name the file.
std::string file_fingerprint(const std::string& path);

}  // namespace mlens::io
