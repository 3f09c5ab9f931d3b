#include "engine/cel/internal/functions.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "re2/re2.h"

namespace varav::cel::runtime {

using Kind = Value::Kind;

namespace {

using Table = absl::flat_hash_map<std::pair<std::string, int>, FunctionImpl>;

Table& MutableTable() {
  static Table* const table = new Table();
  return *table;
}

const Table& GetTable() {
  static const bool initialized = [] {
    RegisterCoreFunctions();
    RegisterStringFunctions();
    RegisterTimeFunctions();
    return true;
  }();
  (void)initialized;
  return MutableTable();
}

}  // namespace

void RegisterFunction(absl::string_view name, int arity, FunctionImpl impl) {
  MutableTable()[{std::string(name), arity}] = impl;
}

FunctionImpl FindFunctionImpl(absl::string_view name, int arity) {
  const Table& table = GetTable();
  auto it = table.find(std::make_pair(std::string(name), arity));
  return it == table.end() ? nullptr : it->second;
}

void Frame::Poll() {
  next_poll = cost + kPollInterval;
  if (interrupt == nullptr) return;
  if (absl::Now() >= interrupt->deadline) {
    Exhaust(Budget::kDeadline);
  } else if (interrupt->cancelled && interrupt->cancelled()) {
    Exhaust(Budget::kCancelled);
  }
}

void Frame::Exhaust(Budget budget) {
  if (exhausted) return;
  exhausted = true;
  switch (budget) {
    case Budget::kIterations:
      exhausted_error =
          Value::Error(absl::StatusCode::kResourceExhausted,
                       absl::StrCat("iteration budget exceeded: more than ", limits->max_iterations,
                                    " comprehension iterations (max_iterations)"));
      return;
    case Budget::kCost:
      exhausted_error =
          Value::Error(absl::StatusCode::kResourceExhausted,
                       absl::StrCat("runtime cost budget exceeded: more than ",
                                    limits->max_runtime_cost, " cost units (max_runtime_cost)"));
      return;
    case Budget::kMemory:
      exhausted_error = Value::Error(
          absl::StatusCode::kResourceExhausted,
          absl::StrCat("memory budget exceeded: the values built would take more than ",
                       limits->max_memory_bytes, " bytes (max_memory_bytes)"));
      return;
    case Budget::kDeadline:
      exhausted_error = Value::Error(absl::StatusCode::kDeadlineExceeded,
                                     "evaluation stopped: the call's deadline passed");
      return;
    case Budget::kCancelled:
      exhausted_error =
          Value::Error(absl::StatusCode::kCancelled, "evaluation stopped: the call was cancelled");
      return;
  }
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null_type";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kUint:
      return "uint";
    case Kind::kDouble:
      return "double";
    case Kind::kString:
      return "string";
    case Kind::kBytes:
      return "bytes";
    case Kind::kDuration:
      return "google.protobuf.Duration";
    case Kind::kTimestamp:
      return "google.protobuf.Timestamp";
    case Kind::kList:
      return "list";
    case Kind::kMap:
      return "map";
    case Kind::kType:
      return "type";
    case Kind::kError:
      return "error";
  }
  return "unknown";
}

absl::string_view TypeNameOf(const Value& v) { return KindName(v.kind()); }

Value NoMatchingOverload(absl::string_view function, const Value* const* args, int arity) {
  std::string kinds;
  for (int i = 0; i < arity; ++i) {
    if (i > 0) kinds += ", ";
    kinds += KindName(args[i]->kind());
  }
  return Value::Error(
      absl::StatusCode::kInvalidArgument,
      absl::StrCat("no matching overload for '", function, "' applied to (", kinds, ")"));
}

