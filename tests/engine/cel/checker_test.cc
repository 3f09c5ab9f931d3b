#include "engine/cel/internal/checker.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/cel/cel.h"
#include "engine/cel/internal/parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

std::shared_ptr<const Env> MakeEnv() {
  EnvBuilder b;
  EXPECT_TRUE(b.AddObjectType(
                   {"varav.UserResearch",
                    {{"participant_count", Type::Int()}, {"methods", Type::List(Type::String())}}})
                  .ok());
  EXPECT_TRUE(
      b.AddObjectType({"varav.Outputs", {{"user_research", Type::Object("varav.UserResearch")}}})
          .ok());
  EXPECT_TRUE(b.AddVariable("outputs", Type::Object("varav.Outputs")).ok());
  EXPECT_TRUE(b.AddVariable("outputs_by_name",
                            Type::Map(Type::String(), Type::Object("varav.UserResearch")))
                  .ok());
  EXPECT_TRUE(b.AddVariable("xs", Type::List(Type::Int())).ok());
  EXPECT_TRUE(b.AddVariable("names", Type::List(Type::String())).ok());
  EXPECT_TRUE(b.AddVariable("d", Type::Dyn()).ok());
  EXPECT_TRUE(b.AddVariable("s", Type::String()).ok());
  EXPECT_TRUE(b.AddVariable("request.auth.claims", Type::Map(Type::String(), Type::String())).ok());
  EXPECT_TRUE(b.AddVariable("request", Type::Map(Type::String(), Type::Dyn())).ok());
  EXPECT_TRUE(b.AddVariable("varav.v1.threshold", Type::Int()).ok());
  EXPECT_TRUE(b.AddVariable("varav.limit", Type::Uint()).ok());
  auto env = std::move(b).Build();
  EXPECT_TRUE(env.ok()) << env.status();
  return *env;
}

struct Checked {
  ParseResult parsed;
  CheckResult checked;
};

Checked CheckSource(const std::string& source, const std::string& container = "") {
  static const std::shared_ptr<const Env> env = MakeEnv();
  Checked out;
  out.parsed = Parse(source);
  EXPECT_TRUE(out.parsed.ok()) << source << ": " << FormatIssues(source, out.parsed.issues);
  CompileOptions options;
  options.container = container;
  if (out.parsed.ok()) out.checked = Check(*env, out.parsed.ast, options);
  return out;
}

// The checked type of `source`, or the formatted issues.
std::string TypeOf(const std::string& source, const std::string& container = "") {
  Checked c = CheckSource(source, container);
  if (!c.checked.ok()) return "ERROR " + FormatIssues(source, c.checked.issues);
  return c.checked.result_type.DebugString();
}

std::vector<std::string> Messages(const CheckResult& r) {
  std::vector<std::string> out;
  for (const Issue& i : r.issues) out.push_back(i.message);
  return out;
}

TEST(CheckerTest, ChecksAFieldPathThroughDeclaredObjectTypes) {
  Checked c = CheckSource("outputs.user_research.participant_count > 5");
  EXPECT_THAT(c.checked.issues, IsEmpty());
  EXPECT_EQ(c.checked.result_type, Type::Bool());
  EXPECT_THAT(c.checked.references, UnorderedElementsAre(Pair(::testing::_, "outputs")));
}

TEST(CheckerTest, ChecksFieldsOfObjectsStoredInAMap) {
  EXPECT_EQ(TypeOf("outputs_by_name.user_research.participant_count > 5"), "bool");
  EXPECT_EQ(TypeOf("outputs_by_name['user_research'].methods"), "list(string)");
  EXPECT_EQ(TypeOf("outputs.user_research.methods.exists(m, m.startsWith('int'))"), "bool");
}

TEST(CheckerTest, ReportsAnUndefinedFieldWithItsPosition) {
  const std::string source = "outputs.user_research\n  .participant_cnt > 5";
  Checked c = CheckSource(source);
  ASSERT_EQ(c.checked.issues.size(), 1u);
  const Issue& issue = c.checked.issues[0];
  EXPECT_THAT(issue.message, HasSubstr("undefined field 'participant_cnt'"));
  EXPECT_EQ(issue.line, 2);
  EXPECT_EQ(issue.column, 3);
}

