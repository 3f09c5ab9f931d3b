// Compile-time problems found in a CEL expression, with their position and a caret excerpt.
//
// The parser and the checker report every problem they find (not only the first) as `Issue`s with a
// byte offset; `FormatIssues` renders them the way CEL tools do:
//
//   ERROR: <input>:1:5: undeclared reference to 'x'
//    | a + x
//    | ....^
//
// Line and column are 1-based; the column counts Unicode code points, not bytes.
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace varav::cel {

struct SourceLocation {
  int32_t line = 1;
  int32_t column = 1;
};

// Computes the 1-based line and column (in code points) of a byte offset in `source`. An offset
// past the end maps to the position just after the last character.
SourceLocation LocationOf(absl::string_view source, int32_t offset);

struct Issue {
  int32_t offset = 0;
  int32_t line = 1;
  int32_t column = 1;
  std::string message;
};

// Creates an issue at `offset` of `source`, filling in line and column.
Issue MakeIssue(absl::string_view source, int32_t offset, std::string message);

// Renders issues with the caret excerpt. `description` names the source in the first line
// (e.g. "<input>" or "rules/gate_a.yaml:12:9").
std::string FormatIssues(absl::string_view source, const std::vector<Issue>& issues,
                         absl::string_view description = "<input>");

}  // namespace varav::cel
