// The CEL strings extension (google/cel-spec doc/extensions/strings.md). Indices are code-point
// indices, as the extension specifies.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/cel/functions.h"

namespace varav::cel::runtime {

using Kind = Value::Kind;

namespace {

Value IndexOutOfRange(int64_t i) {
  return Value::Error(absl::StatusCode::kOutOfRange, absl::StrCat("index out of range: ", i));
}

// Byte offsets of every code point of `s`, plus s.size() at the end.
std::vector<size_t> CodePointOffsets(absl::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) offsets.push_back(i);
  }
  offsets.push_back(s.size());
  return offsets;
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
  frame.Charge(static_cast<int64_t>(s.size()));
  std::vector<size_t> off = CodePointOffsets(s);
  int64_t n = static_cast<int64_t>(off.size()) - 1;
  int64_t i = args[1]->int_value();
  if (i < 0 || i > n) return IndexOutOfRange(i);
  if (i == n) return Value::String("");
  return Value::String(std::string(s.substr(off[i], off[i + 1] - off[i])));
}

// Code-point index of the first occurrence of `sub` at or after code point `start`, or -1.
int64_t FindFrom(absl::string_view s, const std::vector<size_t>& off, absl::string_view sub,
                 int64_t start) {
  size_t pos = s.find(sub, off[start]);
  if (pos == absl::string_view::npos) return -1;
  return std::lower_bound(off.begin(), off.end(), pos) - off.begin();
}

Value IndexOf(Frame& frame, const Value* const* args, int arity) {
  if (!IsString(args[0]) || !IsString(args[1]) || (arity == 3 && !IsInt(args[2]))) {
    return NoMatchingOverload("indexOf", args, arity);
  }
  absl::string_view s = args[0]->string_value();
  frame.Charge(static_cast<int64_t>(s.size()));
  std::vector<size_t> off = CodePointOffsets(s);
  int64_t n = static_cast<int64_t>(off.size()) - 1;
  int64_t start = arity == 3 ? args[2]->int_value() : 0;
  if (start < 0 || start > n) return IndexOutOfRange(start);
  return Value::Int(FindFrom(s, off, args[1]->string_value(), start));
}
Value IndexOf2(Frame& f, const Value* const* a) { return IndexOf(f, a, 2); }
Value IndexOf3(Frame& f, const Value* const* a) { return IndexOf(f, a, 3); }

Value LastIndexOf(Frame& frame, const Value* const* args, int arity) {
  if (!IsString(args[0]) || !IsString(args[1]) || (arity == 3 && !IsInt(args[2]))) {
    return NoMatchingOverload("lastIndexOf", args, arity);
  }
  absl::string_view s = args[0]->string_value();
  absl::string_view sub = args[1]->string_value();
  frame.Charge(static_cast<int64_t>(s.size()));
  std::vector<size_t> off = CodePointOffsets(s);
  int64_t n = static_cast<int64_t>(off.size()) - 1;
  int64_t last = arity == 3 ? args[2]->int_value() : n;
  if (last < 0 || last > n) return IndexOutOfRange(last);
  // The occurrence must start at or before code point `last`.
  size_t limit = off[last];
  size_t pos = s.rfind(sub, limit);
  if (pos == absl::string_view::npos) return Value::Int(-1);
  return Value::Int(std::lower_bound(off.begin(), off.end(), pos) - off.begin());
}
Value LastIndexOf2(Frame& f, const Value* const* a) { return LastIndexOf(f, a, 2); }
Value LastIndexOf3(Frame& f, const Value* const* a) { return LastIndexOf(f, a, 3); }

Value LowerAscii(Frame& frame, const Value* const* args) {
  if (!IsString(args[0])) return NoMatchingOverload("lowerAscii", args, 1);
  frame.Charge(static_cast<int64_t>(args[0]->string_value().size()));
  return Value::String(absl::AsciiStrToLower(args[0]->string_value()));
}

