#include "services/cli/render.h"

#include <sstream>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/cli/commands.h"

namespace varav::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TableTest, AlignsColumnsByCodePointsNotBytes) {
  Table t({"ID", "NAME"});
  t.AddRow({"õ-teenus", "Vanemahüvitise e-teenus"});
  t.AddRow({"ab", "x"});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(),
            "ID        NAME\n"
            "õ-teenus  Vanemahüvitise e-teenus\n"
            "ab        x\n");
}

TEST(TableTest, TruncatesLongCellsWithAnEllipsis) {
  Table t({"A"});
  t.AddRow({"abcdefghij"});
  std::ostringstream out;
  t.Print(out, 5);
  EXPECT_THAT(out.str(), HasSubstr("abcd…"));
}

TEST(TruncateTest, KeepsMultibyteCharactersWhole) {
  EXPECT_EQ(Truncate("äöüõšž", 4), "äöü…");
  EXPECT_EQ(Truncate("äö", 4), "äö");
  EXPECT_EQ(DisplayWidth("Värav"), 5u);
}

TEST(EnumTest, ShortNamesAndParsingRoundTrip) {
  EXPECT_EQ(StatusName(v1::SERVICE_STATUS_IN_REVIEW), "in_review");
  EXPECT_EQ(OutcomeName(v1::GATE_OUTCOME_GO_WITH_CONDITIONS), "go_with_conditions");
  EXPECT_EQ(*ParseOutcome("go-with-conditions"), v1::GATE_OUTCOME_GO_WITH_CONDITIONS);
  EXPECT_EQ(*ParseStatus("on_hold"), v1::SERVICE_STATUS_ON_HOLD);
  EXPECT_EQ(*ParseAnswer("NA"), v1::ANSWER_VALUE_NOT_APPLICABLE);
  EXPECT_EQ(*ParseAnswer("osaliselt"), v1::ANSWER_VALUE_PARTLY);
}

TEST(EnumTest, RejectsUnknownAndUnspecifiedValues) {
  EXPECT_EQ(ParseOutcome("maybe").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseOutcome("unspecified").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseAnswer("perhaps").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TimeTest, ParsesDatesAndRfc3339AndFormatsUtc) {
  auto date = ParseTime("2027-01-31");
  ASSERT_TRUE(date.ok());
  EXPECT_EQ(FormatTime(*date), "2027-01-31 00:00:00Z");
  auto full = ParseTime("2027-01-31T12:30:00+02:00");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(FormatTime(*full), "2027-01-31 10:30:00Z");
  EXPECT_FALSE(ParseTime("31.01.2027").ok());
  EXPECT_EQ(FormatTime(google::protobuf::Timestamp()), "-");
}

v1::RuleResult Result(const std::string& id, v1::RuleSeverity severity, v1::RuleOutcome outcome) {
  v1::RuleResult r;
  r.set_rule_id(id);
  r.set_severity(severity);
  r.set_enforcement(v1::RULE_ENFORCEMENT_ENFORCE);
  r.set_outcome(outcome);
  if (outcome != v1::RULE_OUTCOME_PASS) r.mutable_message()->set_en("Submit the " + id + ".");
  return r;
}

TEST(EvaluationTest, CountsOnlyEnforcedMustRules) {
  v1::GateEvaluation e;
  *e.add_results() = Result("a.vision.present", v1::RULE_SEVERITY_MUST, v1::RULE_OUTCOME_PASS);
  *e.add_results() = Result("a.team.present", v1::RULE_SEVERITY_MUST, v1::RULE_OUTCOME_FAIL);
  *e.add_results() = Result("a.assessment.p1", v1::RULE_SEVERITY_SHOULD, v1::RULE_OUTCOME_FAIL);
  v1::RuleResult warn = Result("a.warned", v1::RULE_SEVERITY_MUST, v1::RULE_OUTCOME_FAIL);
  warn.set_enforcement(v1::RULE_ENFORCEMENT_WARN);
  *e.add_results() = warn;
  MustCount count = CountMust(e);
  EXPECT_EQ(count.passed, 1);
  EXPECT_EQ(count.total, 2);
  EXPECT_THAT(EvaluationHeadline(e), HasSubstr("must rules passing: 1/2"));
}

TEST(EvaluationTest, ShowsFailingRulesWithTheirMessageAndTheMissingOutputs) {
  v1::GateEvaluation e;
  *e.add_results() = Result("a.vision.present", v1::RULE_SEVERITY_MUST, v1::RULE_OUTCOME_PASS);
  *e.add_results() = Result("a.team.present", v1::RULE_SEVERITY_MUST, v1::RULE_OUTCOME_FAIL);
  google::protobuf::RepeatedPtrField<v1::OutputType> missing;
  v1::OutputType* team = missing.Add();
  team->set_id("team");
  team->mutable_name()->set_en("Team");
  team->mutable_name()->set_et("Meeskond");
  std::ostringstream out;
  PrintEvaluation(out, e, missing, RenderOptions{.lang = "et"});
  EXPECT_THAT(out.str(), HasSubstr("a.team.present"));
  EXPECT_THAT(out.str(), HasSubstr("Submit the a.team.present."));
  EXPECT_THAT(out.str(), Not(HasSubstr("a.vision.present  ")));
  EXPECT_THAT(out.str(), HasSubstr("1 passing rules not shown"));
  EXPECT_THAT(out.str(), HasSubstr("\nteam    Meeskond\n"));
}

TEST(FieldsArgumentTest, ParsesInlineJsonObjectsAndRejectsOthers) {
  auto fields = ParseFieldsArgument("--fields", R"({"horizon_years": 5, "scope": "x"})");
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ(fields->fields().at("horizon_years").number_value(), 5);
  EXPECT_EQ(ParseFieldsArgument("--fields", "[1, 2]").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ParseFieldsArgument("--fields", "@/nonexistent/file.json").status().message(),
              HasSubstr("--fields"));
}

TEST(RunCommandLineTest, ExitsTwoOnUsageErrorsWithoutContactingAServer) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCommandLine(
                {"gate", "decide", "svc", "--panel", "p", "--outcome", "maybe", "--rationale", "r"},
                out, err),
            kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("'maybe' is not one of"));
  EXPECT_EQ(RunCommandLine({"frobnicate"}, out, err), kExitUsage);
  EXPECT_EQ(RunCommandLine({"services", "get"}, out, err), kExitUsage);
}

TEST(RunCommandLineTest, PrintsHelpForEveryCommand) {
  for (const char* path : {"services list", "outputs submit", "gate check", "gate decide",
                           "rules validate", "demo", "events list", "audit verify"}) {
    std::vector<std::string> argv = absl::StrSplit(path, ' ');
    argv.push_back("--help");
    std::ostringstream out, err;
    EXPECT_EQ(RunCommandLine(argv, out, err), kExitOk) << path;
    EXPECT_THAT(out.str(), HasSubstr(std::string("usage: varavctl ") + path)) << path;
  }
}

TEST(RunCommandLineTest, ReportsAnUnreachableServerAsAFailure) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCommandLine({"services", "get", "svc", "--addr", "127.0.0.1:1", "--timeout-s", "2"},
                           out, err),
            kExitFailure);
  EXPECT_THAT(err.str(), HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace varav::cli
