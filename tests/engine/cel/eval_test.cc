// Evaluation semantics of the CEL runtime (internal/planner.cc and the standard library), driven
// through the public Compiler API. Most cases compile without the type checker so that they
// exercise run-time behaviour alone (errors as values, dynamic dispatch).

#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/cel/cel.h"
#include "engine/cel/internal/ast.h"
#include "engine/cel/internal/planner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cel {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const Env> EmptyEnv() {
  static const auto* const env = new std::shared_ptr<const Env>(*EnvBuilder().Build());
  return *env;
}

std::shared_ptr<const Program> CompileUnchecked(absl::string_view expr, Limits limits = {},
                                                std::string container = "") {
  CompileOptions options;
  options.type_check = false;
  options.limits = limits;
  options.container = std::move(container);
  CompileResult r = Compiler(EmptyEnv(), options).Compile(expr);
  EXPECT_TRUE(r.ok()) << expr << "\n" << r.FormattedIssues();
  return r.program;
}

Value Eval(absl::string_view expr, const Activation& activation = {}) {
  std::shared_ptr<const Program> p = CompileUnchecked(expr);
  if (p == nullptr) return Value::Error(absl::StatusCode::kInternal, "did not compile");
  return p->Evaluate(activation);
}

// Evaluates a boolean expression expected to be true (most tests state expectations in CEL).
void ExpectTrue(absl::string_view expr, const Activation& activation = {}) {
  Value v = Eval(expr, activation);
  EXPECT_TRUE(v.kind() == Value::Kind::kBool && v.bool_value())
      << expr << " => " << v.DebugString();
}

void ExpectError(absl::string_view expr, absl::string_view message_part = "",
                 const Activation& activation = {}) {
  Value v = Eval(expr, activation);
  ASSERT_TRUE(v.IsError()) << expr << " => " << v.DebugString();
  EXPECT_THAT(std::string(v.error_message()), HasSubstr(std::string(message_part))) << expr;
}

std::string Str(absl::string_view expr) {
  Value v = Eval(expr);
  if (v.kind() != Value::Kind::kString) return "<not a string: " + v.DebugString() + ">";
  return std::string(v.string_value());
}

// ---- Arithmetic
// --------------------------------------------------------------------------------------

TEST(EvalArithmeticTest, ComputesIntegerOperations) {
  ExpectTrue("1 + 2 * 3 - 4 / 2 == 5");
  ExpectTrue("-7 / 2 == -3 && -7 % 2 == -1 && 7 % -2 == 1");
  ExpectTrue("42u + 2u == 44u && 42u % 5u == 2u");
}

TEST(EvalArithmeticTest, ReportsIntegerOverflowAsError) {
  ExpectError("9223372036854775807 + 1", "overflow");
  ExpectError("-9223372036854775808 - 1", "overflow");
  ExpectError("-(-9223372036854775808)", "overflow");
  ExpectError("(-9223372036854775808) / -1", "overflow");
  ExpectError("(-9223372036854775808) % -1", "overflow");
  ExpectError("5000000000 * 5000000000", "overflow");
  ExpectError("0u - 1u", "overflow");
  ExpectError("18446744073709551615u + 1u", "overflow");
}

TEST(EvalArithmeticTest, RejectsDivisionByZero) {
  ExpectError("1 / 0", "divide by zero");
  ExpectError("1 % 0", "modulus by zero");
  ExpectError("1u / 0u", "divide by zero");
}

TEST(EvalArithmeticTest, FollowsIeeeForDoubles) {
  ExpectTrue("1.0 / 0.0 > 1e308");
  ExpectTrue("0.0 / 0.0 != 0.0 / 0.0");
  ExpectTrue("2.5 * 2.0 == 5.0");
}

TEST(EvalArithmeticTest, RejectsMixedNumericArithmetic) {
  ExpectError("1 + 1u", "no matching overload");
  ExpectError("1.5 % 1.0", "no matching overload");
  ExpectError("-(1u)", "no matching overload");
}

TEST(EvalArithmeticTest, ConcatenatesStringsBytesAndLists) {
  ExpectTrue("'ab' + 'cd' == 'abcd'");
  ExpectTrue("b'ab' + b'cd' == b'abcd'");
  ExpectTrue("[1] + [2, 3] == [1, 2, 3]");
}

// ---- Equality and ordering
// ---------------------------------------------------------------------------

TEST(EvalComparisonTest, ComparesNumbersAcrossKinds) {
  ExpectTrue("dyn(1) == 1u && dyn(1) == 1.0 && dyn(1u) == 1.0");
  ExpectTrue("dyn(-1) < 0u && dyn(1u) > -1 && dyn(1) < 1.5 && dyn(2u) > 1.5");
  ExpectTrue("!(dyn(1) == 0.0 / 0.0) && !(dyn(1) < 0.0 / 0.0)");
  ExpectTrue("[1, 2.0] == [1u, 2]");
  ExpectTrue("{1: 'a'} == {1u: 'a'}");
}

