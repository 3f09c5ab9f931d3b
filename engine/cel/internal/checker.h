// Stage 2: type-checks an Ast against an Env.
//
// Resolves identifiers (including qualified names such as `a.b.c` where `a.b` is a declared
// variable, and the CEL container), checks every call against the overloads of the standard library
// and the strings extension, infers types through lists, maps, macros and type parameters, and
// gives object types their declared fields: selecting an undeclared field of an object type is an
// issue. `dyn` defers checks to run time.
//
// Also estimates the static cost of the expression (see Limits::max_static_cost).
//
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/cel/cel.h"
#include "engine/cel/internal/ast.h"
#include "engine/cel/issue.h"
#include "engine/cel/type.h"

namespace varav::cel {

struct CheckResult {
  // The type of every node, by id.
  absl::flat_hash_map<ExprId, Type> types;
  // For kIdent and kSelect nodes that name a declared variable or a type (after container and
  // qualified-name resolution): the fully qualified name. A kSelect listed here is a variable
  // reference, not a field selection; the planner must look the name up as a whole.
  absl::flat_hash_map<ExprId, std::string> references;
  Type result_type;
  // Upper bound of the runtime cost under the cost model in checker.cc.
  int64_t static_cost = 0;
  // Where the estimate first exceeds Limits::max_static_cost: the byte offset of the innermost
  // subexpression whose own estimate is over the limit (0 when none is).
  int32_t static_cost_offset = 0;
  std::vector<Issue> issues;
  bool ok() const { return issues.empty(); }
};

CheckResult Check(const Env& env, const Ast& ast, const CompileOptions& options);

}  // namespace varav::cel
