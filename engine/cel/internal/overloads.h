// The function signatures the type checker knows: the CEL standard library (google/cel-spec
// doc/langdef.md, "List of Standard Definitions", with the heterogeneous numeric comparisons and
// the extra conversions the conformance suite relies on), the strings extension
// (doc/extensions/strings.md) and the optional-value functions.
//
// Internal to the checker (checker.h); exposed as a header so that tests and tools can list it.
// Signatures use `Type::Param("A")`-style type parameters; the checker instantiates them with fresh
// type variables for every call it resolves.
//
// Thread safety: the table is built once on first use and is immutable afterwards.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/cel/type.h"

namespace varav::cel {

struct OverloadDecl {
  std::string id;  // e.g. "add_int64", as cel-go names it
  // A receiver-style overload (`"abc".size()`); the receiver is params[0].
  bool member = false;
  std::vector<Type> params;
  Type result;
  bool has_type_params = false;  // some param or the result mentions a Type::Param
};

struct FunctionDecl {
  std::string name;
  std::vector<OverloadDecl> overloads;
};

// Returns the declaration of `name` (an operator such as "_+_" or a function such as "size" or
// "strings.quote"), or nullptr.
const FunctionDecl* FindFunction(absl::string_view name);

}  // namespace varav::cel