TEST(EvalComparisonTest, OrdersStringsBytesBoolsAndTime) {
  ExpectTrue("'a' < 'b' && 'abc' > 'ab' && 'é' > 'z'");
  ExpectTrue("b'\\x00' < b'\\xff'");
  ExpectTrue("false < true");
  ExpectTrue("duration('1s') < duration('2s')");
  ExpectTrue("timestamp('2020-01-01T00:00:00Z') < timestamp('2021-01-01T00:00:00Z')");
}

TEST(EvalComparisonTest, ReportsIncomparableKinds) {
  ExpectError("1 < 'a'", "no matching overload");
  ExpectError("[1] < [2]", "no matching overload");
}

TEST(EvalComparisonTest, TreatsDifferentKindsAsUnequal) {
  ExpectTrue("dyn(1) != 'a' && dyn(null) != 0 && dyn([]) != {}");
}

// ---- Logic
// -------------------------------------------------------------------------------------------

TEST(EvalLogicTest, AbsorbsErrorsCommutatively) {
  ExpectTrue("!(false && 1 / 0 == 1)");
  ExpectTrue("!(1 / 0 == 1 && false)");
  ExpectTrue("true || 1 / 0 == 1");
  ExpectTrue("1 / 0 == 1 || true");
  ExpectTrue("!(undefined_var && false)");
  ExpectError("true && 1 / 0 == 1", "divide by zero");
  ExpectError("1 / 0 == 1 || false", "divide by zero");
}

TEST(EvalLogicTest, ReportsNonBooleanOperands) {
  ExpectError("'a' && true", "no matching overload");
  ExpectTrue("!('a' && false)");
  ExpectError("!1", "no matching overload");
}

TEST(EvalLogicTest, EvaluatesOnlyTheChosenBranch) {
  ExpectTrue("(true ? 1 : 1 / 0) == 1");
  ExpectTrue("(false ? 1 / 0 : 2) == 2");
  ExpectError("'x' ? 1 : 2", "no matching overload");
  ExpectError("(1 / 0 == 1) ? 1 : 2", "divide by zero");
}

TEST(EvalLogicTest, PropagatesTheFirstErrorThroughStrictCalls) {
  ExpectError("(1 / 0) + (1 % 0)", "divide by zero");
  ExpectError("size(1 / 0)", "divide by zero");
}

TEST(EvalLogicTest, ReportsUnknownFunctionAtRunTime) {
  ExpectError("no_such_function(1)", "unbound function");
  ExpectTrue("no_such_function(1) || true");
}

// ---- Variables, fields, indexing
// ---------------------------------------------------------------------

Activation Outputs() {
  Activation act;
  act.Bind("outputs",
           Value::Map({{Value::String("vision"),
                        Value::Map({{Value::String("score"), Value::Int(7)},
                                    {Value::String("tags"),
                                     Value::List({Value::String("a"), Value::String("b")})}})},
                       {Value::String("none"), Value::Null()}}));
  return act;
}

TEST(EvalVariableTest, SelectsFieldsOfBoundMaps) {
  Activation act = Outputs();
  ExpectTrue("outputs.vision.score == 7", act);
  ExpectTrue("outputs['vision']['tags'][1] == 'b'", act);
  ExpectTrue("has(outputs.vision) && !has(outputs.audio) && has(outputs.vision.score)", act);
}

TEST(EvalVariableTest, ReportsMissingKeysAndBadSelections) {
  Activation act = Outputs();
  ExpectError("outputs.audio", "no such key: audio", act);
  ExpectError("outputs.vision.score.x", "does not support field selection", act);
  ExpectError("has(outputs.none.x)", "does not support field selection", act);
  ExpectError("{'a': 1}['b']", "no such key");
}

TEST(EvalVariableTest, ReportsUnboundVariables) {
  ExpectError("x", "undeclared reference to 'x'");
  ExpectError("x.y.z", "undeclared reference to 'x'");
}

TEST(EvalVariableTest, ResolvesQualifiedNamesBoundAsAWhole) {
  Activation act;
  act.Bind("request.auth", Value::Map({{Value::String("user"), Value::String("mari")}}));
  ExpectTrue("request.auth.user == 'mari'", act);
  act.Bind("a.b.c", Value::Int(3));
  ExpectTrue("a.b.c == 3", act);
}

TEST(EvalVariableTest, PrefersTheRootVariableWhenBound) {
  Activation act;
  act.Bind("a", Value::Map({{Value::String("b"), Value::Int(1)}}));
  act.Bind("a.b", Value::Int(2));
  ExpectTrue("a.b == 1", act);
}

TEST(EvalVariableTest, ResolvesNamesAgainstTheContainer) {
  Activation act;
  act.Bind("varav.v1.gate", Value::Int(3));
  std::shared_ptr<const Program> p = CompileUnchecked("gate + 1", {}, "varav.v1");
  ASSERT_NE(p, nullptr);
  Value v = p->Evaluate(act);
  ASSERT_EQ(v.kind(), Value::Kind::kInt);
  EXPECT_EQ(v.int_value(), 4);
}

