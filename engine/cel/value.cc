#include "engine/cel/value.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "engine/cel/internal/functions.h"

namespace varav::cel {

struct Value::Heap {};

struct Value::StringRep : Heap {
  explicit StringRep(std::string v) : value(std::move(v)) {}
  std::string value;
};

namespace {

int64_t SaturatingAdd(int64_t a, int64_t b) {
  return std::min(a + b, Value::kMaxDeepSize);  // both operands are at most kMaxDeepSize
}

}  // namespace

struct Value::ListRep : Heap {
  explicit ListRep(std::vector<Value> v) : elements(std::move(v)) {
    for (const Value& e : elements) deep_size = SaturatingAdd(deep_size, e.deep_size());
  }
  std::vector<Value> elements;
  int64_t deep_size = 1;
};

struct Value::TypeRep : Heap {
  explicit TypeRep(std::string n) : name(std::move(n)) {}
  std::string name;
};

struct Value::ErrorRep : Heap {
  ErrorRep(absl::StatusCode c, std::string m) : code(c), message(std::move(m)) {}
  absl::StatusCode code;
  std::string message;
};

namespace {

// Small maps are scanned linearly (a handful of comparisons beats hashing); larger ones get an
// index. Numeric keys are normalised so that 1, 1u and 1.0 find the same entry.
constexpr size_t kIndexThreshold = 8;

enum class KeyClass : uint8_t { kBool, kNegative, kNonNegative, kString, kNone };

struct NumericKey {
  KeyClass cls = KeyClass::kNone;
  uint64_t bits = 0;
  bool operator==(const NumericKey& o) const { return cls == o.cls && bits == o.bits; }
  template <typename H>
  friend H AbslHashValue(H h, const NumericKey& k) {
    return H::combine(std::move(h), k.cls, k.bits);
  }
};

// The normalised form of a non-string key; kNone when the value cannot be a key (or, for doubles,
// cannot equal any key).
NumericKey Normalize(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::kBool:
      return {KeyClass::kBool, key.bool_value() ? 1u : 0u};
    case Value::Kind::kInt: {
      int64_t i = key.int_value();
      return {i < 0 ? KeyClass::kNegative : KeyClass::kNonNegative, static_cast<uint64_t>(i)};
    }
    case Value::Kind::kUint:
      return {KeyClass::kNonNegative, key.uint_value()};
    case Value::Kind::kDouble: {
      double d = key.double_value();
      if (!(d == std::trunc(d))) return {};  // fractional, NaN or infinite
      if (d >= -9223372036854775808.0 && d < 0) {
        return {KeyClass::kNegative, static_cast<uint64_t>(static_cast<int64_t>(d))};
      }
      if (d >= 0 && d < 18446744073709551616.0) {
        return {KeyClass::kNonNegative, static_cast<uint64_t>(d)};
      }
      return {};
    }
    default:
      return {};
  }
}

bool IsNumeric(Value::Kind k) {
  return k == Value::Kind::kInt || k == Value::Kind::kUint || k == Value::Kind::kDouble;
}

}  // namespace

struct Value::MapRep : Heap {
  std::vector<std::pair<Value, Value>> entries;
  int64_t deep_size = 1;
  // Built only for maps with more than kIndexThreshold entries.
  absl::flat_hash_map<absl::string_view, uint32_t> string_index;
  absl::flat_hash_map<NumericKey, uint32_t> numeric_index;
  bool indexed = false;

  // Returns the index of `key` or -1.
  int64_t IndexOf(const Value& key) const {
    if (key.kind() == Kind::kString) {
      absl::string_view s = key.string_value();
      if (indexed) {
        auto it = string_index.find(s);
        return it == string_index.end() ? -1 : static_cast<int64_t>(it->second);
      }
      for (size_t i = 0; i < entries.size(); ++i) {
        const Value& k = entries[i].first;
        if (k.kind() == Kind::kString && k.string_value() == s) return static_cast<int64_t>(i);
      }
      return -1;
    }
    NumericKey nk = Normalize(key);
    if (nk.cls == KeyClass::kNone) return -1;
    if (indexed) {
      auto it = numeric_index.find(nk);
      return it == numeric_index.end() ? -1 : static_cast<int64_t>(it->second);
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      const Value& k = entries[i].first;
      if (k.kind() == Kind::kString) continue;
      if (Normalize(k) == nk) return static_cast<int64_t>(i);
    }
    return -1;
  }

  // Adds `key` to the index for entry `i`; false if an equal key is indexed already.
  bool IndexEntry(size_t i) {
    const Value& key = entries[i].first;
    return key.kind() == Kind::kString
               ? string_index.emplace(key.string_value(), static_cast<uint32_t>(i)).second
               : numeric_index.emplace(Normalize(key), static_cast<uint32_t>(i)).second;
  }

