#include "io/manifest.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <fstream>
#include <stdexcept>

#include "io/json.h"
#include "io/paths.h"

namespace mlens::io {
namespace fs = std::filesystem;

namespace {

std::invalid_argument manifest_error(const std::string& source, const std::string& field, const std::string& what) {
  return std::invalid_argument("\"" + source + "\": " + field + ": " + what);
}

// Edit distance (insertions, deletions, substitutions), for "did you mean" on misspelt keys.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = diagonal + (std::tolower(a[i - 1]) != std::tolower(b[j - 1]));
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

// A misspelt key is silently ignored by lookups (a "coeficients" typo makes a plain mean of the
// members and moves the prediction by years), so every object of the manifest lists its keys.
void require_known_keys(const nlohmann::json& object, const std::string& source, const std::string& where,
                        std::initializer_list<const char*> known) {
  if (!object.is_object()) throw manifest_error(source, where.empty() ? "top level" : where, "expected a JSON object");
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) continue;
    const char* nearest = *std::min_element(known.begin(), known.end(), [&](const char* a, const char* b) {
      return edit_distance(key, a) < edit_distance(key, b);
    });
    std::string list;
    for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
    throw manifest_error(source, (where.empty() ? "" : where + ".") + key,
                         "unknown key" + (edit_distance(key, nearest) <= 3 ? " (did you mean \"" + std::string(nearest) + "\"?)" : "") +
                             "; expected one of " + list);
  }
}

double finite(const nlohmann::json& value, const std::string& source, const std::string& field) {
  const double v = value.get<double>();
  if (!std::isfinite(v)) throw manifest_error(source, field, "expected a finite number");
  return v;
}

// A whole number within [lo, hi] (198.0 counts): nothing is converted to an integer out of range.
int64_t whole(const nlohmann::json& value, const std::string& source, const std::string& field, int64_t lo, int64_t hi,
              const std::string& unit) {
  const std::string expected = "expected " + std::to_string(lo) + " to " + std::to_string(hi) + " " + unit;
  if (!value.is_number()) throw manifest_error(source, field, json_excerpt(value) + ", " + expected);
  const double v = value.get<double>();
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v))
    throw manifest_error(source, field, json_excerpt(value) + " " + unit + ", " + expected);
  return static_cast<int64_t>(v);
}

// Nested manifests being read, outermost first: a manifest that lists itself (directly or through
// others) is a cycle, not an endless recursion.
using Chain = std::vector<std::string>;
constexpr std::size_t kMaxDepth = 32;

EnsembleSpec parse(const nlohmann::json& j, const std::string& source, const std::string& base_dir, Chain& chain, std::size_t depth);

EnsembleSpec read(const std::string& path, Chain& chain, std::size_t depth) {
  std::error_code error;
  const std::string canonical = fs::weakly_canonical(path, error).string();
  for (std::size_t k = 0; k < chain.size(); ++k)
    if (chain[k] == canonical) {
      std::string cycle;
      for (std::size_t c = k; c < chain.size(); ++c) cycle += "\"" + chain[c] + "\" -> ";
      throw std::invalid_argument("\"" + path + "\": the manifests list each other in a cycle: " + cycle + "\"" + canonical + "\"");
    }
  if (fs::is_directory(path)) throw std::runtime_error("\"" + path + "\": is a directory, expected a manifest (.mlens.json)");
  std::ifstream in(path);
  if (!in) throw std::runtime_error("\"" + path + "\": cannot open the manifest");
  nlohmann::json j;
  try {
    j = parse_json(in, "\"" + path + "\"");
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("\"" + path + "\": not valid JSON (" + e.what() + ")");
  }
  chain.push_back(canonical);
  try {
    EnsembleSpec e = parse(j, path, fs::path(path).parent_path().string(), chain, depth);
    chain.pop_back();
    return e;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("\"" + path + "\": a field has the wrong type (" + e.what() + ")");
  }
}


