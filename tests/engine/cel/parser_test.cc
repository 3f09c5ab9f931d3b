#include "engine/cel/internal/parser.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/cel/internal/ast_debug.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// The parsed tree in compact notation, or the issues' messages when parsing fails.
std::string P(absl::string_view source, const Limits& limits = {}) {
  ParseResult r = Parse(source, limits);
  if (!r.ok()) {
    std::vector<std::string> messages;
    for (const Issue& issue : r.issues) messages.push_back(issue.message);
    return absl::StrCat("ERROR: ", absl::StrJoin(messages, " | "));
  }
  if (r.ast.root == nullptr) return "NULL ROOT";
  return CompactString(*r.ast.root);
}

std::vector<Issue> IssuesOf(absl::string_view source, const Limits& limits = {}) {
  return Parse(source, limits).issues;
}

// Visits every node of a tree (recursively: trees in tests are small).
void Walk(const Expr& e, const std::function<void(const Expr&)>& visit) {
  visit(e);
  for (const Expr* child : {e.operand.get(), e.iter_range.get(), e.accu_init.get(),
                            e.loop_condition.get(), e.loop_step.get(), e.result.get()}) {
    if (child != nullptr) Walk(*child, visit);
  }
  for (const ExprPtr& a : e.args) Walk(*a, visit);
  for (const Expr::Entry& entry : e.entries) {
    if (entry.key != nullptr) Walk(*entry.key, visit);
    Walk(*entry.value, visit);
  }
}

// ---- Literals ----

TEST(ParserTest, ParsesEveryLiteralKind) {
  EXPECT_EQ(P("42"), "42");
  EXPECT_EQ(P("0x2A"), "42");
  EXPECT_EQ(P("42u"), "42u");
  EXPECT_EQ(P("0xFFu"), "255u");
  EXPECT_EQ(P("2.5"), "2.5");
  EXPECT_EQ(P(".5"), "0.5");
  EXPECT_EQ(P("1e3"), "1000");
  EXPECT_EQ(P("'a'"), "\"a\"");
  EXPECT_EQ(P("b'a'"), "b\"a\"");
  EXPECT_EQ(P("true"), "true");
  EXPECT_EQ(P("false"), "false");
  EXPECT_EQ(P("null"), "null");
}

TEST(ParserTest, StoresLiteralValuesWithTheirTypes) {
  ParseResult r = Parse("[1, 1u, 1.0, '1', b'1', true, null]");
  ASSERT_TRUE(r.ok());
  const auto& args = r.ast.root->args;
  ASSERT_THAT(args, SizeIs(7));
  EXPECT_EQ(std::get<int64_t>(args[0]->constant), 1);
  EXPECT_EQ(std::get<uint64_t>(args[1]->constant), 1u);
  EXPECT_EQ(std::get<double>(args[2]->constant), 1.0);
  EXPECT_EQ(std::get<std::string>(args[3]->constant), "1");
  EXPECT_EQ(std::get<Bytes>(args[4]->constant).value, "1");
  EXPECT_EQ(std::get<bool>(args[5]->constant), true);
  EXPECT_TRUE(std::holds_alternative<NullLiteral>(args[6]->constant));
}

TEST(ParserTest, FoldsMinusIntoNumberLiterals) {
  EXPECT_EQ(P("-1"), "-1");
  EXPECT_EQ(P("-2.5"), "-2.5");
  EXPECT_EQ(P("4--4"), "_-_(4, -4)");
  EXPECT_EQ(P("--1"), "-_(-1)");
  EXPECT_EQ(P("-x"), "-_(x)");
  EXPECT_EQ(P("-1u"), "-_(1u)");
}

TEST(ParserTest, ParsesTheMostNegativeInt) {
  ParseResult r = Parse("-9223372036854775808");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<int64_t>(r.ast.root->constant), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(P("9223372036854775807"), "9223372036854775807");
}

TEST(ParserTest, RejectsIntLiteralsOutOfRange) {
  EXPECT_EQ(P("9223372036854775808"), "ERROR: invalid int literal");
  EXPECT_EQ(P("-9223372036854775809"), "ERROR: invalid int literal");
  EXPECT_EQ(P("0xFFFFFFFFFFFFFFFFF"), "ERROR: invalid int literal");
  EXPECT_EQ(P("18446744073709551616u"), "ERROR: invalid uint literal");
  EXPECT_EQ(P("1.99e90000009"), "ERROR: invalid double literal");
  // A negated literal followed by a selection negates the selection, as the grammar says.
  EXPECT_EQ(P("-9223372036854775808.f"), "ERROR: invalid int literal");
}