TEST(EvalVariableTest, EvaluatesTypeNamesToTypeValues) {
  ExpectTrue("type(1) == int && type(1u) == uint && type('') == string && type(null) == null_type");
  ExpectTrue("type([]) == list && type({}) == map && type(int) == type");
  ExpectTrue("type(duration('1s')) == google.protobuf.Duration");
  ExpectTrue("type(timestamp(0)) == google.protobuf.Timestamp");
  Activation act;
  act.Bind("int", Value::Int(5));
  ExpectTrue("int == 5", act);
}

TEST(EvalVariableTest, IndexesListsWithAnyIntegralNumber) {
  ExpectTrue("[7, 8, 9][1] == 8 && [7, 8, 9][dyn(1u)] == 8 && [7, 8, 9][dyn(2.0)] == 9");
  ExpectError("[7, 8, 9][3]", "index out of range");
  ExpectError("[7, 8, 9][-1]", "index out of range");
  ExpectError("[7, 8, 9][dyn(0.5)]", "invalid list index");
  ExpectError("[7, 8, 9]['a']", "no matching overload");
}

TEST(EvalVariableTest, LooksUpMapKeysWithNumericNormalisation) {
  ExpectTrue("{1u: 'a', 2: 'b'}[1] == 'a' && {1u: 'a', 2: 'b'}[2u] == 'b'");
  ExpectTrue("{1u: 'a', 2: 'b'}[dyn(2.0)] == 'b'");
  ExpectError("{1u: 'a'}[dyn(1.5)]", "no such key");
  ExpectError("{1: 'a'}[dyn(b'x')]", "unsupported key type");
}

TEST(EvalVariableTest, TestsMembershipInListsAndMaps) {
  ExpectTrue("2 in [1, 2, 3] && !(4 in [1, 2, 3]) && dyn(2.0) in [1, 2]");
  ExpectTrue("'a' in {'a': 1} && !('b' in {'a': 1}) && 1u in {1: 'x'}");
}

TEST(EvalVariableTest, RejectsRepeatedMapKeys) {
  ExpectError("{'a': 1, 'a': 2}", "repeated map key");
  ExpectError("{1: 1, 1u: 2}", "repeated map key");
  ExpectError("{1.5: 1}", "unsupported key type");
}

// ---- Checked programs
// --------------------------------------------------------------------------------

TEST(EvalCheckedTest, UsesTheCheckersQualifiedReferences) {
  EnvBuilder b;
  ASSERT_TRUE(b.AddVariable("request.auth", Type::Map(Type::String(), Type::String())).ok());
  ASSERT_TRUE(b.AddVariable("outputs", Type::Map(Type::String(), Type::Dyn())).ok());
  auto env = std::move(b).Build();
  ASSERT_TRUE(env.ok());
  CompileResult r = Compiler(*env).Compile(
      "request.auth.user == 'mari' && has(outputs.vision) && outputs.vision.score > 5");
  ASSERT_TRUE(r.ok()) << r.FormattedIssues();
  Activation act = Outputs();
  act.Bind("request.auth", Value::Map({{Value::String("user"), Value::String("mari")}}));
  Value v = r.program->Evaluate(act);
  ASSERT_EQ(v.kind(), Value::Kind::kBool) << v.DebugString();
  EXPECT_TRUE(v.bool_value());
}

// ---- Strings
// -----------------------------------------------------------------------------------------

TEST(EvalStringTest, CountsCodePoints) {
  ExpectTrue("size('πέντε') == 5 && 'πέντε'.size() == 5 && size(b'abc') == 3");
  ExpectTrue("size([1, 2]) == 2 && size({'a': 1}) == 1");
}

TEST(EvalStringTest, TestsSubstrings) {
  ExpectTrue("'foobar'.contains('oba') && 'foobar'.startsWith('foo') && 'foobar'.endsWith('bar')");
  ExpectTrue("!'foobar'.contains('baz') && ''.startsWith('')");
}

TEST(EvalStringTest, MatchesRegularExpressions) {
  ExpectTrue("'hubba'.matches('ubb') && matches('abc', '^a.c$') && !'abc'.matches('^b')");
  Activation act;
  act.Bind("pattern", Value::String("^[a-z]+$"));
  ExpectTrue("'abc'.matches(pattern) && !'ab1'.matches(pattern)", act);
}

TEST(EvalStringTest, ReportsInvalidRegularExpressionAsError) {
  ExpectError("'abc'.matches('(')", "invalid regular expression");
  Activation act;
  act.Bind("pattern", Value::String("["));
  ExpectError("'abc'.matches(pattern)", "invalid regular expression", act);
}

