#include "tools/command.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <thread>

namespace mlens::tools {

Command inspect_command();
Command predict_command();
Command explain_command();
Command validate_command();
Command init_model_command();
Command phantom_command();
Command simulate_command();
Command slices_command();
Command train_command();
Command run_command();
Command stats_command();
Command maps_command();
Command overlay_command();
Command warp_command();
Command status_command();

const std::vector<Command>& commands() {
  static const std::vector<Command> all{run_command(), status_command(), inspect_command(), predict_command(), explain_command(), validate_command(),
                                        warp_command(), overlay_command(), stats_command(), maps_command(), simulate_command(), train_command(), slices_command(), init_model_command(), phantom_command()};
  return all;
}

namespace {

std::vector<po::option>& recorded_options() {
  static std::vector<po::option> options;
  return options;
}

}  // namespace

const std::vector<po::option>& given_options() { return recorded_options(); }
void record_given_options(const po::parsed_options& parsed) { recorded_options() = parsed.options; }

namespace {

// Breaks a paragraph into lines of at most `width` characters at spaces.
std::string wrap(const std::string& text, size_t width) {
  std::istringstream words(text);
  std::string word, line, out;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

// What each numeric option accepts, by name: an option means the same in every command. NaN and
// infinity are refused for every number, listed or not.
struct Range {
  double lo, hi;
};
const std::map<std::string, Range>& option_ranges() {
  const double cores = std::max(1u, std::thread::hardware_concurrency()), big = 1e9;
  static const std::map<std::string, Range> ranges{
      {"threads", {0, 4 * cores}}, {"jobs", {1, 4 * cores}}, {"readers", {1, 64}}, {"writers", {1, 64}},
      {"batch", {1, 4096}}, {"tasks", {1, 1e6}}, {"shards", {1, 1e6}}, {"subjects-per-task", {1, 1e9}}, {"cpus", {1, 4096}}, {"gpus", {1, 64}}, {"memory", {0.001, 1e6}}, {"steps", {1, 1e6}}, {"samples", {1, 1e6}}, {"noise", {0, big}}, {"subjects", {1, 1e6}}, {"members", {1, 1000}}, {"epochs", {1, big}},
      {"patience", {1, big}}, {"count", {1, 10000}}, {"zoom", {1, 64}}, {"panels", {0, 10000}},
      {"threshold", {0, 1}}, {"epsilon", {0, big}}, {"alpha", {0, big}}, {"gamma", {0, big}}, {"beta", {0, big}},
      {"tolerance", {0, big}}, {"learning-rate", {1e-12, big}}, {"validation-fraction", {0, 0.9}},
      {"head-fraction", {0, 0.9}}, {"min-wml-voxels", {0, big}}, {"age", {0, 200}}, {"brain-age", {-big, big}},
      {"age-min", {0, 200}}, {"age-max", {0, 200}}};
  return ranges;
}

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void check_numbers(const po::variables_map& vm, const po::parsed_options& parsed) {
  // Boost reads "-1" as 2^64 − 1 for an unsigned option (seeds): a sign is refused as written.
  for (const po::option& o : parsed.options) {
    const auto it = vm.find(o.string_key);
    if (it == vm.end() || !boost::any_cast<uint64_t>(&it->second.value())) continue;
    for (const std::string& token : o.value)
      if (token.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError("--" + o.string_key + " is " + token + ", expected a whole number from 0 to 18446744073709551615");
  }
  for (const auto& [name, option] : vm) {
    double value;
    if (const auto* d = boost::any_cast<double>(&option.value())) value = *d;
    else if (const auto* i = boost::any_cast<int>(&option.value())) value = *i;
    else continue;
    const auto range = option_ranges().find(name);
    if (!std::isfinite(value)) throw UsageError("--" + name + " is " + number(value) + ", expected a finite number");
    if (range != option_ranges().end() && !(value >= range->second.lo && value <= range->second.hi))
      throw UsageError("--" + name + " is " + number(value) + ", expected a number from " + number(range->second.lo) +
                       " to " + number(range->second.hi) + (name == "threads" ? " (0: all cores; at most 4 per core)" : ""));
  }
}

std::string help_text(const Command& c) {
  po::options_description options("Options", 100, 50);
  po::positional_options_description positional;
  c.declare(options, positional);
  std::ostringstream s;
  s << "mlens " << c.name << ": " << c.summary << "\n\n"
    << "Usage: " << c.synopsis << "\n\n"
    << wrap(c.description, 100) << "\n\n"
    << options << "\n"
    << "Example:\n  " << c.example << "\n";
  return s.str();
}

}  // namespace mlens::tools
