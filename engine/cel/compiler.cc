#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/cel/cel.h"
#include "engine/cel/internal/checker.h"
#include "engine/cel/internal/parser.h"
#include "engine/cel/internal/planner.h"

namespace varav::cel {

Program::Program(std::unique_ptr<const PlannedExpr> plan, Type result_type, int64_t static_cost,
                 std::string source, Limits limits,
                 std::vector<std::pair<std::string, std::string>> selections)
    : plan_(std::move(plan)),
      result_type_(std::move(result_type)),
      static_cost_(static_cost),
      source_(std::move(source)),
      limits_(limits),
      selections_(std::move(selections)) {}

std::vector<std::string> Program::FieldsSelected(absl::string_view variable) const {
  std::vector<std::string> fields;
  for (const auto& [v, field] : selections_) {
    if (v == variable) fields.push_back(field);
  }
  return fields;
}

namespace {

// Every `ident.field` of the tree (including inside has(), which parses as a select).
void CollectSelections(const Expr* e, std::set<std::pair<std::string, std::string>>& out) {
  if (e == nullptr) return;
  if (e->kind == Expr::Kind::kSelect && e->operand != nullptr &&
      e->operand->kind == Expr::Kind::kIdent) {
    out.emplace(e->operand->name, e->name);
  }
  CollectSelections(e->operand.get(), out);
  for (const ExprPtr& a : e->args) CollectSelections(a.get(), out);
  for (const Expr::Entry& en : e->entries) {
    CollectSelections(en.key.get(), out);
    CollectSelections(en.value.get(), out);
  }
  CollectSelections(e->iter_range.get(), out);
  CollectSelections(e->accu_init.get(), out);
  CollectSelections(e->loop_condition.get(), out);
  CollectSelections(e->loop_step.get(), out);
  CollectSelections(e->result.get(), out);
}

}  // namespace

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
  std::set<std::pair<std::string, std::string>> selections;
  CollectSelections(parsed.ast.root.get(), selections);
  result.program = std::shared_ptr<const Program>(
      new Program(*std::move(plan), std::move(result_type), static_cost, result.source, limits,
                  {selections.begin(), selections.end()}));
  return result;
}

}  // namespace varav::cel
