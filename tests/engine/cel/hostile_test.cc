// Hostile and careless expressions against the runtime budgets (cel::Limits) and the interrupt:
// each must end with a clear error that names the budget, having allocated no more than the memory
// budget allows, instead of exhausting the process. The expressions are those an outside client
// used to take a server down, and their relatives.

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/cel/cel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cel {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const Env> StringsEnv() {
  static const auto* const env = [] {
    EnvBuilder b;
    (void)b.AddVariable("s", Type::String());
    (void)b.AddVariable("xs", Type::List(Type::Int()));
    return new std::shared_ptr<const Env>(*std::move(b).Build());
  }();
  return *env;
}

CompileResult CompileWith(absl::string_view expr, const Limits& limits, bool type_check = false) {
  CompileOptions options;
  options.type_check = type_check;
  options.limits = limits;
  return Compiler(StringsEnv(), options).Compile(expr);
}

// `["foo","bar"].map(x, [x+x, x+x])` applied `n` times: every application quadruples the values
// the result holds while sharing them, so its logical size is 4^n.
std::string Doubling(int n) {
  std::string e = R"(["foo", "bar"])";
  for (int i = 0; i < n; ++i) e = absl::StrCat(e, ".map(x, [x + x, x + x])");
  return e;
}

struct Outcome {
  Value value;
  EvalStats stats;
  absl::Duration elapsed;
};

Outcome Evaluate(absl::string_view expr, const Activation& activation = {},
                 const Limits& limits = {}, const Interrupt* interrupt = nullptr) {
  CompileResult r = CompileWith(expr, limits);
  EXPECT_TRUE(r.ok()) << expr << "\n" << r.FormattedIssues();
  Outcome out;
  if (!r.ok()) return out;
  const absl::Time start = absl::Now();
  out.value = r.program->Evaluate(activation, &out.stats, interrupt);
  out.elapsed = absl::Now() - start;
  return out;
}

// The evaluation ended with a budget error naming `budget`, within the memory budget, and in a
// bounded time (a generous bound: without the budgets these run for minutes or abort).
void ExpectBudgetError(const Outcome& o, absl::string_view budget) {
  ASSERT_TRUE(o.value.IsError()) << o.value.DebugString().substr(0, 200);
  EXPECT_EQ(o.value.error_code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(o.value.error_message()), HasSubstr(std::string(budget)));
  EXPECT_LT(o.elapsed, absl::Seconds(20));
}

TEST(HostileExpressionTest, DoublingMapsShareTheirValuesAndRenderOnlyWithinABound) {
  // Built cheaply (the values are shared), but 4^30 values when walked: only a bounded rendering
  // may touch it.
  Outcome o = Evaluate(Doubling(30));
  ASSERT_EQ(o.value.kind(), Value::Kind::kList);
  EXPECT_LT(o.stats.memory_bytes, 1 << 20);
  EXPECT_EQ(o.value.deep_size(), Value::kMaxDeepSize);
  std::string out;
  EXPECT_FALSE(o.value.AppendDebugString(out, 1 << 20));
  EXPECT_LE(out.size(), (1u << 20) + 64);
}

TEST(HostileExpressionTest, FormattingAHugeValueStopsAtTheBudget) {
  Outcome o = Evaluate(absl::StrCat("'%s'.format([", Doubling(14), "])"));
  ExpectBudgetError(o, "budget exceeded");
  EXPECT_LE(o.stats.memory_bytes, Limits{}.max_memory_bytes + (1 << 20));
}

TEST(HostileExpressionTest, ComparingHugeValuesIsChargedBeforeTheWalk) {
  // Both sides are built within the budgets (they share their storage); walking them is not.
  Limits limits;
  limits.max_memory_bytes = 64 << 20;
  for (const char* op : {"==", "!="}) {
    SCOPED_TRACE(op);
    Outcome o = Evaluate(absl::StrCat(Doubling(12), " ", op, " ", Doubling(12)), {}, limits);
    ExpectBudgetError(o, "runtime cost budget exceeded");
  }
  Outcome in = Evaluate(absl::StrCat(Doubling(11), " in [", Doubling(11), "]"), {}, limits);
  ExpectBudgetError(in, "runtime cost budget exceeded");
}

TEST(HostileExpressionTest, ComparingSmallValuesStillWorks) {
  Outcome o = Evaluate(absl::StrCat(Doubling(3), " == ", Doubling(3)));
  ASSERT_EQ(o.value.kind(), Value::Kind::kBool) << o.value.DebugString();
  EXPECT_TRUE(o.value.bool_value());
}

TEST(HostileExpressionTest, ReplaceChainsStopBeforeAllocating) {
  // Each replace multiplies the length by 100: 10^2, 10^4, ... far past the budget.
  std::string e = "'aaaaaaaaaa'";
  for (int i = 0; i < 8; ++i) e = absl::StrCat(e, ".replace('a', '", std::string(100, 'a'), "')");
  Outcome o = Evaluate(e);
  ExpectBudgetError(o, "budget exceeded");
  EXPECT_LE(o.stats.memory_bytes, Limits{}.max_memory_bytes + (1 << 20));

  // One replace whose result would be 2.7·10^10 characters: refused from its computed size.
  Activation act;
  act.Bind("s", Value::String(std::string(3'000'000, 'a')));
  Outcome huge = Evaluate(absl::StrCat("s.replace('a', '", std::string(9000, 'b'), "')"), act);
  ExpectBudgetError(huge, "budget exceeded");
  EXPECT_LE(huge.stats.memory_bytes, Limits{}.max_memory_bytes + (1 << 20));
}

TEST(HostileExpressionTest, SplittingIntoMillionsOfPartsStopsAtTheMemoryBudget) {
  Activation act;
  act.Bind("s", Value::String(std::string(9'000'000, 'x')));
  Outcome o = Evaluate("s.split('').size() > 0", act);
  ExpectBudgetError(o, "memory budget exceeded");
  EXPECT_LE(o.stats.memory_bytes, 2 * Limits{}.max_memory_bytes);
}

TEST(HostileExpressionTest, JoinAndConcatenationAreBoundedByTheirResults) {
  Activation act;
  act.Bind("s", Value::String(std::string(4'000'000, 'x')));
  ExpectBudgetError(Evaluate("[s, s, s, s, s].join('-').size() > 0", act),
                    "memory budget exceeded");
  ExpectBudgetError(Evaluate("(s + s + s + s + s).size() > 0", act), "budget exceeded");
}

TEST(HostileExpressionTest, BuildingHugeListsInLoopsStopsAtABudget) {
  Activation act;
  std::vector<Value> xs;
  for (int i = 0; i < 1000; ++i) xs.push_back(Value::Int(i));
  act.Bind("xs", Value::List(xs));
  ExpectBudgetError(Evaluate("xs.map(x, xs.map(y, xs)).size() > 0", act), "budget exceeded");
}

TEST(HostileExpressionTest, TheMemoryBudgetIsConfigurable) {
  Limits tight;
  tight.max_memory_bytes = 1000;
  // 20, then 460, then 4,600 bytes: the third string is over the 1,000 bytes.
  Outcome o = Evaluate(
      "'x'.replace('x', 'yyyyyyyyyyyyyyyyyyyy').replace('y', 'zzzzzzzzzzzzzzzzzzzzzzz')"
      ".replace('z', 'wwwwwwwwww')",
      {}, tight);
  ExpectBudgetError(o, "memory budget exceeded");
  EXPECT_THAT(std::string(o.value.error_message()), HasSubstr("1000 bytes (max_memory_bytes)"));
}

TEST(HostileExpressionTest, ADeadlineStopsAnEvaluationThatFitsItsBudgets) {
  Limits generous;
  generous.max_iterations = int64_t{1} << 40;
  generous.max_runtime_cost = int64_t{1} << 50;
  Activation act;
  std::vector<Value> xs;
  for (int i = 0; i < 2000; ++i) xs.push_back(Value::Int(i));
  act.Bind("xs", Value::List(xs));
  const Interrupt interrupt{.deadline = absl::Now() + absl::Milliseconds(100)};
  Outcome o =
      Evaluate("xs.all(x, xs.all(y, xs.all(z, x + y + z >= 0)))", act, generous, &interrupt);
  ASSERT_TRUE(o.value.IsError()) << o.value.DebugString();
  EXPECT_EQ(o.value.error_code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(o.value.error_message()), HasSubstr("deadline"));
  EXPECT_TRUE(IsInterruption(o.value));
  EXPECT_LT(o.elapsed, absl::Seconds(10));
}

TEST(HostileExpressionTest, CancellationStopsAnEvaluation) {
  Limits generous;
  generous.max_iterations = int64_t{1} << 40;
  generous.max_runtime_cost = int64_t{1} << 50;
  Activation act;
  std::vector<Value> xs;
  for (int i = 0; i < 2000; ++i) xs.push_back(Value::Int(i));
  act.Bind("xs", Value::List(xs));
  int polls = 0;
  const Interrupt interrupt{.cancelled = [&polls] { return ++polls > 3; }};
  Outcome o = Evaluate("xs.all(x, xs.all(y, x + y >= 0))", act, generous, &interrupt);
  ASSERT_TRUE(o.value.IsError()) << o.value.DebugString();
  EXPECT_EQ(o.value.error_code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(IsInterruption(o.value));
  EXPECT_GT(polls, 3);
}

TEST(HostileExpressionTest, AnInterruptThatNeverFiresChangesNothing) {
  const Interrupt interrupt{.deadline = absl::Now() + absl::Hours(1),
                            .cancelled = [] { return false; }};
  Outcome o = Evaluate("[1, 2, 3].map(x, x * 2) == [2, 4, 6]", {}, {}, &interrupt);
  ASSERT_EQ(o.value.kind(), Value::Kind::kBool) << o.value.DebugString();
  EXPECT_TRUE(o.value.bool_value());
  EXPECT_FALSE(IsInterruption(Value::Error(absl::StatusCode::kResourceExhausted, "budget")));
}

TEST(HostileExpressionTest, RefusesAtCompileTimeWhatCannotFinishWithinTheBudget) {
  // Four nested loops over 100 elements: 10^8 iterations in 60 bytes.
  const std::string source = "xs.all(a, xs.all(b, xs.all(c, xs.all(d, a + b + c + d >= 0))))";
  CompileResult r = CompileWith(source, Limits{}, /*type_check=*/true);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.issues.size(), 1u);
  EXPECT_THAT(r.issues[0].message, HasSubstr("static cost budget exceeded"));
  EXPECT_THAT(r.issues[0].message, HasSubstr("max_static_cost"));
  // The issue points at the innermost loop whose estimate alone is over the limit (the
  // outermost here), not at the whole expression's start by accident.
  EXPECT_EQ(r.issues[0].line, 1);
  EXPECT_GE(r.issues[0].column, 1);
  // Two loops fit (three nested loops over lists of the assumed 100 elements take about 10^7
  // cost units, as much as the runtime budget).
  EXPECT_TRUE(CompileWith("xs.all(a, xs.all(b, a + b >= 0))", Limits{}, true).ok());
  // 0 turns the check off.
  Limits off;
  off.max_static_cost = 0;
  EXPECT_TRUE(CompileWith(source, off, true).ok());
}

TEST(HostileExpressionTest, ParsesDurationsWithHugeNumbersWithoutOverflow) {
  const std::string digits(400, '5');
  for (const std::string& text :
       {absl::StrCat("0h", digits, "h"), absl::StrCat(digits, "h", digits, "m"),
        absl::StrCat("-", digits, ".", digits, "h")}) {
    Outcome o = Evaluate(absl::StrCat("duration('", text, "')"));
    ASSERT_TRUE(o.value.IsError()) << text;
    EXPECT_EQ(o.value.error_code(), absl::StatusCode::kOutOfRange) << o.value.error_message();
  }
}

TEST(HostileExpressionTest, FormatsFixedPointNumbersInFull) {
  Outcome o = Evaluate("'%.999f'.format([1e308])");
  ASSERT_EQ(o.value.kind(), Value::Kind::kString) << o.value.DebugString();
  // 309 integer digits, the point and 999 decimals.
  EXPECT_EQ(o.value.string_value().size(), 1309u);
  Outcome e = Evaluate("'%.999e'.format([-1e-308])");
  ASSERT_EQ(e.value.kind(), Value::Kind::kString) << e.value.DebugString();
  EXPECT_EQ(e.value.string_value().size(), 1007u);  // "-1." 999 digits "e-308"
}

TEST(HostileExpressionTest, BoundedRenderingStopsAtItsLimit) {
  Outcome o = Evaluate(Doubling(6));
  ASSERT_EQ(o.value.kind(), Value::Kind::kList) << o.value.DebugString().substr(0, 100);
  std::string out;
  EXPECT_FALSE(o.value.AppendDebugString(out, 1000));
  EXPECT_LE(out.size(), 1100u);
  std::string all;
  EXPECT_TRUE(o.value.AppendDebugString(all, 1 << 24));
  EXPECT_EQ(all, o.value.DebugString());
  // deep_size counts the shared values as often as they occur.
  EXPECT_GT(o.value.deep_size(), int64_t{4096});
}

}  // namespace
}  // namespace varav::cel
