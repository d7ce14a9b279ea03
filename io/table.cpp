#include "io/table.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"

namespace mlens::io {
namespace {

bool is_missing(const std::string& s) {
  return s.empty() || s == "NA" || s == "NaN" || s == "nan" || s == "NULL" || s == "n/a";
}

std::size_t column_index(const Table& t, const std::string& column) {
  for (std::size_t i = 0; i < t.columns.size(); ++i)
    if (t.columns[i] == column) return i;
  std::string known;
  for (const auto& c : t.columns)
    if (!c.empty()) known += (known.empty() ? "" : ", ") + c;
  throw std::invalid_argument("\"" + t.source + "\": no column \"" + column + "\" (columns: " + known + ")");
}

}  // namespace

bool Table::has(const std::string& column) const {
  for (const auto& c : columns)
    if (c == column) return true;
  return false;
}

std::vector<double> Table::numbers(const std::string& column) const {
  const std::size_t c = column_index(*this, column);
  std::vector<double> out;
  out.reserve(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::string& s = rows[r][c];
    if (is_missing(s)) {
      out.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size())
      throw std::invalid_argument("\"" + source + "\": column \"" + column + "\", data row " + std::to_string(r + 1) +
                                  ": \"" + s + "\" is not a number");
    out.push_back(v);
  }
  return out;
}

std::vector<std::string> Table::text(const std::string& column) const {
  const std::size_t c = column_index(*this, column);
  std::vector<std::string> out;
  for (const auto& row : rows) out.push_back(row[c]);
  return out;
}

Table parse_csv(const std::string& text, const std::string& source, char delimiter) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  const auto end_field = [&] {
    record.push_back(field);
    field.clear();
    field_started = false;
  };
  const auto end_record = [&] {
    end_field();
    if (!(record.size() == 1 && record[0].empty())) records.push_back(record);  // skip blank lines
    record.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch == '"' && !field_started) {
      quoted = field_started = true;
    } else if (ch == delimiter) {
      end_field();
    } else if (ch == '\n') {
      end_record();
    } else if (ch != '\r') {
      field += ch;
      field_started = true;
    }
  }
  if (quoted) throw std::invalid_argument("\"" + source + "\": a quoted field is not closed");
  if (!field.empty() || !record.empty()) end_record();
  if (records.empty()) throw std::invalid_argument("\"" + source + "\": empty table (no header row)");

  Table t;
  t.source = source;
  t.columns = records[0];
  if (!t.columns.empty() && t.columns[0] == "Unnamed: 0") t.columns[0] = "";  // pandas' name for the index
  for (std::size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != t.columns.size())
      throw std::invalid_argument("\"" + source + "\": line " + std::to_string(r + 1) + " has " +
                                  std::to_string(records[r].size()) + " fields, the header has " +
                                  std::to_string(t.columns.size()));
    t.rows.push_back(records[r]);
  }
  return t;
}

Table read_csv(const std::string& path, char delimiter) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("\"" + path + "\": cannot open the table");
  std::stringstream s;
  s << in.rdbuf();
  return parse_csv(s.str(), path, delimiter);
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Prefer the shortest form that reads back to the same double.
  for (int precision = 6; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
    if (std::stod(shorter) == v) return shorter;
  }
  return buf;
}

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto escape = [&](unsigned char c) {
    static const char* const hex = "0123456789abcdef";
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    // The length of a well-formed UTF-8 sequence starting here (RFC 3629: no overlongs, no surrogates).
    std::size_t n = 0;
    if (c >= 0x20 && c < 0x7f) n = 1;
    else if (c == '\t' || c == '\n') n = 1;
    else if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) n = 3;
    else if (c >= 0xf0 && c <= 0xf4) n = 4;
    bool ok = n > 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (ok && n == 3) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    }
    if (ok && n == 4) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    out.append(text, i, n);
    i += n;
  }
  return out;
}

std::string to_csv(const Table& t) {
  const auto quote = [](const std::string& raw) {
    const std::string s = printable(raw);
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  const auto line = [&](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + quote(fields[i]);
    out += "\n";
  };
  line(t.columns);
  for (const auto& row : t.rows) line(row);
  return out;
}

void write_csv(const std::string& path, const Table& table) { write_text_atomically(path, to_csv(table)); }

}  // namespace mlens::io
