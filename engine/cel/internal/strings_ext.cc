// The CEL strings extension (google/cel-spec doc/extensions/strings.md). Indices are code-point
// indices, as the extension specifies.
//
// Every function charges the frame for the bytes it walks and reserves the bytes of the value it
// builds before building it (functions.h), so a result over the memory budget is never allocated:
// sizes of results are computed first where they are not known (replace, split, join), and
// `format` reserves its output as it grows.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/cel/internal/functions.h"

namespace varav::cel::runtime {

using Kind = Value::Kind;

namespace {

Value IndexOutOfRange(int64_t i) {
  return Value::Error(absl::StatusCode::kOutOfRange, absl::StrCat("index out of range: ", i));
}

bool IsLeadByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

// The byte offset of code point `index` of `s` (s.size() for the code point count); npos when
// `index` is negative or past the end.
size_t ByteOffsetOf(absl::string_view s, int64_t index) {
  if (index < 0) return absl::string_view::npos;
  int64_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsLeadByte(s[i])) continue;
    if (seen == index) return i;
    ++seen;
  }
  return seen == index ? s.size() : absl::string_view::npos;
}

// The code-point index of byte offset `pos` of `s` (the number of code points before it).
int64_t CodePointIndexOf(absl::string_view s, size_t pos) {
  return CodePointCount(s.substr(0, pos));
}

