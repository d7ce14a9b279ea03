// A subcommand of `mlens`: its help text and option table, declared once, and its run function.
// main.cpp parses the command line against the table, prints `--help` from it, and maps errors to exit
// codes (documented in docs/cli.md):
//   0 success, 1 error (bad input file, failed computation), 2 usage error, 3 validation beyond tolerance,
//   4 a cohort run finished but some subjects failed (listed in failures.csv), or `status` found it incomplete.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlens::tools {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitBeyondTolerance = 3, kExitSomeFailed = 4;

struct Command {
  std::string name;
  std::string summary;      // one line, for `mlens --help`
  std::string synopsis;     // "mlens explain --model MODEL --input VOL --out REL.nii.gz [options]"
  std::string description;  // what it does and why, a paragraph
  std::string example;      // a command line that works
  std::function<void(po::options_description&, po::positional_options_description&)> declare;
  std::function<int(const po::variables_map&)> run;
};

// Every subcommand, in the order `mlens --help` lists them.
const std::vector<Command>& commands();

// The full help of one command (what `mlens CMD --help` prints, and docs/cli.md holds).
std::string help_text(const Command& command);

// A usage error: wrong or missing options. Exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The options as the user wrote them, in order (main.cpp records them before running the command):
// `run --slurm` repeats them in its job scripts.
const std::vector<po::option>& given_options();
void record_given_options(const po::parsed_options& parsed);

// Throws a UsageError naming the option when a number is NaN or infinite, or outside the range the
// option accepts (one table for all commands: --threads at most 4 per core, --threshold in [0, 1], ...),
// or when an unsigned option (--seed) was given with a sign or anything but digits (`parsed`: as written).
void check_numbers(const po::variables_map& vm, const po::parsed_options& parsed);

}  // namespace mlens::tools