TEST(CheckerTest, HasMacroValidatesTheFieldAndIsBool) {
  EXPECT_EQ(TypeOf("has(outputs.user_research)"), "bool");
  EXPECT_EQ(TypeOf("has(outputs_by_name.anything)"), "bool");
  Checked c = CheckSource("has(outputs.nope)");
  EXPECT_THAT(Messages(c.checked), ElementsAre(HasSubstr("undefined field 'nope'")));
}

TEST(CheckerTest, ReportsAnUndeclaredIdentifierAtItsPosition) {
  Checked c = CheckSource("1 + \n   missing");
  ASSERT_EQ(c.checked.issues.size(), 1u);
  EXPECT_EQ(c.checked.issues[0].message, "undeclared reference to 'missing' (in container '')");
  EXPECT_EQ(c.checked.issues[0].line, 2);
  EXPECT_EQ(c.checked.issues[0].column, 4);
}

TEST(CheckerTest, ReportsMismatchedOverloadsNamingTheArgumentTypes) {
  Checked c = CheckSource("1 + 'a'");
  EXPECT_THAT(Messages(c.checked),
              ElementsAre("found no matching overload for '_+_' applied to '(int, string)'"));
  EXPECT_EQ(c.checked.issues[0].column, 3);
  EXPECT_THAT(Messages(CheckSource("1.5.startsWith('a')").checked),
              ElementsAre("found no matching overload for 'startsWith' applied to "
                          "'double.(string)'"));
  EXPECT_THAT(Messages(CheckSource("true ? 'cows' : 17").checked),
              ElementsAre("found no matching overload for '_?_:_' applied to "
                          "'(bool, string, int)'"));
  EXPECT_THAT(Messages(CheckSource("1 == 1u").checked),
              ElementsAre(HasSubstr("applied to '(int, uint)'")));
}

TEST(CheckerTest, ReportsUnknownFunctions) {
  EXPECT_THAT(Messages(CheckSource("frobnicate(1)").checked),
              ElementsAre("undeclared reference to 'frobnicate' (in container '')"));
  EXPECT_THAT(Messages(CheckSource("'a'.frobnicate()").checked),
              ElementsAre(HasSubstr("undeclared reference to 'frobnicate'")));
}

TEST(CheckerTest, ReportsEveryIssueInOneExpression) {
  Checked c = CheckSource("x + y.z == 'a' + 1 && outputs.bogus");
  EXPECT_THAT(Messages(c.checked), ElementsAre(HasSubstr("undeclared reference to 'x'"),
                                               HasSubstr("undeclared reference to 'y'"),
                                               HasSubstr("'_+_' applied to '(string, int)'"),
                                               HasSubstr("undefined field 'bogus'")));
}

TEST(CheckerTest, LogicalOperatorsNameTheNonBoolOperand) {
  Checked c = CheckSource("true && 32");
  ASSERT_EQ(c.checked.issues.size(), 1u);
  EXPECT_EQ(c.checked.issues[0].message, "expected type 'bool' but found 'int'");
  EXPECT_EQ(c.checked.issues[0].column, 9);
  EXPECT_EQ(TypeOf("d || false"), "bool");
}

struct Deduction {
  const char* source;
  const char* type;
};

class DeductionTest : public ::testing::TestWithParam<Deduction> {};

TEST_P(DeductionTest, DeducesTheExpectedType) {
  EXPECT_EQ(TypeOf(GetParam().source), GetParam().type) << GetParam().source;
}

INSTANTIATE_TEST_SUITE_P(
    Literals, DeductionTest,
    ::testing::Values(Deduction{"true", "bool"}, Deduction{"42", "int"}, Deduction{"42u", "uint"},
                      Deduction{"0.1", "double"}, Deduction{"'s'", "string"},
                      Deduction{"b'x'", "bytes"}, Deduction{"null", "null_type"},
                      Deduction{"[1]", "list(int)"}, Deduction{"[1, 'a']", "list(dyn)"},
                      Deduction{"[1, 'a', 2]", "list(dyn)"}, Deduction{"[]", "list(dyn)"},
                      Deduction{"{}", "map(dyn, dyn)"},
                      Deduction{"{'abc': 123}", "map(string, int)"},
                      Deduction{"{1: 'a', 'b': 2}", "map(dyn, dyn)"},
                      Deduction{"[[], [[]], [[[]]], [[[[]]]]]",
                                "list(list(list(list(list(dyn)))))"},
                      Deduction{"[[[[[]]]], [], [[[]]]]", "list(list(list(list(list(dyn)))))"},
                      Deduction{"[null, null]", "list(null_type)"}));

