#include "engine/model/loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/model/test_util.h"

namespace varav::model {
namespace {

using ::testing::ElementsAre;
using testing::Messages;
using ::testing::StartsWith;

// A derived pack over testdata/tiny, from in-memory YAML.
LoadResult LoadDerived(const std::string& body, const PackRegistry& registry) {
  return LoadPackFromSources({SourceFile{"d/pack.yaml",
                                         "id: d\nversion: 1.0.0\ntitle: {et: D, en: D}\n"
                                         "extends: tiny@1.0.0\n" +
                                             body}},
                             &registry);
}

class ExtendsTest : public ::testing::Test {
 protected:
  void SetUp() override { base_ = testing::LoadTiny(&registry_); }
  PackRegistry registry_;
  std::shared_ptr<const CompiledPack> base_;
};

TEST_F(ExtendsTest, DerivedPackAddsPanelsOutputsFieldsAndRules) {
  LoadResult r = LoadPackDir(testing::TestData("tiny_ext"), &registry_);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(Messages(r));
  const CompiledPack& p = *r.pack;
  EXPECT_EQ(p.proto().extends(), "tiny@1.0.0");
  EXPECT_NE(p.FindPanel("security"), nullptr);
  EXPECT_NE(p.FindPanel("board"), nullptr);
  EXPECT_NE(p.FindOutput("risk_log"), nullptr);
  ASSERT_NE(p.FindOutput("vision"), nullptr);
  EXPECT_EQ(p.FindOutput("vision")->fields_size(), base_->FindOutput("vision")->fields_size() + 1);
  EXPECT_EQ(p.FindOutput("vision")->fields().rbegin()->name(), "owner");
  EXPECT_NE(p.FindRule("a.vision.owner"), nullptr);
  EXPECT_EQ(p.proto().rules_size(), base_->proto().rules_size() + 1);
  EXPECT_NE(p.digest(), base_->digest());
}

TEST_F(ExtendsTest, TighteningAShouldRuleIntoMustIsAllowed) {
  LoadResult r = LoadDerived("rules:\n  - {id: a.assessment, severity: must}\n", registry_);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(Messages(r));
  EXPECT_EQ(base_->FindRule("a.assessment")->rule->severity(), v1::RULE_SEVERITY_SHOULD);
  EXPECT_EQ(r.pack->FindRule("a.assessment")->rule->severity(), v1::RULE_SEVERITY_MUST);
}

TEST_F(ExtendsTest, TighteningEnforcementIsAllowed) {
  LoadResult r = LoadDerived("rules:\n  - {id: a.audit.source, enforcement: enforce}\n", registry_);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(Messages(r));
  EXPECT_EQ(r.pack->FindRule("a.audit.source")->rule->enforcement(), v1::RULE_ENFORCEMENT_ENFORCE);
}

TEST_F(ExtendsTest, WeakeningAMustRuleIsALoadError) {
  LoadResult r = LoadDerived(R"y(rules:
  - {id: a.vision.present, severity: should}
  - {id: a.budget.amount, enforcement: warn}
)y",
                             registry_);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(Messages(r),
              ElementsAre(StartsWith("d/pack.yaml:6:38: rule 'a.vision.present' is a must rule "
                                     "of base pack tiny@1.0.0; weakening it to should"),
                          StartsWith("d/pack.yaml:7:40: rule 'a.budget.amount' of base pack "
                                     "tiny@1.0.0 is enforced as 'enforce'; weakening")));
}

TEST_F(ExtendsTest, ChangingABaseRuleOrOutputBeyondTighteningIsALoadError) {
  LoadResult r = LoadDerived(R"y(rules:
  - {id: a.vision.present, expr: "true"}
outputs:
  - {id: vision, gate: A, fields: [{name: statement, type: string}]}
stages:
  - {id: extra, order: 4, diamond: 3, name: {et: E, en: E}}
)y",
                             registry_);
  EXPECT_THAT(Messages(r),
              ElementsAre(StartsWith("d/pack.yaml:6:28: rule 'a.vision.present' is defined by "
                                     "base pack tiny@1.0.0; a derived pack may only tighten"),
                          StartsWith("d/pack.yaml:8:18: output 'vision' is defined by base pack "
                                     "tiny@1.0.0; a derived pack may only add 'fields'"),
                          StartsWith("d/pack.yaml:8:36: field 'statement' of output 'vision' is "
                                     "already defined by base pack"),
                          "d/pack.yaml:10:5: a pack that extends another cannot add stages"));
}

TEST_F(ExtendsTest, AnUnknownBaseIsALoadError) {
  LoadResult r = LoadPackFromSources(
      {SourceFile{"d/pack.yaml",
                  "id: d\nversion: 1.0.0\ntitle: {et: D, en: D}\nextends: nowhere@1.0.0\n"}},
      &registry_);
  EXPECT_THAT(Messages(r), ElementsAre(StartsWith("d/pack.yaml:4:10: base pack 'nowhere@1.0.0' "
                                                  "is not loaded")));
}

TEST_F(ExtendsTest, DerivedRulesAreCheckedAgainstTheMergedSchemas) {
  LoadResult r = LoadDerived(R"y(outputs:
  - id: vision
    fields:
      - {name: owner, type: string}
rules:
  - id: d.owner
    gate: A
    severity: must
    expr: outputs.vision.fields.owner != '' && outputs.budget.fields.nope
    message: {et: x, en: y}
)y",
                             registry_);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_THAT(Messages(r)[0], StartsWith("d/pack.yaml:13:69: rule 'd.owner' expr: "));
}

}  // namespace
}  // namespace varav::model
