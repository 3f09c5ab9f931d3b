#include "engine/model/pack_tests.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/model/test_util.h"

namespace varav::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::vector<std::string> Summaries(const PackTestReport& r) {
  std::vector<std::string> out;
  for (const PackTestCase& c : r.cases) out.push_back(c.Summary());
  return out;
}

std::vector<std::string> Errors(const PackTestReport& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.diagnostics) out.push_back(d.ToString());
  return out;
}

class PackTestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pack_ = testing::LoadTiny();
    ASSERT_NE(pack_, nullptr);
  }
  PackTestReport Run(const std::string& yaml) {
    return RunPackTests(*pack_, {SourceFile{"tests/t.yaml", yaml}});
  }
  std::shared_ptr<const CompiledPack> pack_;
};

TEST_F(PackTestsTest, TheTinyPacksOwnTestsPass) {
  PackTestReport r = RunPackTestDir(*pack_, testing::TestData("tiny/tests"));
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_EQ(r.passed(), 4);
  EXPECT_EQ(r.failed(), 0);
  EXPECT_TRUE(r.ok());
}

TEST_F(PackTestsTest, ReportsEachMismatchAsAFailure) {
  PackTestReport r = Run(R"y(fixtures:
  base:
    outputs:
      vision: {fields: {statement: "x", kpis: []}}
      budget: {fields: {amount: 5, source: eu}}
tests:
  - name: right
    gate: A
    fixture: base
    expect: {ready: true, failing: [a.assessment, a.audit.source]}
  - name: wrong
    gate: A
    fixture: base
    patch: {outputs: {budget: null}}
    expect: {ready: true, failing: [a.assessment, a.audit.source, a.vision.present]}
)y");
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Summaries(r),
              ElementsAre("PASS right",
                          "FAIL wrong: rule a.budget.amount expected pass, got error (no such "
                          "key: budget); rule a.vision.present expected fail, got pass; "
                          "expected ready: true, got false"));
  EXPECT_FALSE(r.ok());
}

TEST_F(PackTestsTest, ScoresFixtureAnswersPerQuestion) {
  PackTestReport r = Run(R"y(tests:
  - name: partly and no average below one half
    gate: A
    patch:
      assessments: {P1: {answers: [partly, no]}}
    expect: {failing: [a.assessment, a.audit.source, a.budget.amount, a.vision.kpis,
                       a.vision.present]}
  - name: na answers do not count
    gate: A
    patch:
      assessments:
        P1:
          answers:
            - {question: P1.Q2, answer: partly, evidence: "doc"}
            - na
    expect: {failing: [a.audit.source, a.budget.amount, a.vision.kpis, a.vision.present]}
)y");
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Summaries(r), ElementsAre(StartsWith("PASS"), StartsWith("PASS")));
}

TEST_F(PackTestsTest, ReportsProblemsOfTheTestFileWithPositions) {
  PackTestReport r = Run(R"y(fixtures:
  base:
    outputs:
      vision: {fields: {statement: 5, colour: red}}
      nothing: {}
tests:
  - name: broken
    gate: A
    fixture: base
    expect: {failing: [a.nope]}
  - name: missing fixture
    gate: B
    fixture: elsewhere
    expect: {ready: true}
)y");
  EXPECT_THAT(Errors(r),
              ElementsAre("tests/t.yaml:4:39: field 'colour' is not declared by vision",
                          "tests/t.yaml:5:7: unknown output 'nothing'",
                          "tests/t.yaml:10:24: unknown rule 'a.nope'",
                          "tests/t.yaml:12:11: unknown gate 'B'",
                          "tests/t.yaml:13:14: unknown fixture 'elsewhere' (fixtures are per "
                          "file)"));
  EXPECT_EQ(r.failed(), 2);
}

TEST_F(PackTestsTest, ReportsFixtureValuesThatDoNotFitTheSchema) {
  PackTestReport r = Run(R"y(tests:
  - name: typed
    gate: A
    patch:
      outputs:
        budget: {fields: {amount: lots, approved_at: yesterday, source: moon}}
    expect: {ready: false}
)y");
  EXPECT_THAT(Errors(r),
              ElementsAre("tests/t.yaml:6:35: 'budget.amount' must be a number",
                          StartsWith("tests/t.yaml:6:54: 'approved_at' must be an RFC 3339"),
                          "tests/t.yaml:6:73: 'moon' is not one of: state, eu, other"));
}

TEST(RulesToolTest, ExitsNonZeroOnAMismatchAndZeroWhenClean) {
  auto run = [](const std::string& args, std::string* out) {
    std::string cmd = std::string(VARAV_RULES_TOOL) + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string out;
  EXPECT_EQ(run("test " + testing::TestData("tiny_mismatch"), &out), 1);
  EXPECT_THAT(out, HasSubstr("FAIL an empty fixture is wrongly expected to be ready: "));
  EXPECT_THAT(out, HasSubstr("0 passed, 1 failed"));

  out.clear();
  EXPECT_EQ(run("test " + testing::TestData("tiny") + " " + testing::TestData("tiny_ext"), &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("5 passed, 0 failed"));

  out.clear();
  EXPECT_EQ(run("lint " + testing::TestData("tiny_ext"), &out), 0) << out;
  EXPECT_EQ(run("frobnicate x", &out), 2);
}

}  // namespace
}  // namespace varav::model