TEST(ParserTest, KeepsMinusOutsideLiteralsWithMemberSuffixes) {
  EXPECT_EQ(P("-1.size()"), "-_(1.size())");
  EXPECT_EQ(P("-1[0]"), "-_(_[_](1, 0))");
}

TEST(ParserTest, DecodesStringEscapes) {
  ParseResult r = Parse(R"("\a\b\f\n\r\t\v\\\?\"\'\`\x41\101\u00e9\U0001F62C")");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<std::string>(r.ast.root->constant), "\a\b\f\n\r\t\v\\?\"'`AA\u00e9\U0001F62C");
}

TEST(ParserTest, DecodesBytesEscapesAsOctets) {
  ParseResult r = Parse(R"(b"\377\xff\303\277ÿ")");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<Bytes>(r.ast.root->constant).value, "\xff\xff\xc3\xbf\xc3\xbf");
}

TEST(ParserTest, ReportsInvalidEscapeAtItsPosition) {
  std::vector<Issue> issues = IssuesOf("'ab\\qc'");
  ASSERT_THAT(issues, SizeIs(1));
  EXPECT_EQ(issues[0].message, "Syntax error: invalid escape sequence '\\q'");
  EXPECT_EQ(issues[0].column, 4);
}

// ---- Operators ----

TEST(ParserTest, AppliesCelPrecedence) {
  EXPECT_EQ(P("1 + 2 * 3 - 1 / 2 == 6 % 1"), "_==_(_-_(_+_(1, _*_(2, 3)), _/_(1, 2)), _%_(6, 1))");
  EXPECT_EQ(P("a || b && c"), "_||_(a, _&&_(b, c))");
  EXPECT_EQ(P("a && b == c"), "_&&_(a, _==_(b, c))");
  EXPECT_EQ(P("a < b + c"), "_<_(a, _+_(b, c))");
  EXPECT_EQ(P("!a && -b < c"), "_&&_(!_(a), _<_(-_(b), c))");
  EXPECT_EQ(P("a.b[c].d(e)"), "_[_](a.b, c).d(e)");
  EXPECT_EQ(P("false && !true || false ? 2 : 3"),
            "_?_:_(_||_(_&&_(false, !_(true)), false), 2, 3)");
}

TEST(ParserTest, NamesEveryOperatorAsTheSpecificationDoes) {
  EXPECT_EQ(P("a < b"), "_<_(a, b)");
  EXPECT_EQ(P("a <= b"), "_<=_(a, b)");
  EXPECT_EQ(P("a > b"), "_>_(a, b)");
  EXPECT_EQ(P("a >= b"), "_>=_(a, b)");
  EXPECT_EQ(P("a == b"), "_==_(a, b)");
  EXPECT_EQ(P("a != b"), "_!=_(a, b)");
  EXPECT_EQ(P("a in b"), "@in(a, b)");
  EXPECT_EQ(P("a + b"), "_+_(a, b)");
  EXPECT_EQ(P("a - b"), "_-_(a, b)");
  EXPECT_EQ(P("a * b"), "_*_(a, b)");
  EXPECT_EQ(P("a / b"), "_/_(a, b)");
  EXPECT_EQ(P("a % b"), "_%_(a, b)");
  EXPECT_EQ(P("!a"), "!_(a)");
  EXPECT_EQ(P("-a"), "-_(a)");
  EXPECT_EQ(P("a[b]"), "_[_](a, b)");
  EXPECT_EQ(P("a ? b : c"), "_?_:_(a, b, c)");
}

TEST(ParserTest, AssociatesArithmeticAndRelationsToTheLeft) {
  EXPECT_EQ(P("a - b - c"), "_-_(_-_(a, b), c)");
  EXPECT_EQ(P("a / b * c"), "_*_(_/_(a, b), c)");
  EXPECT_EQ(P("a < b < c"), "_<_(_<_(a, b), c)");
}

TEST(ParserTest, AssociatesTheConditionalToTheRight) {
  EXPECT_EQ(P("a ? b : c ? d : e"), "_?_:_(a, b, _?_:_(c, d, e))");
}