TEST(EvalStringExtTest, IndexesByCodePoint) {
  EXPECT_EQ(Str("'tacocat'.charAt(3)"), "o");
  EXPECT_EQ(Str("'tacocat'.charAt(7)"), "");
  ExpectError("'tacocat'.charAt(8)", "index out of range: 8");
  ExpectTrue("'ta©o©αT'.indexOf('©') == 2 && 'ta©o©αT'.indexOf('©', 3) == 4");
  ExpectTrue("'tacocat'.indexOf('') == 0 && 'tacocat'.indexOf('none') == -1");
  ExpectTrue("'ta©o©αT'.lastIndexOf('©') == 4 && 'bananananana'.lastIndexOf('nana', 7) == 6");
  ExpectTrue("'tacocat'.lastIndexOf('') == 7");
  ExpectError("'tacocat'.indexOf('a', 30)", "index out of range");
  ExpectError("'tacocat'.lastIndexOf('a', -1)", "index out of range");
}

TEST(EvalStringExtTest, SlicesAndTransforms) {
  EXPECT_EQ(Str("'ta©o©αT'.substring(2, 6)"), "©o©α");
  EXPECT_EQ(Str("'tacocat'.substring(4)"), "cat");
  ExpectError("'tacocat'.substring(4, 3)", "invalid substring range");
  ExpectError("'tacocat'.substring(40)", "index out of range");
  EXPECT_EQ(Str("'TacoCÆt'.lowerAscii()"), "tacocÆt");
  EXPECT_EQ(Str("'tacoCαt'.upperAscii()"), "TACOCαT");
  EXPECT_EQ(Str("'{0} days {0} hours'.replace('{0}', '2')"), "2 days 2 hours");
  EXPECT_EQ(Str("'{0} days {0} hours'.replace('{0}', '2', 1)"), "2 days {0} hours");
  EXPECT_EQ(Str("' \\f\\n\\r\\t\\vtext\\u2003 '.trim()"), "text");
  EXPECT_EQ(Str("'\\u200btext'.trim()"), "\u200btext");
  EXPECT_EQ(Str("'abc©'.reverse()"), "©cba");
}

TEST(EvalStringExtTest, SplitsAndJoins) {
  ExpectTrue("'a b c'.split(' ') == ['a', 'b', 'c']");
  ExpectTrue("'a b c'.split(' ', 2) == ['a', 'b c'] && 'a b'.split(' ', 0) == []");
  ExpectTrue("'o©o'.split('') == ['o', '©', 'o']");
  ExpectTrue("['x', 'y'].join() == 'xy' && ['x', 'y'].join('-') == 'x-y' && [].join() == ''");
  ExpectError("[1, 2].join()", "not string");
}

TEST(EvalStringExtTest, QuotesStrings) {
  EXPECT_EQ(Str("strings.quote('first\\nsecond')"), "\"first\\nsecond\"");
  EXPECT_EQ(Str("strings.quote('say \"hi\" \\\\ ok')"), "\"say \\\"hi\\\" \\\\ ok\"");
}

TEST(EvalStringExtTest, FormatsValues) {
  EXPECT_EQ(Str("'%s and %d, %.2f'.format(['a', 42, 3.14159])"), "a and 42, 3.14");
  EXPECT_EQ(Str("'%%%s%%'.format(['x'])"), "%x%");
  EXPECT_EQ(Str("'%b %o %x %X'.format([5, 11, 30, 30])"), "101 13 1e 1E");
  EXPECT_EQ(Str("'%x'.format(['Hi'])"), "4869");
  EXPECT_EQ(Str("'%e'.format([1052.032911275])"), "1.052033e+03");
  EXPECT_EQ(Str("'%.0f %.0f'.format([2.5, 3.5])"), "2 4");
  EXPECT_EQ(Str("'%s'.format([[1, 'a', null, 2.5]])"), "[1, a, null, 2.5]");
  EXPECT_EQ(Str("'%s'.format([{'b': 1, 'a': true}])"), "{a: true, b: 1}");
  EXPECT_EQ(Str("'%s'.format([duration('90s')])"), "90s");
  EXPECT_EQ(Str("'%d'.format([double('NaN')])"), "NaN");
  ExpectError("'%a'.format([1])", "unrecognized formatting clause");
  ExpectError("'%d %d'.format([1])", "index 1 out of range");
  ExpectError("'%d'.format(['x'])", "decimal clause");
  ExpectError("'%b'.format(['x'])", "binary");
}

// ---- Conversions
// -------------------------------------------------------------------------------------

TEST(EvalConversionTest, ConvertsNumbersWithRangeChecks) {
  ExpectTrue("int(42u) == 42 && int(-7.9) == -7 && int('-12') == -12");
  ExpectTrue("uint(42) == 42u && uint(3.9) == 3u && uint('300') == 300u");
  ExpectTrue("double(2) == 2.0 && double('1e3') == 1000.0 && double('-0.5') == -0.5");
  ExpectError("int(18446744073709551615u)", "range");
  ExpectError("int(9223372036854775807.0)", "range");
  ExpectError("int(-9223372036854775808.0)", "range");
  ExpectError("int(1e99)", "range");
  ExpectError("uint(-1)", "range");
  ExpectError("uint(-0.5)", "range");
  ExpectError("int('12a')", "cannot convert");
  ExpectError("int(' 12')", "cannot convert");
  ExpectError("double('abc')", "cannot convert");
}

