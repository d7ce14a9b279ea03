// write_cohort_tables (engine/cohort.h): the cohort-wide files, rebuilt from every completed subject's
// prediction.json, so that a resumed, sharded or merged run writes the same bytes.
#include "engine/cohort.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "io/atomic_file.h"
#include "io/cohort_store.h"
#include "io/json.h"
#include "io/table.h"
#include "io/volume.h"

namespace mlens::engine {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A completed subject's prediction.json.
struct Completed {
  const io::Subject* subject;
  std::string path;
  json prediction;
};

// Runs `read` on what a completed subject's file holds; an error names the file.
template <typename Read>
void in_file(const Completed& c, Read&& read) {
  try {
    read();
  } catch (const std::exception& e) {
    throw std::runtime_error("\"" + c.path + "\": " + e.what() + " (expected a prediction.json of this cohort's model)");
  }
}

std::vector<std::string> flags_of(const json& prediction) {
  std::vector<std::string> flags;
  if (prediction.contains("qc"))
    for (const auto& f : prediction.at("qc").at("flags")) flags.push_back(f.get<std::string>());
  return flags;
}

std::string joined(const std::vector<std::string>& flags, std::map<std::string, int>& counts) {
  std::string text;
  for (const auto& f : flags) {
    text += (text.empty() ? "" : ";") + f;
    ++counts[f];
  }
  return text;
}

// Brain-age: gaps, the age-bias model (bias_model.json when fitted), accuracy and the members' spread.
io::Table brain_age_table(const std::vector<Completed>& completed, const CohortOptions& o,
                          const std::function<void(const std::string&)>& log, json& summary) {
  std::vector<double> ages, predictions;
  std::vector<std::vector<double>> members;
  std::vector<std::string> member_names;
  for (const auto& c : completed)
    in_file(c, [&] {
      predictions.push_back(c.prediction.at("brain_age").get<double>());
      ages.push_back(c.subject->age);
      members.emplace_back();
      for (const auto& m : c.prediction.at("members")) {
        members.back().push_back(m.at("prediction").get<double>());
        if (members.size() == 1) member_names.push_back(m.at("name").get<std::string>());
      }
    });
  json bias = nullptr;
  std::optional<stats::AgeBiasModel> model = o.bias_model;
  std::string bias_source = "given (--bias-model)";
  if (!model) {
    try {
      model = stats::fit_age_bias(ages, predictions);
      bias_source = "fitted on this cohort (n = " + std::to_string(model->n) + "): its corrected gaps are not independent of it";
    } catch (const std::invalid_argument&) {
      bias_source = "none (fewer than 3 subjects with age)";
    }
  }
  if (model) {
    bias = {{"slope", model->slope}, {"intercept", model->intercept}, {"n", model->n}, {"method", stats::to_string(o.bias_method)},
            {"source", bias_source}};
    if (!o.bias_model) io::write_text_atomically(o.out_dir + "/bias_model.json", bias.dump(2) + "\n");
  }

  io::Table t;
  t.columns = {"id", "age", "brain_age", "gap", "corrected_brain_age", "corrected_gap", "members_sd", "flags"};
  for (std::size_t k = 0; k < member_names.size(); ++k) t.columns.push_back("member_" + std::to_string(k + 1));
  const bool range_known = o.training_age_range[0] <= o.training_age_range[1];
  std::map<std::string, int> flag_counts;
  for (std::size_t i = 0; i < completed.size(); ++i) {
    const double age = ages[i], brain_age = predictions[i];
    const std::vector<double>& ms = members[i];
    const double corrected = model && std::isfinite(age) ? stats::corrected_brain_age(*model, o.bias_method, age, brain_age)
                                                         : std::nan("");
    double mean = 0, sd = 0;
    for (double m : ms) mean += m / static_cast<double>(ms.size());
    for (double m : ms) sd += (m - mean) * (m - mean);
    sd = ms.size() > 1 ? std::sqrt(sd / static_cast<double>(ms.size() - 1)) : std::nan("");
    std::vector<std::string> flags;
    in_file(completed[i], [&] { flags = flags_of(completed[i].prediction); });
    if (range_known && (brain_age < o.training_age_range[0] || brain_age > o.training_age_range[1]))
      flags.push_back("outside_training_range");
    std::vector<std::string> cells{completed[i].subject->id, io::csv_number(age), io::csv_number(brain_age),
                                   io::csv_number(brain_age - age), io::csv_number(corrected), io::csv_number(corrected - age),
                                   io::csv_number(sd), joined(flags, flag_counts)};
    for (double m : ms) cells.push_back(io::csv_number(m));
    t.rows.push_back(cells);
  }

  summary["age_bias"] = bias;
  summary["members"] = member_names;
  for (const auto& [flag, count] : flag_counts) summary["qc"]["flagged"][flag] = count;
  try {
    const stats::Accuracy acc = stats::accuracy(ages, predictions);
    summary["accuracy"] = {{"n", acc.n}, {"mae", acc.mae}, {"r", acc.r}, {"r2", acc.r2}};
  } catch (const std::invalid_argument&) {
  }
  if (predictions.size() >= 5) {
    double mean = 0, var = 0;
    for (double p : predictions) mean += p / static_cast<double>(predictions.size());
    for (double p : predictions) var += (p - mean) * (p - mean) / static_cast<double>(predictions.size() - 1);
    // A model that predicts (almost) the same age for everyone is broken input or preprocessing, not a
    // young or old cohort: say so loudly.
    if (std::sqrt(var) < 1.0) {
      summary["qc"]["near_constant_predictions"] = std::sqrt(var);
      log("WARNING: predictions are nearly constant across the cohort (SD " + std::to_string(std::sqrt(var)) +
          " years): check the preprocessing and the inputs");
    }
  }
  return t;
}

// A model with several outputs (a classifier, a multi-task head): every output, the softmax's
// probabilities when the model ends in one, the largest output and, explained, the neuron the map starts from.
io::Table outputs_table(const std::vector<Completed>& completed, const CohortOptions& o, json& summary) {
  const auto outputs = static_cast<std::size_t>(o.outputs);
  io::Table t;
  t.columns = {"id", "age"};
  for (std::size_t k = 0; k < outputs; ++k) t.columns.push_back("output_" + std::to_string(k));
  if (o.softmax_removed)
    for (std::size_t k = 0; k < outputs; ++k) t.columns.push_back("probability_" + std::to_string(k));
  t.columns.push_back("argmax");
  if (o.explain) t.columns.insert(t.columns.end(), {"neuron", "neuron_value"});
  t.columns.push_back("flags");
  std::map<std::string, int> flag_counts;
  std::vector<int> argmax_counts(outputs, 0);
  for (const auto& c : completed) in_file(c, [&] {
    const json& p = c.prediction;
    const auto values = [&](const char* field) {
      if (!p.contains(field) || !p.at(field).is_array() || p.at(field).size() != outputs)
        throw std::runtime_error(std::string("\"") + field + "\" must hold the model's " + std::to_string(outputs) + " outputs");
      std::vector<std::string> cells;
      for (const auto& y : p.at(field)) cells.push_back(io::csv_number(y.get<double>()));
      return cells;
    };
    std::vector<std::string> cells{c.subject->id, io::csv_number(c.subject->age)};
    for (const auto& y : values("outputs")) cells.push_back(y);
    if (o.softmax_removed)
      for (const auto& y : values("probabilities")) cells.push_back(y);
    const auto argmax = p.at("argmax").get<int64_t>();
    if (argmax < 0 || argmax >= o.outputs) throw std::runtime_error("\"argmax\" " + std::to_string(argmax) + " is not an output");
    ++argmax_counts[static_cast<std::size_t>(argmax)];
    cells.push_back(std::to_string(argmax));
    if (o.explain) cells.insert(cells.end(), {std::to_string(p.at("neuron").at("index").get<int64_t>()),
                                              io::csv_number(p.at("neuron").at("value").get<double>())});
    cells.push_back(joined(flags_of(p), flag_counts));
    t.rows.push_back(cells);
  });
  summary["outputs"] = outputs;
  summary["softmax_removed"] = o.softmax_removed;
  summary["argmax_counts"] = argmax_counts;
  if (o.explain) summary["neuron"] = o.composite.neuron.describe();
  for (const auto& [flag, count] : flag_counts) summary["qc"]["flagged"][flag] = count;
  return t;
}

}  // namespace

