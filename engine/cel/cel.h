// Värav's CEL engine: compile an expression once, evaluate it many times.
//
// With value.h, type.h and issue.h this is the public API of engine/cel; the stages behind it
// (parse, check, plan, evaluate) live in internal/ and are not for use outside the module.
//
//   EnvBuilder b;
//   b.AddObjectType({"varav.UserResearch", {{"participant_count", Type::Int()}}});
//   b.AddVariable("outputs", Type::Map(Type::String(), Type::Dyn()));
//   absl::StatusOr<std::shared_ptr<const Env>> env = b.Build();
//
//   Compiler compiler(*env);
//   CompileResult r = compiler.Compile("outputs.user_research.fields.participant_count > 5");
//   if (!r.ok()) { std::cerr << r.FormattedIssues(); ... }
//
//   Activation act;
//   act.Bind("outputs", outputs_value);
//   Value v = r.program->Evaluate(act);   // never throws; errors are Value::Kind::kError
//
// Two kinds of failure stay apart: problems in the expression text (syntax, undeclared names, type
// mismatches, limits) are `Issue`s of a `CompileResult`; problems while evaluating (division by
// zero, no such key, overflow, runtime budget) are error *values*. `absl::Status` failures are kept
// for misuse of the API itself (e.g. declaring a variable twice).
//
// Thread safety: `Env`, `Compiler` and `Program` are immutable once built and may be shared across
// threads; `Activation` is a plain value owned by one evaluation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/cel/issue.h"
#include "engine/cel/type.h"
#include "engine/cel/value.h"

namespace varav::cel {

// Limits that keep hostile or careless expressions from exhausting the process. Every runtime
// budget is counted before the work or the allocation it pays for, so no evaluation exceeds one;
// an exceeded budget is an error value whose message names the budget.
struct Limits {
  // Longest accepted expression text, in bytes.
  int32_t max_source_bytes = 100'000;
  // Deepest accepted nesting of the syntax tree (parentheses, operators, calls, literals). Every
  // recursive stage relies on this bound for stack safety.
  int32_t max_nesting_depth = 200;
  // Most syntax-tree nodes after macro expansion.
  int32_t max_nodes = 20'000;
  // Largest accepted static cost estimate (see Program::static_cost); 0 disables the check. The
  // default refuses expressions whose estimate exceeds the runtime cost budget: they could not
  // finish within it on inputs of the assumed sizes.
  int64_t max_static_cost = 10'000'000;
  // Most comprehension iterations in one evaluation (all nested loops together).
  int64_t max_iterations = 1'000'000;
  // Largest runtime cost in one evaluation: one unit per evaluated node, plus the size of the
  // strings and lists that functions walk or build (concatenation, `replace`, `split`, `join`,
  // `format`, ...) and of the values that `==`, `!=` and `in` compare (Value::deep_size).
  int64_t max_runtime_cost = 10'000'000;
  // Most bytes one evaluation allocates for the values it builds (strings, lists, maps), counted
  // before each allocation and never given back: a bound on the evaluation's peak memory. Values
  // bound in the Activation are not counted.
  int64_t max_memory_bytes = 16 << 20;
};

// Stops an evaluation from outside: at `deadline`, or once `cancelled` returns true. Both are
// checked every few thousand cost units, so a stopped evaluation returns within microseconds with
// an error value of code kDeadlineExceeded or kCancelled. Callers tell these apart from the
// expression's own errors (see IsInterruption) and treat them as a failure of the call.
struct Interrupt {
  absl::Time deadline = absl::InfiniteFuture();
  // Optional. Called on the evaluating thread; must be cheap and thread-safe.
  std::function<bool()> cancelled;
};

// Whether `v` is the error value of an interrupted evaluation (deadline or cancellation).
bool IsInterruption(const Value& v);

struct CompileOptions {
  // When false the checker is skipped: every identifier is dyn and only parsing and planning run.
  bool type_check = true;
  // The namespace that qualified names resolve against (CEL "container"), e.g. "varav.v1".
  std::string container;
  Limits limits;
};

// Declarations an expression is checked against: variables, object types and the function library
// (the CEL standard library plus the strings extension). Build with EnvBuilder.
class Env {
 public:
  struct Variable {
    std::string name;
    Type type;
  };

  const Variable* FindVariable(absl::string_view name) const;
  const ObjectType* FindObjectType(absl::string_view name) const;
  const std::vector<Variable>& variables() const { return variables_; }