  // Appends an entry whose key is valid and absent, indexing the map once it grows past the
  // threshold.
  void Add(Value key, Value value) {
    deep_size = SaturatingAdd(deep_size, SaturatingAdd(key.deep_size(), value.deep_size()));
    entries.emplace_back(std::move(key), std::move(value));
    if (indexed) {
      IndexEntry(entries.size() - 1);
    } else if (entries.size() > kIndexThreshold) {
      string_index.reserve(entries.size());
      for (size_t i = 0; i < entries.size(); ++i) IndexEntry(i);
      indexed = true;
    }
  }
};

Value Value::String(std::string v) {
  Value r(Kind::kString);
  r.heap_ = std::make_shared<const StringRep>(std::move(v));
  return r;
}

Value Value::Bytes(std::string v) {
  Value r(Kind::kBytes);
  r.heap_ = std::make_shared<const StringRep>(std::move(v));
  return r;
}

bool Value::DurationInRange(absl::Duration d) {
  return d >= absl::Seconds(-kMaxDurationSeconds) && d <= absl::Seconds(kMaxDurationSeconds);
}

bool Value::TimestampInRange(absl::Time t) {
  return t >= absl::FromUnixSeconds(kMinTimestampSeconds) &&
         t < absl::FromUnixSeconds(kMaxTimestampSeconds + 1);
}

Value::SecondsNanos Value::Split(absl::Duration d) {
  absl::Duration remainder;
  int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &remainder);
  int64_t nanos = absl::ToInt64Nanoseconds(remainder);
  if (nanos < 0) {
    --seconds;
    nanos += 1'000'000'000;
  }
  return {seconds, static_cast<int32_t>(nanos)};
}

Value Value::Duration(absl::Duration v) {
  if (!DurationInRange(v)) return Error(absl::StatusCode::kOutOfRange, "duration out of range");
  Value r(Kind::kDuration);
  r.scalar_.dur = Split(v);
  return r;
}

Value Value::Timestamp(absl::Time v) {
  if (!TimestampInRange(v)) return Error(absl::StatusCode::kOutOfRange, "timestamp out of range");
  Value r(Kind::kTimestamp);
  r.scalar_.dur = Split(v - absl::UnixEpoch());
  return r;
}

Value Value::List(std::vector<Value> elements) {
  Value r(Kind::kList);
  r.heap_ = std::make_shared<const ListRep>(std::move(elements));
  return r;
}

Value Value::Map(std::vector<std::pair<Value, Value>> entries) {
  auto rep = std::make_shared<MapRep>();
  for (const auto& [key, value] : entries) {
    switch (key.kind()) {
      case Kind::kBool:
      case Kind::kInt:
      case Kind::kUint:
      case Kind::kString:
        break;
      case Kind::kError:
        return key;
      default:
        return Error(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("unsupported key type: ", key.DebugString()));
    }
  }
  rep->entries = std::move(entries);
  for (const auto& [key, value] : rep->entries) {
    rep->deep_size =
        SaturatingAdd(rep->deep_size, SaturatingAdd(key.deep_size(), value.deep_size()));
  }
  const size_t n = rep->entries.size();
  if (n > kIndexThreshold) {
    rep->string_index.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const Value& key = rep->entries[i].first;
      bool inserted = key.kind() == Kind::kString
                          ? rep->string_index.emplace(key.string_value(), i).second
                          : rep->numeric_index.emplace(Normalize(key), i).second;
      if (!inserted) {
        return Error(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("repeated map key: ", key.DebugString()));
      }
    }
    rep->indexed = true;
  } else {
    for (size_t i = 1; i < n; ++i) {
      for (size_t j = 0; j < i; ++j) {
        const Value& a = rep->entries[i].first;
        const Value& b = rep->entries[j].first;
        bool same = a.kind() == Kind::kString || b.kind() == Kind::kString
                        ? a.kind() == b.kind() && a.string_value() == b.string_value()
                        : Normalize(a) == Normalize(b);
        if (same) {
          return Error(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("repeated map key: ", a.DebugString()));
        }
      }
    }
  }
  Value r(Kind::kMap);
  r.heap_ = std::move(rep);
  return r;
}

Value Value::Type(std::string name) {
  Value r(Kind::kType);
  r.heap_ = std::make_shared<const TypeRep>(std::move(name));
  return r;
}

Value Value::Error(absl::StatusCode code, std::string message) {
  Value r(Kind::kError);
  r.heap_ = std::make_shared<const ErrorRep>(code, std::move(message));
  return r;
}