namespace {

int Sign(bool less, bool greater) { return less ? -1 : (greater ? 1 : 0); }

// Integers compare with doubles as doubles (lossy for magnitudes above 2^53), as the conformance
// suite requires: 9223372036854775807 is not less than 9223372036854775808.0.
int CompareAsDoubles(double x, double d) {
  if (std::isnan(d)) return 2;
  return Sign(x<d, x> d);
}
int CompareIntDouble(int64_t i, double d) { return CompareAsDoubles(static_cast<double>(i), d); }
int CompareUintDouble(uint64_t u, double d) { return CompareAsDoubles(static_cast<double>(u), d); }

int CompareIntUint(int64_t i, uint64_t u) {
  if (i < 0) return -1;
  uint64_t iu = static_cast<uint64_t>(i);
  return Sign(iu<u, iu> u);
}

}  // namespace

int CompareNumbers(const Value& a, const Value& b) {
  switch (a.kind()) {
    case Kind::kInt:
      switch (b.kind()) {
        case Kind::kInt:
          return Sign(a.int_value() < b.int_value(), a.int_value() > b.int_value());
        case Kind::kUint:
          return CompareIntUint(a.int_value(), b.uint_value());
        default:
          return CompareIntDouble(a.int_value(), b.double_value());
      }
    case Kind::kUint:
      switch (b.kind()) {
        case Kind::kInt:
          return -CompareIntUint(b.int_value(), a.uint_value());
        case Kind::kUint:
          return Sign(a.uint_value() < b.uint_value(), a.uint_value() > b.uint_value());
        default:
          return CompareUintDouble(a.uint_value(), b.double_value());
      }
    default:
      switch (b.kind()) {
        case Kind::kInt: {
          int c = CompareIntDouble(b.int_value(), a.double_value());
          return c == 2 ? 2 : -c;
        }
        case Kind::kUint: {
          int c = CompareUintDouble(b.uint_value(), a.double_value());
          return c == 2 ? 2 : -c;
        }
        default: {
          double x = a.double_value(), y = b.double_value();
          if (std::isnan(x) || std::isnan(y)) return 2;
          return Sign(x<y, x> y);
        }
      }
  }
}

std::string FormatCelDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  // Shortest digits that round-trip, then Go's %g layout (what cel-go's string() uses): exponent
  // form when the decimal exponent is below -4 or at least 6, plain decimal otherwise.
  char buf[64];
  int precision = 1;
  for (; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*e", precision - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf is like "-1.2345e+06".
  std::string s(buf);
  bool negative = s[0] == '-';
  if (negative) s.erase(0, 1);
  size_t e = s.find('e');
  int exponent = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i) {
    if (s[i] != '.') digits.push_back(s[i]);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 6) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    char ebuf[16];
    std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += ebuf;
    return out;
  }
  if (exponent < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
    return out;
  }
  size_t int_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_digits) {
    out += digits;
    out.append(int_digits - digits.size(), '0');
  } else {
    out.append(digits, 0, int_digits);
    out += '.';
    out.append(digits, int_digits);
  }
  return out;
}

