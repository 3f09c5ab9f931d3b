#include "engine/common/logging.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace varav {
namespace {

absl::Mutex sink_mu(absl::kConstInit);
std::FILE* sink = nullptr;

}  // namespace

LogLine::LogLine(absl::string_view level, absl::string_view msg) {
  text_ = absl::StrCat(
      "{\"time\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", JsonEscape(level), "\",\"msg\":\"", JsonEscape(msg), "\"");
}

void LogLine::Key(absl::string_view key) { absl::StrAppend(&text_, ",\"", JsonEscape(key), "\":"); }

LogLine& LogLine::Str(absl::string_view key, absl::string_view value) {
  Key(key);
  absl::StrAppend(&text_, "\"", JsonEscape(value), "\"");
  return *this;
}

LogLine& LogLine::Int(absl::string_view key, int64_t value) {
  Key(key);
  absl::StrAppend(&text_, value);
  return *this;
}

LogLine& LogLine::Double(absl::string_view key, double value) {
  Key(key);
  // JSON has no NaN or infinity.
  if (std::isfinite(value)) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3f", value);
    text_ += buf;
  } else {
    text_ += "null";
  }
  return *this;
}

LogLine& LogLine::Bool(absl::string_view key, bool value) {
  Key(key);
  text_ += value ? "true" : "false";
  return *this;
}

void LogLine::Emit() const {
  std::string line = Text();
  line += '\n';
  absl::MutexLock lock(&sink_mu);
  std::FILE* out = sink != nullptr ? sink : stderr;
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

void SetLogSink(std::FILE* new_sink) {
  absl::MutexLock lock(&sink_mu);
  sink = new_sink;
}

}  // namespace varav
