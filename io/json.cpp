#include "io/json.h"

#include <stdexcept>

namespace mlens::io {
namespace {

template <typename Input>
nlohmann::json parse_bounded(Input&& input, const std::string& where, bool allow_exceptions) {
  bool too_deep = false;
  // Discarding the value that is too deep keeps the parser's own state flat; the whole text is still
  // parsed, so a malformed file is reported as malformed.
  const nlohmann::json::parser_callback_t bounded = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth < kMaxJsonDepth) return true;  // the outermost value is at depth 0
    too_deep = true;
    return false;
  };
  nlohmann::json j = nlohmann::json::parse(std::forward<Input>(input), bounded, allow_exceptions);
  if (!too_deep) return j;
  if (!allow_exceptions) return nlohmann::json(nlohmann::json::value_t::discarded);
  throw std::runtime_error(where + ": JSON nested more than " + std::to_string(kMaxJsonDepth) +
                           " levels deep (no file mlens reads nests so deep: the file is corrupt)");
}

}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& where, bool allow_exceptions) {
  return parse_bounded(text, where, allow_exceptions);
}

nlohmann::json parse_json(std::istream& in, const std::string& where, bool allow_exceptions) {
  return parse_bounded(in, where, allow_exceptions);
}

std::string json_excerpt(const nlohmann::json& value) {
  const std::string text = value.dump();
  return text.size() <= 60 ? text : text.substr(0, 60) + "...";
}

}  // namespace mlens::io
