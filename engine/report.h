// report.html: one self-contained page (figures inlined: SVG as markup, PNG as data URIs; no scripts,
// no network) with the cohort summary, the WML analysis, Fig.-3 panels and the failures.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/table.h"

namespace mlens::engine {

struct ReportFigure {
  std::string path;     // .svg or .png
  std::string caption;
};

struct ReportPanel {
  std::string id;
  double age = 0, brain_age = 0;
  std::string png;
};

struct ReportInputs {
  std::string manifest, space;
  nlohmann::json summary;  // the cohort run's summary.json
  nlohmann::json rule;     // the LRP composite
  nlohmann::json wml;      // stats.json, when there are lesion statistics
  std::string wml_summary;
  std::vector<ReportFigure> figures;
  std::vector<ReportPanel> panels;
  io::Table failures;      // id, input, error
  std::vector<std::string> notes;
};

// Written atomically. Errors name a figure that cannot be read.
void write_report(const std::string& path, const ReportInputs& inputs);

}  // namespace mlens::engine