INSTANTIATE_TEST_SUITE_P(
    Operators, DeductionTest,
    ::testing::Values(Deduction{"['foo'][0]", "string"}, Deduction{"{'abc': 123}['abc']", "int"},
                      Deduction{"('foo' + 'bar').startsWith('foo')", "bool"},
                      Deduction{"true ? 1 : 2", "int"}, Deduction{"[] + []", "list(dyn)"},
                      Deduction{"[] + [3, 4]", "list(int)"}, Deduction{"1 < 2.0", "bool"},
                      Deduction{"2u >= -1", "bool"}, Deduction{"'a' in ['a', 'b']", "bool"},
                      Deduction{"'k' in {'k': 1}", "bool"}, Deduction{"-(1.5)", "double"},
                      Deduction{"!true", "bool"}, Deduction{"7 % 2", "int"},
                      Deduction{"b'a' + b'b'", "bytes"}, Deduction{"null == null", "bool"},
                      Deduction{"type(1) == type(1u)", "bool"},
                      Deduction{
                          "timestamp('2024-01-01T00:00:00Z') - timestamp('2023-01-01T00:00:00Z')",
                          "google.protobuf.Duration"},
                      Deduction{"timestamp('2024-01-01T00:00:00Z') + duration('1h')",
                                "google.protobuf.Timestamp"},
                      Deduction{"duration('1h') < duration('2h')", "bool"}));

INSTANTIATE_TEST_SUITE_P(
    Functions, DeductionTest,
    ::testing::Values(
        Deduction{"size('abc') + 'abc'.size() + size(xs) + size({1: 2}) + size(b'')", "int"},
        Deduction{"s.contains('a') && s.endsWith('b') && s.matches('c') && matches(s, 'd')",
                  "bool"},
        Deduction{"int('1') + int(1u) + int(1.0) + int(timestamp('2024-01-01T00:00:00Z'))", "int"},
        Deduction{"uint(1)", "uint"}, Deduction{"double('1.5')", "double"},
        Deduction{"string(1) + string(b'a') + string(duration('1s'))", "string"},
        Deduction{"bytes('a')", "bytes"}, Deduction{"bool('true')", "bool"},
        Deduction{"dyn(1)", "dyn"}, Deduction{"type(1)", "type(int)"},
        Deduction{"int", "type(int)"}, Deduction{"list", "type(list(dyn))"},
        Deduction{"google.protobuf.Timestamp", "type(google.protobuf.Timestamp)"},
        Deduction{"varav.UserResearch", "type(varav.UserResearch)"},
        Deduction{"timestamp('2024-01-01T00:00:00Z').getHours('Europe/Tallinn')", "int"},
        Deduction{"timestamp('2024-01-01T00:00:00Z').getFullYear()", "int"},
        Deduction{"duration('90m').getMinutes()", "int"},
        Deduction{"s.charAt(0) + s.lowerAscii() + s.upperAscii() + s.trim() + s.reverse()",
                  "string"},
        Deduction{"s.indexOf('a') + s.lastIndexOf('a', 3)", "int"},
        Deduction{"s.replace('a', 'b', 1) + s.substring(1, 2) + s.substring(1)", "string"},
        Deduction{"s.split(',')", "list(string)"}, Deduction{"names.join(', ')", "string"},
        Deduction{"strings.quote(s)", "string"},
        Deduction{"'%s and %d'.format(['a', 1])", "string"}));

INSTANTIATE_TEST_SUITE_P(
    Macros, DeductionTest,
    ::testing::Values(
        Deduction{"[1, 2].map(x, x * 2)", "list(int)"}, Deduction{"xs.all(x, x > 0)", "bool"},
        Deduction{"xs.exists(x, x > 0)", "bool"}, Deduction{"xs.exists_one(x, x > 0)", "bool"},
        Deduction{"xs.filter(x, x > 0)", "list(int)"},
        Deduction{"xs.map(x, x > 0, string(x))", "list(string)"},
        Deduction{"{'a': 1}.map(k, k)", "list(string)"}, Deduction{"[].map(x, x)", "list(dyn)"},
        Deduction{"([].map(x, x))[0].foo", "dyn"},
        Deduction{"names.map(n, n.size()).map(z, z + 1)", "list(int)"},
        Deduction{"['signer'].filter(s, ['a'].all(a, true))", "list(string)"}));

