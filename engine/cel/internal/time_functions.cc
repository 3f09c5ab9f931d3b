// Timestamps and durations: conversions, formatting, parsing and the calendar accessors.

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "engine/cel/internal/functions.h"

namespace varav::cel::runtime {

using Kind = Value::Kind;

std::string FormatCelDuration(absl::Duration d) {
  absl::Duration remainder;
  int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &remainder);
  int64_t nanos = absl::ToInt64Nanoseconds(remainder);
  char buf[48];
  int len = std::snprintf(buf, sizeof(buf), "%s%lld", seconds == 0 && nanos < 0 ? "-" : "",
                          static_cast<long long>(seconds));
  if (nanos != 0) {
    len += std::snprintf(buf + len, sizeof(buf) - len, ".%09lld",
                         static_cast<long long>(nanos < 0 ? -nanos : nanos));
    while (buf[len - 1] == '0') --len;
  }
  buf[len++] = 's';
  return std::string(buf, len);
}

std::string FormatCelTimestamp(absl::Time t) {
  return absl::FormatTime("%E4Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

bool ParseCelDuration(absl::string_view text, absl::Duration* out) {
  absl::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    *out = absl::ZeroDuration();
    return true;
  }
  if (s.empty()) return false;
  // Nanoseconds, saturated at kCap: far beyond CEL's duration range, and small enough that no
  // step below overflows (a whole part below 2^68 times an hour's 2^42 nanoseconds, plus kCap).
  __int128 total = 0;
  constexpr __int128 kCap = static_cast<__int128>(1) << 100;
  constexpr __int128 kWholeCap = static_cast<__int128>(1) << 64;
  while (!s.empty()) {
    __int128 whole = 0;
    __int128 frac = 0;
    __int128 frac_scale = 1;
    size_t digits = 0;
    while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
      if (whole < kWholeCap) whole = whole * 10 + (s[0] - '0');
      s.remove_prefix(1);
      ++digits;
    }
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
        if (frac_scale < static_cast<__int128>(1'000'000'000'000'000'000)) {
          frac = frac * 10 + (s[0] - '0');
          frac_scale *= 10;
        }
        s.remove_prefix(1);
        ++digits;
      }
    }
    if (digits == 0) return false;
    int64_t unit;
    if (absl::ConsumePrefix(&s, "ns")) {
      unit = 1;
    } else if (absl::ConsumePrefix(&s, "us") || absl::ConsumePrefix(&s, "\xC2\xB5s") ||
               absl::ConsumePrefix(&s, "\xCE\xBCs")) {
      unit = 1'000;
    } else if (absl::ConsumePrefix(&s, "ms")) {
      unit = 1'000'000;
    } else if (absl::ConsumePrefix(&s, "s")) {
      unit = 1'000'000'000;
    } else if (absl::ConsumePrefix(&s, "m")) {
      unit = 60'000'000'000;
    } else if (absl::ConsumePrefix(&s, "h")) {
      unit = 3'600'000'000'000;
    } else {
      return false;
    }
    total += whole * unit + frac * unit / frac_scale;
    if (total > kCap) total = kCap;
  }
  if (negative) total = -total;
  const __int128 kBillion = 1'000'000'000;
  __int128 secs = total / kBillion;
  __int128 nanos = total % kBillion;
  constexpr __int128 kLimit = static_cast<__int128>(1) << 62;
  if (secs > kLimit || secs < -kLimit) {
    *out = negative ? -absl::InfiniteDuration() : absl::InfiniteDuration();
    return true;
  }
  *out = absl::Seconds(static_cast<int64_t>(secs)) + absl::Nanoseconds(static_cast<int64_t>(nanos));
  return true;
}

namespace {

Value RangeError(absl::string_view what) {
  return Value::Error(absl::StatusCode::kOutOfRange, std::string(what));
}

Value ToTimestamp(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kTimestamp:
      return a;
    case Kind::kInt: {
      int64_t s = a.int_value();
      if (s < Value::kMinTimestampSeconds || s > Value::kMaxTimestampSeconds) {
        return RangeError("timestamp out of range");
      }
      return Value::Timestamp(absl::FromUnixSeconds(s));
    }
    case Kind::kString: {
      absl::Time t;
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, a.string_value(), absl::UTCTimeZone(), &t, &err)) {
        return Value::Error(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("invalid timestamp \"", a.string_value(), "\": ", err));
      }
      if (!Value::TimestampInRange(t)) return RangeError("timestamp out of range");
      return Value::Timestamp(t);
    }
    default:
      return NoMatchingOverload("timestamp", args, 1);
  }
}

Value ToDuration(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kDuration:
      return a;
    case Kind::kString: {
      absl::Duration d;
      if (!ParseCelDuration(a.string_value(), &d)) {
        return Value::Error(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("invalid duration \"", a.string_value(), "\""));
      }
      if (!Value::DurationInRange(d)) return RangeError("duration out of range");
      return Value::Duration(d);
    }
    default:
      return NoMatchingOverload("duration", args, 1);
  }
}

