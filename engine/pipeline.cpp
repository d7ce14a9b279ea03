#include "engine/pipeline.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

namespace mlens::engine {

PreprocessSpec preprocess_spec(const io::EnsembleSpec& m) {
  PreprocessSpec s;
  s.shape = m.input_shape;
  s.orientation = m.orientation;
  s.intensity_max_range = m.expected_intensity_max;
  s.brain_extent_max = m.expected_brain_extent_max;
  const nlohmann::json& p = m.preprocessing;
  if (p.is_null()) return s;
  const auto field_error = [&](const std::string& field, const std::string& what) {
    return std::invalid_argument("\"" + m.source + "\": input.preprocessing." + field + ": " + what);
  };
  s.fit = p.value("fit", "none");
  if (s.fit != "prune" && s.fit != "resample" && s.fit != "none")
    throw field_error("fit", "\"" + s.fit + "\" (expected prune, resample or none)");
  if (s.fit != "none" && s.shape[0] <= 0) throw field_error("fit", s.fit + " needs input.shape");
  if (s.fit == "resample") {
    if (p.contains("reference")) {
      const std::string path = (std::filesystem::path(m.source).parent_path() / p.at("reference").get<std::string>()).string();
      s.grid = io::read_volume(path);
      s.grid.voxels.clear();
      if (s.grid.shape != s.shape) throw field_error("reference", "\"" + path + "\" is " + io::describe_grid(s.grid) +
                                                     ", but input.shape asks for " + std::to_string(s.shape[0]) + "x" +
                                                     std::to_string(s.shape[1]) + "x" + std::to_string(s.shape[2]));
    } else if (p.contains("centre")) {
      if (m.orientation.empty()) throw field_error("fit", "resample with a centre needs input.orientation");
      const auto c = p.at("centre");
      if (!c.is_array() || c.size() != 3) throw field_error("centre", "expected [x, y, z] in RAS millimetres");
      s.grid = make_grid(m.orientation, m.voxel_size, s.shape, {c[0].get<double>(), c[1].get<double>(), c[2].get<double>()});
    } else {
      throw field_error("fit", "resample needs \"centre\": [x, y, z] (RAS mm) or \"reference\": an image file");
    }
  }
  s.normalise = p.value("normalise", "none");
  if (s.normalise != "none" && s.normalise != "unit" && s.normalise != "zscore" && s.normalise != "study-uint8")
    throw field_error("normalise", "\"" + s.normalise + "\" (expected none, unit, zscore or study-uint8)");
  if (s.normalise == "study-uint8") {
    if (!p.contains("dataset_max")) throw field_error("dataset_max", "study-uint8 needs the training set's maximum");
    s.dataset_max = p.at("dataset_max").get<double>();
    s.ceiling = p.value("ceiling", 383.0);
  }
  return s;
}


Prepared prepare(io::Volume v, const PreprocessSpec& spec, const io::Volume* mask, const std::string& source) {
  Prepared p;
  p.subject.shape = v.shape;
  p.subject.geometry = v.geometry;
  if (mask) {
    io::require_same_grid(v, source, *mask, "brain mask");
    for (std::size_t i = 0; i < v.voxels.size(); ++i)
      if (mask->voxels[i] == 0) v.voxels[i] = 0;
  }
  io::require_values(v, source);  // NaN or Inf voxels would spread silently through normalisation and the network
  p.subject_orientation = orientation_code(v.geometry, source);
  if (spec.fit == "resample") {
    p.intensity_max = *std::max_element(v.voxels.begin(), v.voxels.end());
    v = resample_box(v, spec.grid);
    p.resampled = true;
    p.brain_extent = find_brain_box(v, source).extent;
  } else if (!spec.orientation.empty() && spec.orientation != p.subject_orientation) {
    v = reorient(v, spec.orientation, source);
    p.reoriented = true;
  }
  if (!p.resampled) p.intensity_max = *std::max_element(v.voxels.begin(), v.voxels.end());
  if (spec.fit == "prune") {
    v = prune(v, spec.shape, p.prune, source);
    p.pruned = true;
    p.brain_extent = p.prune.box.extent;
  } else if (!p.resampled) {
    p.brain_extent = find_brain_box(v, source).extent;
  }
  if (spec.normalise == "unit") scale_to_unit(v, source);
  if (spec.normalise == "zscore") zscore_in_brain(v, source);
  if (spec.normalise == "study-uint8") study_uint8(v, spec.dataset_max, spec.ceiling, source);
  p.model_input = std::move(v);
  return p;
}

std::vector<std::string> qc_flags(const Prepared& p, const PreprocessSpec& spec) {
  std::vector<std::string> flags;
  const auto& range = spec.intensity_max_range;
  if (range[0] <= range[1] && (p.intensity_max < range[0] || p.intensity_max > range[1]))
    flags.push_back("intensity_out_of_range");
  for (int a = 0; a < 3; ++a)
    if (spec.brain_extent_max[a] > 0 && p.brain_extent[a] > spec.brain_extent_max[a]) {
      flags.push_back("brain_extent_too_large");
      break;
    }
  return flags;
}

template <typename T>
io::BasicVolume<T> to_subject_space(io::BasicVolume<T> m, const Prepared& p) {
  m.geometry = p.model_input.geometry;
  if (p.resampled) return resample_box_adjoint(m, p.subject);
  if (p.pruned) m = unprune(m, p.prune);
  if (p.reoriented) m = reorient(m, p.subject_orientation);
  if (m.shape != p.subject.shape) throw std::logic_error("to_subject_space: the map did not return to the subject's grid");
  m.geometry = p.subject.geometry;  // identical up to rounding; the subject's header is the reference
  return m;
}
template io::Volume to_subject_space(io::Volume, const Prepared&);
template io::Volume64 to_subject_space(io::Volume64, const Prepared&);

}  // namespace mlens::engine