Value UpperAscii(Frame& frame, const Value* const* args) {
  if (!IsString(args[0])) return NoMatchingOverload("upperAscii", args, 1);
  frame.Charge(static_cast<int64_t>(args[0]->string_value().size()));
  return Value::String(absl::AsciiStrToUpper(args[0]->string_value()));
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
  frame.Charge(static_cast<int64_t>(s.size()));
  std::string out;
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
    frame.Charge(static_cast<int64_t>(out.size()));
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
  frame.Charge(static_cast<int64_t>(out.size()));
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
  frame.Charge(static_cast<int64_t>(s.size()));
  std::vector<Value> parts;
  if (limit == 0) return Value::List({});
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
  frame.Charge(static_cast<int64_t>(s.size()));
  std::vector<size_t> off = CodePointOffsets(s);
  int64_t n = static_cast<int64_t>(off.size()) - 1;
  int64_t start = args[1]->int_value();
  int64_t end = arity == 3 ? args[2]->int_value() : n;
  if (start < 0 || start > n) return IndexOutOfRange(start);
  if (end < 0 || end > n) return IndexOutOfRange(end);
  if (end < start) {
    return Value::Error(absl::StatusCode::kOutOfRange,
                        absl::StrCat("invalid substring range. start: ", start, ", end: ", end));
  }
  return Value::String(std::string(s.substr(off[start], off[end] - off[start])));
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
  frame.Charge(static_cast<int64_t>(s.size()));
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
  std::string out;
  bool first = true;
  for (const Value& v : args[0]->elements()) {
    if (v.kind() != Kind::kString) {
      return Value::Error(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat("join: list element is ", KindName(v.kind()), ", not string"));
    }
    if (!first) absl::StrAppend(&out, sep);
    first = false;
    absl::StrAppend(&out, v.string_value());
  }
  frame.Charge(static_cast<int64_t>(out.size()));
  return Value::String(std::move(out));
}
Value Join1(Frame& f, const Value* const* a) { return Join(f, a, 1); }
Value Join2(Frame& f, const Value* const* a) { return Join(f, a, 2); }

Value Quote(Frame& frame, const Value* const* args) {
  if (!IsString(args[0])) return NoMatchingOverload("strings.quote", args, 1);
  absl::string_view s = args[0]->string_value();
  frame.Charge(static_cast<int64_t>(s.size()));
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
  frame.Charge(static_cast<int64_t>(s.size()));
  std::vector<size_t> off = CodePointOffsets(s);
  std::string out;
  out.reserve(s.size());
  for (size_t k = off.size() - 1; k > 0; --k) {
    absl::StrAppend(&out, s.substr(off[k - 1], off[k] - off[k - 1]));
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

// %s rendering; returns false (with `error` set) for values that cannot be rendered.
bool AppendAsString(std::string& out, const Value& v, Value& error) {
  switch (v.kind()) {
    case Kind::kNull:
      out += "null";
      return true;
    case Kind::kBool:
      out += v.bool_value() ? "true" : "false";
      return true;
    case Kind::kInt:
      absl::StrAppend(&out, v.int_value());
      return true;
    case Kind::kUint:
      absl::StrAppend(&out, v.uint_value());
      return true;
    case Kind::kDouble:
      if (const char* nf = NonFinite(v.double_value())) {
        out += nf;
      } else {
        out += FormatCelDouble(v.double_value());
      }
      return true;
    case Kind::kString:
    case Kind::kBytes:
      absl::StrAppend(&out, v.string_value());
      return true;
    case Kind::kDuration:
      out += FormatCelDuration(v.duration_value());
      return true;
    case Kind::kTimestamp:
      out += FormatCelTimestamp(v.timestamp_value());
      return true;
    case Kind::kType:
      absl::StrAppend(&out, v.type_name());
      return true;
    case Kind::kList:
      out += "[";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out += ", ";
        if (!AppendAsString(out, v.element(i), error)) return false;
      }
      out += "]";
      return true;
    case Kind::kMap: {
      // Keys sorted by their rendering, so the output does not depend on insertion order.
      std::vector<std::pair<std::string, std::string>> entries;
      for (size_t i = 0; i < v.size(); ++i) {
        std::string k, val;
        if (!AppendAsString(k, v.map_key(i), error) ||
            !AppendAsString(val, v.map_value(i), error)) {
          return false;
        }
        entries.emplace_back(std::move(k), std::move(val));
      }
      std::sort(entries.begin(), entries.end());
      out += "{";
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += ", ";
        absl::StrAppend(&out, entries[i].first, ": ", entries[i].second);
      }
      out += "}";
      return true;
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

bool FormatClause(std::string& out, char verb, int precision, const Value& arg, Value& error) {
  switch (verb) {
    case 's':
      return AppendAsString(out, arg, error);
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
      char buf[512];
      std::snprintf(buf, sizeof(buf), verb == 'f' ? "%.*f" : "%.*e", precision < 0 ? 6 : precision,
                    d);
      out += buf;
      return true;
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
  frame.Charge(static_cast<int64_t>(f.size()));
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
    if (!FormatClause(out, verb, precision, list.element(next_arg), error)) return error;
    ++next_arg;
    i = j;
  }
  frame.Charge(static_cast<int64_t>(out.size()));
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