 private:
  friend class EnvBuilder;
  std::vector<Variable> variables_;
  absl::flat_hash_map<std::string, size_t> variable_index_;
  absl::flat_hash_map<std::string, ObjectType> object_types_;
};

class EnvBuilder {
 public:
  // Declares a variable (may be a qualified name such as "request.auth"). AlreadyExists if declared
  // twice.
  absl::Status AddVariable(std::string name, Type type);
  // Declares an object type. AlreadyExists if declared twice; InvalidArgument for repeated fields.
  absl::Status AddObjectType(ObjectType type);
  // Checks that every object type referenced by a variable or field is declared.
  absl::StatusOr<std::shared_ptr<const Env>> Build() &&;

 private:
  std::shared_ptr<Env> env_ = std::make_shared<Env>();
};

// What one evaluation cost, for budgets and benchmarks.
struct EvalStats {
  int64_t iterations = 0;
  int64_t cost = 0;
  // Bytes allocated for values built by the evaluation (see Limits::max_memory_bytes).
  int64_t memory_bytes = 0;
};

// Variable bindings for one evaluation.
class Activation {
 public:
  void Bind(std::string name, Value value) { vars_[std::move(name)] = std::move(value); }
  // Returns nullptr when `name` is unbound.
  const Value* Find(absl::string_view name) const {
    auto it = vars_.find(name);
    return it == vars_.end() ? nullptr : &it->second;
  }
  // Find with `hash` == HashName(name) computed ahead: a compiled program hashes each variable name
  // once, when it is planned, instead of on every evaluation.
  const Value* Find(absl::string_view name, size_t hash) const {
    auto it = vars_.find(name, hash);
    return it == vars_.end() ? nullptr : &it->second;
  }
  // The hash that Find(name, hash) expects. Valid within one process only (Abseil seeds its hash
  // per process), so never persist it.
  static size_t HashName(absl::string_view name) { return absl::Hash<absl::string_view>{}(name); }

 private:
  absl::flat_hash_map<std::string, Value> vars_;
};

class PlannedExpr;  // planner.h

// A compiled expression: immutable and thread-safe.
class Program {
 public:
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // Evaluates against `activation`. Never fails: a language-level error is a kError value. An
  // unbound variable evaluates to an error value naming it. `interrupt`, when given, may stop the
  // evaluation early (see Interrupt).
  Value Evaluate(const Activation& activation, EvalStats* stats = nullptr,
                 const Interrupt* interrupt = nullptr) const;

  // The checked result type (dyn when unchecked).
  const Type& result_type() const { return result_type_; }
  // An upper-bound estimate of the runtime cost, with list and string sizes assumed to be unknown
  // but bounded (the cost model is documented in internal/checker.cc).
  int64_t static_cost() const { return static_cost_; }
  const std::string& source() const { return source_; }
  // The fields the expression selects of the top-level variable `variable` (every
  // `variable.<field>`, inside has() too), sorted and unique: what a rule reads of `outputs`, say.
  std::vector<std::string> FieldsSelected(absl::string_view variable) const;

 private:
  friend class Compiler;
  Program(std::unique_ptr<const PlannedExpr> plan, Type result_type, int64_t static_cost,
          std::string source, Limits limits,
          std::vector<std::pair<std::string, std::string>> selections);

  std::unique_ptr<const PlannedExpr> plan_;
  Type result_type_;
  int64_t static_cost_ = 0;
  std::string source_;
  Limits limits_;
  // (variable, field) of every selection of a field of a top-level identifier, sorted, unique.
  std::vector<std::pair<std::string, std::string>> selections_;
};

struct CompileResult {
  std::shared_ptr<const Program> program;  // null when issues is not empty
  std::vector<Issue> issues;
  std::string source;

  bool ok() const { return program != nullptr; }
  // Every issue with line, column and a caret excerpt (see issue.h).
  std::string FormattedIssues(absl::string_view description = "<input>") const {
    return FormatIssues(source, issues, description);
  }
};

class Compiler {
 public:
  explicit Compiler(std::shared_ptr<const Env> env, CompileOptions options = {})
      : env_(std::move(env)), options_(std::move(options)) {}

  // Parses, checks and plans `expression`. Thread-safe.
  CompileResult Compile(absl::string_view expression) const;

  const Env& env() const { return *env_; }
  const CompileOptions& options() const { return options_; }

 private:
  std::shared_ptr<const Env> env_;
  CompileOptions options_;
};

}  // namespace varav::cel