int64_t CodePointCount(absl::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

namespace {

// ---- Errors
// ---------------------------------------------------------------------------------------

Value Overflow() { return Value::Error(absl::StatusCode::kOutOfRange, "integer overflow"); }
Value RangeError(absl::string_view what) {
  return Value::Error(absl::StatusCode::kOutOfRange, std::string(what));
}
Value DivideByZero() { return Value::Error(absl::StatusCode::kInvalidArgument, "divide by zero"); }
Value ModulusByZero() {
  return Value::Error(absl::StatusCode::kInvalidArgument, "modulus by zero");
}

#define VARAV_NO_OVERLOAD(name, arity) return NoMatchingOverload(name, args, arity)

bool IsNumber(Kind k) { return k == Kind::kInt || k == Kind::kUint || k == Kind::kDouble; }

// ---- Logic and equality
// ----------------------------------------------------------------------------

Value Not(Frame&, const Value* const* args) {
  if (args[0]->kind() == Kind::kBool) return Value::Bool(!args[0]->bool_value());
  VARAV_NO_OVERLOAD("!_", 1);
}

// Comparing two values walks at most the smaller of them (less when they share storage, but the
// charge is the bound, paid before the walk).
bool ChargeComparison(Frame& frame, const Value& a, const Value& b) {
  const int64_t walk = std::min(a.deep_size(), b.deep_size());
  return walk <= 1 || frame.Charge(walk);
}

Value Equal(Frame& frame, const Value* const* args) {
  if (!ChargeComparison(frame, *args[0], *args[1])) return frame.exhausted_error;
  return Value::Bool(*args[0] == *args[1]);
}
Value NotEqual(Frame& frame, const Value* const* args) {
  if (!ChargeComparison(frame, *args[0], *args[1])) return frame.exhausted_error;
  return Value::Bool(*args[0] != *args[1]);
}

// -1/0/1, 2 when unordered, 3 when the kinds cannot be compared.
int Compare(const Value& a, const Value& b) {
  if (IsNumber(a.kind()) && IsNumber(b.kind())) return CompareNumbers(a, b);
  if (a.kind() != b.kind()) return 3;
  switch (a.kind()) {
    case Kind::kBool:
      return Sign(a.bool_value() < b.bool_value(), a.bool_value() > b.bool_value());
    case Kind::kString:
    case Kind::kBytes: {
      // Byte order of UTF-8 is code point order.
      int c = a.string_value().compare(b.string_value());
      return Sign(c<0, c> 0);
    }
    case Kind::kDuration:
      return Sign(a.duration_value() < b.duration_value(), a.duration_value() > b.duration_value());
    case Kind::kTimestamp:
      return Sign(a.timestamp_value() < b.timestamp_value(),
                  a.timestamp_value() > b.timestamp_value());
    default:
      return 3;
  }
}

template <int kOp>  // 0 <, 1 <=, 2 >, 3 >=
Value Relation(Frame& frame, const Value* const* args) {
  static constexpr const char* kNames[] = {"_<_", "_<=_", "_>_", "_>=_"};
  if (!ChargeComparison(frame, *args[0], *args[1])) return frame.exhausted_error;
  int c = Compare(*args[0], *args[1]);
  if (c == 3) VARAV_NO_OVERLOAD(kNames[kOp], 2);
  if (c == 2) return Value::Bool(false);
  switch (kOp) {
    case 0:
      return Value::Bool(c < 0);
    case 1:
      return Value::Bool(c <= 0);
    case 2:
      return Value::Bool(c > 0);
    default:
      return Value::Bool(c >= 0);
  }
}

// ---- Arithmetic
// ------------------------------------------------------------------------------------

Value DurationResult(absl::Duration d) {
  if (!Value::DurationInRange(d)) return RangeError("duration out of range");
  return Value::Duration(d);
}

Value TimestampResult(absl::Time t) {
  if (!Value::TimestampInRange(t)) return RangeError("timestamp out of range");
  return Value::Timestamp(t);
}

Value Add(Frame& frame, const Value* const* args) {
  const Value& a = *args[0];
  const Value& b = *args[1];
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_add_overflow(a.int_value(), b.int_value(), &r)) return Overflow();
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_add_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow();
        return Value::Uint(r);
      }
      case Kind::kDouble:
        return Value::Double(a.double_value() + b.double_value());
      case Kind::kString:
      case Kind::kBytes: {
        absl::string_view x = a.string_value(), y = b.string_value();
        const int64_t size = static_cast<int64_t>(x.size() + y.size());
        if (!frame.Reserve(size, StringBytes(size))) return frame.exhausted_error;
        std::string r = absl::StrCat(x, y);
        return a.kind() == Kind::kString ? Value::String(std::move(r)) : Value::Bytes(std::move(r));
      }
      case Kind::kList: {
        if (b.size() == 0) return a;
        if (a.size() == 0) return b;
        const int64_t size = static_cast<int64_t>(a.size() + b.size());
        if (!frame.Reserve(size, ListBytes(size))) return frame.exhausted_error;
        std::vector<Value> r;
        r.reserve(a.size() + b.size());
        r.insert(r.end(), a.elements().begin(), a.elements().end());
        r.insert(r.end(), b.elements().begin(), b.elements().end());
        return Value::List(std::move(r));
      }
      case Kind::kDuration:
        return DurationResult(a.duration_value() + b.duration_value());
      default:
        break;
    }
  } else if (a.kind() == Kind::kTimestamp && b.kind() == Kind::kDuration) {
    return TimestampResult(a.timestamp_value() + b.duration_value());
  } else if (a.kind() == Kind::kDuration && b.kind() == Kind::kTimestamp) {
    return TimestampResult(b.timestamp_value() + a.duration_value());
  }
  VARAV_NO_OVERLOAD("_+_", 2);
}