std::size_t write_cohort_tables(const std::vector<io::Subject>& cohort, const CohortOptions& o,
                                const std::function<void(const std::string&)>& log) {
  std::vector<Completed> completed;
  for (const auto& s : cohort) {
    const std::string path = subject_dir(o, s.id) + "/prediction.json";
    if (!fs::exists(path)) continue;
    Completed c{&s, path, {}};
    in_file(c, [&] {
      std::ifstream in(path);
      c.prediction = io::parse_json(in, "");  // in_file names the file
    });
    completed.push_back(std::move(c));
  }
  // Only what the completed subjects determine: a resumed, sharded or merged run writes the same bytes.
  json summary{{"cohort", cohort.size()}, {"completed", completed.size()}};
  const io::Table t = o.outputs > 1 ? outputs_table(completed, o, summary) : brain_age_table(completed, o, log, summary);
  io::write_csv(o.out_dir + "/predictions.csv", t);
  if (summary.contains("qc") && summary["qc"].contains("flagged"))
    log("QC: " + std::to_string(summary["qc"]["flagged"].size()) + " kind(s) of flags; see predictions.csv (flags)");
  io::write_text_atomically(o.out_dir + "/summary.json", summary.dump(2) + "\n");
  if (!o.store.empty()) {
    io::StoreMaps maps;
    if (o.explain) {
      const bool mni = !o.mni_reference.empty();
      maps.name = mni ? "relevance_mni" : "relevance";
      maps.common_grid = mni;
      maps.load = [&, mni](std::size_t k) {  // mni by value: the lambda outlives this block
        return io::read_volumes(subject_dir(o, t.rows[k][0]) + (mni ? "/relevance_mni.nii.gz" : "/relevance.nii.gz"));
      };
    }
    io::write_cohort_store(o.store, t, maps);
    log("cohort store: " + o.store + " (" + std::to_string(t.rows.size()) + " subjects)");
  }
  return completed.size();
}

}  // namespace mlens::engine