TEST(EvalConversionTest, RendersScalarsAsStrings) {
  EXPECT_EQ(Str("string(1.0)"), "1");
  EXPECT_EQ(Str("string(123.456)"), "123.456");
  EXPECT_EQ(Str("string(-4.5e-3)"), "-0.0045");
  EXPECT_EQ(Str("string(1e-05)"), "1e-05");
  EXPECT_EQ(Str("string(1234567.0)"), "1.234567e+06");
  EXPECT_EQ(Str("string(-42)"), "-42");
  EXPECT_EQ(Str("string(7u)"), "7");
  EXPECT_EQ(Str("string(true)"), "true");
  EXPECT_EQ(Str("string(b'abc')"), "abc");
  ExpectError("string(b'\\xff')", "invalid UTF-8");
}

TEST(EvalConversionTest, ParsesBooleans) {
  for (const char* s : {"1", "t", "T", "true", "TRUE", "True"}) {
    ExpectTrue(absl::StrCat("bool('", s, "') == true"));
  }
  for (const char* s : {"0", "f", "F", "false", "FALSE", "False"}) {
    ExpectTrue(absl::StrCat("bool('", s, "') == false"));
  }
  ExpectError("bool('TrUe')", "cannot convert");
}

TEST(EvalConversionTest, ConvertsBytesAndDyn) {
  ExpectTrue("bytes('ÿ') == b'\\xc3\\xbf' && dyn(3) == 3");
}

// ---- Time
// --------------------------------------------------------------------------------------------

TEST(EvalTimeTest, ParsesAndFormatsTimestamps) {
  EXPECT_EQ(Str("string(timestamp('2009-02-13T23:31:30Z'))"), "2009-02-13T23:31:30Z");
  EXPECT_EQ(Str("string(timestamp('2009-02-13T23:31:30.120Z'))"), "2009-02-13T23:31:30.12Z");
  EXPECT_EQ(Str("string(timestamp('2009-02-14T01:31:30+02:00'))"), "2009-02-13T23:31:30Z");
  EXPECT_EQ(Str("string(timestamp('0001-01-01T00:00:00Z'))"), "0001-01-01T00:00:00Z");
  ExpectTrue("int(timestamp('2009-02-13T23:31:30Z')) == 1234567890");
  ExpectTrue("timestamp(1234567890) == timestamp('2009-02-13T23:31:30Z')");
  ExpectError("timestamp('2009-02-13')", "invalid timestamp");
  ExpectError("timestamp('0000-01-01T00:00:00Z')", "range");
  ExpectError("timestamp('9999-12-31T23:59:59Z') + duration('1s')", "range");
}

TEST(EvalTimeTest, ParsesAndFormatsDurations) {
  EXPECT_EQ(Str("string(duration('1h2m3.5s'))"), "3723.5s");
  EXPECT_EQ(Str("string(duration('-1.5s'))"), "-1.5s");
  EXPECT_EQ(Str("string(duration('-0.25s'))"), "-0.25s");
  EXPECT_EQ(Str("string(duration('300ms'))"), "0.3s");
  EXPECT_EQ(Str("string(duration('1us') + duration('1ns'))"), "0.000001001s");
  EXPECT_EQ(Str("string(duration('0'))"), "0s");
  ExpectError("duration('1d')", "invalid duration");
  ExpectError("duration('320000000000s')", "range");
  ExpectError("duration('200000000000s') + duration('200000000000s')", "range");
}

TEST(EvalTimeTest, DoesTimeArithmetic) {
  ExpectTrue(
      "timestamp('2009-02-13T23:00:00Z') + duration('240s') == "
      "timestamp('2009-02-13T23:04:00Z')");
  ExpectTrue(
      "timestamp('2009-02-13T23:31:00Z') - timestamp('2009-02-13T23:29:00Z') == "
      "duration('120s')");
  ExpectTrue("duration('900s') - duration('42s') == duration('858s')");
  ExpectTrue(
      "timestamp('0001-01-01T00:00:01.000000001Z') + duration('-999999999ns') == "
      "timestamp('0001-01-01T00:00:00.000000002Z')");
  ExpectError("timestamp('9999-12-31T23:59:59Z') - timestamp('0001-01-01T00:00:00Z')", "range");
}

TEST(EvalTimeTest, ReadsCalendarFieldsInUtcAndTimeZones) {
  const std::string t = "timestamp('2009-02-13T23:31:30.123Z')";
  ExpectTrue(t + ".getFullYear() == 2009 && " + t + ".getMonth() == 1 && " + t +
             ".getDate() == 13 && " + t + ".getDayOfMonth() == 12");
  ExpectTrue(t + ".getDayOfWeek() == 5 && " + t + ".getDayOfYear() == 43 && " + t +
             ".getHours() == 23 && " + t + ".getMinutes() == 31");
  ExpectTrue(t + ".getSeconds() == 30 && " + t + ".getMilliseconds() == 123");
  ExpectTrue(t + ".getDate('Australia/Sydney') == 14");
  ExpectTrue(t + ".getHours('America/Los_Angeles') == 15");
  ExpectTrue(t + ".getHours('+05:30') == 5 && " + t + ".getMinutes('+05:30') == 1");
  ExpectTrue(t + ".getHours('-08:00') == 15 && " + t + ".getHours('02:00') == 1");
  ExpectError(t + ".getHours('Mars/Olympus')", "unknown time zone");
}