Value Subtract(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  const Value& b = *args[1];
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_sub_overflow(a.int_value(), b.int_value(), &r)) return Overflow();
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_sub_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow();
        return Value::Uint(r);
      }
      case Kind::kDouble:
        return Value::Double(a.double_value() - b.double_value());
      case Kind::kDuration:
        return DurationResult(a.duration_value() - b.duration_value());
      case Kind::kTimestamp: {
        absl::Duration d = a.timestamp_value() - b.timestamp_value();
        // The difference must also fit the nanosecond range of other CEL runtimes (about ±292
        // years), which the conformance suite expects.
        if (d > absl::Nanoseconds(std::numeric_limits<int64_t>::max()) ||
            d < absl::Nanoseconds(std::numeric_limits<int64_t>::min())) {
          return RangeError("duration out of range");
        }
        return DurationResult(d);
      }
      default:
        break;
    }
  } else if (a.kind() == Kind::kTimestamp && b.kind() == Kind::kDuration) {
    return TimestampResult(a.timestamp_value() - b.duration_value());
  }
  VARAV_NO_OVERLOAD("_-_", 2);
}

Value Multiply(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  const Value& b = *args[1];
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_mul_overflow(a.int_value(), b.int_value(), &r)) return Overflow();
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_mul_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow();
        return Value::Uint(r);
      }
      case Kind::kDouble:
        return Value::Double(a.double_value() * b.double_value());
      default:
        break;
    }
  }
  VARAV_NO_OVERLOAD("_*_", 2);
}

Value Divide(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  const Value& b = *args[1];
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t x = a.int_value(), y = b.int_value();
        if (y == 0) return DivideByZero();
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return Overflow();
        return Value::Int(x / y);
      }
      case Kind::kUint:
        if (b.uint_value() == 0) return DivideByZero();
        return Value::Uint(a.uint_value() / b.uint_value());
      case Kind::kDouble:
        return Value::Double(a.double_value() / b.double_value());
      default:
        break;
    }
  }
  VARAV_NO_OVERLOAD("_/_", 2);
}

Value Modulo(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  const Value& b = *args[1];
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t x = a.int_value(), y = b.int_value();
        if (y == 0) return ModulusByZero();
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return Overflow();
        return Value::Int(x % y);  // truncated: the sign follows the dividend, as in C and Go
      }
      case Kind::kUint:
        if (b.uint_value() == 0) return ModulusByZero();
        return Value::Uint(a.uint_value() % b.uint_value());
      default:
        break;
    }
  }
  VARAV_NO_OVERLOAD("_%_", 2);
}

Value Negate(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kInt:
      if (a.int_value() == std::numeric_limits<int64_t>::min()) return Overflow();
      return Value::Int(-a.int_value());
    case Kind::kDouble:
      return Value::Double(-a.double_value());
    default:
      VARAV_NO_OVERLOAD("-_", 1);
  }
}

// ---- Collections
// -----------------------------------------------------------------------------------