INSTANTIATE_TEST_SUITE_P(
    Optionals, DeductionTest,
    ::testing::Values(
        Deduction{"[optional.none(), optional.of(1)]", "list(optional_type(int))"},
        Deduction{"[optional.of(1), optional.none()]", "list(optional_type(int))"},
        Deduction{"[optional.of(1), optional.of(dyn(1))]", "list(optional_type(dyn))"},
        Deduction{"true ? optional.of(dyn(1)) : optional.of(1)", "optional_type(dyn)"},
        Deduction{"[optional.of(1), null][0]", "optional_type(int)"},
        Deduction{"optional.of('a').orValue('b')", "string"}));

INSTANTIATE_TEST_SUITE_P(
    DynFlows, DeductionTest,
    ::testing::Values(Deduction{"d", "dyn"}, Deduction{"d.a.b", "dyn"}, Deduction{"d + 1", "int"},
                      Deduction{"d[0]", "dyn"}, Deduction{"d.all(x, x)", "bool"},
                      Deduction{"d.map(x, x)", "list(dyn)"}, Deduction{"d == 'a'", "bool"},
                      Deduction{"size(d)", "int"}, Deduction{"[d, 1]", "list(dyn)"},
                      Deduction{"request.anything", "dyn"}));

TEST(CheckerTest, ResolvesQualifiedVariableNamesToTheLongestDeclaredPrefix) {
  Checked c = CheckSource("request.auth.claims.sub");
  EXPECT_THAT(c.checked.issues, IsEmpty());
  EXPECT_EQ(c.checked.result_type, Type::String());
  // The whole `request.auth.claims` select resolves to the declared variable, not to fields of the
  // also-declared `request`.
  const Expr& claims = *c.parsed.ast.root->operand;
  EXPECT_THAT(c.checked.references, ElementsAre(Pair(claims.id, "request.auth.claims")));
  EXPECT_EQ(TypeOf("request.auth"), "dyn");
  EXPECT_EQ(TypeOf("request.other.claims"), "dyn");
}

TEST(CheckerTest, ResolvesNamesAgainstTheContainer) {
  Checked c = CheckSource("threshold + 1", "varav.v1");
  EXPECT_THAT(c.checked.issues, IsEmpty());
  EXPECT_THAT(c.checked.references, ElementsAre(Pair(::testing::_, "varav.v1.threshold")));
  EXPECT_EQ(TypeOf("limit", "varav.v1"), "uint");
  EXPECT_EQ(TypeOf("v1.threshold", "varav"), "int");
  EXPECT_EQ(TypeOf("UserResearch", "varav"), "type(varav.UserResearch)");
  EXPECT_EQ(TypeOf(".varav.limit", "varav.v1"), "uint");
  Checked rooted = CheckSource(".threshold", "varav.v1");
  EXPECT_THAT(Messages(rooted.checked),
              ElementsAre("undeclared reference to '.threshold' (in container 'varav.v1')"));
}

TEST(CheckerTest, ComprehensionVariablesShadowDeclaredNames) {
  Checked c = CheckSource("xs.all(s, s > 0) && s == 'a'");
  EXPECT_THAT(c.checked.issues, IsEmpty());
  // Only the outer `s` and `xs` are variable references.
  std::vector<std::string> referenced;
  for (const auto& [id, name] : c.checked.references) referenced.push_back(name);
  EXPECT_THAT(referenced, UnorderedElementsAre("xs", "s"));
  EXPECT_EQ(TypeOf("[{'a': 1}].all(request, request.a > 0)"), "bool");
}

