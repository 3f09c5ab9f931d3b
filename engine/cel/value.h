// Runtime values of CEL.
//
// A `Value` is what expressions evaluate to and what an `Activation` binds variables to. Values are
// immutable: copying one is cheap (scalars are stored inline; strings, lists and maps share an
// immutable heap representation with a reference count). A language-level error (division by zero,
// no such key, overflow, a budget exceeded) is itself a `Value` of kind `kError`, never an exception
// or a failed `absl::Status`.
//
// Objects of declared object types (see type.h) are maps keyed by field name at run time.
//
//   Value outputs = Value::Map({{Value::String("vision"), Value::Map({...})}});
//   if (result.kind() == Value::Kind::kBool && result.bool_value()) { ... }
//
// Thread safety: a Value may be read from many threads at once; it is never mutated after
// construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

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

  static Value Null() { return Value(); }
  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Uint(uint64_t v);
  static Value Double(double v);
  static Value String(std::string v);
  static Value Bytes(std::string v);
  static Value Duration(absl::Duration v);
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

  Kind kind() const { return kind_; }
  bool IsError() const { return kind_ == Kind::kError; }

  // Accessors; each is valid only for the matching kind (checked with assert in debug builds).
  bool bool_value() const;
  int64_t int_value() const;
  uint64_t uint_value() const;
  double double_value() const;
  absl::string_view string_value() const;  // kString and kBytes
  absl::Duration duration_value() const;
  absl::Time timestamp_value() const;
  absl::string_view type_name() const;
  absl::StatusCode error_code() const;
  absl::string_view error_message() const;

  // Lists and maps: number of elements or entries.
  size_t size() const;
  // List element `i` (0 <= i < size()).
  const Value& element(size_t i) const;
  // Map entries in insertion order: key and value of entry `i` (0 <= i < size()).
  const Value& map_key(size_t i) const;
  const Value& map_value(size_t i) const;
  // Map lookup with CEL's key semantics (numeric keys compare across int, uint and double).
  // Returns nullptr when absent.
  const Value* Find(const Value& key) const;
  // Fast path for string keys (object fields). Returns nullptr when absent.
  const Value* FindField(absl::string_view key) const;

  // CEL equality (heterogeneous numeric equality, deep for lists and maps). Errors are not equal to
  // anything; the evaluator handles error propagation before calling this.
  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

  // A readable rendering for diagnostics and tests, e.g. `[1, "a", {true: 2u}]`.
  std::string DebugString() const;

 private:
  struct Heap;  // strings, bytes, lists, maps, types, errors

  Kind kind_ = Kind::kNull;
  union {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
  } scalar_ = {.i = 0};
  // Durations and timestamps span more than int64 nanoseconds can hold (years 1..9999), so the
  // representation is the implementation's choice; see value.cc.
  std::shared_ptr<const Heap> heap_;
};

}  // namespace varav::cel