EnsembleSpec parse(const nlohmann::json& j, const std::string& source, const std::string& base_dir, Chain& chain, std::size_t depth) {
  if (depth > kMaxDepth) throw manifest_error(source, "members", "ensembles nested more than " + std::to_string(kMaxDepth) + " levels deep");
  require_known_keys(j, source, "", {"name", "modality", "input", "training", "head", "members"});
  EnsembleSpec e;
  e.source = source;
  e.name = j.value("name", "");
  e.modality = j.value("modality", "");
  if (j.contains("input")) {
    const auto& in = j.at("input");
    require_known_keys(in, source, "input", {"shape", "voxel_size", "orientation", "preprocessing", "expected"});
    if (!in.contains("shape") || !in.at("shape").is_array() || in.at("shape").size() != 3)
      throw manifest_error(source, "input.shape", "expected three sizes [D, H, W]");
    for (int a = 0; a < 3; ++a) e.input_shape[a] = whole(in.at("shape")[a], source, "input.shape", 1, 32767, "voxels along an axis");
    if (in.contains("voxel_size")) {
      const auto& size = in.at("voxel_size");
      if (!size.is_array() || size.size() != 3) throw manifest_error(source, "input.voxel_size", "expected three sizes in mm");
      for (int a = 0; a < 3; ++a) {
        e.voxel_size[a] = finite(size[a], source, "input.voxel_size");
        if (e.voxel_size[a] <= 0) throw manifest_error(source, "input.voxel_size", "expected positive sizes in mm");
      }
    }
    e.orientation = in.value("orientation", "");
    if (in.contains("preprocessing")) {
      e.preprocessing = in.at("preprocessing");
      require_known_keys(e.preprocessing, source, "input.preprocessing", {"fit", "centre", "reference", "normalise", "dataset_max", "ceiling"});
    }
    if (in.contains("expected")) {
      const auto& x = in.at("expected");
      require_known_keys(x, source, "input.expected", {"intensity_max", "brain_extent_max"});
      if (x.contains("intensity_max")) {
        const auto& r = x.at("intensity_max");
        if (!r.is_array() || r.size() != 2) throw manifest_error(source, "input.expected.intensity_max", "expected [lo, hi]");
        e.expected_intensity_max = {finite(r[0], source, "input.expected.intensity_max"), finite(r[1], source, "input.expected.intensity_max")};
      }
      if (x.contains("brain_extent_max")) {
        const auto& r = x.at("brain_extent_max");
        if (!r.is_array() || r.size() != 3) throw manifest_error(source, "input.expected.brain_extent_max", "expected [x, y, z]");
        for (int a = 0; a < 3; ++a)
          e.expected_brain_extent_max[a] = whole(r[a], source, "input.expected.brain_extent_max", 0, 32767, "voxels");
      }
    }
  }
  // "training" is a free-form record of how the members were trained; only its age range is used.
  if (j.contains("training") && j.at("training").contains("age_range")) {
    const auto& r = j.at("training").at("age_range");
    if (!r.is_array() || r.size() != 2) throw manifest_error(source, "training.age_range", "expected [min, max]");
    e.training_age_range = {finite(r[0], source, "training.age_range"), finite(r[1], source, "training.age_range")};
  }
  if (!j.contains("members") || !j.at("members").is_array() || j.at("members").empty())
    throw manifest_error(source, "members", "expected a non-empty list of models or ensembles");
  const auto& members = j.at("members");
  const auto& head = j.value("head", nlohmann::json::object());
  require_known_keys(head, source, "head", {"intercept", "coefficients"});
  e.intercept = head.contains("intercept") ? finite(head.at("intercept"), source, "head.intercept") : 0.0;
  std::vector<double> coefficients;
  if (head.contains("coefficients")) {
    const auto& c = head.at("coefficients");
    if (!c.is_array()) throw manifest_error(source, "head.coefficients", "expected a list of numbers, one per member");
    for (const auto& value : c) coefficients.push_back(finite(value, source, "head.coefficients"));
    if (coefficients.size() != members.size())
      throw manifest_error(source, "head.coefficients",
                           std::to_string(coefficients.size()) + " coefficients for " + std::to_string(members.size()) +
                               " members (one per member expected)");
  } else {
    coefficients.assign(members.size(), 1.0 / static_cast<double>(members.size()));  // a plain mean
  }
  for (std::size_t k = 0; k < members.size(); ++k) {
    const auto& m = members[k];
    const std::string field = "members[" + std::to_string(k) + "]";
    require_known_keys(m, source, field, {"model", "arch", "ensemble", "manifest"});
    MemberSpec member;
    member.coefficient = coefficients[k];
    if (m.contains("model")) {
      member.model = resolve_relative(base_dir, m.at("model").get<std::string>());
      member.arch = m.value("arch", "");
      if (!fs::exists(member.model)) throw manifest_error(source, field + ".model", "no such file \"" + member.model + "\"");
    } else if (m.contains("ensemble")) {
      member.ensemble = std::make_shared<EnsembleSpec>(parse(m.at("ensemble"), source, base_dir, chain, depth + 1));
    } else if (m.contains("manifest")) {
      member.ensemble = std::make_shared<EnsembleSpec>(read(resolve_relative(base_dir, m.at("manifest").get<std::string>()), chain, depth + 1));
    } else {
      throw manifest_error(source, field, "expected \"model\", \"ensemble\" or \"manifest\"");
    }
    e.members.push_back(std::move(member));
  }
  return e;
}

}  // namespace

EnsembleSpec parse_manifest(const nlohmann::json& j, const std::string& source, const std::string& base_dir) {
  Chain chain;
  try {
    return parse(j, source, base_dir, chain, 0);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("\"" + source + "\": a field has the wrong type (" + e.what() + ")");
  }
}

EnsembleSpec read_manifest(const std::string& path) {
  Chain chain;
  return read(path, chain, 0);
}

}  // namespace mlens::io