Value Value::Insert(Value map, Value key, Value value) {
  assert(map.kind_ == Kind::kMap);
  switch (key.kind()) {
    case Kind::kBool:
    case Kind::kInt:
    case Kind::kUint:
    case Kind::kString:
      break;
    case Kind::kError:
      return key;
    default:
      return Error(absl::StatusCode::kInvalidArgument,
                   absl::StrCat("unsupported key type: ", key.DebugString()));
  }
  if (map.map_rep().IndexOf(key) >= 0) {
    return Error(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("insert failed: key ", key.DebugString(), " already exists"));
  }
  if (map.heap_.use_count() == 1) {
    // The only reference: nobody else can observe the mutation.
    const_cast<MapRep&>(map.map_rep()).Add(std::move(key), std::move(value));
    return map;
  }
  // The copied index stays valid: its string views point into key strings that the copied entries
  // share with the original.
  auto rep = std::make_shared<MapRep>(map.map_rep());
  rep->entries.reserve(rep->entries.size() + 1);
  rep->Add(std::move(key), std::move(value));
  Value r(Kind::kMap);
  r.heap_ = std::move(rep);
  return r;
}

Value Value::Append(Value list, Value element) {
  assert(list.kind_ == Kind::kList);
  if (list.heap_.use_count() == 1) {
    // The only reference: nobody else can observe the mutation.
    auto& rep = const_cast<ListRep&>(static_cast<const ListRep&>(*list.heap_));
    rep.deep_size = SaturatingAdd(rep.deep_size, element.deep_size());
    rep.elements.push_back(std::move(element));
    return list;
  }
  std::vector<Value> elements;
  const auto& old = list.list_rep().elements;
  elements.reserve(old.size() + 1);
  elements.insert(elements.end(), old.begin(), old.end());
  elements.push_back(std::move(element));
  return List(std::move(elements));
}

const Value::StringRep& Value::string_rep() const { return static_cast<const StringRep&>(*heap_); }
const Value::ListRep& Value::list_rep() const { return static_cast<const ListRep&>(*heap_); }
const Value::MapRep& Value::map_rep() const { return static_cast<const MapRep&>(*heap_); }

absl::string_view Value::string_value() const {
  assert(kind_ == Kind::kString || kind_ == Kind::kBytes);
  return string_rep().value;
}

absl::string_view Value::type_name() const {
  assert(kind_ == Kind::kType);
  return static_cast<const TypeRep&>(*heap_).name;
}

absl::StatusCode Value::error_code() const {
  assert(kind_ == Kind::kError);
  return static_cast<const ErrorRep&>(*heap_).code;
}

absl::string_view Value::error_message() const {
  assert(kind_ == Kind::kError);
  return static_cast<const ErrorRep&>(*heap_).message;
}

size_t Value::size() const {
  if (kind_ == Kind::kList) return list_rep().elements.size();
  assert(kind_ == Kind::kMap);
  return map_rep().entries.size();
}

int64_t Value::deep_size() const {
  switch (kind_) {
    case Kind::kString:
    case Kind::kBytes:
      return 1 + static_cast<int64_t>(string_rep().value.size());
    case Kind::kList:
      return list_rep().deep_size;
    case Kind::kMap:
      return map_rep().deep_size;
    default:
      return 1;
  }
}

const Value& Value::element(size_t i) const { return list_rep().elements[i]; }

absl::Span<const Value> Value::elements() const {
  assert(kind_ == Kind::kList);
  return list_rep().elements;
}

const Value& Value::map_key(size_t i) const { return map_rep().entries[i].first; }
const Value& Value::map_value(size_t i) const { return map_rep().entries[i].second; }

const Value* Value::Find(const Value& key) const {
  assert(kind_ == Kind::kMap);
  const MapRep& rep = map_rep();
  int64_t i = rep.IndexOf(key);
  return i < 0 ? nullptr : &rep.entries[i].second;
}

size_t Value::HashField(absl::string_view key) {
  // What the string index's hasher (Abseil's default for string_view keys) computes.
  return absl::Hash<absl::string_view>{}(key);
}

const Value* Value::FindField(absl::string_view key, size_t hash) const {
  assert(kind_ == Kind::kMap);
  const MapRep& rep = map_rep();
  if (rep.indexed) {
    auto it = rep.string_index.find(key, hash);
    return it == rep.string_index.end() ? nullptr : &rep.entries[it->second].second;
  }
  return FindField(key);
}

const Value* Value::FindField(absl::string_view key) const {
  assert(kind_ == Kind::kMap);
  const MapRep& rep = map_rep();
  if (rep.indexed) {
    auto it = rep.string_index.find(key);
    return it == rep.string_index.end() ? nullptr : &rep.entries[it->second].second;
  }
  for (const auto& [k, v] : rep.entries) {
    if (k.kind_ != Kind::kString) continue;
    const std::string& s = static_cast<const StringRep&>(*k.heap_).value;
    if (s.size() == key.size() && std::memcmp(s.data(), key.data(), key.size()) == 0) return &v;
  }
  return nullptr;
}

