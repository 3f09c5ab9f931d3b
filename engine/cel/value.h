// Runtime values of CEL.
//
// A `Value` is what expressions evaluate to and what an `Activation` binds variables to. Values are
// immutable: copying one is cheap (scalars are stored inline; strings, lists and maps share an
// immutable heap representation with a reference count). A language-level error (division by zero,
// no such key, overflow, a budget exceeded) is itself a `Value` of kind `kError`, never an
// exception or a failed `absl::Status`.
//
// Objects of declared object types (see type.h) are maps keyed by field name at run time.
//
//   Value outputs = Value::Map({{Value::String("vision"), Value::Map({...})}});
//   if (result.kind() == Value::Kind::kBool && result.bool_value()) { ... }
//
// Thread safety: a Value may be read from many threads at once; a shared representation is never
// mutated after construction (Append reuses storage only when it holds the sole reference).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace varav::cel {

class Value {
 public:
  enum class Kind : uint8_t {
    kNull,
    kBool,
    kInt,
    kUint,
    kDouble,
    kString,
    kBytes,
    kDuration,
    kTimestamp,
    kList,
    kMap,
    kType,
    kError,
  };

  Value() = default;  // null
  Value(const Value&) = default;
  Value& operator=(const Value&) = default;
  // A moved-from Value is null.
  Value(Value&& other) noexcept
      : kind_(other.kind_), scalar_(other.scalar_), heap_(std::move(other.heap_)) {
    other.kind_ = Kind::kNull;
  }
  Value& operator=(Value&& other) noexcept {
    if (this != &other) {
      kind_ = other.kind_;
      scalar_ = other.scalar_;
      heap_ = std::move(other.heap_);
      other.kind_ = Kind::kNull;
    }
    return *this;
  }

  static Value Null() { return Value(); }
  static Value Bool(bool v) {
    Value r(Kind::kBool);
    r.scalar_.b = v;
    return r;
  }
  static Value Int(int64_t v) {
    Value r(Kind::kInt);
    r.scalar_.i = v;
    return r;
  }
  static Value Uint(uint64_t v) {
    Value r(Kind::kUint);
    r.scalar_.u = v;
    return r;
  }
  static Value Double(double v) {
    Value r(Kind::kDouble);
    r.scalar_.d = v;
    return r;
  }
  static Value String(std::string v);
  static Value Bytes(std::string v);
  // Durations outside CEL's range (about ±10,000 years, see kMaxDurationSeconds) become an
  // out-of-range error value.
  static Value Duration(absl::Duration v);
  // Timestamps outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z become an out-of-range
  // error value.
  static Value Timestamp(absl::Time v);
  static Value List(std::vector<Value> elements);
  // Keys must be bool, int, uint or string; a key of another kind or a repeated key yields an error
  // value instead of a map.
  static Value Map(std::vector<std::pair<Value, Value>> entries);
  // A type value, named as CEL names types: "int", "list", "map", "null_type",
  // "google.protobuf.Timestamp", "type", or an object type's name.
  static Value Type(std::string name);
  // A language-level error. `code` classifies it (e.g. kInvalidArgument for a bad conversion,
  // kOutOfRange for overflow, kNotFound for a missing key, kResourceExhausted for a budget).
  static Value Error(absl::StatusCode code, std::string message);

  // `list` with `element` appended. Reuses the list's storage when `list` holds the only reference
  // to it, which makes building a list element by element (the `map` and `filter` macros) linear
  // instead of quadratic. `list` must be a list.
  static Value Append(Value list, Value element);

  // `map` with the entry `key` -> `value` added, for the map-building comprehension macros
  // (`transformMap`, `transformMapEntry`). Yields an error value instead when `key` cannot be a
  // map key or an equal key (under CEL's key equality, so 1 and 1u collide) is already present.
  // Reuses the map's storage when `map` holds the only reference to it, like Append. `map` must be
  // a map.
  static Value Insert(Value map, Value key, Value value);

  // CEL's value ranges.
  static constexpr int64_t kMaxDurationSeconds = 315'576'000'000;
  static constexpr int64_t kMinTimestampSeconds = -62'135'596'800;  // 0001-01-01T00:00:00Z
  static constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z
  static bool DurationInRange(absl::Duration d);
  static bool TimestampInRange(absl::Time t);