TEST(ParserTest, BalancesChainsOfLogicalOperators) {
  EXPECT_EQ(P("a || b || c || d || e || f"), "_||_(_||_(_||_(a, b), c), _||_(_||_(d, e), f))");
  EXPECT_EQ(P("a && b && c && d"), "_&&_(_&&_(a, b), _&&_(c, d))");
}

TEST(ParserTest, KeepsRepeatedUnaryOperators) {
  EXPECT_EQ(P("!!a"), "!_(!_(a))");
  EXPECT_EQ(P("--a"), "-_(-_(a))");
}

TEST(ParserTest, RejectsMixedUnaryOperatorsAsTheGrammarDoes) {
  EXPECT_THAT(P("!-a"), HasSubstr("mismatched input '-'"));
}

TEST(ParserTest, RequiresATernaryElseBranch) {
  EXPECT_THAT(P("a ? b"), HasSubstr("mismatched input '<EOF>' expecting ':'"));
}

// ---- Aggregates, selection and calls ----

TEST(ParserTest, ParsesListsAndMapsWithOptionalTrailingComma) {
  EXPECT_EQ(P("[]"), "[]");
  EXPECT_EQ(P("[1, 2, 3,]"), "[1, 2, 3]");
  EXPECT_EQ(P("{}"), "{}");
  EXPECT_EQ(P("{'a': 1, b: 2,}"), "{\"a\": 1, b: 2}");
  EXPECT_EQ(P("[[1], {1: [2]}]"), "[[1], {1: [2]}]");
}

TEST(ParserTest, RejectsDoubleOrLeadingCommas) {
  EXPECT_THAT(P("[1,,2]"), HasSubstr("mismatched input ','"));
  EXPECT_THAT(P("[,]"), HasSubstr("mismatched input ','"));
  EXPECT_THAT(P("f(1,)"), HasSubstr("mismatched input ')'"));
}

TEST(ParserTest, ParsesMessageConstruction) {
  EXPECT_EQ(P("Msg{}"), "Msg{}");
  EXPECT_EQ(P("a.b.Msg{f: 1, g: 'x',}"), "a.b.Msg{f: 1, g: \"x\"}");
  EXPECT_EQ(P(".a.Msg{f: 1}"), ".a.Msg{f: 1}");
  EXPECT_EQ(P("Msg{f: Msg{g: 2}}.f.g"), "Msg{f: Msg{g: 2}}.f.g");
  ParseResult r = Parse("pkg.Msg{single_int64: 1}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ast.root->kind, Expr::Kind::kStruct);
  EXPECT_EQ(r.ast.root->name, "pkg.Msg");
  ASSERT_THAT(r.ast.root->entries, SizeIs(1));
  EXPECT_EQ(r.ast.root->entries[0].field, "single_int64");
  EXPECT_EQ(r.ast.root->entries[0].key, nullptr);
}

TEST(ParserTest, AllowsMessageConstructionOnlyAfterATypeName) {
  EXPECT_THAT(P("Msg(){}"), HasSubstr("mismatched input '{' expecting <EOF>"));
  EXPECT_THAT(P("Msg{}()"), HasSubstr("mismatched input '(' expecting <EOF>"));
  EXPECT_THAT(P("a[0]{}"), HasSubstr("mismatched input '{'"));
  EXPECT_THAT(P("Msg{1: 2}"), HasSubstr("mismatched input '1' expecting IDENTIFIER"));
}

TEST(ParserTest, ParsesSelectionIndexAndCalls) {
  EXPECT_EQ(P("a.b.c"), "a.b.c");
  EXPECT_EQ(P("a[0][1]"), "_[_](_[_](a, 0), 1)");
  EXPECT_EQ(P("f()"), "f()");
  EXPECT_EQ(P("f(x, y)"), "f(x, y)");
  EXPECT_EQ(P("x.f()"), "x.f()");
  EXPECT_EQ(P("x.f(y).g(z)"), "x.f(y).g(z)");
  EXPECT_EQ(P("size(x) == x.size()"), "_==_(size(x), x.size())");
  EXPECT_EQ(P("(a + b).c"), "_+_(a, b).c");
  EXPECT_EQ(P("'abc'.size()"), "\"abc\".size()");
}

TEST(ParserTest, KeepsTheLeadingDotOfRootScopedNames) {
  ParseResult r = Parse(".a.b");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ast.root->kind, Expr::Kind::kSelect);
  EXPECT_EQ(r.ast.root->operand->name, ".a");
  EXPECT_EQ(P(".f(1)"), ".f(1)");
}

