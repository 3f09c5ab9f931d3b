// Human-readable renderings of a CEL syntax tree, for tests and debugging.
//
// `CompactString` gives one line in a CEL-like notation with operators as calls:
//   _+_(a, _*_(b, 2))      a.b~test-only~      x.f(y)      [1, 2]      {"k": v}      T{f: 1}
//   __comprehension__(x, range, @result, init, condition, step, result)
// `DebugString` gives the multi-line format of cel-go's debug printer, with every node adorned with
// its kind (e.g. `a^#*expr.Expr_IdentExpr#`), so trees can be compared with published expectations.
//
// Not for production output: the formats may change. Recursive, so only for trees the parser
// accepted (their depth is bounded by Limits::max_nesting_depth).
// Thread safety: pure functions.
#pragma once

#include <string>

#include "engine/cel/internal/ast.h"

namespace varav::cel {

std::string CompactString(const Expr& expr);
std::string DebugString(const Expr& expr);

// A constant as a CEL literal (strings quoted with escapes, bytes with a b prefix, uints with u).
std::string ConstantString(const Constant& constant);

}  // namespace varav::cel
