#include "engine/cel/issue.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace varav::cel {
namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The text of line `line` (1-based) without its newline.
absl::string_view LineText(absl::string_view source, int32_t line) {
  int32_t current = 1;
  size_t start = 0;
  while (current < line) {
    size_t nl = source.find('\n', start);
    if (nl == absl::string_view::npos) return {};
    start = nl + 1;
    ++current;
  }
  size_t end = source.find('\n', start);
  if (end == absl::string_view::npos) end = source.size();
  return source.substr(start, end - start);
}

}  // namespace

SourceLocation LocationOf(absl::string_view source, int32_t offset) {
  SourceLocation loc;
  const size_t end = std::min<size_t>(std::max<int32_t>(offset, 0), source.size());
  for (size_t i = 0; i < end; ++i) {
    const char c = source[i];
    if (c == '\n') {
      ++loc.line;
      loc.column = 1;
    } else if (!IsContinuationByte(c)) {
      ++loc.column;
    }
  }
  return loc;
}

Issue MakeIssue(absl::string_view source, int32_t offset, std::string message) {
  const SourceLocation loc = LocationOf(source, offset);
  return Issue{
      .offset = offset, .line = loc.line, .column = loc.column, .message = std::move(message)};
}

std::string FormatIssues(absl::string_view source, const std::vector<Issue>& issues,
                         absl::string_view description) {
  std::string out;
  for (const Issue& issue : issues) {
    if (!out.empty()) out.push_back('\n');
    absl::StrAppend(&out, "ERROR: ", description, ":", issue.line, ":", issue.column, ": ",
                    issue.message);
    const absl::string_view line = LineText(source, issue.line);
    if (line.empty() && source.empty()) continue;
    absl::StrAppend(&out, "\n | ", line, "\n | ");
    for (int32_t i = 1; i < issue.column; ++i) out.push_back('.');
    out.push_back('^');
  }
  return out;
}

}  // namespace varav::cel