TEST(ParserTest, AllowsBackquotedFieldNamesInSelectionAndMessages) {
  EXPECT_EQ(P("a.`content-type`"), "a.content-type");
  EXPECT_EQ(P("has(m.`foo.txt`)"), "m.foo.txt~test-only~");
  EXPECT_EQ(P("Msg{`in`: true}"), "Msg{in: true}");
  EXPECT_THAT(P("`b-c`"), HasSubstr("mismatched input '`b-c`'"));
  EXPECT_THAT(P("a.`b.c`()"), HasSubstr("mismatched input '('"));
}

TEST(ParserTest, AcceptsReservedWordsAsFieldAndFunctionNames) {
  EXPECT_EQ(P("a.as"), "a.as");
  EXPECT_EQ(P("{ 'while': 1 }.while"), "{\"while\": 1}.while");
  EXPECT_EQ(P("a.var() || true"), "_||_(a.var(), true)");
  EXPECT_EQ(P("Msg{ if: true, return: 1 }"), "Msg{if: true, return: 1}");
}

TEST(ParserTest, RejectsReservedWordsAsIdentifiers) {
  for (absl::string_view w :
       {"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
        "loop", "package", "namespace", "return", "var", "void", "while"}) {
    EXPECT_EQ(P(w), absl::StrCat("ERROR: reserved identifier: ", w));
  }
  EXPECT_EQ(P("var(1)"), "ERROR: reserved identifier: var");
}

TEST(ParserTest, RejectsKeywordsAsFieldNames) {
  EXPECT_EQ(P("self.true == 1"),
            "ERROR: Syntax error: mismatched input 'true' expecting IDENTIFIER");
  EXPECT_THAT(P("a.in"), HasSubstr("mismatched input 'in' expecting IDENTIFIER"));
  EXPECT_THAT(P("in"), HasSubstr("mismatched input 'in'"));
}

TEST(ParserTest, IgnoresWhitespaceAndComments) {
  EXPECT_EQ(P("[\t.\ncel.\rexpr\f.Msg // c\n{ f : int ( 17 ) } . f ] [ 0 ]"),
            "_[_]([.cel.expr.Msg{f: int(17)}.f], 0)");
}

// ---- Macros ----