// Builds `range.all(k, v, v.participant_count > size(k))` by hand: a two-variable comprehension.
struct TwoVariableAll {
  Ast ast;
  const Expr* k = nullptr;
  const Expr* v = nullptr;
};
TwoVariableAll MakeTwoVariableAll(absl::string_view range_name) {
  ExprId next_id = 1;
  auto node = [&](Expr::Kind kind) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->id = next_id++;
    return e;
  };
  auto ident = [&](std::string name) {
    ExprPtr e = node(Expr::Kind::kIdent);
    e->name = std::move(name);
    return e;
  };
  auto call = [&](absl::string_view name, std::vector<ExprPtr> args) {
    ExprPtr e = node(Expr::Kind::kCall);
    e->name = std::string(name);
    e->args = std::move(args);
    return e;
  };
  TwoVariableAll out;
  ExprPtr k = ident("k");
  ExprPtr v = ident("v");
  out.k = k.get();
  out.v = v.get();
  ExprPtr field = node(Expr::Kind::kSelect);
  field->operand = std::move(v);
  field->name = "participant_count";
  std::vector<ExprPtr> size_args;
  size_args.push_back(std::move(k));
  std::vector<ExprPtr> greater_args;
  greater_args.push_back(std::move(field));
  greater_args.push_back(call("size", std::move(size_args)));
  std::vector<ExprPtr> and_args;
  and_args.push_back(ident("@result"));
  and_args.push_back(call(op::kGreater, std::move(greater_args)));
  std::vector<ExprPtr> not_false_args;
  not_false_args.push_back(ident("@result"));

  ExprPtr comp = node(Expr::Kind::kComprehension);
  comp->iter_var = "k";
  comp->iter_var2 = "v";
  comp->accu_var = "@result";
  comp->iter_range = ident(std::string(range_name));
  comp->accu_init = node(Expr::Kind::kConstant);
  comp->accu_init->constant = true;
  comp->loop_condition = call(op::kNotStrictlyFalse, std::move(not_false_args));
  comp->loop_step = call(op::kLogicalAnd, std::move(and_args));
  comp->result = ident("@result");
  out.ast.root = std::move(comp);
  out.ast.node_count = next_id - 1;
  return out;
}

TEST(CheckerTest, TypesBothVariablesOfATwoVariableComprehension) {
  static const std::shared_ptr<const Env> env = MakeEnv();
  TwoVariableAll over_map = MakeTwoVariableAll("outputs_by_name");
  CheckResult r = Check(*env, over_map.ast, {});
  EXPECT_THAT(r.issues, IsEmpty());
  EXPECT_EQ(r.result_type, Type::Bool());
  EXPECT_EQ(r.types[over_map.k->id], Type::String());
  EXPECT_EQ(r.types[over_map.v->id], Type::Object("varav.UserResearch"));

  // Over a list the first variable is the index; here the elements are strings without fields.
  TwoVariableAll over_list = MakeTwoVariableAll("names");
  CheckResult l = Check(*env, over_list.ast, {});
  EXPECT_EQ(l.types[over_list.k->id], Type::Int());
  EXPECT_EQ(l.types[over_list.v->id], Type::String());
  EXPECT_THAT(Messages(l), ElementsAre(HasSubstr("'string' does not support field selection"),
                                       HasSubstr("applied to '(int)'")));
}

TEST(CheckerTest, TypesTheTwoVariableMacros) {
  EXPECT_EQ(TypeOf("[1, 2].transformList(i, v, v * i)"), "list(int)");
  EXPECT_EQ(TypeOf("{'a': 1}.transformMap(k, v, v + 1)"), "map(string, int)");
  EXPECT_EQ(TypeOf("names.transformMap(i, v, v.size())"), "map(int, int)");
  EXPECT_EQ(TypeOf("names.transformMap(i, v, i > 0, v)"), "map(int, string)");
  EXPECT_EQ(TypeOf("xs.transformList(i, v, v > i, string(v))"), "list(string)");
  EXPECT_EQ(TypeOf("names.transformMapEntry(i, v, {v: i})"), "map(string, int)");
  EXPECT_EQ(TypeOf("outputs_by_name.exists(k, v, k == 'a' && v.participant_count > 1)"), "bool");
  EXPECT_EQ(TypeOf("xs.all(i, v, i < v) && xs.existsOne(i, v, v == 0)"), "bool");
  EXPECT_EQ(TypeOf("d.transformList(k, v, k)"), "list(dyn)");
}

TEST(CheckerTest, RejectsIllTypedTwoVariableMacros) {
  EXPECT_THAT(Messages(CheckSource("xs.all(i, v, v)").checked),
              ElementsAre("expected type 'bool' but found 'int'"));
  EXPECT_THAT(Messages(CheckSource("'abc'.exists(i, v, true)").checked),
              ElementsAre(HasSubstr("'string' cannot be range of a comprehension")));
  EXPECT_THAT(Messages(CheckSource("names.transformMapEntry(i, v, [v])").checked),
              ElementsAre(HasSubstr("found no matching overload for 'cel.@mapInsert'")));
  EXPECT_THAT(Messages(CheckSource("xs.transformList(i, v, 'filter', v)").checked),
              ElementsAre(HasSubstr("found no matching overload for '_?_:_'")));
}

