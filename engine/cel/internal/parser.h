// Stage 1: CEL source text -> Ast.
//
// Implements the grammar of the CEL language definition (google/cel-spec doc/langdef.md): literals
// (int, uint, double, string and bytes with every escape, raw and triple-quoted strings), lists,
// maps, message-construction syntax (parsed into kStruct), field selection, indexing, calls and
// receiver calls, unary and binary operators with CEL precedence, the ternary, and reserved words.
// Macros are expanded here: has(), all, exists, exists_one, map (2 and 3 arguments), filter, and
// the two-variable comprehensions over a list's index and element or a map's key and value: all,
// exists, existsOne (3 arguments); transformList, transformMap, transformMapEntry (3 and 4).
//
// Limits (source size, nesting depth, node count) are enforced while parsing, with an iterative or
// depth-counted descent so that no input can overflow the stack. Every syntax error becomes an
// Issue with the offset of the offending token; the parser recovers where it can so that one run
// reports several problems.
//
// Thread safety: a pure function.
#pragma once

#include <vector>

#include "absl/strings/string_view.h"
#include "engine/cel/cel.h"
#include "engine/cel/internal/ast.h"
#include "engine/cel/issue.h"

namespace varav::cel {

struct ParseResult {
  Ast ast;                    // root is null when issues is not empty
  std::vector<Issue> issues;  // syntax errors and exceeded limits
  bool ok() const { return issues.empty(); }
};

ParseResult Parse(absl::string_view source, const Limits& limits = {});

}  // namespace varav::cel