TEST(ParserTest, ExpandsHasIntoATestOnlySelect) {
  ParseResult r = Parse("has(a.b.c)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(CompactString(*r.ast.root), "a.b.c~test-only~");
  EXPECT_TRUE(r.ast.root->test_only);
  EXPECT_EQ(r.ast.macro_calls.at(r.ast.root->id), "has");
}

TEST(ParserTest, RejectsHasOfAnythingButAFieldSelection) {
  std::vector<Issue> issues = IssuesOf("has(m)");
  ASSERT_THAT(issues, SizeIs(1));
  EXPECT_EQ(issues[0].message, "invalid argument to has() macro");
  EXPECT_EQ(issues[0].column, 5);
  EXPECT_EQ(P("has(m[0])"), "ERROR: invalid argument to has() macro");
  EXPECT_EQ(P("has(has(a.b))"), "ERROR: invalid argument to has() macro");
}

TEST(ParserTest, ExpandsAllAsTheSpecificationDefinesIt) {
  EXPECT_EQ(P("m.all(v, f)"),
            "__comprehension__(v, m, @result, true, @not_strictly_false(@result), "
            "_&&_(@result, f), @result)");
}

TEST(ParserTest, ExpandsExists) {
  EXPECT_EQ(P("m.exists(v, f)"),
            "__comprehension__(v, m, @result, false, @not_strictly_false(!_(@result)), "
            "_||_(@result, f), @result)");
}

TEST(ParserTest, ExpandsExistsOneAsACount) {
  EXPECT_EQ(P("m.exists_one(v, f)"),
            "__comprehension__(v, m, @result, 0, true, _?_:_(f, _+_(@result, 1), @result), "
            "_==_(@result, 1))");
  EXPECT_EQ(P("m.existsOne(v, f)"), P("m.exists_one(v, f)"));
}

TEST(ParserTest, ExpandsMapWithTwoAndThreeArguments) {
  EXPECT_EQ(P("m.map(v, f)"),
            "__comprehension__(v, m, @result, [], true, _+_(@result, [f]), @result)");
  EXPECT_EQ(P("m.map(v, p, f)"),
            "__comprehension__(v, m, @result, [], true, _?_:_(p, _+_(@result, [f]), @result), "
            "@result)");
}

TEST(ParserTest, ExpandsFilter) {
  EXPECT_EQ(P("m.filter(v, p)"),
            "__comprehension__(v, m, @result, [], true, _?_:_(p, _+_(@result, [v]), @result), "
            "@result)");
}

TEST(ParserTest, ExpandsNestedMacros) {
  EXPECT_EQ(P("x.filter(y, y.filter(z, z > 0))"),
            "__comprehension__(y, x, @result, [], true, _?_:_(__comprehension__(z, y, @result, "
            "[], true, _?_:_(_>_(z, 0), _+_(@result, [z]), @result), @result), "
            "_+_(@result, [y]), @result), @result)");
}

// ---- Two-variable comprehensions (index and element, or key and value) ----

TEST(ParserTest, ExpandsTwoVariableQuantifiersLikeTheirOneVariableForms) {
  EXPECT_EQ(P("m.all(k, v, f)"),
            "__comprehension__(k, v, m, @result, true, @not_strictly_false(@result), "
            "_&&_(@result, f), @result)");
  EXPECT_EQ(P("m.exists(k, v, f)"),
            "__comprehension__(k, v, m, @result, false, @not_strictly_false(!_(@result)), "
            "_||_(@result, f), @result)");
  EXPECT_EQ(P("m.existsOne(k, v, f)"),
            "__comprehension__(k, v, m, @result, 0, true, _?_:_(f, _+_(@result, 1), @result), "
            "_==_(@result, 1))");
  EXPECT_EQ(P("m.exists_one(k, v, f)"), P("m.existsOne(k, v, f)"));
}

TEST(ParserTest, ExpandsTransformListWithAndWithoutFilter) {
  EXPECT_EQ(P("m.transformList(i, v, t)"),
            "__comprehension__(i, v, m, @result, [], true, _+_(@result, [t]), @result)");
  EXPECT_EQ(P("m.transformList(i, v, p, t)"),
            "__comprehension__(i, v, m, @result, [], true, _?_:_(p, _+_(@result, [t]), @result), "
            "@result)");
}

TEST(ParserTest, ExpandsTransformMapIntoMapInsertsKeyedByTheFirstVariable) {
  EXPECT_EQ(P("m.transformMap(k, v, t)"),
            "__comprehension__(k, v, m, @result, {}, true, cel.@mapInsert(@result, k, t), "
            "@result)");
  EXPECT_EQ(P("m.transformMap(k, v, p, t)"),
            "__comprehension__(k, v, m, @result, {}, true, "
            "_?_:_(p, cel.@mapInsert(@result, k, t), @result), @result)");
}

TEST(ParserTest, ExpandsTransformMapEntryIntoMapMerges) {
  EXPECT_EQ(P("m.transformMapEntry(k, v, e)"),
            "__comprehension__(k, v, m, @result, {}, true, cel.@mapInsert(@result, e), @result)");
  EXPECT_EQ(P("m.transformMapEntry(k, v, p, e)"),
            "__comprehension__(k, v, m, @result, {}, true, "
            "_?_:_(p, cel.@mapInsert(@result, e), @result), @result)");
}

TEST(ParserTest, SetsBothIterationVariablesOfTwoVariableComprehensions) {
  ParseResult r = Parse("[1].transformList(index, elem, elem)");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.ast.root->kind, Expr::Kind::kComprehension);
  EXPECT_EQ(r.ast.root->iter_var, "index");
  EXPECT_EQ(r.ast.root->iter_var2, "elem");
  EXPECT_EQ(r.ast.macro_calls.at(r.ast.root->id), "transformList");
  // One-variable forms leave the second variable empty.
  r = Parse("[1].map(x, x)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ast.root->iter_var2, "");
}

TEST(ParserTest, RecordsTwoVariableMacroCalls) {
  ParseResult r =
      Parse("[1].all(i, v, true) && [2].existsOne(i, v, true) && {}.transformMap(k, v, v)");
  ASSERT_TRUE(r.ok());
  std::vector<std::string> names;
  Walk(*r.ast.root, [&](const Expr& e) {
    auto it = r.ast.macro_calls.find(e.id);
    if (it != r.ast.macro_calls.end()) names.push_back(it->second);
  });
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("all", "exists_one", "transformMap"));
}

