// Structured logging of Värav's programs: one JSON object per line on stderr, so that journald,
// Kubernetes and log shippers can index fields without parsing prose.
//
//   LogLine("info", "listening").Int("port", 50051).Str("address", "127.0.0.1:50051").Emit();
//   -> {"time":"2025-03-14T10:00:00.123456Z","level":"info","msg":"listening","port":50051,...}
//
// Keys are written as given (callers use fixed snake_case identifiers); string values are escaped
// by JsonEscape. A line is assembled in memory and written with one call under a process-wide
// mutex, so lines from concurrent calls never interleave.
//
// Thread safety: LogLine is a value used by one thread; Emit may be called from any thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/common/json.h"

namespace varav {

class LogLine {
 public:
  // Starts a line with the current UTC time, `level` ("info", "warn", "error") and `msg`.
  LogLine(absl::string_view level, absl::string_view msg);

  LogLine& Str(absl::string_view key, absl::string_view value);
  LogLine& Int(absl::string_view key, int64_t value);
  LogLine& Double(absl::string_view key, double value);
  LogLine& Bool(absl::string_view key, bool value);

  // The finished line, without the trailing newline.
  std::string Text() const { return text_ + "}"; }
  // Writes the line and a newline to the process log sink (stderr unless redirected by
  // SetLogSink).
  void Emit() const;

 private:
  void Key(absl::string_view key);

  std::string text_;
};

// Redirects Emit to `sink` (not owned; nullptr restores stderr). For tests; not thread-safe with
// respect to concurrent Emit calls.
void SetLogSink(std::FILE* sink);

}  // namespace varav