// Decodes one code point starting at s[i]; advances i. Invalid bytes decode as U+FFFD.
uint32_t DecodeAt(absl::string_view s, size_t& i) {
  unsigned char c = s[i];
  int len = c < 0x80             ? 1
            : (c & 0xE0) == 0xC0 ? 2
            : (c & 0xF0) == 0xE0 ? 3
            : (c & 0xF8) == 0xF0 ? 4
                                 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < len; ++k) {
    unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += len;
  return cp;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsString(const Value* v) { return v->kind() == Kind::kString; }
bool IsInt(const Value* v) { return v->kind() == Kind::kInt; }

Value CharAt(Frame& frame, const Value* const* args) {
  if (!IsString(args[0]) || !IsInt(args[1])) return NoMatchingOverload("charAt", args, 2);
  absl::string_view s = args[0]->string_value();
  if (!frame.Reserve(static_cast<int64_t>(s.size()), StringBytes(4))) return frame.exhausted_error;
  const int64_t i = args[1]->int_value();
  const size_t begin = ByteOffsetOf(s, i);
  if (begin == absl::string_view::npos) return IndexOutOfRange(i);
  size_t end = begin;
  if (end < s.size()) DecodeAt(s, end);
  return Value::String(std::string(s.substr(begin, end - begin)));
}

Value IndexOf(Frame& frame, const Value* const* args, int arity) {
  if (!IsString(args[0]) || !IsString(args[1]) || (arity == 3 && !IsInt(args[2]))) {
    return NoMatchingOverload("indexOf", args, arity);
  }
  absl::string_view s = args[0]->string_value();
  if (!frame.Charge(static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  const int64_t start = arity == 3 ? args[2]->int_value() : 0;
  const size_t from = ByteOffsetOf(s, start);
  if (from == absl::string_view::npos) return IndexOutOfRange(start);
  const size_t pos = s.find(args[1]->string_value(), from);
  if (pos == absl::string_view::npos) return Value::Int(-1);
  return Value::Int(CodePointIndexOf(s, pos));
}
Value IndexOf2(Frame& f, const Value* const* a) { return IndexOf(f, a, 2); }
Value IndexOf3(Frame& f, const Value* const* a) { return IndexOf(f, a, 3); }

Value LastIndexOf(Frame& frame, const Value* const* args, int arity) {
  if (!IsString(args[0]) || !IsString(args[1]) || (arity == 3 && !IsInt(args[2]))) {
    return NoMatchingOverload("lastIndexOf", args, arity);
  }
  absl::string_view s = args[0]->string_value();
  absl::string_view sub = args[1]->string_value();
  if (!frame.Charge(static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  // The occurrence must start at or before code point `last`.
  const size_t limit = arity == 3 ? ByteOffsetOf(s, args[2]->int_value()) : s.size();
  if (limit == absl::string_view::npos) return IndexOutOfRange(args[2]->int_value());
  const size_t pos = s.rfind(sub, limit);
  if (pos == absl::string_view::npos) return Value::Int(-1);
  return Value::Int(CodePointIndexOf(s, pos));
}
Value LastIndexOf2(Frame& f, const Value* const* a) { return LastIndexOf(f, a, 2); }
Value LastIndexOf3(Frame& f, const Value* const* a) { return LastIndexOf(f, a, 3); }

// Charges for walking `s` and building a string of `out` bytes.
bool ReserveString(Frame& frame, absl::string_view s, int64_t out) {
  return frame.Reserve(SatAdd(static_cast<int64_t>(s.size()), out), StringBytes(out));
}

Value LowerAscii(Frame& frame, const Value* const* args) {
  if (!IsString(args[0])) return NoMatchingOverload("lowerAscii", args, 1);
  absl::string_view s = args[0]->string_value();
  if (!ReserveString(frame, s, static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  return Value::String(absl::AsciiStrToLower(s));
}

Value UpperAscii(Frame& frame, const Value* const* args) {
  if (!IsString(args[0])) return NoMatchingOverload("upperAscii", args, 1);
  absl::string_view s = args[0]->string_value();
  if (!ReserveString(frame, s, static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  return Value::String(absl::AsciiStrToUpper(s));
}

Value Replace(Frame& frame, const Value* const* args, int arity) {
  if (!IsString(args[0]) || !IsString(args[1]) || !IsString(args[2]) ||
      (arity == 4 && !IsInt(args[3]))) {
    return NoMatchingOverload("replace", args, arity);
  }
  absl::string_view s = args[0]->string_value();
  absl::string_view from = args[1]->string_value();
  absl::string_view to = args[2]->string_value();
  int64_t limit = arity == 4 ? args[3]->int_value() : -1;
  // Count the replacements first: the result's size is known, and reserved, before it is built.
  if (!frame.Charge(static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  int64_t matches = 0;
  if (from.empty()) {
    matches = CodePointCount(s) + 1;
  } else {
    for (size_t i = s.find(from); i != absl::string_view::npos && (limit < 0 || matches < limit);
         i = s.find(from, i + from.size())) {
      ++matches;
    }
  }
  if (limit >= 0) matches = std::min(matches, limit);
  const int64_t out_size =
      SatAdd(static_cast<int64_t>(s.size()) - matches * static_cast<int64_t>(from.size()),
             SatMul(matches, static_cast<int64_t>(to.size())));
  if (!frame.Reserve(out_size, StringBytes(out_size))) return frame.exhausted_error;
  std::string out;
  out.reserve(static_cast<size_t>(out_size));
  int64_t done = 0;
  if (from.empty()) {
    // An empty pattern matches before every code point and at the end.
    size_t i = 0;
    while (true) {
      if (limit >= 0 && done >= limit) {
        absl::StrAppend(&out, s.substr(i));
        break;
      }
      absl::StrAppend(&out, to);
      ++done;
      if (i >= s.size()) break;
      size_t start = i;
      DecodeAt(s, i);
      absl::StrAppend(&out, s.substr(start, i - start));
    }
    return Value::String(std::move(out));
  }
  size_t i = 0;
  while (limit < 0 || done < limit) {
    size_t pos = s.find(from, i);
    if (pos == absl::string_view::npos) break;
    absl::StrAppend(&out, s.substr(i, pos - i));
    absl::StrAppend(&out, to);
    i = pos + from.size();
    ++done;
  }
  absl::StrAppend(&out, s.substr(i));
  return Value::String(std::move(out));
}
Value Replace3(Frame& f, const Value* const* a) { return Replace(f, a, 3); }
Value Replace4(Frame& f, const Value* const* a) { return Replace(f, a, 4); }

Value Split(Frame& frame, const Value* const* args, int arity) {
  if (!IsString(args[0]) || !IsString(args[1]) || (arity == 3 && !IsInt(args[2]))) {
    return NoMatchingOverload("split", args, arity);
  }
  absl::string_view s = args[0]->string_value();
  absl::string_view sep = args[1]->string_value();
  int64_t limit = arity == 3 ? args[2]->int_value() : -1;
  if (!frame.Charge(static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  if (limit == 0) return Value::List({});
  // Count the parts first and reserve the list and its strings before building them.
  int64_t count = 1;
  if (sep.empty()) {
    count = CodePointCount(s);
  } else {
    for (size_t i = s.find(sep); i != absl::string_view::npos && (limit < 0 || count < limit);
         i = s.find(sep, i + sep.size())) {
      ++count;
    }
  }
  if (limit > 0) count = std::min(count, limit);
  const int64_t bytes = SatAdd(SatAdd(ListBytes(count), SatMul(count, StringBytes(0))),
                               static_cast<int64_t>(s.size()));
  if (!frame.Reserve(count, bytes)) return frame.exhausted_error;
  std::vector<Value> parts;
  parts.reserve(static_cast<size_t>(count));
  if (sep.empty()) {
    size_t i = 0;
    while (i < s.size()) {
      if (limit > 0 && static_cast<int64_t>(parts.size()) == limit - 1) {
        parts.push_back(Value::String(std::string(s.substr(i))));
        return Value::List(std::move(parts));
      }
      size_t start = i;
      DecodeAt(s, i);
      parts.push_back(Value::String(std::string(s.substr(start, i - start))));
    }
    return Value::List(std::move(parts));
  }
  size_t i = 0;
  while (limit < 0 || static_cast<int64_t>(parts.size()) < limit - 1) {
    size_t pos = s.find(sep, i);
    if (pos == absl::string_view::npos) break;
    parts.push_back(Value::String(std::string(s.substr(i, pos - i))));
    i = pos + sep.size();
  }
  parts.push_back(Value::String(std::string(s.substr(i))));
  return Value::List(std::move(parts));
}
Value Split2(Frame& f, const Value* const* a) { return Split(f, a, 2); }
Value Split3(Frame& f, const Value* const* a) { return Split(f, a, 3); }

Value Substring(Frame& frame, const Value* const* args, int arity) {
  if (!IsString(args[0]) || !IsInt(args[1]) || (arity == 3 && !IsInt(args[2]))) {
    return NoMatchingOverload("substring", args, arity);
  }
  absl::string_view s = args[0]->string_value();
  if (!frame.Charge(static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  const int64_t start = args[1]->int_value();
  const size_t begin = ByteOffsetOf(s, start);
  if (begin == absl::string_view::npos) return IndexOutOfRange(start);
  size_t end_byte = s.size();
  if (arity == 3) {
    const int64_t end = args[2]->int_value();
    end_byte = ByteOffsetOf(s, end);
    if (end_byte == absl::string_view::npos) return IndexOutOfRange(end);
    if (end < start) {
      return Value::Error(absl::StatusCode::kOutOfRange,
                          absl::StrCat("invalid substring range. start: ", start, ", end: ", end));
    }
  }
  const int64_t size = static_cast<int64_t>(end_byte - begin);
  if (!frame.Reserve(size, StringBytes(size))) return frame.exhausted_error;
  return Value::String(std::string(s.substr(begin, end_byte - begin)));
}
Value Substring2(Frame& f, const Value* const* a) { return Substring(f, a, 2); }
Value Substring3(Frame& f, const Value* const* a) { return Substring(f, a, 3); }

// Unicode White_Space, as Go's unicode.IsSpace defines it.
bool IsUnicodeSpace(uint32_t cp) {
  switch (cp) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

Value Trim(Frame& frame, const Value* const* args) {
  if (!IsString(args[0])) return NoMatchingOverload("trim", args, 1);
  absl::string_view s = args[0]->string_value();
  if (!ReserveString(frame, s, static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  size_t begin = 0;
  while (begin < s.size()) {
    size_t next = begin;
    if (!IsUnicodeSpace(DecodeAt(s, next))) break;
    begin = next;
  }
  size_t end = s.size();
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t probe = start;
    if (!IsUnicodeSpace(DecodeAt(s, probe))) break;
    end = start;
  }
  return Value::String(std::string(s.substr(begin, end - begin)));
}

Value Join(Frame& frame, const Value* const* args, int arity) {
  if (args[0]->kind() != Kind::kList || (arity == 2 && !IsString(args[1]))) {
    return NoMatchingOverload("join", args, arity);
  }
  absl::string_view sep = arity == 2 ? args[1]->string_value() : "";
  const absl::Span<const Value> parts = args[0]->elements();
  int64_t size = 0;
  for (const Value& v : parts) {
    if (v.kind() != Kind::kString) {
      return Value::Error(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat("join: list element is ", KindName(v.kind()), ", not string"));
    }
    size = SatAdd(size, static_cast<int64_t>(v.string_value().size()));
  }
  if (!parts.empty()) {
    size = SatAdd(size,
                  SatMul(static_cast<int64_t>(parts.size() - 1), static_cast<int64_t>(sep.size())));
  }
  if (!frame.Reserve(SatAdd(size, static_cast<int64_t>(parts.size())), StringBytes(size))) {
    return frame.exhausted_error;
  }
  std::string out;
  out.reserve(static_cast<size_t>(size));
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) absl::StrAppend(&out, sep);
    absl::StrAppend(&out, parts[i].string_value());
  }
  return Value::String(std::move(out));
}
Value Join1(Frame& f, const Value* const* a) { return Join(f, a, 1); }
Value Join2(Frame& f, const Value* const* a) { return Join(f, a, 2); }

Value Quote(Frame& frame, const Value* const* args) {
  if (!IsString(args[0])) return NoMatchingOverload("strings.quote", args, 1);
  absl::string_view s = args[0]->string_value();
  // At most four bytes ("\\xNN") for each byte of `s`, and the quotes.
  if (!ReserveString(frame, s, SatAdd(SatMul(4, static_cast<int64_t>(s.size())), 2))) {
    return frame.exhausted_error;
  }
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp = DecodeAt(s, i);
    switch (cp) {
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      default:
        if (cp < 0x20 || cp == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", cp);
          out += buf;
        } else {
          AppendUtf8(out, cp);
        }
    }
  }
  out += "\"";
  return Value::String(std::move(out));
}

Value Reverse(Frame& frame, const Value* const* args) {
  if (!IsString(args[0])) return NoMatchingOverload("reverse", args, 1);
  absl::string_view s = args[0]->string_value();
  if (!ReserveString(frame, s, static_cast<int64_t>(s.size()))) return frame.exhausted_error;
  std::string out;
  out.reserve(s.size());
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && !IsLeadByte(s[start])) --start;
    absl::StrAppend(&out, s.substr(start, end - start));
    end = start;
  }
  return Value::String(std::move(out));
}

// ---- format
// ----------------------------------------------------------------------------------------

Value FormatError(absl::string_view message) {
  return Value::Error(absl::StatusCode::kInvalidArgument,
                      absl::StrCat("error during formatting: ", message));
}

const char* NonFinite(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return nullptr;
}

// Appends `piece` to `out` once the frame has reserved it; false (with `error` set) when a budget
// refuses it.
bool Emit(Frame& frame, std::string& out, absl::string_view piece, Value& error) {
  const int64_t size = static_cast<int64_t>(piece.size());
  if (!frame.Reserve(size, size)) {
    error = frame.exhausted_error;
    return false;
  }
  out.append(piece.data(), piece.size());
  return true;
}

// %s rendering; returns false (with `error` set) for values that cannot be rendered and when the
// rendering would exceed a budget (checked before each piece is appended).
bool AppendAsString(Frame& frame, std::string& out, const Value& v, Value& error) {
  switch (v.kind()) {
    case Kind::kNull:
      return Emit(frame, out, "null", error);
    case Kind::kBool:
      return Emit(frame, out, v.bool_value() ? "true" : "false", error);
    case Kind::kInt:
      return Emit(frame, out, absl::StrCat(v.int_value()), error);
    case Kind::kUint:
      return Emit(frame, out, absl::StrCat(v.uint_value()), error);
    case Kind::kDouble:
      if (const char* nf = NonFinite(v.double_value())) return Emit(frame, out, nf, error);
      return Emit(frame, out, FormatCelDouble(v.double_value()), error);
    case Kind::kString:
    case Kind::kBytes:
      return Emit(frame, out, v.string_value(), error);
    case Kind::kDuration:
      return Emit(frame, out, FormatCelDuration(v.duration_value()), error);
    case Kind::kTimestamp:
      return Emit(frame, out, FormatCelTimestamp(v.timestamp_value()), error);
    case Kind::kType:
      return Emit(frame, out, v.type_name(), error);
    case Kind::kList:
      if (!Emit(frame, out, "[", error)) return false;
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0 && !Emit(frame, out, ", ", error)) return false;
        if (!AppendAsString(frame, out, v.element(i), error)) return false;
      }
      return Emit(frame, out, "]", error);
    case Kind::kMap: {
      // Keys sorted by their rendering, so the output does not depend on insertion order. The
      // renderings of the entries are reserved as they are made, and again as they are copied.
      std::vector<std::pair<std::string, std::string>> entries;
      for (size_t i = 0; i < v.size(); ++i) {
        std::string k, val;
        if (!AppendAsString(frame, k, v.map_key(i), error) ||
            !AppendAsString(frame, val, v.map_value(i), error)) {
          return false;
        }
        entries.emplace_back(std::move(k), std::move(val));
      }
      std::sort(entries.begin(), entries.end());
      if (!Emit(frame, out, "{", error)) return false;
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0 && !Emit(frame, out, ", ", error)) return false;
        if (!Emit(frame, out, entries[i].first, error) || !Emit(frame, out, ": ", error) ||
            !Emit(frame, out, entries[i].second, error)) {
          return false;
        }
      }
      return Emit(frame, out, "}", error);
    }
    case Kind::kError:
      error = v;
      return false;
  }
  return false;
}

std::string ToBase(uint64_t u, int base, bool upper) {
  if (u == 0) return "0";
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string r;
  while (u > 0) {
    r.push_back(digits[u % base]);
    u /= base;
  }
  std::reverse(r.begin(), r.end());
  return r;
}

std::string SignedToBase(int64_t i, int base, bool upper) {
  if (i >= 0) return ToBase(static_cast<uint64_t>(i), base, upper);
  // Appending to a fresh string rather than `"-" + ToBase(...)`: GCC 12 at -O3 reports a false
  // -Wrestrict overlap inside the inlined operator+.
  const std::string magnitude =
      ToBase(static_cast<uint64_t>(0) - static_cast<uint64_t>(i), base, upper);
  std::string r;
  r.reserve(magnitude.size() + 1);
  r.push_back('-');
  r.append(magnitude);
  return r;
}

bool FormatClause(Frame& frame, std::string& out, char verb, int precision, const Value& arg,
                  Value& error) {
  switch (verb) {
    case 's':
      return AppendAsString(frame, out, arg, error);
    case 'd':
      if (arg.kind() == Kind::kInt) {
        absl::StrAppend(&out, arg.int_value());
        return true;
      }
      if (arg.kind() == Kind::kUint) {
        absl::StrAppend(&out, arg.uint_value());
        return true;
      }
      if (arg.kind() == Kind::kDouble && NonFinite(arg.double_value())) {
        out += NonFinite(arg.double_value());
        return true;
      }
      error = FormatError(absl::StrCat("decimal clause can only be used on integers, was given ",
                                       KindName(arg.kind())));
      return false;
    case 'f':
    case 'e': {
      double d;
      if (arg.kind() == Kind::kDouble) {
        d = arg.double_value();
      } else if (arg.kind() == Kind::kInt) {
        d = static_cast<double>(arg.int_value());
      } else if (arg.kind() == Kind::kUint) {
        d = static_cast<double>(arg.uint_value());
      } else {
        error = FormatError(absl::StrCat(verb == 'f' ? "fixed-point" : "scientific",
                                         " clause can only be used on doubles, was given ",
                                         KindName(arg.kind())));
        return false;
      }
      if (const char* nf = NonFinite(d)) {
        out += nf;
        return true;
      }
      // Up to 999 digits of precision after the point, and 309 before it: sized by a first pass.
      const char* pattern = verb == 'f' ? "%.*f" : "%.*e";
      const int digits = precision < 0 ? 6 : precision;
      const int size = std::snprintf(nullptr, 0, pattern, digits, d);
      if (size < 0) {
        error = FormatError("cannot format the number");
        return false;
      }
      std::string text(static_cast<size_t>(size) + 1, '\0');
      std::snprintf(text.data(), text.size(), pattern, digits, d);
      text.resize(static_cast<size_t>(size));
      return Emit(frame, out, text, error);
    }
    case 'b':
      if (arg.kind() == Kind::kInt) {
        out += SignedToBase(arg.int_value(), 2, false);
        return true;
      }
      if (arg.kind() == Kind::kUint) {
        out += ToBase(arg.uint_value(), 2, false);
        return true;
      }
      if (arg.kind() == Kind::kBool) {
        out += arg.bool_value() ? "1" : "0";
        return true;
      }
      error = FormatError(absl::StrCat(
          "only integers and bools can be formatted as binary, was given ", KindName(arg.kind())));
      return false;
    case 'o':
      if (arg.kind() == Kind::kInt) {
        out += SignedToBase(arg.int_value(), 8, false);
        return true;
      }
      if (arg.kind() == Kind::kUint) {
        out += ToBase(arg.uint_value(), 8, false);
        return true;
      }
      error = FormatError(absl::StrCat("octal clause can only be used on integers, was given ",
                                       KindName(arg.kind())));
      return false;
    case 'x':
    case 'X': {
      bool upper = verb == 'X';
      if (arg.kind() == Kind::kInt) {
        out += SignedToBase(arg.int_value(), 16, upper);
        return true;
      }
      if (arg.kind() == Kind::kUint) {
        out += ToBase(arg.uint_value(), 16, upper);
        return true;
      }
      if (arg.kind() == Kind::kString || arg.kind() == Kind::kBytes) {
        const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        const int64_t size = SatMul(2, static_cast<int64_t>(arg.string_value().size()));
        if (!frame.Reserve(size, size)) {
          error = frame.exhausted_error;
          return false;
        }
        for (unsigned char c : arg.string_value()) {
          out.push_back(digits[c >> 4]);
          out.push_back(digits[c & 0xF]);
        }
        return true;
      }
      error = FormatError(absl::StrCat(
          "only integers, byte buffers, and strings can be formatted as hex, was given ",
          KindName(arg.kind())));
      return false;
    }
    default:
      return false;
  }
}

Value Format(Frame& frame, const Value* const* args) {
  if (!IsString(args[0]) || args[1]->kind() != Kind::kList) {
    return NoMatchingOverload("format", args, 2);
  }
  absl::string_view f = args[0]->string_value();
  const Value& list = *args[1];
  if (!frame.Reserve(static_cast<int64_t>(f.size()), StringBytes(static_cast<int64_t>(f.size())))) {
    return frame.exhausted_error;
  }
  std::string out;
  size_t next_arg = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out.push_back(f[i]);
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    size_t j = i + 1;
    int precision = -1;
    if (j < f.size() && f[j] == '.') {
      ++j;
      precision = 0;
      size_t digits = 0;
      while (j < f.size() && f[j] >= '0' && f[j] <= '9' && digits < 3) {
        precision = precision * 10 + (f[j] - '0');
        ++j;
        ++digits;
      }
      if (digits == 0) {
        return Value::Error(absl::StatusCode::kInvalidArgument,
                            "could not parse formatting clause: missing precision");
      }
    }
    if (j >= f.size()) {
      return Value::Error(absl::StatusCode::kInvalidArgument,
                          "could not parse formatting clause: unterminated clause");
    }
    char verb = f[j];
    if (std::string_view("sdfebxXo").find(verb) == std::string_view::npos) {
      return Value::Error(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat("could not parse formatting clause: unrecognized formatting clause \"",
                       std::string(1, verb), "\""));
    }
    if (next_arg >= list.size()) {
      return Value::Error(absl::StatusCode::kOutOfRange,
                          absl::StrCat("index ", next_arg, " out of range"));
    }
    Value error;
    if (!FormatClause(frame, out, verb, precision, list.element(next_arg), error)) return error;
    ++next_arg;
    i = j;
  }
  return Value::String(std::move(out));
}

}  // namespace

void RegisterStringFunctions() {
  RegisterFunction("charAt", 2, CharAt);
  RegisterFunction("indexOf", 2, IndexOf2);
  RegisterFunction("indexOf", 3, IndexOf3);
  RegisterFunction("lastIndexOf", 2, LastIndexOf2);
  RegisterFunction("lastIndexOf", 3, LastIndexOf3);
  RegisterFunction("lowerAscii", 1, LowerAscii);
  RegisterFunction("upperAscii", 1, UpperAscii);
  RegisterFunction("replace", 3, Replace3);
  RegisterFunction("replace", 4, Replace4);
  RegisterFunction("split", 2, Split2);
  RegisterFunction("split", 3, Split3);
  RegisterFunction("substring", 2, Substring2);
  RegisterFunction("substring", 3, Substring3);
  RegisterFunction("trim", 1, Trim);
  RegisterFunction("join", 1, Join1);
  RegisterFunction("join", 2, Join2);
  RegisterFunction("strings.quote", 1, Quote);
  RegisterFunction("reverse", 1, Reverse);
  RegisterFunction("format", 2, Format);
}

}  // namespace varav::cel::runtime