TEST(ParserTest, RequiresSimpleDistinctNamesForBothVariables) {
  EXPECT_EQ(P("[].all(i.j, k, true)"), "ERROR: argument must be a simple name");
  EXPECT_EQ(P("[].exists(j, i.k, true)"), "ERROR: argument must be a simple name");
  EXPECT_EQ(P("[].transformList(j, .k, j)"), "ERROR: argument must be a simple name");
  EXPECT_EQ(P("{}.transformMap(1, k, k)"), "ERROR: argument must be a simple name");
  std::vector<Issue> issues = IssuesOf("[].all(i, i, i < i)");
  ASSERT_THAT(issues, SizeIs(1));
  EXPECT_EQ(issues[0].message, "duplicate variable name: i");
  EXPECT_EQ(issues[0].column, 11);
}

TEST(ParserTest, LeavesTwoVariableMacroNamesWithOtherArityAlone) {
  EXPECT_EQ(P("m.transformList(i, v)"), "m.transformList(i, v)");
  EXPECT_EQ(P("m.transformMap(k, v, p, t, u)"), "m.transformMap(k, v, p, t, u)");
  EXPECT_EQ(P("m.exists(a, b, c, d)"), "m.exists(a, b, c, d)");
  EXPECT_EQ(P("transformList(i, v, t)"), "transformList(i, v, t)");
}

TEST(ParserTest, RecordsMacroCallsByExpandedNodeId) {
  ParseResult r = Parse("[1].all(x, x > 0) && has(a.b) && [2].map(y, y)");
  ASSERT_TRUE(r.ok());
  std::vector<std::string> names;
  Walk(*r.ast.root, [&](const Expr& e) {
    auto it = r.ast.macro_calls.find(e.id);
    if (it != r.ast.macro_calls.end()) names.push_back(it->second);
  });
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("all", "has", "map"));
  EXPECT_THAT(r.ast.macro_calls, SizeIs(3));
}

TEST(ParserTest, LeavesCallsWithOtherShapesAlone) {
  EXPECT_EQ(P("all(x, p)"), "all(x, p)");
  EXPECT_EQ(P("m.all(x)"), "m.all(x)");
  EXPECT_EQ(P("m.filter(x, p, q)"), "m.filter(x, p, q)");
  EXPECT_EQ(P("m.map(a, b, c, d)"), "m.map(a, b, c, d)");
  EXPECT_EQ(P("has(a.b, c)"), "has(a.b, c)");
  EXPECT_EQ(P(".has(a.b)"), ".has(a.b)");
}

TEST(ParserTest, RequiresASimpleNameAsTheIterationVariable) {
  std::vector<Issue> issues = IssuesOf("1.all(2, 3)");
  ASSERT_THAT(issues, SizeIs(1));
  EXPECT_EQ(issues[0].message, "argument must be a simple name");
  EXPECT_EQ(issues[0].column, 7);
  EXPECT_EQ(P("m.filter(a.b, false)"), "ERROR: argument is not an identifier");
  EXPECT_EQ(P("m.map(.a, a)"), "ERROR: argument is not an identifier");
}

// ---- Ids and positions ----

TEST(ParserTest, GivesEveryNodeAUniquePositiveId) {
  ParseResult r = Parse("a.b + [1, {2: 3}].map(x, x * f(y)) - Msg{f: 1}.f");
  ASSERT_TRUE(r.ok());
  std::vector<ExprId> ids;
  Walk(*r.ast.root, [&](const Expr& e) {
    ids.push_back(e.id);
    for (const Expr::Entry& entry : e.entries) ids.push_back(entry.id);
  });
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  EXPECT_GT(ids.front(), 0);
  EXPECT_LE(ids.back(), r.ast.node_count);
  EXPECT_EQ(r.ast.source, "a.b + [1, {2: 3}].map(x, x * f(y)) - Msg{f: 1}.f");
}

