#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/cel/cel.h"
#include "engine/cel/checker.h"
#include "engine/cel/parser.h"
#include "engine/cel/planner.h"

namespace varav::cel {

Program::Program(std::unique_ptr<const PlannedExpr> plan, Type result_type, int64_t static_cost,
                 std::string source, Limits limits)
    : plan_(std::move(plan)),
      result_type_(std::move(result_type)),
      static_cost_(static_cost),
      source_(std::move(source)),
      limits_(limits) {}

Program::~Program() = default;

Value Program::Evaluate(const Activation& activation, EvalStats* stats,
                        const Interrupt* interrupt) const {
  return plan_->Evaluate(activation, limits_, stats, interrupt);
}

bool IsInterruption(const Value& v) {
  return v.IsError() && (v.error_code() == absl::StatusCode::kDeadlineExceeded ||
                         v.error_code() == absl::StatusCode::kCancelled);
}

CompileResult Compiler::Compile(absl::string_view expression) const {
  CompileResult result;
  result.source = std::string(expression);
  const Limits& limits = options_.limits;

  ParseResult parsed = Parse(expression, limits);
  if (!parsed.ok()) {
    result.issues = std::move(parsed.issues);
    return result;
  }

  CheckResult checked;
  Type result_type = Type::Dyn();
  int64_t static_cost = 0;
  if (options_.type_check) {
    checked = Check(*env_, parsed.ast, options_);
    if (!checked.ok()) {
      result.issues = std::move(checked.issues);
      return result;
    }
    result_type = checked.result_type;
    static_cost = checked.static_cost;
    if (limits.max_static_cost > 0 && static_cost > limits.max_static_cost) {
      result.issues.push_back(MakeIssue(
          expression, checked.static_cost_offset,
          absl::StrCat("static cost budget exceeded: the estimated cost ", static_cost,
                       " exceeds the limit of ", limits.max_static_cost,
                       " (max_static_cost), so the expression could not finish within the "
                       "runtime cost budget; iterate over fewer or smaller collections")));
      return result;
    }
  }

  absl::StatusOr<std::unique_ptr<const PlannedExpr>> plan =
      Plan(parsed.ast, options_.type_check ? &checked : nullptr, options_);
  if (!plan.ok()) {
    result.issues.push_back(MakeIssue(expression, 0, std::string(plan.status().message())));
    return result;
  }
  result.program = std::shared_ptr<const Program>(
      new Program(*std::move(plan), std::move(result_type), static_cost, result.source, limits));
  return result;
}

}  // namespace varav::cel