TEST(EvalTimeTest, ReadsDurationFields) {
  ExpectTrue("duration('10000s').getHours() == 2 && duration('3730s').getMinutes() == 62");
  ExpectTrue("duration('3730s').getSeconds() == 3730");
  ExpectTrue("duration('123.321456s').getMilliseconds() == 321");
}

// ---- Comprehensions and budgets
// ----------------------------------------------------------------------

TEST(EvalComprehensionTest, ExpandsTheStandardMacros) {
  ExpectTrue("[1, 2, 3].all(x, x > 0) && ![1, 2, 3].all(x, x > 1)");
  ExpectTrue("[1, 2, 3].exists(x, x == 2) && ![1, 2, 3].exists(x, x == 4)");
  ExpectTrue("[1, 2, 3].exists_one(x, x > 2) && ![1, 2, 3].exists_one(x, x > 1)");
  ExpectTrue("[1, 2, 3].map(x, x * 2) == [2, 4, 6]");
  ExpectTrue("[1, 2, 3].map(x, x > 1, x * 10) == [20, 30]");
  ExpectTrue("[1, 2, 3, 4].filter(x, x % 2 == 0) == [2, 4]");
  ExpectTrue("{'a': 1, 'b': 2}.all(k, k in ['a', 'b']) && {'a': 1}.map(k, k) == ['a']");
  ExpectTrue("[[1, 2], [3]].map(l, l.map(x, x + 1)) == [[2, 3], [4]]");
}

TEST(EvalComprehensionTest, AbsorbsErrorsLikeLogicalOperators) {
  ExpectTrue("![1, 2, 3].all(e, 6 / (2 - e) == 6)");
  ExpectError("[1, 2, 3].all(e, e / 0 != 17)", "divide by zero");
  ExpectTrue("[0, 1].exists(e, e == 1 || 1 / e == 1)");
  ExpectError("[2, 1, 0].map(n, 4 / n)", "divide by zero");
}

TEST(EvalComprehensionTest, KeepsTheLiteralListIntactAcrossEvaluations) {
  std::shared_ptr<const Program> p = CompileUnchecked("[1, 2].map(x, x)");
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 3; ++i) {
    Value v = p->Evaluate({});
    ASSERT_EQ(v.kind(), Value::Kind::kList);
    EXPECT_EQ(v.size(), 2u);
  }
}

TEST(EvalComprehensionTest, BindsIndexAndElementInTwoVariableMacrosOverLists) {
  ExpectTrue("[1, 2, 3].all(i, v, v == i + 1) && ![1, 2, 3].all(i, v, v == 1)");
  ExpectTrue("[5, 6].exists(i, v, i == 1 && v == 6) && ![5, 6].exists(i, v, i == v)");
  ExpectTrue("[5, 7, 8].existsOne(i, v, v % 5 == i) && [5, 7, 8].exists_one(i, v, i == 2)");
  ExpectTrue("[10, 20, 30].transformList(i, v, v + i) == [10, 21, 32]");
  ExpectTrue("[10, 20, 30].transformList(i, v, i != 1, v) == [10, 30]");
  ExpectTrue("['a', 'b'].transformMap(i, v, v + v) == {0: 'aa', 1: 'bb'}");
  ExpectTrue("['a', 'b', 'c'].transformMap(i, v, i > 0, v) == {1: 'b', 2: 'c'}");
  ExpectTrue("['a', 'b'].transformMapEntry(i, v, {v: i}) == {'a': 0, 'b': 1}");
  ExpectTrue("[].transformList(i, v, v) == [] && [].transformMap(i, v, v) == {}");
}

TEST(EvalComprehensionTest, BindsKeyAndValueInTwoVariableMacrosOverMaps) {
  ExpectTrue("{'a': 1, 'b': 2}.all(k, v, k != 'c' && v > 0)");
  ExpectTrue("{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2)");
  ExpectTrue("{6: 'six', 7: 'seven'}.existsOne(k, v, k % 5 == 2 && v == 'seven')");
  ExpectTrue("{'a': 1, 'b': 2}.transformList(k, v, k + string(v)) == ['a1', 'b2']");
  ExpectTrue("{'a': 1, 'b': 2}.transformMap(k, v, v * 10) == {'a': 10, 'b': 20}");
  ExpectTrue("{'a': 1, 'b': 2}.transformMap(k, v, v > 1, k) == {'b': 'b'}");
  ExpectTrue("{'a': 1, 'b': 2}.transformMapEntry(k, v, {v: k}) == {1: 'a', 2: 'b'}");
  ExpectTrue("{'a': 1, 'b': 2}.transformMapEntry(k, v, v == 2, {k: v, v: k}) == {'b': 2, 2: 'b'}");
  ExpectTrue("{'a': 1}.transformMapEntry(k, v, {}) == {}");
}

