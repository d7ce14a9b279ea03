// Cohort lists: a CSV with columns id, flair and optionally age, sex, wml, transform (paths relative
// to the CSV; several transforms separated by ';', in ANTs order). R/pandas tables are read as they are (io/table.h).
#pragma once

#include <string>
#include <vector>

namespace mlens::io {

struct Subject {
  std::string id;
  std::string flair;      // resolved path
  double age = 0;         // NaN when unknown
  std::string sex;        // "" when unknown
  std::string wml;        // resolved path of a lesion map, "" when none
  std::vector<std::string> transforms;  // subject → template transforms in ANTs order ("a.nii.gz;b.mat" in the CSV)
};

// Throws naming the file and row for a missing id/flair, a duplicate id, or an id that is not a safe
// directory name (letters, digits, '-', '_', '.').
std::vector<Subject> read_cohort(const std::string& csv_path);

// Subjects i, i+n, i+2n, ... (1-based i of n) in file order: n shards cover the cohort exactly once.
std::vector<Subject> shard(const std::vector<Subject>& subjects, int index, int count);

}  // namespace mlens::io