// "+05:30", "-08:00", "02:00" or an IANA name such as "America/Los_Angeles".
bool ResolveTimeZone(absl::string_view name, absl::TimeZone* tz) {
  absl::string_view s = name;
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.size() == 5 && digit(s[0]) && digit(s[1]) && s[2] == ':' && digit(s[3]) && digit(s[4])) {
    int hours = (s[0] - '0') * 10 + (s[1] - '0');
    int minutes = (s[3] - '0') * 10 + (s[4] - '0');
    if (hours > 23 || minutes > 59) return false;
    *tz = absl::FixedTimeZone(sign * (hours * 3600 + minutes * 60));
    return true;
  }
  return absl::LoadTimeZone(std::string(name), tz);
}

enum class Field {
  kFullYear,
  kMonth,
  kDate,
  kDayOfMonth,
  kDayOfWeek,
  kDayOfYear,
  kHours,
  kMinutes,
  kSeconds,
  kMilliseconds,
};

constexpr const char* kFieldNames[] = {
    "getFullYear",  "getMonth", "getDate",    "getDayOfMonth", "getDayOfWeek",
    "getDayOfYear", "getHours", "getMinutes", "getSeconds",    "getMilliseconds",
};

Value TimestampField(Field field, absl::Time t, absl::TimeZone tz) {
  absl::TimeZone::CivilInfo info = tz.At(t);
  const absl::CivilSecond& cs = info.cs;
  switch (field) {
    case Field::kFullYear:
      return Value::Int(cs.year());
    case Field::kMonth:
      return Value::Int(cs.month() - 1);
    case Field::kDate:
      return Value::Int(cs.day());
    case Field::kDayOfMonth:
      return Value::Int(cs.day() - 1);
    case Field::kDayOfWeek:
      // absl counts from Monday; CEL from Sunday.
      return Value::Int((static_cast<int>(absl::GetWeekday(cs)) + 1) % 7);
    case Field::kDayOfYear:
      return Value::Int(absl::GetYearDay(absl::CivilDay(cs)) - 1);
    case Field::kHours:
      return Value::Int(cs.hour());
    case Field::kMinutes:
      return Value::Int(cs.minute());
    case Field::kSeconds:
      return Value::Int(cs.second());
    case Field::kMilliseconds:
      return Value::Int(absl::ToInt64Milliseconds(info.subsecond));
  }
  return Value::Int(0);
}

Value DurationField(Field field, absl::Duration d) {
  switch (field) {
    case Field::kHours:
      return Value::Int(absl::IDivDuration(d, absl::Hours(1), &d));
    case Field::kMinutes:
      return Value::Int(absl::IDivDuration(d, absl::Minutes(1), &d));
    case Field::kSeconds:
      return Value::Int(absl::IDivDuration(d, absl::Seconds(1), &d));
    case Field::kMilliseconds: {
      absl::Duration rem;
      absl::IDivDuration(d, absl::Seconds(1), &rem);
      return Value::Int(absl::ToInt64Milliseconds(rem));
    }
    default:
      return Value::Error(absl::StatusCode::kInvalidArgument, "no matching overload");
  }
}

template <Field kField>
Value Accessor(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  if (a.kind() == Kind::kTimestamp)
    return TimestampField(kField, a.timestamp_value(), absl::UTCTimeZone());
  if (a.kind() == Kind::kDuration) {
    switch (kField) {
      case Field::kHours:
      case Field::kMinutes:
      case Field::kSeconds:
      case Field::kMilliseconds:
        return DurationField(kField, a.duration_value());
      default:
        break;
    }
  }
  return NoMatchingOverload(kFieldNames[static_cast<int>(kField)], args, 1);
}

template <Field kField>
Value AccessorInZone(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  const Value& zone = *args[1];
  if (a.kind() != Kind::kTimestamp || zone.kind() != Kind::kString) {
    return NoMatchingOverload(kFieldNames[static_cast<int>(kField)], args, 2);
  }
  absl::TimeZone tz;
  if (!ResolveTimeZone(zone.string_value(), &tz)) {
    return Value::Error(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("unknown time zone \"", zone.string_value(), "\""));
  }
  return TimestampField(kField, a.timestamp_value(), tz);
}

template <Field kField>
void RegisterAccessor() {
  RegisterFunction(kFieldNames[static_cast<int>(kField)], 1, Accessor<kField>);
  RegisterFunction(kFieldNames[static_cast<int>(kField)], 2, AccessorInZone<kField>);
}

}  // namespace

void RegisterTimeFunctions() {
  RegisterFunction("timestamp", 1, ToTimestamp);
  RegisterFunction("duration", 1, ToDuration);
  RegisterAccessor<Field::kFullYear>();
  RegisterAccessor<Field::kMonth>();
  RegisterAccessor<Field::kDate>();
  RegisterAccessor<Field::kDayOfMonth>();
  RegisterAccessor<Field::kDayOfWeek>();
  RegisterAccessor<Field::kDayOfYear>();
  RegisterAccessor<Field::kHours>();
  RegisterAccessor<Field::kMinutes>();
  RegisterAccessor<Field::kSeconds>();
  RegisterAccessor<Field::kMilliseconds>();
}

}  // namespace varav::cel::runtime
