// JSON read from files: every JSON file mlens reads (Keras model_config, manifests, a run's records,
// bias models) goes through here.
//
// nlohmann::json parses iteratively but copies, compares and dumps a value by recursion, one stack frame
// per level of nesting: a Keras model_config nested 10⁵ deep overflowed the stack while an error message
// quoted it. No file mlens reads nests that deep (an ensemble manifest at its own limit of 32 levels nests
// 97), so deeper nesting is refused while parsing.
#pragma once

#include <istream>
#include <string>

#include <nlohmann/json.hpp>

namespace mlens::io {

constexpr int kMaxJsonDepth = 256;

// Parses `text` as nlohmann::json::parse does: malformed text throws nlohmann::json::parse_error, or,
// without exceptions, gives a discarded value. Nesting deeper than kMaxJsonDepth throws a runtime_error
// that begins with `where` (the quoted file, and the attribute when it is one; nothing when empty), or,
// without exceptions, gives a discarded value too.
nlohmann::json parse_json(const std::string& text, const std::string& where, bool allow_exceptions = true);
nlohmann::json parse_json(std::istream& in, const std::string& where, bool allow_exceptions = true);

// A value as JSON text for a message, cut after 60 bytes ("...") at a character's start.
std::string json_excerpt(const nlohmann::json& value);

}  // namespace mlens::io
