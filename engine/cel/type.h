// CEL types as the type checker sees them, and the declarations an environment is built from.
//
// `Type` is a small immutable value (cheap to copy: parameters are shared). Users declare variables
// with these types (`Type::Int()`, `Type::List(Type::String())`, `Type::Map(...)`,
// `Type::Object("varav.Output")`, `Type::Dyn()`), and object types with named fields
// (`ObjectType`). At run time an object is represented by a map value keyed by field name; the
// checker is what gives it a fixed set of typed fields.
//
// Thread safety: immutable after construction; safe to share across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace varav::cel {

class Type {
 public:
  enum class Kind : uint8_t {
    kDyn,
    kNull,
    kBool,
    kInt,
    kUint,
    kDouble,
    kString,
    kBytes,
    kDuration,
    kTimestamp,
    kList,       // params[0] = element
    kMap,        // params[0] = key, params[1] = value
    kObject,     // name = the object type's name
    kType,       // a type value; params[0] = the type it denotes (or dyn)
    kTypeParam,  // a type variable of an overload signature; name = variable name
    kOpaque,     // a named type with parameters (e.g. optional_type), name = its name
    kError,      // the checker could not type this node; an issue was reported
  };

  Type() = default;  // dyn

  static Type Dyn() { return Type(Kind::kDyn); }
  static Type Null() { return Type(Kind::kNull); }
  static Type Bool() { return Type(Kind::kBool); }
  static Type Int() { return Type(Kind::kInt); }
  static Type Uint() { return Type(Kind::kUint); }
  static Type Double() { return Type(Kind::kDouble); }
  static Type String() { return Type(Kind::kString); }
  static Type Bytes() { return Type(Kind::kBytes); }
  static Type Duration() { return Type(Kind::kDuration); }
  static Type Timestamp() { return Type(Kind::kTimestamp); }
  static Type Error() { return Type(Kind::kError); }
  static Type List(Type element);
  static Type Map(Type key, Type value);
  static Type Object(std::string name);
  static Type TypeOf(Type denoted);
  static Type Param(std::string name);
  static Type Opaque(std::string name, std::vector<Type> params);

  Kind kind() const { return kind_; }
  // Object, type-parameter and opaque names; empty otherwise.
  const std::string& name() const;
  const std::vector<Type>& params() const;
  // Convenience accessors; valid only for the matching kind.
  const Type& element() const { return params()[0]; }
  const Type& key() const { return params()[0]; }
  const Type& value() const { return params()[1]; }

  // Structural equality (dyn equals only dyn).
  bool operator==(const Type& other) const;
  bool operator!=(const Type& other) const { return !(*this == other); }

  // The CEL spelling: "int", "list(string)", "map(string, dyn)", "varav.Output", "type(int)".
  std::string DebugString() const;

 private:
  struct Rep;
  explicit Type(Kind kind) : kind_(kind) {}
  Type(Kind kind, std::shared_ptr<const Rep> rep) : kind_(kind), rep_(std::move(rep)) {}

  Kind kind_ = Kind::kDyn;
  std::shared_ptr<const Rep> rep_;  // null for the parameterless kinds
};

// A named object type with typed fields, e.g. the schema of one output type of a rule pack.
struct ObjectField {
  std::string name;
  Type type;
};
struct ObjectType {
  std::string name;
  std::vector<ObjectField> fields;
};

}  // namespace varav::cel