TEST(ParserTest, RecordsOffsetsOfOperatorsNamesAndLiterals) {
  ParseResult r = Parse("a + f(b).g(c)");
  ASSERT_TRUE(r.ok());
  const Expr& add = *r.ast.root;
  EXPECT_EQ(add.offset, 2);           // the operator
  EXPECT_EQ(add.args[0]->offset, 0);  // a
  const Expr& g = *add.args[1];
  EXPECT_EQ(g.offset, 9);           // the receiver function's name
  EXPECT_EQ(g.operand->offset, 4);  // f
  EXPECT_EQ(g.operand->args[0]->offset, 6);
  EXPECT_EQ(g.args[0]->offset, 11);
}

// ---- Errors ----

TEST(ParserTest, ReportsSyntaxErrorsWithLineAndColumn) {
  std::vector<Issue> issues = IssuesOf("1 + 2\n3 +");
  ASSERT_THAT(issues, SizeIs(1));
  EXPECT_EQ(issues[0].message, "Syntax error: mismatched input '3' expecting <EOF>");
  EXPECT_EQ(issues[0].line, 2);
  EXPECT_EQ(issues[0].column, 1);
}

TEST(ParserTest, CountsColumnsInCodePointsAfterNonAsciiText) {
  std::vector<Issue> issues = IssuesOf("'\u00e9\u00e9' +\n  '\u20ac' + $");
  ASSERT_THAT(issues, SizeIs(2));
  EXPECT_EQ(issues[0].line, 2);
  EXPECT_EQ(issues[0].column, 9);
}

TEST(ParserTest, ReportsWhatWasExpected) {
  EXPECT_EQ(P("{a}"), "ERROR: Syntax error: mismatched input '}' expecting ':'");
  EXPECT_THAT(P("1 + +"),
              HasSubstr("Syntax error: mismatched input '+' expecting {'[', '{', '(', '.', '-', "
                        "'!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, "
                        "BYTES, IDENTIFIER}"));
  EXPECT_THAT(P("f(a b)"), HasSubstr("mismatched input 'b' expecting {',', ')'}"));
  EXPECT_THAT(P(""), HasSubstr("mismatched input '<EOF>'"));
}

TEST(ParserTest, ReportsLexicalAndSyntaxErrorsTogether) {
  std::vector<Issue> issues = IssuesOf("1 + $");
  ASSERT_THAT(issues, SizeIs(2));
  EXPECT_EQ(issues[0].message, "Syntax error: token recognition error at: '$'");
  EXPECT_EQ(issues[0].column, 5);
  EXPECT_THAT(issues[1].message, HasSubstr("mismatched input '<EOF>'"));
  EXPECT_EQ(issues[1].column, 6);
}

TEST(ParserTest, ReportsSeveralProblemsInOneRun) {
  std::vector<Issue> issues = IssuesOf("[1 +, f(2 *), var, has(x)]");
  ASSERT_THAT(issues, SizeIs(4));
  EXPECT_EQ(issues[0].column, 5);
  EXPECT_EQ(issues[1].column, 12);
  EXPECT_EQ(issues[2].message, "reserved identifier: var");
  EXPECT_EQ(issues[3].message, "invalid argument to has() macro");
}

TEST(ParserTest, ReportsEveryBadTokenAfterAnError) {
  std::vector<Issue> issues = IssuesOf("'3# < 10\" '& tru ^^");
  EXPECT_THAT(issues, SizeIs(4));
}

TEST(ParserTest, ReportsOptionalSyntaxAsUnsupported) {
  std::vector<Issue> issues = IssuesOf("a.?b && a[?b]");
  ASSERT_THAT(issues, SizeIs(2));
  EXPECT_EQ(issues[0].message, "unsupported syntax '.?'");
  EXPECT_EQ(issues[0].column, 2);
  EXPECT_EQ(issues[1].message, "unsupported syntax '[?'");
  EXPECT_EQ(issues[1].column, 10);
  EXPECT_EQ(P("{?'key': value}"), "ERROR: unsupported syntax '?'");
  EXPECT_EQ(P("[?a, ?b]"), "ERROR: unsupported syntax '?' | unsupported syntax '?'");
  EXPECT_EQ(P("Msg{?field: value}"), "ERROR: unsupported syntax '?'");
}

TEST(ParserTest, LeavesNoRootWhenThereAreIssues) {
  ParseResult r = Parse("a +");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.ast.root, nullptr);
  EXPECT_THAT(r.issues, SizeIs(1));
}

