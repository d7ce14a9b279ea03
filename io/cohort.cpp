#include "io/cohort.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/paths.h"
#include "io/table.h"

namespace mlens::io {
namespace fs = std::filesystem;

std::vector<Subject> read_bids(const std::string& dataset) {
  // participants.tsv: participant_id, age, sex (all optional but the id).
  std::map<std::string, std::pair<double, std::string>> participants;
  const std::string tsv = (fs::path(dataset) / "participants.tsv").string();
  if (fs::exists(tsv)) {
    const Table t = read_csv(tsv, '\t');
    if (t.has("participant_id")) {
      const auto ids = t.text("participant_id");
      const auto ages = t.has("age") ? t.numbers("age") : std::vector<double>(ids.size(), std::nan(""));
      const auto sexes = t.has("sex") ? t.text("sex") : std::vector<std::string>(ids.size());
      for (std::size_t r = 0; r < ids.size(); ++r) participants[ids[r]] = {ages[r], sexes[r] == "n/a" ? "" : sexes[r]};
    }
  }
  std::vector<Subject> subjects;
  std::vector<fs::path> subject_dirs;
  for (const auto& entry : fs::directory_iterator(dataset))
    if (entry.is_directory() && entry.path().filename().string().rfind("sub-", 0) == 0) subject_dirs.push_back(entry.path());
  std::sort(subject_dirs.begin(), subject_dirs.end());
  for (const fs::path& sub : subject_dirs) {
    std::vector<fs::path> anat_dirs;
    if (fs::is_directory(sub / "anat")) anat_dirs.push_back(sub / "anat");
    std::vector<fs::path> sessions;
    for (const auto& entry : fs::directory_iterator(sub))
      if (entry.is_directory() && entry.path().filename().string().rfind("ses-", 0) == 0) sessions.push_back(entry.path());
    std::sort(sessions.begin(), sessions.end());
    for (const auto& ses : sessions)
      if (fs::is_directory(ses / "anat")) anat_dirs.push_back(ses / "anat");
    for (const fs::path& anat : anat_dirs) {
      std::vector<fs::path> flairs;
      for (const auto& entry : fs::directory_iterator(anat)) {
        const std::string name = entry.path().filename().string();
        if (name.find("_FLAIR.nii") != std::string::npos) flairs.push_back(entry.path());
      }
      std::sort(flairs.begin(), flairs.end());
      for (const fs::path& flair : flairs) {
        std::string id = sub.filename().string();
        if (anat.parent_path() != sub) id += "_" + anat.parent_path().filename().string();
        if (flairs.size() > 1) id = flair.filename().string().substr(0, flair.filename().string().find("_FLAIR"));
        const auto p = participants.find(sub.filename().string());
        Subject s{id, flair.string(), std::nan(""), "", "", {}};
        if (p != participants.end()) {
          s.age = p->second.first;
          s.sex = p->second.second;
        }
        subjects.push_back(s);
      }
    }
  }
  if (subjects.empty())
    throw std::invalid_argument("\"" + dataset + "\": no sub-*/[ses-*/]anat/*_FLAIR.nii[.gz] images (expected a BIDS dataset)");
  return subjects;
}

std::vector<Subject> read_cohort(const std::string& csv_path) {
  if (fs::is_directory(csv_path)) return read_bids(csv_path);
  const Table t = read_csv(csv_path);
  for (const char* needed : {"id", "flair"})
    if (!t.has(needed)) throw std::invalid_argument("\"" + csv_path + "\": a cohort table needs the column \"" + needed + "\"");
  const std::string base = fs::path(csv_path).parent_path().string();
  const auto resolve = [&](const std::string& p) { return resolve_relative(base, p); };
  const auto ids = t.text("id"), flair = t.text("flair");
  const std::vector<double> age = t.has("age") ? t.numbers("age") : std::vector<double>(ids.size(), std::nan(""));
  const auto optional_text = [&](const char* column) {
    return t.has(column) ? t.text(column) : std::vector<std::string>(ids.size());
  };
  const auto sex = optional_text("sex"), wml = optional_text("wml"), transform = optional_text("transform");
  std::vector<Subject> subjects;
  std::set<std::string> seen;
  for (std::size_t r = 0; r < ids.size(); ++r) {
    const std::string where = "\"" + csv_path + "\", data row " + std::to_string(r + 1);
    const std::string& id = ids[r];
    if (id.empty()) throw std::invalid_argument(where + ": empty id");
    for (char c : id)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
        throw std::invalid_argument(where + ": id \"" + id + "\" may hold only letters, digits, '-', '_' and '.' (it names a folder)");
    if (!seen.insert(id).second) throw std::invalid_argument(where + ": id \"" + id + "\" appears twice");
    if (flair[r].empty()) throw std::invalid_argument(where + ": no flair path for \"" + id + "\"");
    std::vector<std::string> transforms;
    std::stringstream list(transform[r]);
    std::string item;
    while (std::getline(list, item, ';'))
      if (!resolve(item).empty()) transforms.push_back(resolve(item));
    subjects.push_back({id, resolve(flair[r]), age[r], sex[r], resolve(wml[r]), transforms});
  }
  return subjects;
}

std::vector<Subject> shard(const std::vector<Subject>& subjects, int index, int count) {
  if (count < 1 || index < 1 || index > count)
    throw std::invalid_argument("shard " + std::to_string(index) + "/" + std::to_string(count) + ": expected i/n with 1 <= i <= n");
  std::vector<Subject> out;
  for (std::size_t s = static_cast<std::size_t>(index - 1); s < subjects.size(); s += static_cast<std::size_t>(count))
    out.push_back(subjects[s]);
  return out;
}

}  // namespace mlens::io