TEST(EvalComprehensionTest, AbsorbsErrorsInTwoVariableQuantifiersLikeLogicalOperators) {
  ExpectTrue("![1, 2, 3].all(i, v, 6 / (2 - v) == i)");
  ExpectError("[1, 2, 3].all(i, v, v / i != 17)", "divide by zero");
  ExpectError("[1, 2, 3].exists(i, v, v / i == 17)", "divide by zero");
  // existsOne must see every element, so nothing absorbs the error.
  ExpectError("[3, 2, 1, 0].existsOne(i, v, v / i > 1)", "divide by zero");
  ExpectError("[2, 1, 0].transformList(i, v, v / i)", "divide by zero");
  ExpectError("{'a': 2, 'b': 0}.transformMap(k, v, k == 'b' && 4 / v == 0, v)", "divide by zero");
}

TEST(EvalComprehensionTest, RejectsRepeatedKeysInTransformMapEntry) {
  ExpectError("[1, 1].transformMapEntry(i, v, {v: i})", "insert failed: key 1 already exists");
  // Keys collide under CEL's numeric key equality.
  ExpectError("[0, 0u].transformMapEntry(i, v, {v: i})", "already exists");
  ExpectError("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 3].transformMapEntry(i, v, {v: i})",
              "insert failed: key 3 already exists");
  ExpectError("[1].transformMapEntry(i, v, [v])", "no matching overload");
}

TEST(EvalComprehensionTest, BuildsLargeMapsThatLookUpByKey) {
  ExpectTrue(
      "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].transformMap(i, v, v * 2)[11u] == 22 && "
      "size([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].transformMap(i, v, v)) == 12");
  ExpectTrue(
      "['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].transformMapEntry(i, v, {v: i})['j'] "
      "== 9");
}

TEST(EvalComprehensionTest, LeavesBoundAndLiteralMapsIntactWhenBuildingMaps) {
  Activation act;
  act.Bind("m", Value::Map({{Value::String("a"), Value::Int(1)}}));
  ExpectTrue("m.transformMapEntry(k, v, {k + k: v}) == {'aa': 1} && m == {'a': 1}", act);
  std::shared_ptr<const Program> p = CompileUnchecked("[1, 2].transformMap(i, v, v)");
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 3; ++i) {
    Value v = p->Evaluate({});
    ASSERT_EQ(v.kind(), Value::Kind::kMap) << v.DebugString();
    EXPECT_EQ(v.size(), 2u);
  }
}

TEST(EvalCheckedTest, EvaluatesTwoVariableMacrosOverHeterogeneousRanges) {
  for (const char* expr : {"[1, 'foo', 3].exists(i, v, i == 1 && v != '1')",
                           "{'key': 1, 1: 21}.exists(k, v, k != 2 && v != 22)",
                           "{'a': 1}.transformMap(k, v, v + 1) == {'a': 2}",
                           "[1, 2].transformList(i, v, v * i) == [0, 2]"}) {
    CompileResult r = Compiler(EmptyEnv()).Compile(expr);
    ASSERT_TRUE(r.ok()) << expr << "\n" << r.FormattedIssues();
    Value v = r.program->Evaluate({});
    ASSERT_EQ(v.kind(), Value::Kind::kBool) << expr << " => " << v.DebugString();
    EXPECT_TRUE(v.bool_value()) << expr;
  }
}

// Hand-built trees for the two-variable comprehension forms, independent of the parser's macros.
ExprPtr Node(Expr::Kind kind) {
  auto e = std::make_unique<Expr>();
  static ExprId next_id = 1;
  e->kind = kind;
  e->id = next_id++;
  return e;
}
ExprPtr Ident(std::string name) {
  ExprPtr e = Node(Expr::Kind::kIdent);
  e->name = std::move(name);
  return e;
}
ExprPtr IntLiteral(int64_t v) {
  ExprPtr e = Node(Expr::Kind::kConstant);
  e->constant = v;
  return e;
}
ExprPtr Call(std::string name, std::vector<ExprPtr> args) {
  ExprPtr e = Node(Expr::Kind::kCall);
  e->name = std::move(name);
  e->args = std::move(args);
  return e;
}
template <typename... T>
std::vector<ExprPtr> Args(T... args) {
  std::vector<ExprPtr> v;
  (v.push_back(std::move(args)), ...);
  return v;
}

Value EvalAst(ExprPtr root, const Activation& activation) {
  Ast ast;
  ast.root = std::move(root);
  CompileOptions options;
  options.type_check = false;
  absl::StatusOr<std::unique_ptr<const PlannedExpr>> plan = Plan(ast, nullptr, options);
  if (!plan.ok()) return Value::Error(absl::StatusCode::kInternal, "plan failed");
  return (*plan)->Evaluate(activation, Limits{}, nullptr, nullptr);
}

