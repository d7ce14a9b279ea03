// io/json.h: JSON nested deeper than any file mlens reads is refused before nlohmann parses it (whose
// dump, copy and comparison recurse per level), and values quoted in messages are cut.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <string>

#include "io/json.h"

using namespace mlens;
using nlohmann::json;

TEST_CASE("JSON nested deeper than 256 levels is refused while parsing, and quoted values are cut", "[io]") {
  const auto nested = [](int levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  CHECK(io::parse_json(nested(io::kMaxJsonDepth), "\"a.json\"").is_array());
  CHECK_THROWS_WITH(io::parse_json(nested(io::kMaxJsonDepth + 1), "\"a.json\""),
                    Catch::StartsWith("\"a.json\": JSON nested more than 256 levels deep"));
  CHECK_THROWS_WITH(io::parse_json(R"({"a": )" + nested(100000) + "}", "\"b.json\""), Catch::Contains("b.json"));
  CHECK(io::parse_json(nested(100000), "", false).is_discarded());
  CHECK_THROWS_AS(io::parse_json("[[1, 2]", "\"c.json\""), json::parse_error);  // malformed stays malformed
  CHECK(io::parse_json(R"(["[[[[", "\"]]]]"])", "").size() == 2);  // brackets in strings do not count
  CHECK(io::parse_json("{\"members\": [1, 2]", "", false).is_discarded());
  CHECK(io::json_excerpt(json::array({1, 2})) == "[1,2]");
  CHECK(io::json_excerpt(json(std::string(100, 'x'))) == "\"" + std::string(59, 'x') + "...");
}
