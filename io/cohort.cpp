#include "io/cohort.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/paths.h"
#include "io/table.h"

namespace mlens::io {
namespace fs = std::filesystem;

std::vector<Subject> read_cohort(const std::string& csv_path) {
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
