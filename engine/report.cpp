#include "engine/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"

namespace mlens::engine {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("report: cannot read the figure \"" + path + "\"");
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b0 = static_cast<uint8_t>(bytes[i]);
    const uint32_t b1 = i + 1 < bytes.size() ? static_cast<uint8_t>(bytes[i + 1]) : 0;
    const uint32_t b2 = i + 2 < bytes.size() ? static_cast<uint8_t>(bytes[i + 2]) : 0;
    const uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? table[v & 63] : '=';
  }
  return out;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(const nlohmann::json& j, const char* format) {
  if (!j.is_number()) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, j.get<double>());
  return buf;
}

std::string figure_markup(const std::string& path) {
  const std::string data = read_file(path);
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".svg") == 0) {
    const auto start = data.find("<svg");
    return start == std::string::npos ? data : data.substr(start);
  }
  return "<img alt=\"" + escape(std::filesystem::path(path).filename().string()) + "\" src=\"data:image/png;base64," +
         base64(data) + "\">";
}

const char* kStyle = R"(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.sub { color: #666; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 8em; }
.card .v { font-size: 1.5em; font-weight: 600; } .card .k { color: #666; font-size: 0.85em; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
.figs { display: flex; flex-wrap: wrap; gap: 1.5em; } .figs figure { flex: 1 1 420px; }
.figs svg { max-width: 100%; height: auto; }
.panel img { max-width: 100%; image-rendering: pixelated; background: #000; }
pre { background: #f6f6f6; padding: 0.8em; border-radius: 6px; white-space: pre-wrap; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; }
.legend span { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin: 0 0.3em 0 1em; }
)";

}  // namespace

void write_report(const std::string& path, const ReportInputs& in) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mlens report</title><style>" << kStyle
    << "</style></head><body>\n";
  h << "<h1>Brain-age and lesion relevance</h1>\n<p class=\"sub\">mlens · model " << escape(in.manifest) << " · relevance rule "
    << escape(in.rule.is_object() ? in.rule.value("name", "") : "") << " · lesion analysis in " << escape(in.space) << "</p>\n";

  const nlohmann::json& s = in.summary;
  const nlohmann::json acc = s.is_object() && s.contains("accuracy") ? s["accuracy"] : nlohmann::json();
  h << "<h2>Cohort</h2>\n<div class=\"cards\">";
  const auto card = [&](const std::string& value, const std::string& key) {
    h << "<div class=\"card\"><div class=\"v\">" << value << "</div><div class=\"k\">" << key << "</div></div>";
  };
  card(s.is_object() ? std::to_string(s.value("completed", 0)) + " / " + std::to_string(s.value("cohort", 0)) : "–", "subjects scored");
  card(number(acc.is_object() ? acc["mae"] : nlohmann::json(), "%.2f"), "MAE (years)");
  card(number(acc.is_object() ? acc["r"] : nlohmann::json(), "%.3f"), "r (brain-age, age)");
  card(number(acc.is_object() ? acc["r2"] : nlohmann::json(), "%.3f"), "R²");
  card(std::to_string(in.failures.rows.size()), "failures");
  h << "</div>\n";

  h << "<h2>Relevance in white-matter lesions</h2>\n<pre>" << escape(in.wml_summary) << "</pre>\n";
  h << "<div class=\"figs\">";
  for (const ReportFigure& f : in.figures)
    h << "<figure>" << figure_markup(f.path) << "<figcaption>" << escape(f.caption) << "</figcaption></figure>\n";
  h << "</div>\n";

  if (!in.panels.empty()) {
    h << "<h2>Subjects</h2>\n<p class=\"legend\">Axial FLAIR slices (neurological convention: the subject's right on the "
         "right), lesions (probability &gt; 0.5) outlined<span style=\"background:#1aff33\"></span>, relevance "
         "<span style=\"background:linear-gradient(90deg,#f00,#ff0)\"></span>positive "
         "<span style=\"background:linear-gradient(90deg,#00f,#0ff)\"></span>negative, in the subject's grid.</p>\n";
    for (const ReportPanel& p : in.panels) {
      char title[160];
      std::snprintf(title, sizeof title, "%s · age %.1f · brain-age %.1f", p.id.c_str(), p.age, p.brain_age);
      h << "<figure class=\"panel\">" << figure_markup(p.png) << "<figcaption>" << escape(title) << "</figcaption></figure>\n";
    }
  }

  h << "<h2>Failures</h2>\n";
  if (in.failures.rows.empty()) {
    h << "<p>None: every subject was scored.</p>\n";
  } else {
    h << "<table><tr>";
    for (const std::string& c : in.failures.columns) h << "<th>" << escape(c) << "</th>";
    h << "</tr>\n";
    for (const auto& row : in.failures.rows) {
      h << "<tr>";
      for (const std::string& cell : row) h << "<td>" << escape(cell) << "</td>";
      h << "</tr>\n";
    }
    h << "</table>\n";
  }
  for (const std::string& note : in.notes) h << "<p><em>" << escape(note) << "</em></p>\n";
  h << "<p class=\"sub\">Tables next to this page: predictions.csv, wml.csv, stats.json, summary.json; figures in "
       "figures/.</p>\n</body></html>\n";
  io::write_text_atomically(path, h.str());
}

}  // namespace mlens::engine