bool operator==(const Value& a, const Value& b) {
  using Kind = Value::Kind;
  if (a.kind_ != b.kind_) {
    if (IsNumeric(a.kind_) && IsNumeric(b.kind_)) return runtime::CompareNumbers(a, b) == 0;
    return false;
  }
  switch (a.kind_) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.scalar_.b == b.scalar_.b;
    case Kind::kInt:
      return a.scalar_.i == b.scalar_.i;
    case Kind::kUint:
      return a.scalar_.u == b.scalar_.u;
    case Kind::kDouble:
      return a.scalar_.d == b.scalar_.d;
    case Kind::kString:
    case Kind::kBytes:
      return a.heap_ == b.heap_ || a.string_rep().value == b.string_rep().value;
    case Kind::kDuration:
    case Kind::kTimestamp:
      return a.scalar_.dur == b.scalar_.dur;
    case Kind::kType:
      return a.type_name() == b.type_name();
    case Kind::kList: {
      if (a.heap_ == b.heap_) return true;
      const auto& x = a.list_rep().elements;
      const auto& y = b.list_rep().elements;
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!(x[i] == y[i])) return false;
      }
      return true;
    }
    case Kind::kMap: {
      const auto& x = a.map_rep();
      const auto& y = b.map_rep();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [key, value] : x.entries) {
        int64_t j = y.IndexOf(key);
        if (j < 0 || !(value == y.entries[j].second)) return false;
      }
      return true;
    }
    case Kind::kError:
      return false;
  }
  return false;
}

namespace {

void AppendQuoted(std::string& out, absl::string_view s, bool bytes) {
  out += bytes ? "b\"" : "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
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
      default:
        if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
          absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
}

// Renders `v` into `out`; returns false as soon as `out` has grown past `max_bytes` (strings are
// checked before they are appended, so a huge one is never copied).
bool AppendDebug(std::string& out, const Value& v, size_t max_bytes) {
  using Kind = Value::Kind;
  if (out.size() > max_bytes) return false;
  switch (v.kind()) {
    case Kind::kNull:
      out += "null";
      return out.size() <= max_bytes;
    case Kind::kBool:
      out += v.bool_value() ? "true" : "false";
      return out.size() <= max_bytes;
    case Kind::kInt:
      absl::StrAppend(&out, v.int_value());
      return out.size() <= max_bytes;
    case Kind::kUint:
      absl::StrAppend(&out, v.uint_value(), "u");
      return out.size() <= max_bytes;
    case Kind::kDouble: {
      std::string d = runtime::FormatCelDouble(v.double_value());
      out += d;
      // Keep doubles recognisable: 1.0 renders as "1.0", not "1".
      if (d.find_first_of(".eIN") == std::string::npos) out += ".0";
      return out.size() <= max_bytes;
    }
    case Kind::kString:
    case Kind::kBytes:
      if (out.size() + v.string_value().size() + 2 > max_bytes) return false;
      AppendQuoted(out, v.string_value(), v.kind() == Kind::kBytes);
      return out.size() <= max_bytes;
    case Kind::kDuration:
      absl::StrAppend(&out, "duration(\"", runtime::FormatCelDuration(v.duration_value()), "\")");
      return out.size() <= max_bytes;
    case Kind::kTimestamp:
      absl::StrAppend(&out, "timestamp(\"", runtime::FormatCelTimestamp(v.timestamp_value()),
                      "\")");
      return out.size() <= max_bytes;
    case Kind::kList:
      out += "[";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out += ", ";
        if (!AppendDebug(out, v.element(i), max_bytes)) return false;
      }
      out += "]";
      return out.size() <= max_bytes;
    case Kind::kMap:
      out += "{";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out += ", ";
        if (!AppendDebug(out, v.map_key(i), max_bytes)) return false;
        out += ": ";
        if (!AppendDebug(out, v.map_value(i), max_bytes)) return false;
      }
      out += "}";
      return out.size() <= max_bytes;
    case Kind::kType:
      absl::StrAppend(&out, v.type_name());
      return out.size() <= max_bytes;
    case Kind::kError:
      absl::StrAppend(&out, "error(", absl::StatusCodeToString(v.error_code()), ": ",
                      v.error_message(), ")");
      return out.size() <= max_bytes;
  }
  return false;
}

}  // namespace

std::string Value::DebugString() const {
  std::string out;
  AppendDebug(out, *this, std::numeric_limits<size_t>::max());
  return out;
}

bool Value::AppendDebugString(std::string& out, size_t max_bytes) const {
  return AppendDebug(out, *this, max_bytes);
}

}  // namespace varav::cel
