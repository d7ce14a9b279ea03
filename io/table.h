// CSV tables as R's write.csv and pandas' to_csv write them: a header row (quoted or not), an optional
// leading row-index column (an empty or "Unnamed: 0" header), "NA", "NaN" or an empty field for missing
// values, quoted fields with "" for a quote, LF or CRLF line ends.
#pragma once

#include <string>
#include <vector>

namespace mlens::io {

struct Table {
  std::string source;                          // file name, for messages
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  // each as long as `columns`

  bool has(const std::string& column) const;
  // A column as numbers; missing fields are NaN. Throws naming the file, column, row and text when a
  // field is not a number, and listing the columns when the column does not exist.
  std::vector<double> numbers(const std::string& column) const;
  std::vector<std::string> text(const std::string& column) const;
};

// `delimiter` ',' for CSV, '\t' for TSV (BIDS' participants.tsv, where "n/a" marks missing values).
Table parse_csv(const std::string& text, const std::string& source, char delimiter = ',');
Table read_csv(const std::string& path, char delimiter = ',');

// Writes columns + rows as CSV (fields quoted only when needed), atomically.
void write_csv(const std::string& path, const Table& table);
std::string to_csv(const Table& table);

// Formats a number for a CSV cell: shortest round-trip form, "" for NaN (missing).
std::string csv_number(double value);

// `text` as valid UTF-8 without control characters (tab and line feed kept): other bytes as \xNN.
// Messages and tables quote what files contain (a corrupt file's layer name, a path in Latin-1), and
// a terminal, R or pandas must be able to read them. Cells are written through it.
std::string printable(const std::string& text);

}  // namespace mlens::io
