#include "io/manifest.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "io/paths.h"

namespace mlens::io {
namespace fs = std::filesystem;

namespace {

std::invalid_argument manifest_error(const std::string& source, const std::string& field, const std::string& what) {
  return std::invalid_argument("\"" + source + "\": " + field + ": " + what);
}


}  // namespace

EnsembleSpec parse_manifest(const nlohmann::json& j, const std::string& source, const std::string& base_dir) {
  if (!j.is_object()) throw manifest_error(source, "top level", "expected a JSON object");
  EnsembleSpec e;
  e.source = source;
  e.name = j.value("name", "");
  e.modality = j.value("modality", "");
  if (j.contains("input")) {
    const auto& in = j.at("input");
    if (!in.contains("shape") || !in.at("shape").is_array() || in.at("shape").size() != 3)
      throw manifest_error(source, "input.shape", "expected three sizes [D, H, W]");
    for (int a = 0; a < 3; ++a) e.input_shape[a] = in.at("shape")[a].get<int64_t>();
    if (in.contains("voxel_size"))
      for (int a = 0; a < 3; ++a) e.voxel_size[a] = in.at("voxel_size")[a].get<double>();
    e.orientation = in.value("orientation", "");
    if (in.contains("preprocessing")) e.preprocessing = in.at("preprocessing");
    if (in.contains("expected")) {
      const auto& x = in.at("expected");
      if (x.contains("intensity_max")) {
        const auto& r = x.at("intensity_max");
        if (!r.is_array() || r.size() != 2) throw manifest_error(source, "input.expected.intensity_max", "expected [lo, hi]");
        e.expected_intensity_max = {r[0].get<double>(), r[1].get<double>()};
      }
      if (x.contains("brain_extent_max")) {
        const auto& r = x.at("brain_extent_max");
        if (!r.is_array() || r.size() != 3) throw manifest_error(source, "input.expected.brain_extent_max", "expected [x, y, z]");
        for (int a = 0; a < 3; ++a) e.expected_brain_extent_max[a] = r[a].get<int64_t>();
      }
    }
  }
  if (j.contains("training") && j.at("training").contains("age_range")) {
    const auto& r = j.at("training").at("age_range");
    if (!r.is_array() || r.size() != 2) throw manifest_error(source, "training.age_range", "expected [min, max]");
    e.training_age_range = {r[0].get<double>(), r[1].get<double>()};
  }
  if (!j.contains("members") || !j.at("members").is_array() || j.at("members").empty())
    throw manifest_error(source, "members", "expected a non-empty list of models or ensembles");
  const auto& members = j.at("members");
  const auto& head = j.value("head", nlohmann::json::object());
  e.intercept = head.value("intercept", 0.0);
  std::vector<double> coefficients;
  if (head.contains("coefficients")) {
    coefficients = head.at("coefficients").get<std::vector<double>>();
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
    MemberSpec member;
    member.coefficient = coefficients[k];
    if (m.contains("model")) {
      member.model = resolve_relative(base_dir, m.at("model").get<std::string>());
      member.arch = m.value("arch", "");
      if (!fs::exists(member.model)) throw manifest_error(source, field + ".model", "no such file \"" + member.model + "\"");
    } else if (m.contains("ensemble")) {
      member.ensemble = std::make_shared<EnsembleSpec>(parse_manifest(m.at("ensemble"), source, base_dir));
    } else if (m.contains("manifest")) {
      member.ensemble = std::make_shared<EnsembleSpec>(read_manifest(resolve_relative(base_dir, m.at("manifest").get<std::string>())));
    } else {
      throw manifest_error(source, field, "expected \"model\", \"ensemble\" or \"manifest\"");
    }
    e.members.push_back(std::move(member));
  }
  return e;
}

EnsembleSpec read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("\"" + path + "\": cannot open the manifest");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("\"" + path + "\": not valid JSON (" + e.what() + ")");
  }
  try {
    return parse_manifest(j, path, fs::path(path).parent_path().string());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("\"" + path + "\": a field has the wrong type (" + e.what() + ")");
  }
}

}  // namespace mlens::io