// ---- Limits ----

TEST(ParserTest, RejectsSourceLongerThanTheLimit) {
  Limits limits;
  limits.max_source_bytes = 10;
  EXPECT_EQ(P("1 + 2 + 3 + 4", limits),
            "ERROR: expression of 13 bytes exceeds the limit of 10 bytes");
  EXPECT_EQ(P("1 + 2 + 3", limits), "_+_(_+_(1, 2), 3)");
}

TEST(ParserTest, RejectsTooManyNodes) {
  Limits limits;
  limits.max_nodes = 5;
  EXPECT_EQ(P("[1, 2, 3, 4]", limits), "[1, 2, 3, 4]");
  EXPECT_EQ(P("[1, 2, 3, 4, 5]", limits), "ERROR: expression has more than 5 nodes");
  // Macro expansions count.
  EXPECT_EQ(P("x.all(y, y)", limits), "ERROR: expression has more than 5 nodes");
}

std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.append(s.data(), s.size());
  return out;
}

Limits Huge() {
  Limits limits;
  limits.max_source_bytes = 10'000'000;
  limits.max_nodes = 10'000'000;
  return limits;
}

TEST(ParserTest, SurvivesAMillionOpenParentheses) {
  EXPECT_EQ(P(Repeat("(", 1'000'000), Huge()), "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P(Repeat("[", 1'000'000), Huge()), "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P(Repeat("{", 1'000'000), Huge()), "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P(Repeat("f(", 1'000'000), Huge()), "ERROR: expression nesting exceeds limit of 200");
}

TEST(ParserTest, SurvivesAMillionUnaryOperators) {
  EXPECT_EQ(P(Repeat("-", 1'000'000) + "1", Huge()),
            "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P(Repeat("!", 1'000'000) + "a", Huge()),
            "ERROR: expression nesting exceeds limit of 200");
}

TEST(ParserTest, SurvivesLongChains) {
  EXPECT_EQ(P("a" + Repeat(".b", 1'000'000), Huge()),
            "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P("a" + Repeat("[0]", 500'000), Huge()),
            "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P("1" + Repeat(" + 1", 500'000), Huge()),
            "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P("a" + Repeat(".f()", 500'000), Huge()),
            "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P(Repeat("a ? b : ", 500'000) + "c", Huge()),
            "ERROR: expression nesting exceeds limit of 200");
  EXPECT_EQ(P("x" + Repeat(".map(y, y)", 100'000), Huge()),
            "ERROR: expression nesting exceeds limit of 200");
}

TEST(ParserTest, KeepsLongLogicalChainsShallow) {
  // Balanced: 100,000 terms are only ~17 levels deep.
  ParseResult r = Parse("a" + Repeat(" || a", 99'999), Huge());
  EXPECT_TRUE(r.ok());
}

TEST(ParserTest, HonoursASmallerNestingLimit) {
  Limits limits;
  limits.max_nesting_depth = 3;
  EXPECT_EQ(P("((a))", limits), "a");
  EXPECT_EQ(P("(((a)))", limits), "ERROR: expression nesting exceeds limit of 3");
  EXPECT_EQ(P("a.b.c", limits), "a.b.c");
  EXPECT_EQ(P("a.b.c.d", limits), "ERROR: expression nesting exceeds limit of 3");
}

TEST(ParserTest, AcceptsTheNestingTheSpecificationRequires) {
  // From the conformance suite's "parse" section: 32 levels must be supported.
  EXPECT_TRUE(Parse(Repeat("(", 32) + "7" + Repeat(")", 32)).ok());
  EXPECT_TRUE(Parse(Repeat("!", 32) + "true").ok());
  EXPECT_TRUE(Parse(Repeat("-", 32) + "19").ok());
  EXPECT_TRUE(Parse("size(" + Repeat("[", 12) + "0" + Repeat("]", 12) + ")").ok());
  EXPECT_TRUE(Parse("a" + Repeat("[a", 11) + "[0" + Repeat("]", 12)).ok());
  EXPECT_TRUE(Parse(Repeat("true ? true : ", 24) + "false").ok());
  EXPECT_TRUE(Parse("1" + Repeat(" + 1", 150)).ok());
  EXPECT_TRUE(Parse("x" + Repeat(".f", 150)).ok());
}

}  // namespace
}  // namespace varav::cel
