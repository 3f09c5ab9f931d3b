// The CEL abstract syntax tree shared by the parser, the checker and the planner.
//
// The parser produces an `Ast`; macros (`has`, `all`, `exists`, `exists_one`, `map`, `filter`, and
// the two-variable forms `all`, `exists`, `existsOne`, `transformList`, `transformMap`,
// `transformMapEntry`) are already expanded into `Select{test_only}` and `Comprehension` nodes,
// exactly as the CEL specification's "Macros" section describes, so later stages see only the
// eight node kinds below.
// Operators are calls with the specification's function names (see `op` below).
//
// Every node has a unique id (> 0) and the byte offset of its first character in the source; the
// checker records a type per id. An `Ast` is built once and is then read-only; it is movable but
// not copyable. Nesting depth is bounded by `Limits::max_nesting_depth`, checked by the parser, so
// every recursive walk over an `Ast` that the parser accepted is stack-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace varav::cel {

using ExprId = int64_t;

// Operator and built-in function names as the CEL specification spells them.
namespace op {
inline constexpr absl::string_view kConditional = "_?_:_";
inline constexpr absl::string_view kLogicalAnd = "_&&_";
inline constexpr absl::string_view kLogicalOr = "_||_";
inline constexpr absl::string_view kLogicalNot = "!_";
inline constexpr absl::string_view kEquals = "_==_";
inline constexpr absl::string_view kNotEquals = "_!=_";
inline constexpr absl::string_view kLess = "_<_";
inline constexpr absl::string_view kLessEquals = "_<=_";
inline constexpr absl::string_view kGreater = "_>_";
inline constexpr absl::string_view kGreaterEquals = "_>=_";
inline constexpr absl::string_view kAdd = "_+_";
inline constexpr absl::string_view kSubtract = "_-_";
inline constexpr absl::string_view kMultiply = "_*_";
inline constexpr absl::string_view kDivide = "_/_";
inline constexpr absl::string_view kModulo = "_%_";
inline constexpr absl::string_view kNegate = "-_";
inline constexpr absl::string_view kIndex = "_[_]";
inline constexpr absl::string_view kIn = "@in";
// Used by the `all`/`exists` expansions: true unless the argument is exactly `false`.
inline constexpr absl::string_view kNotStrictlyFalse = "@not_strictly_false";
// Used by the `transformMap` and `transformMapEntry` expansions: `cel.@mapInsert(map, key, value)`
// and `cel.@mapInsert(map, entries)` add to the accumulated map (a repeated key is an error). The
// '@' keeps authors from calling it directly.
inline constexpr absl::string_view kMapInsert = "cel.@mapInsert";
}  // namespace op

// A literal. `Bytes` is distinct from `std::string` so the two literal kinds stay apart.
struct Bytes {
  std::string value;
  bool operator==(const Bytes&) const = default;
};
struct NullLiteral {
  bool operator==(const NullLiteral&) const = default;
};
using Constant = std::variant<NullLiteral, bool, int64_t, uint64_t, double, std::string, Bytes>;

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// One node. A single struct with a kind tag keeps walking code short; only the members listed for a
// kind are meaningful.
struct Expr {
  enum class Kind : uint8_t {
    kConstant,       // constant
    kIdent,          // name (may be qualified, e.g. "a.b" after the checker resolves it)
    kSelect,         // operand.name; test_only for has(operand.name)
    kCall,           // name(args) or operand.name(args) when operand (the receiver) is set
    kList,           // [args...]
    kMap,            // {entries...}
    kStruct,         // name{field: value, ...}: parsed, but message construction is not supported
    kComprehension,  // see the CEL specification's comprehension semantics
  };

  struct Entry {
    ExprId id = 0;
    int32_t offset = 0;
    ExprPtr key;  // kMap: the key expression; kStruct: unused (see field)
    std::string field;
    ExprPtr value;
    bool optional = false;  // `?key: value` (optional entries; the parser may reject them)
  };

  Kind kind = Kind::kConstant;
  ExprId id = 0;
  int32_t offset = 0;

  Constant constant;
  std::string name;
  ExprPtr operand;
  bool test_only = false;
  std::vector<ExprPtr> args;
  std::vector<Entry> entries;

  // kComprehension
  std::string iter_var;
  std::string iter_var2;  // empty unless a two-variable comprehension
  std::string accu_var;
  ExprPtr iter_range;
  ExprPtr accu_init;
  ExprPtr loop_condition;
  ExprPtr loop_step;
  ExprPtr result;
};

// A parsed expression with its source text (for positions and error excerpts).
struct Ast {
  ExprPtr root;
  std::string source;
  int64_t node_count = 0;
  // For macro calls: the id of the expanded node -> the macro's name ("all", "has", ...); lets the
  // cost estimator and error messages speak of the macro the author wrote.
  absl::flat_hash_map<ExprId, std::string> macro_calls;
};

}  // namespace varav::cel