// `range.all(i, v, i < v)` as the parser expands it.
ExprPtr AllIndexLessThanValue(ExprPtr range) {
  ExprPtr e = Node(Expr::Kind::kComprehension);
  e->iter_var = "i";
  e->iter_var2 = "v";
  e->accu_var = "@result";
  e->iter_range = std::move(range);
  e->accu_init = Node(Expr::Kind::kConstant);
  e->accu_init->constant = true;
  e->loop_condition = Call(std::string(op::kNotStrictlyFalse), Args(Ident("@result")));
  e->loop_step =
      Call(std::string(op::kLogicalAnd),
           Args(Ident("@result"), Call(std::string(op::kLess), Args(Ident("i"), Ident("v")))));
  e->result = Ident("@result");
  return e;
}

TEST(EvalComprehensionTest, BindsIndexAndElementInTwoVariableLoops) {
  Activation act;
  act.Bind("xs", Value::List({Value::Int(10), Value::Int(20)}));
  act.Bind("ys", Value::List({Value::Int(10), Value::Int(0)}));
  Value v = EvalAst(AllIndexLessThanValue(Ident("xs")), act);
  ASSERT_EQ(v.kind(), Value::Kind::kBool) << v.DebugString();
  EXPECT_TRUE(v.bool_value());
  v = EvalAst(AllIndexLessThanValue(Ident("ys")), act);
  ASSERT_EQ(v.kind(), Value::Kind::kBool) << v.DebugString();
  EXPECT_FALSE(v.bool_value());
}

TEST(EvalComprehensionTest, BindsKeyAndValueInTwoVariableLoopsOverMaps) {
  Activation act;
  act.Bind("m", Value::Map({{Value::Int(1), Value::Int(2)}, {Value::Int(3), Value::Int(4)}}));
  Value v = EvalAst(AllIndexLessThanValue(Ident("m")), act);
  ASSERT_EQ(v.kind(), Value::Kind::kBool) << v.DebugString();
  EXPECT_TRUE(v.bool_value());
}

TEST(EvalComprehensionTest, RejectsIterationOverScalars) {
  Value v = EvalAst(AllIndexLessThanValue(IntLiteral(3)), {});
  ASSERT_TRUE(v.IsError());
  EXPECT_THAT(std::string(v.error_message()), HasSubstr("cannot iterate"));
}

TEST(EvalBudgetTest, StopsNestedLoopsAtTheIterationBudget) {
  Limits limits;
  limits.max_iterations = 10'000;
  Activation act;
  std::vector<Value> big;
  for (int i = 0; i < 1000; ++i) big.push_back(Value::Int(i));
  act.Bind("xs", Value::List(big));
  std::shared_ptr<const Program> p =
      CompileUnchecked("xs.all(x, xs.all(y, xs.all(z, x + y + z >= 0)))", limits);
  ASSERT_NE(p, nullptr);
  auto start = std::chrono::steady_clock::now();
  EvalStats stats;
  Value v = p->Evaluate(act, &stats);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(v.IsError()) << v.DebugString();
  EXPECT_EQ(v.error_code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(v.error_message()), HasSubstr("iteration budget exceeded"));
  EXPECT_LE(stats.iterations, limits.max_iterations + 1);
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST(EvalBudgetTest, DoesNotLetLogicAbsorbABudgetError) {
  Limits limits;
  limits.max_iterations = 5;
  std::shared_ptr<const Program> p = CompileUnchecked(
      "false && [1, 2, 3, 4, 5, 6].all(x, x > 0) || "
      "[1, 2, 3, 4, 5, 6].exists(x, x < 0)",
      limits);
  ASSERT_NE(p, nullptr);
  Value v = p->Evaluate({});
  ASSERT_TRUE(v.IsError()) << v.DebugString();
  EXPECT_EQ(v.error_code(), absl::StatusCode::kResourceExhausted);
}

TEST(EvalBudgetTest, ChargesStringWorkAgainstTheCostBudget) {
  Limits limits;
  limits.max_runtime_cost = 1'000'000;
  Activation act;
  act.Bind("s", Value::String(std::string(100'000, 'x')));
  std::vector<Value> range;
  for (int i = 0; i < 1000; ++i) range.push_back(Value::Int(i));
  act.Bind("range", Value::List(range));
  std::shared_ptr<const Program> p = CompileUnchecked("range.map(i, s + s).size() > 0", limits);
  ASSERT_NE(p, nullptr);
  EvalStats stats;
  Value v = p->Evaluate(act, &stats);
  ASSERT_TRUE(v.IsError()) << v.DebugString();
  EXPECT_EQ(v.error_code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(v.error_message()), HasSubstr("cost"));
  EXPECT_LT(stats.cost, 2 * limits.max_runtime_cost);
}

TEST(EvalBudgetTest, ReportsCostAndIterations) {
  std::shared_ptr<const Program> p = CompileUnchecked("[1, 2, 3].all(x, x > 0)");
  ASSERT_NE(p, nullptr);
  EvalStats stats;
  Value v = p->Evaluate({}, &stats);
  ASSERT_EQ(v.kind(), Value::Kind::kBool);
  EXPECT_EQ(stats.iterations, 3);
  EXPECT_GT(stats.cost, 3);
}

}  // namespace
}  // namespace varav::cel