TEST(CheckerTest, RejectsANonIterableComprehensionRange) {
  EXPECT_THAT(Messages(CheckSource("1.5.all(x, x)").checked),
              ElementsAre(HasSubstr("'double' cannot be range of a comprehension")));
  EXPECT_THAT(Messages(CheckSource("xs.all(x, x + 1)").checked),
              ElementsAre("expected type 'bool' but found 'int'"));
}

TEST(CheckerTest, RejectsUnsupportedMapKeyTypes) {
  EXPECT_THAT(Messages(CheckSource("{1.5: 'a'}").checked),
              ElementsAre("unsupported map key type 'double'"));
  EXPECT_THAT(Messages(CheckSource("1.x").checked),
              ElementsAre(HasSubstr("type 'int' does not support field selection")));
}

TEST(CheckerTest, RecordsReferencesToTypeNames) {
  Checked c = CheckSource("type(outputs) == Outputs", "varav");
  EXPECT_THAT(c.checked.issues, IsEmpty());
  EXPECT_THAT(c.checked.references, UnorderedElementsAre(Pair(::testing::_, "outputs"),
                                                         Pair(::testing::_, "varav.Outputs")));
}

TEST(CheckerTest, RejectsFieldSelectionOnMapsWithNonStringKeys) {
  EXPECT_THAT(Messages(CheckSource("{1: 2}.a").checked),
              ElementsAre(HasSubstr("type 'map(int, int)' does not support field selection")));
}

TEST(CheckerTest, ReportsAnEmptyAst) {
  static const std::shared_ptr<const Env> env = MakeEnv();
  Ast empty;
  CheckResult r = Check(*env, empty, {});
  EXPECT_FALSE(r.ok());
}

TEST(CheckerTest, ReportsMessageConstructionAsUnsupported) {
  Checked c = CheckSource("varav.UserResearch{participant_count: missing}");
  EXPECT_THAT(Messages(c.checked), ElementsAre("message construction is not supported",
                                               HasSubstr("undeclared reference to 'missing'")));
  EXPECT_EQ(c.checked.issues[0].column, 1);
}

TEST(CheckerTest, RecordsATypeForEveryNode) {
  Checked c = CheckSource("xs.map(x, x * 2).filter(y, y > 2)[0] + size(names)");
  ASSERT_TRUE(c.checked.ok());
  int64_t nodes = 0;
  std::vector<const Expr*> stack = {c.parsed.ast.root.get()};
  while (!stack.empty()) {
    const Expr* e = stack.back();
    stack.pop_back();
    ++nodes;
    EXPECT_TRUE(c.checked.types.contains(e->id)) << e->id;
    EXPECT_NE(c.checked.types[e->id].kind(), Type::Kind::kTypeParam);
    for (const Expr* child : {e->operand.get(), e->iter_range.get(), e->accu_init.get(),
                              e->loop_condition.get(), e->loop_step.get(), e->result.get()}) {
      if (child != nullptr) stack.push_back(child);
    }
    for (const ExprPtr& arg : e->args) stack.push_back(arg.get());
  }
  EXPECT_GT(nodes, 20);
  EXPECT_EQ(c.checked.result_type, Type::Int());
}

TEST(CheckerTest, EstimatesCostFromRangeSizes) {
  const int64_t literal = CheckSource("[1, 2, 3].all(x, x > 0)").checked.static_cost;
  const int64_t variable = CheckSource("xs.all(x, x > 0)").checked.static_cost;
  const int64_t nested = CheckSource("xs.all(x, xs.all(y, y > x))").checked.static_cost;
  EXPECT_GT(literal, 0);
  EXPECT_LT(literal, variable);
  EXPECT_GE(nested, 100 * 100);
  EXPECT_LT(CheckSource("s.contains('a')").checked.static_cost,
            CheckSource("xs.exists(x, s.contains('a'))").checked.static_cost);
}

TEST(CheckerTest, SaturatesTheCostOfDeeplyNestedComprehensions) {
  std::string source = "true";
  for (int i = 0; i < 12; ++i) source = absl::StrCat("xs.all(x", i, ", ", source, ")");
  Checked c = CheckSource(source);
  EXPECT_TRUE(c.checked.ok());
  EXPECT_EQ(c.checked.static_cost, std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace varav::cel