Value In(Frame& frame, const Value* const* args) {
  const Value& elem = *args[0];
  const Value& container = *args[1];
  if (container.kind() == Kind::kList) {
    // Each element is compared with `elem`, which walks at most the smaller of the two.
    const int64_t n = static_cast<int64_t>(container.size());
    const int64_t walk = std::min(SatMul(n, elem.deep_size()), container.deep_size());
    if (!frame.Charge(SatAdd(n, walk))) return frame.exhausted_error;
    for (const Value& v : container.elements()) {
      if (v == elem) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (container.kind() == Kind::kMap) return Value::Bool(container.Find(elem) != nullptr);
  VARAV_NO_OVERLOAD("@in", 2);
}

Value Size(Frame& frame, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kString:
      if (!frame.Charge(static_cast<int64_t>(a.string_value().size()))) {
        return frame.exhausted_error;
      }
      return Value::Int(CodePointCount(a.string_value()));
    case Kind::kBytes:
      return Value::Int(static_cast<int64_t>(a.string_value().size()));
    case Kind::kList:
    case Kind::kMap:
      return Value::Int(static_cast<int64_t>(a.size()));
    default:
      VARAV_NO_OVERLOAD("size", 1);
  }
}

// ---- Strings
// ---------------------------------------------------------------------------------------

template <int kOp>  // 0 contains, 1 startsWith, 2 endsWith
Value StringPredicate(Frame& frame, const Value* const* args) {
  static constexpr const char* kNames[] = {"contains", "startsWith", "endsWith"};
  if (args[0]->kind() != Kind::kString || args[1]->kind() != Kind::kString) {
    VARAV_NO_OVERLOAD(kNames[kOp], 2);
  }
  absl::string_view s = args[0]->string_value();
  absl::string_view sub = args[1]->string_value();
  switch (kOp) {
    case 0:
      if (!frame.Charge(static_cast<int64_t>(s.size()))) return frame.exhausted_error;
      return Value::Bool(absl::StrContains(s, sub));
    case 1:
      return Value::Bool(absl::StartsWith(s, sub));
    default:
      return Value::Bool(absl::EndsWith(s, sub));
  }
}

Value Matches(Frame& frame, const Value* const* args) {
  if (args[0]->kind() != Kind::kString || args[1]->kind() != Kind::kString) {
    VARAV_NO_OVERLOAD("matches", 2);
  }
  RE2::Options options;
  options.set_log_errors(false);
  absl::string_view pattern = args[1]->string_value();
  RE2 re(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re.ok()) {
    return Value::Error(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("invalid regular expression: ", re.error()));
  }
  if (!frame.Charge(static_cast<int64_t>(args[0]->string_value().size()))) {
    return frame.exhausted_error;
  }
  absl::string_view text = args[0]->string_value();
  return Value::Bool(RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), re));
}

// ---- Conversions
// -----------------------------------------------------------------------------------

// Strict decimal integer syntax: an optional sign and digits, nothing else.
bool IsIntegerSyntax(absl::string_view s, bool allow_minus) {
  if (!s.empty() && (s[0] == '+' || (allow_minus && s[0] == '-'))) s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Value ToInt(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kInt:
      return a;
    case Kind::kUint:
      if (a.uint_value() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return RangeError("int range error: uint value too large");
      }
      return Value::Int(static_cast<int64_t>(a.uint_value()));
    case Kind::kDouble: {
      double d = a.double_value();
      if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0)) {
        return RangeError("int range error: double out of range");
      }
      return Value::Int(static_cast<int64_t>(d));
    }
    case Kind::kString: {
      int64_t r;
      if (!IsIntegerSyntax(a.string_value(), true) || !absl::SimpleAtoi(a.string_value(), &r)) {
        return Value::Error(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("cannot convert \"", a.string_value(), "\" to int"));
      }
      return Value::Int(r);
    }
    case Kind::kTimestamp:
      return Value::Int(absl::ToUnixSeconds(a.timestamp_value()));
    default:
      VARAV_NO_OVERLOAD("int", 1);
  }
}

