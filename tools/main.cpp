// `mlens`: one command, subcommands in tools/<name>.cpp. Errors are caught here once: the message on
// stderr (bytes quoted from a file that are not UTF-8 text as \xNN), the exit code from tools/command.h. Data goes to stdout, progress and logs to stderr.
#include <iostream>
#include <stdexcept>

#include "io/table.h"
#include "tools/command.h"

using namespace mlens::tools;

namespace {

void print_overview() {
  std::cout << "mlens " MLENS_VERSION " — brain-age from FLAIR MRI with 3D CNN ensembles, explained by LRP\n\n"
               "Usage: mlens <command> [options]     mlens <command> --help\n\nCommands:\n";
  for (const Command& c : commands()) std::cout << "  " << c.name << std::string(14 - c.name.size(), ' ') << c.summary << "\n";
  std::cout << "\nExit codes: 0 success, 1 error, 2 usage error, 3 validation beyond tolerance,\n"
               "4 cohort finished with failed subjects (see failures.csv), or status: incomplete.\n"
               "Documentation: docs/cli.md, docs/lrp.md, docs/architecture.md\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    if (argc >= 3 && std::string(argv[1]) == "help") {
      for (const Command& c : commands())
        if (c.name == argv[2]) {
          std::cout << help_text(c);
          return kExitOk;
        }
    }
    print_overview();
    return argc < 2 ? kExitUsage : kExitOk;
  }
  if (std::string(argv[1]) == "--version") {
    std::cout << "mlens " MLENS_VERSION "\n";
    return kExitOk;
  }
  const std::string name = argv[1];
  for (const Command& c : commands()) {
    if (c.name != name) continue;
    po::options_description options;
    po::positional_options_description positional;
    c.declare(options, positional);
    options.add_options()("help,h", "show this help");
    po::variables_map vm;
    po::parsed_options parsed(nullptr);
    try {
      parsed = po::command_line_parser(argc - 1, argv + 1).options(options).positional(positional).run();
      po::store(parsed, vm);
      if (vm.count("help")) {
        std::cout << help_text(c);
        return kExitOk;
      }
      po::notify(vm);
    } catch (const po::error& e) {
      std::cerr << "mlens " << name << ": " << mlens::io::printable(e.what()) << "\n(see: mlens " << name << " --help)\n";
      return kExitUsage;
    }
    try {
      check_numbers(vm, parsed);
      record_given_options(parsed);
      const int code = c.run(vm);
      // Data on stdout (--json, tables) is output like any file: a full disk or closed pipe is an error.
      if (!std::cout.flush()) throw std::runtime_error("writing to standard output failed (disk full or closed pipe?)");
      return code;
    } catch (const UsageError& e) {
      std::cerr << "mlens " << name << ": " << mlens::io::printable(e.what()) << "\n(see: mlens " << name << " --help)\n";
      return kExitUsage;
    } catch (const std::exception& e) {
      std::cerr << "mlens " << name << ": error: " << mlens::io::printable(e.what()) << "\n";
      return kExitError;
    }
  }
  std::cerr << "mlens: unknown command \"" << name << "\"\n\n";
  print_overview();
  return kExitUsage;
}
