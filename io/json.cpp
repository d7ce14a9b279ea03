#include "io/json.h"

#include <iterator>
#include <stdexcept>

namespace mlens::io {
namespace {

// The deepest nesting of `text`'s arrays and objects, counting brackets outside strings: one pass,
// before nlohmann parses it (a parser callback could discard deep values too, but nlohmann's callback
// parser scans a container's elements each time one of its objects ends, quadratic in their number).
// Malformed text is left to the parser to report.
int nesting(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& where, bool allow_exceptions) {
  if (nesting(text) > kMaxJsonDepth) {
    if (!allow_exceptions) return nlohmann::json(nlohmann::json::value_t::discarded);
    throw std::runtime_error((where.empty() ? "" : where + ": ") + "JSON nested more than " + std::to_string(kMaxJsonDepth) +
                             " levels deep (no file mlens reads nests so deep: the file is corrupt)");
  }
  return nlohmann::json::parse(text, nullptr, allow_exceptions);
}

nlohmann::json parse_json(std::istream& in, const std::string& where, bool allow_exceptions) {
  return parse_json(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), where, allow_exceptions);
}

std::string json_excerpt(const nlohmann::json& value) {
  // Invalid UTF-8 in a string (a value from the command line) is replaced, not thrown on.
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() <= 60) return text;
  std::size_t cut = 60;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return text.substr(0, cut) + "...";
}

}  // namespace mlens::io