  Kind kind() const { return kind_; }
  bool IsError() const { return kind_ == Kind::kError; }

  // Accessors; each is valid only for the matching kind (checked with assert in debug builds).
  bool bool_value() const {
    assert(kind_ == Kind::kBool);
    return scalar_.b;
  }
  int64_t int_value() const {
    assert(kind_ == Kind::kInt);
    return scalar_.i;
  }
  uint64_t uint_value() const {
    assert(kind_ == Kind::kUint);
    return scalar_.u;
  }
  double double_value() const {
    assert(kind_ == Kind::kDouble);
    return scalar_.d;
  }
  absl::string_view string_value() const;  // kString and kBytes
  absl::Duration duration_value() const {
    assert(kind_ == Kind::kDuration);
    return absl::Seconds(scalar_.dur.seconds) + absl::Nanoseconds(scalar_.dur.nanos);
  }
  absl::Time timestamp_value() const {
    assert(kind_ == Kind::kTimestamp);
    return absl::FromUnixSeconds(scalar_.dur.seconds) + absl::Nanoseconds(scalar_.dur.nanos);
  }
  absl::string_view type_name() const;
  absl::StatusCode error_code() const;
  absl::string_view error_message() const;

  // Lists and maps: number of elements or entries.
  size_t size() const;
  // The values it holds (itself included) plus the bytes of its strings, counted as if nothing were
  // shared: a list holding one list twice counts that list twice. What walking the value costs
  // (comparing or rendering it), known without walking it. Saturates at kMaxDeepSize.
  int64_t deep_size() const;
  static constexpr int64_t kMaxDeepSize = int64_t{1} << 60;
  // List element `i` (0 <= i < size()).
  const Value& element(size_t i) const;
  // All list elements.
  absl::Span<const Value> elements() const;
  // Map entries in insertion order: key and value of entry `i` (0 <= i < size()).
  const Value& map_key(size_t i) const;
  const Value& map_value(size_t i) const;
  // Map lookup with CEL's key semantics (numeric keys compare across int, uint and double).
  // Returns nullptr when absent.
  const Value* Find(const Value& key) const;
  // Fast path for string keys (object fields). Returns nullptr when absent.
  const Value* FindField(absl::string_view key) const;
  // FindField with `hash` == HashField(key) computed ahead (the planner hashes each field name of
  // an expression once).
  const Value* FindField(absl::string_view key, size_t hash) const;
  // The hash that FindField(key, hash) expects. Valid within one process only; never persist it.
  static size_t HashField(absl::string_view key);

  // CEL equality (heterogeneous numeric equality, deep for lists and maps). Errors are not equal to
  // anything; the evaluator handles error propagation before calling this.
  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

  // A readable rendering for diagnostics and tests, e.g. `[1, "a", {true: 2u}]`.
  std::string DebugString() const;
  // The same appended to `out`, stopping once `out` would grow past `max_bytes`: false then, with
  // `out` holding a prefix of the rendering.
  bool AppendDebugString(std::string& out, size_t max_bytes) const;

 private:
  struct Heap;  // the common base of the shared representations below
  struct StringRep;
  struct ListRep;
  struct MapRep;
  struct TypeRep;
  struct ErrorRep;

  explicit Value(Kind kind) : kind_(kind) {}

  const StringRep& string_rep() const;
  const ListRep& list_rep() const;
  const MapRep& map_rep() const;

  Kind kind_ = Kind::kNull;
  // Durations and timestamps (as the offset from the Unix epoch) are whole seconds (floored) plus
  // nanoseconds in [0, 1e9): both CEL ranges fit inline, and the pair orders lexicographically.
  struct SecondsNanos {
    int64_t seconds;
    int32_t nanos;
    bool operator==(const SecondsNanos&) const = default;
  };
  static SecondsNanos Split(absl::Duration d);
  union Scalar {
    bool b;
    int64_t i = 0;
    uint64_t u;
    double d;
    SecondsNanos dur;
  } scalar_;
  std::shared_ptr<const Heap> heap_;
};

}  // namespace varav::cel