Value ToUint(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kUint:
      return a;
    case Kind::kInt:
      if (a.int_value() < 0) return RangeError("uint range error: negative value");
      return Value::Uint(static_cast<uint64_t>(a.int_value()));
    case Kind::kDouble: {
      double d = a.double_value();
      if (!(d >= 0 && d < 18446744073709551616.0)) {
        return RangeError("uint range error: double out of range");
      }
      return Value::Uint(static_cast<uint64_t>(d));
    }
    case Kind::kString: {
      uint64_t r;
      if (!IsIntegerSyntax(a.string_value(), false) || !absl::SimpleAtoi(a.string_value(), &r)) {
        return Value::Error(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("cannot convert \"", a.string_value(), "\" to uint"));
      }
      return Value::Uint(r);
    }
    default:
      VARAV_NO_OVERLOAD("uint", 1);
  }
}

Value ToDouble(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kDouble:
      return a;
    case Kind::kInt:
      return Value::Double(static_cast<double>(a.int_value()));
    case Kind::kUint:
      return Value::Double(static_cast<double>(a.uint_value()));
    case Kind::kString: {
      absl::string_view s = a.string_value();
      double r;
      bool ok = !s.empty() && !absl::ascii_isspace(static_cast<unsigned char>(s.front())) &&
                !absl::ascii_isspace(static_cast<unsigned char>(s.back())) &&
                absl::SimpleAtod(s, &r);
      if (!ok) {
        return Value::Error(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("cannot convert \"", s, "\" to double"));
      }
      return Value::Double(r);
    }
    default:
      VARAV_NO_OVERLOAD("double", 1);
  }
}

Value ToString(Frame& frame, const Value* const* args) {
  const Value& a = *args[0];
  if (a.kind() == Kind::kBytes) {
    const int64_t size = static_cast<int64_t>(a.string_value().size());
    if (!frame.Reserve(size, StringBytes(size))) return frame.exhausted_error;
  }
  switch (a.kind()) {
    case Kind::kString:
      return a;
    case Kind::kInt:
      return Value::String(absl::StrCat(a.int_value()));
    case Kind::kUint:
      return Value::String(absl::StrCat(a.uint_value()));
    case Kind::kDouble:
      return Value::String(FormatCelDouble(a.double_value()));
    case Kind::kBool:
      return Value::String(a.bool_value() ? "true" : "false");
    case Kind::kBytes:
      if (!IsValidUtf8(a.string_value())) {
        return Value::Error(absl::StatusCode::kInvalidArgument,
                            "invalid UTF-8 in bytes, cannot convert to string");
      }
      return Value::String(std::string(a.string_value()));
    case Kind::kDuration:
      return Value::String(FormatCelDuration(a.duration_value()));
    case Kind::kTimestamp:
      return Value::String(FormatCelTimestamp(a.timestamp_value()));
    default:
      VARAV_NO_OVERLOAD("string", 1);
  }
}

Value ToBytes(Frame& frame, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kBytes:
      return a;
    case Kind::kString: {
      const int64_t size = static_cast<int64_t>(a.string_value().size());
      if (!frame.Reserve(size, StringBytes(size))) return frame.exhausted_error;
      return Value::Bytes(std::string(a.string_value()));
    }
    default:
      VARAV_NO_OVERLOAD("bytes", 1);
  }
}

Value ToBool(Frame&, const Value* const* args) {
  const Value& a = *args[0];
  switch (a.kind()) {
    case Kind::kBool:
      return a;
    case Kind::kString: {
      absl::string_view s = a.string_value();
      if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") {
        return Value::Bool(true);
      }
      if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
        return Value::Bool(false);
      }
      return Value::Error(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat("type conversion error: cannot convert \"", s, "\" to bool"));
    }
    default:
      VARAV_NO_OVERLOAD("bool", 1);
  }
}

