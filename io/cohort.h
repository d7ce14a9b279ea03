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

// A CSV file, or a BIDS dataset directory: every sub-*/[ses-*/]anat/*_FLAIR.nii[.gz] is a subject
// (id "sub-01" or "sub-01_ses-1"), with age and sex from participants.tsv when it has them.
// Throws naming the file and row for a missing id/flair, a duplicate id, or an id that is not a safe
// directory name (letters, digits, '-', '_', '.'); a BIDS directory without FLAIR images is an error.
std::vector<Subject> read_cohort(const std::string& csv_path_or_bids_dir);
std::vector<Subject> read_bids(const std::string& dataset);

// Subjects i, i+n, i+2n, ... (1-based i of n) in file order: n shards cover the cohort exactly once.
std::vector<Subject> shard(const std::vector<Subject>& subjects, int index, int count);

}  // namespace mlens::io
