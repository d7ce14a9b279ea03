#include "tools/command.h"

#include <sstream>

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

const std::vector<Command>& commands() {
  static const std::vector<Command> all{run_command(), inspect_command(), predict_command(), explain_command(), validate_command(),
                                        warp_command(), overlay_command(), stats_command(), maps_command(), simulate_command(), train_command(), slices_command(), init_model_command(), phantom_command()};
  return all;
}

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

}  // namespace

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
