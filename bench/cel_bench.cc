// Micro-benchmarks of Värav's CEL engine on representative gate rules.
//
// Every rule is compiled (BM_Compile/<rule>) and evaluated against a fixed activation built once
// outside the timing loop (BM_Eval/<rule>); BM_EvalParallel runs one rule from two threads on one
// shared Program, which is what the server does. The rules and the data are the same as in
// bench/js/cel_js_bench.mjs so that bench/compare.sh can put the numbers side by side.
//
// Before any timing, every rule must compile and evaluate to `true`; otherwise the binary prints
// what went wrong and exits non-zero. All of Google Benchmark's flags work, e.g.
//
//   build/bench/cel_bench --benchmark_filter=BM_Eval --benchmark_format=json
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/cel/cel.h"
#include "engine/cel/type.h"
#include "engine/cel/value.h"

namespace varav::cel {
namespace {

struct Rule {
  const char* name;
  const char* expression;
};

// Keep in sync with RULES in bench/js/cel_js_bench.mjs.
constexpr Rule kRules[] = {
    {"has", "has(outputs.vision)"},
    {"nested_compare", "outputs.user_research.fields.participant_count > 5"},
    {"all_20",
     "outputs.goals_metrics.fields.kpis.all(k, has(k.baseline) && k.target > k.baseline)"},
    {"matches",
     "outputs.management_plan.fields.decision_ref.matches('^[A-Z]{2,5}-[0-9]{4}/[0-9]+$')"},
    {"conjunction_in",
     "outputs.vision.status == 'accepted' && outputs.management_plan.fields.budget > 10000.0 && "
     "service.stage in ['envision', 'plan'] && size(outputs.team.fields.roles) >= 3"},
};

// The rule whose evaluation BM_EvalParallel runs from two threads.
constexpr const char* kParallelRule = "conjunction_in";

Value Str(const char* s) { return Value::String(s); }

Value Record(std::vector<std::pair<const char*, Value>> fields) {
  std::vector<std::pair<Value, Value>> entries;
  entries.reserve(fields.size());
  for (auto& [key, value] : fields) entries.emplace_back(Str(key), std::move(value));
  return Value::Map(std::move(entries));
}

// One submitted output: {status, fields}.
Value Output(const char* status, std::vector<std::pair<const char*, Value>> fields) {
  return Record({{"status", Str(status)}, {"fields", Record(std::move(fields))}});
}

// The submitted outputs of one service: ten output types. Keep in sync with makeOutputs() in
// bench/js/cel_js_bench.mjs.
Value MakeOutputs() {
  std::vector<Value> kpis;
  for (int i = 0; i < 20; ++i) {
    kpis.push_back(Record({{"name", Value::String("kpi-" + std::to_string(i))},
                           {"baseline", Value::Int(10 * i)},
                           {"target", Value::Int(10 * i + 5)},
                           {"unit", Str("percent")},
                           {"due", Str("2026-06-30")}}));
  }
  return Record({
      {"vision", Output("accepted", {{"statement", Str("Residents file taxes in five minutes")}})},
      {"user_research",
       Output("accepted", {{"participant_count", Value::Int(12)}, {"method", Str("interviews")}})},
      {"goals_metrics", Output("submitted", {{"kpis", Value::List(std::move(kpis))}})},
      {"management_plan", Output("accepted", {{"decision_ref", Str("RIA-2024/17")},
                                              {"budget", Value::Double(250000.0)}})},
      {"team",
       Output("accepted", {{"roles", Value::List({Str("product_owner"), Str("service_designer"),
                                                  Str("developer"), Str("analyst")})}})},
      {"service_design", Output("draft", {{"note", Str("journey maps attached")}})},
      {"accessibility", Output("draft", {{"note", Str("WCAG 2.1 AA audit scheduled")}})},
      {"security", Output("draft", {{"note", Str("threat model in review")}})},
      {"architecture", Output("draft", {{"note", Str("reuses X-Road")}})},
      {"data_protection", Output("draft", {{"note", Str("DPIA pending")}})},
  });
}

Value MakeService() {
  return Record({{"name", Str("tax-filing")}, {"stage", Str("plan")}, {"owner", Str("EMTA")}});
}

Activation MakeActivation() {
  Activation activation;
  activation.Bind("outputs", MakeOutputs());
  activation.Bind("service", MakeService());
  return activation;
}

// What every benchmark shares; built once in main() before any benchmark runs.
struct Fixture {
  std::shared_ptr<const Env> env;
  std::unique_ptr<Compiler> compiler;
  std::vector<std::shared_ptr<const Program>> programs;  // parallel to kRules
  Activation activation;
};

// Deliberately never freed: it lives as long as the process.
Fixture* fixture = nullptr;

// Builds the fixture and checks that every rule compiles and evaluates to true. Returns false
// (after saying why on stderr) otherwise.
bool SetUp() {
  EnvBuilder builder;
  const Type dyn_map = Type::Map(Type::String(), Type::Dyn());
  if (absl::Status s = builder.AddVariable("outputs", dyn_map); !s.ok()) {
    std::fprintf(stderr, "declaring outputs: %s\n", s.ToString().c_str());
    return false;
  }
  if (absl::Status s = builder.AddVariable("service", dyn_map); !s.ok()) {
    std::fprintf(stderr, "declaring service: %s\n", s.ToString().c_str());
    return false;
  }
  absl::StatusOr<std::shared_ptr<const Env>> env = std::move(builder).Build();
  if (!env.ok()) {
    std::fprintf(stderr, "building the environment: %s\n", env.status().ToString().c_str());
    return false;
  }
  auto f = std::make_unique<Fixture>();
  f->env = *std::move(env);
  f->compiler = std::make_unique<Compiler>(f->env);
  f->activation = MakeActivation();
  bool ok = true;
  for (const Rule& rule : kRules) {
    CompileResult r = f->compiler->Compile(rule.expression);
    if (!r.ok()) {
      std::fprintf(stderr, "rule %s does not compile:\n%s\n", rule.name,
                   r.FormattedIssues(rule.name).c_str());
      ok = false;
      f->programs.push_back(nullptr);
      continue;
    }
    Value v = r.program->Evaluate(f->activation);
    if (v.kind() != Value::Kind::kBool || !v.bool_value()) {
      std::fprintf(stderr, "rule %s evaluated to %s, want true\n", rule.name,
                   v.DebugString().c_str());
      ok = false;
    }
    f->programs.push_back(std::move(r.program));
  }
  fixture = f.release();
  return ok;
}

void BM_Compile(benchmark::State& state, const Rule* rule) {
  for (auto _ : state) {
    CompileResult r = fixture->compiler->Compile(rule->expression);
    benchmark::DoNotOptimize(r);
  }
}

void BM_Eval(benchmark::State& state, const Program* program) {
  const Activation& activation = fixture->activation;
  for (auto _ : state) {
    Value v = program->Evaluate(activation);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}

// Each thread owns its Activation (as each server request does) while the Program and the bound
// values' immutable representations are shared. Every result is checked, so that a data race that
// corrupts a result fails the benchmark instead of going unnoticed.
void BM_EvalParallel(benchmark::State& state, const Program* program) {
  Activation activation = MakeActivation();
  int64_t wrong = 0;
  for (auto _ : state) {
    Value v = program->Evaluate(activation);
    wrong += v.kind() != Value::Kind::kBool || !v.bool_value();
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  if (wrong != 0) state.SkipWithError("an evaluation from a second thread was not true");
}

void RegisterAll() {
  for (size_t i = 0; i < std::size(kRules); ++i) {
    const Rule* rule = &kRules[i];
    const Program* program = fixture->programs[i].get();
    benchmark::RegisterBenchmark((std::string("BM_Compile/") + rule->name).c_str(), BM_Compile,
                                 rule);
    benchmark::RegisterBenchmark((std::string("BM_Eval/") + rule->name).c_str(), BM_Eval, program);
    if (std::string(rule->name) == kParallelRule) {
      benchmark::RegisterBenchmark((std::string("BM_EvalParallel/") + rule->name).c_str(),
                                   BM_EvalParallel, program)
          ->Threads(2)
          ->UseRealTime();
    }
  }
}

}  // namespace
}  // namespace varav::cel

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!varav::cel::SetUp()) return 1;
  varav::cel::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
