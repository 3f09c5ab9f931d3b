// libFuzzer entry point for the CEL engine: every input is compiled as an expression, with and
// without type checking, and evaluated against a fixed set of bindings. The only oracle is the
// sanitizers: the engine must never crash, leak, overflow the stack or hit undefined behaviour,
// whatever the text, because rule expressions are untrusted input. The parser is also run on its
// own with tight limits and its trees are printed, to reach the limit paths and the printers.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/cel/cel.h"
#include "engine/cel/internal/ast_debug.h"
#include "engine/cel/internal/parser.h"

namespace varav::cel {
namespace {

// Small budgets keep each run fast: exponential macros hit them instead of the fuzzer's timeout.
Limits FuzzLimits() {
  Limits limits;
  limits.max_source_bytes = 4096;
  limits.max_iterations = 10'000;
  limits.max_runtime_cost = 100'000;
  limits.max_memory_bytes = 1 << 20;
  limits.max_static_cost = 1'000'000;
  return limits;
}

std::shared_ptr<const Env> MakeEnv() {
  EnvBuilder b;
  (void)b.AddObjectType({"varav.Doc",
                         {{"name", Type::String()},
                          {"count", Type::Int()},
                          {"score", Type::Double()},
                          {"tags", Type::List(Type::String())},
                          {"meta", Type::Map(Type::String(), Type::Dyn())},
                          {"child", Type::Object("varav.Doc")}}});
  (void)b.AddVariable("i", Type::Int());
  (void)b.AddVariable("u", Type::Uint());
  (void)b.AddVariable("d", Type::Double());
  (void)b.AddVariable("s", Type::String());
  (void)b.AddVariable("b", Type::Bytes());
  (void)b.AddVariable("flag", Type::Bool());
  (void)b.AddVariable("l", Type::List(Type::Int()));
  (void)b.AddVariable("m", Type::Map(Type::String(), Type::Int()));
  (void)b.AddVariable("doc", Type::Object("varav.Doc"));
  (void)b.AddVariable("x", Type::Dyn());
  (void)b.AddVariable("t", Type::Timestamp());
  (void)b.AddVariable("dur", Type::Duration());
  (void)b.AddVariable("request.auth", Type::Map(Type::String(), Type::String()));
  absl::StatusOr<std::shared_ptr<const Env>> env = std::move(b).Build();
  if (!env.ok()) __builtin_trap();  // the declarations above are a bug in this file
  return *env;
}

Activation MakeActivation() {
  Activation act;
  act.Bind("i", Value::Int(-7));
  act.Bind("u", Value::Uint(7));
  act.Bind("d", Value::Double(2.5));
  act.Bind("s", Value::String("h\u00e9llo"));
  act.Bind("b", Value::Bytes(std::string("\x00\xff", 2)));
  act.Bind("flag", Value::Bool(true));
  act.Bind("l", Value::List({Value::Int(1), Value::Int(2), Value::Int(3)}));
  act.Bind("m",
           Value::Map({{Value::String("a"), Value::Int(1)}, {Value::String("b"), Value::Int(2)}}));
  Value child = Value::Map(
      {{Value::String("name"), Value::String("leaf")}, {Value::String("count"), Value::Int(0)}});
  act.Bind("doc", Value::Map({{Value::String("name"), Value::String("root")},
                              {Value::String("count"), Value::Int(3)},
                              {Value::String("score"), Value::Double(0.5)},
                              {Value::String("tags"), Value::List({Value::String("x")})},
                              {Value::String("meta"), Value::Map({})},
                              {Value::String("child"), child}}));
  act.Bind("x", Value::List({Value::Null(), Value::Bool(false), Value::String("y")}));
  act.Bind("t", Value::Timestamp(absl::FromUnixSeconds(1'700'000'000)));
  act.Bind("dur", Value::Duration(absl::Seconds(90)));
  act.Bind("request.auth", Value::Map({{Value::String("user"), Value::String("mari")}}));
  return act;
}

struct Fixture {
  std::shared_ptr<const Env> env = MakeEnv();
  Compiler checked{env, CompileOptions{.type_check = true, .limits = FuzzLimits()}};
  Compiler unchecked{env, CompileOptions{.type_check = false, .limits = FuzzLimits()}};
  Activation activation = MakeActivation();
};

void Run(const Compiler& compiler, absl::string_view expr, const Activation& activation) {
  CompileResult r = compiler.Compile(expr);
  if (!r.ok()) {
    (void)r.FormattedIssues();
    return;
  }
  // Every evaluation goes through the interrupt's polling (a deadline that never passes) and
  // renders its value within a bound, as EvaluateExpression does.
  static const Interrupt kInterrupt{.deadline = absl::InfiniteFuture(),
                                    .cancelled = [] { return false; }};
  EvalStats stats;
  Value v = r.program->Evaluate(activation, &stats, &kInterrupt);
  std::string rendered;
  (void)v.AppendDebugString(rendered, 1 << 16);
}

}  // namespace
}  // namespace varav::cel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace varav::cel;
  static const Fixture* fixture = new Fixture();
  const absl::string_view expr(reinterpret_cast<const char*>(data), size);

  Limits tight;
  tight.max_nesting_depth = 8;
  tight.max_nodes = 64;
  ParseResult parsed = Parse(expr, tight);
  if (parsed.ok()) {
    (void)CompactString(*parsed.ast.root);
    (void)DebugString(*parsed.ast.root);
  } else {
    (void)FormatIssues(expr, parsed.issues);
  }

  Run(fixture->checked, expr, fixture->activation);
  Run(fixture->unchecked, expr, fixture->activation);
  return 0;
}