Value Dyn(Frame&, const Value* const* args) { return *args[0]; }

Value TypeOf(Frame&, const Value* const* args) {
  // Type values are immutable and few; build each once.
  static const Value* const kTypes = [] {
    auto* types = new Value[static_cast<int>(Kind::kError) + 1];
    for (int k = 0; k <= static_cast<int>(Kind::kError); ++k) {
      types[k] = Value::Type(KindName(static_cast<Kind>(k)));
    }
    return types;
  }();
  return kTypes[static_cast<int>(args[0]->kind())];
}

// cel.@mapInsert(map, key, value) and cel.@mapInsert(map, entries). Outside a comprehension's loop
// step (where the planner inserts in place) the map is shared, so Insert copies it.
Value MapInsert(Frame& frame, const Value* const* args) {
  if (args[0]->kind() != Kind::kMap) VARAV_NO_OVERLOAD("cel.@mapInsert", 3);
  const int64_t n = static_cast<int64_t>(args[0]->size()) + 1;
  if (!frame.Reserve(n, MapBytes(n))) return frame.exhausted_error;
  return Value::Insert(*args[0], *args[1], *args[2]);
}

Value MapMerge(Frame& frame, const Value* const* args) {
  if (args[0]->kind() != Kind::kMap || args[1]->kind() != Kind::kMap) {
    VARAV_NO_OVERLOAD("cel.@mapInsert", 2);
  }
  const int64_t n = static_cast<int64_t>(args[0]->size() + args[1]->size());
  if (!frame.Reserve(n, MapBytes(n))) return frame.exhausted_error;
  return MergeMaps(*args[0], *args[1]);
}

#undef VARAV_NO_OVERLOAD

}  // namespace

Value MergeMaps(Value target, const Value& update) {
  for (size_t i = 0; i < update.size() && !target.IsError(); ++i) {
    target = Value::Insert(std::move(target), update.map_key(i), update.map_value(i));
  }
  return target;
}

void RegisterCoreFunctions() {
  RegisterFunction("!_", 1, Not);
  RegisterFunction("-_", 1, Negate);
  RegisterFunction("_==_", 2, Equal);
  RegisterFunction("_!=_", 2, NotEqual);
  RegisterFunction("_<_", 2, Relation<0>);
  RegisterFunction("_<=_", 2, Relation<1>);
  RegisterFunction("_>_", 2, Relation<2>);
  RegisterFunction("_>=_", 2, Relation<3>);
  RegisterFunction("_+_", 2, Add);
  RegisterFunction("_-_", 2, Subtract);
  RegisterFunction("_*_", 2, Multiply);
  RegisterFunction("_/_", 2, Divide);
  RegisterFunction("_%_", 2, Modulo);
  RegisterFunction("@in", 2, In);
  RegisterFunction("_in_", 2, In);
  RegisterFunction("in", 2, In);
  RegisterFunction("size", 1, Size);
  RegisterFunction("contains", 2, StringPredicate<0>);
  RegisterFunction("startsWith", 2, StringPredicate<1>);
  RegisterFunction("endsWith", 2, StringPredicate<2>);
  RegisterFunction("matches", 2, Matches);
  RegisterFunction("int", 1, ToInt);
  RegisterFunction("uint", 1, ToUint);
  RegisterFunction("double", 1, ToDouble);
  RegisterFunction("string", 1, ToString);
  RegisterFunction("bytes", 1, ToBytes);
  RegisterFunction("bool", 1, ToBool);
  RegisterFunction("dyn", 1, Dyn);
  RegisterFunction("type", 1, TypeOf);
  RegisterFunction("cel.@mapInsert", 3, MapInsert);
  RegisterFunction("cel.@mapInsert", 2, MapMerge);
}

}  // namespace varav::cel::runtime
