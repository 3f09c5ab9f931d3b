// Stage 3 and 4: turns an Ast (checked or not) into an executable plan and evaluates it.
//
// The plan is an immutable tree of evaluation steps with variables, functions and constants
// resolved ahead of time as far as the AST and the check result allow, so that evaluation does no
// name lookups beyond the activation's bindings. Evaluation follows CEL semantics exactly: errors
// are values,
// `&&`, `||` and `?:` short-circuit and absorb errors commutatively, comprehensions count their
// iterations and every step its cost against Limits, and nothing throws.
//
// Thread safety: a PlannedExpr is immutable; Evaluate may run concurrently from many threads.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "engine/cel/cel.h"
#include "engine/cel/internal/ast.h"
#include "engine/cel/internal/checker.h"
#include "engine/cel/value.h"

namespace varav::cel {

class PlannedExpr {
 public:
  virtual ~PlannedExpr() = default;
  // `interrupt` may be null.
  virtual Value Evaluate(const Activation& activation, const Limits& limits, EvalStats* stats,
                         const Interrupt* interrupt) const = 0;
};

// `checked` is null when the expression was not type-checked. Fails only on internal errors (an AST
// the parser could not have produced); unsupported constructs such as message construction plan
// into steps that evaluate to an error value.
absl::StatusOr<std::unique_ptr<const PlannedExpr>> Plan(const Ast& ast, const CheckResult* checked,
                                                        const CompileOptions& options);

}  // namespace varav::cel
