#include "engine/model/loader.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/model/test_util.h"

namespace varav::model {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::LoadWithRules;
using testing::Messages;
using ::testing::StartsWith;

TEST(LoaderTest, LoadsAValidPack) {
  LoadResult r = LoadWithRules(R"y(rules:
  - {id: a.x, gate: A, severity: must, expr: "has(outputs.vision)", message: {et: x, en: y}}
)y");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(Messages(r));
  EXPECT_EQ(r.pack->key(), "t@1.0.0");
  ASSERT_NE(r.pack->FindRule("a.x"), nullptr);
  const v1::Rule& rule = *r.pack->FindRule("a.x")->rule;
  EXPECT_EQ(rule.weight(), 1.0);
  EXPECT_EQ(rule.enforcement(), v1::RULE_ENFORCEMENT_ENFORCE);
  EXPECT_THAT(rule.reads_outputs(), ElementsAre("vision"));
  EXPECT_EQ(r.pack->RulesForGate("A").size(), 1u);
  EXPECT_EQ(r.pack->digest().size(), 64u);
}

TEST(LoaderTest, LoadsTheTinyTestPackFromADirectory) {
  LoadResult r = LoadPackDir(testing::TestData("tiny"), nullptr);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(Messages(r));
  EXPECT_EQ(r.pack->proto().stages_size(), 3);
  EXPECT_EQ(r.pack->proto().outputs_size(), 2);
  EXPECT_EQ(r.pack->proto().rules_size(), 5);
  // Canonical order: outputs and rules by id.
  EXPECT_EQ(r.pack->proto().outputs(0).id(), "budget");
  EXPECT_EQ(r.pack->proto().rules(0).id(), "a.assessment");
  EXPECT_THAT(r.pack->FindRule("a.vision.kpis")->rule->reads_outputs(), ElementsAre("vision"));
  EXPECT_NE(r.pack->FindRule("a.vision.kpis")->message_en, nullptr);
}

TEST(LoaderTest, ReportsUnknownKeyAndMissingRequiredKeyWithPositions) {
  LoadResult r = LoadWithRules(R"y(rules:
  - id: a.x
    gate: A
    severity: must
    expresion: "true"
    message: {et: x, en: y}
)y");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(Messages(r),
              ElementsAre(StartsWith("t/rules.yaml:2:5: rule 'a.x' is missing required key 'expr'"),
                          StartsWith("t/rules.yaml:5:5: unknown key 'expresion' in rule")));
}

TEST(LoaderTest, ReportsMissingKeysOfATextAndAWrongEnumWord) {
  LoadResult r = LoadWithRules(R"y(rules:
  - id: a.x
    gate: A
    severity: often
    expr: "true"
    message: {et: x}
)y");
  EXPECT_THAT(Messages(r),
              ElementsAre("t/rules.yaml:4:15: 'often' is not one of: must, should",
                          "t/rules.yaml:6:14: 'message' is missing required key 'en'"));
}

TEST(LoaderTest, ReportsDuplicateIdsWithTheFirstDefinition) {
  LoadResult r = LoadWithRules(R"y(rules:
  - {id: a.x, gate: A, severity: must, expr: "true", message: {et: x, en: y}}
  - {id: a.x, gate: A, severity: must, expr: "true", message: {et: x, en: y}}
)y");
  EXPECT_THAT(Messages(r), ElementsAre("t/rules.yaml:3:10: duplicate rule id 'a.x' (first defined "
                                       "at t/rules.yaml:2:10)"));
}

TEST(LoaderTest, ReportsUnknownReferencesAtEachReference) {
  LoadResult r = LoadWithRules(R"y(rules:
  - {id: a.x, gate: Z, severity: must, principles: [P9], expr: "true", message: {et: x, en: y}}
gates:
  - {id: B, name: {et: B, en: B}, after_stage: three, panels: [nobody], outcomes: [go], go_to: one}
outputs:
  - {id: plan, name: {et: P, en: P}, gate: Q}
)y");
  EXPECT_THAT(Messages(r), ElementsAre("t/rules.yaml:2:21: unknown gate 'Z'",
                                       "t/rules.yaml:2:53: unknown principle 'P9'",
                                       "t/rules.yaml:4:48: unknown stage 'three'",
                                       "t/rules.yaml:4:64: unknown panel 'nobody'",
                                       "t/rules.yaml:6:44: unknown gate 'Q'"));
}

TEST(LoaderTest, ReportsACelTypeErrorAtItsColumnInsideTheExpression) {
  LoadResult r = LoadWithRules(R"y(rules:
  - id: a.x
    gate: A
    severity: must
    expr: outputs.vision.fields.nope == ''
    message: {et: x, en: y}
)y");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_THAT(Messages(r)[0],
              AllOf(StartsWith("t/rules.yaml:5:32: rule 'a.x' expr: "), HasSubstr("nope")));
}

TEST(LoaderTest, MapsCelPositionsThroughAFoldedBlockScalar) {
  LoadResult r = LoadWithRules(R"y(rules:
  - id: a.x
    gate: A
    severity: must
    expr: >-
      has(outputs.vision) &&
      outputs.vision.fields.nope == ''
    message: {et: x, en: y}
)y");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_THAT(Messages(r)[0], StartsWith("t/rules.yaml:7:28: rule 'a.x' expr: "));
}

TEST(LoaderTest, FallsBackToTheExpressionWithACaretExcerptWhenPositionsCannotBeMapped) {
  // An escape before the error shifts the text, so the position inside cannot be trusted.
  LoadResult r = LoadWithRules(R"y(rules:
  - id: a.x
    gate: A
    severity: must
    expr: "'\t' == outputs.vision.fields.nope"
    message: {et: x, en: y}
)y");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_THAT(Messages(r)[0], AllOf(StartsWith("t/rules.yaml:5:11: rule 'a.x' expr: "),
                                    HasSubstr("(at expr line 1, column")));
  EXPECT_THAT(r.diagnostics[0].detail, HasSubstr("^"));
}

TEST(LoaderTest, RejectsARuleThatIsNotBoolean) {
  LoadResult r = LoadWithRules(R"y(rules:
  - {id: a.x, gate: A, severity: must, expr: "outputs.vision.fields.statement", message: {et: x, en: y}}
)y");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_THAT(Messages(r)[0], HasSubstr("expression must be of type bool, not string"));
}

TEST(LoaderTest, ReportsYamlSyntaxErrorsAndKeepsLoadingOtherFiles) {
  LoadResult r = LoadPackFromSources(
      {SourceFile{"t/pack.yaml", testing::kManifest}, SourceFile{"t/a.yaml", "rules: [\n"},
       SourceFile{"t/b.yaml", "rules:\n  - {id: a.y, gate: A, severity: must, expr: 'true'}\n"}},
      nullptr);
  EXPECT_THAT(Messages(r), ElementsAre(AllOf(StartsWith("t/a.yaml:"), HasSubstr("YAML syntax")),
                                       "t/b.yaml:2:5: rule 'a.y' needs 'message' or "
                                       "'message_expr'"));
}

TEST(LoaderTest, ReportsStageOrderGapsAndPackKeysOutsidePackYaml) {
  LoadResult r = LoadWithRules(R"y(version: 2.0.0
stages:
  - {id: three, order: 4, diamond: 2, name: {et: K, en: T}}
)y");
  EXPECT_THAT(Messages(r), ElementsAre("t/rules.yaml:1:1: 'version' belongs in pack.yaml",
                                       "t/rules.yaml:3:24: stage 'three' has order 4; orders "
                                       "must be 1..3, unique and without gaps"));
}

TEST(LoaderTest, ValidatesFieldSchemas) {
  LoadResult r = LoadWithRules(R"y(outputs:
  - id: plan
    name: {et: P, en: P}
    gate: A
    fields:
      - {name: steps, type: list}
      - {name: kind, type: enum, values: [a, a]}
      - {name: Bad, type: string}
      - {name: in, type: strng}
)y");
  EXPECT_THAT(Messages(r),
              ElementsAre("t/rules.yaml:6:9: a list field needs 'items'",
                          "t/rules.yaml:7:46: enum value 'a' is listed twice",
                          "t/rules.yaml:8:16: field name 'Bad' must match [a-z][a-z0-9_]*",
                          "t/rules.yaml:9:16: field name 'in' is a reserved word in CEL",
                          AllOf(StartsWith("t/rules.yaml:9:26: 'strng' is not one of: string,"))));
}

TEST(LoaderTest, LoadPackListsEveryErrorInItsStatus) {
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "loader_test_pack";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pack.yaml") << testing::kManifest;
  std::ofstream(dir / "rules.yaml")
      << "rules:\n  - {id: a.x, gate: Z, severity: must, expr: 'x', message: {et: x, en: y}}\n";
  absl::StatusOr<std::shared_ptr<const CompiledPack>> pack = LoadPack(dir.string(), nullptr);
  ASSERT_FALSE(pack.ok());
  EXPECT_EQ(pack.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pack.status().message(), HasSubstr("2 error(s)"));
  EXPECT_THAT(pack.status().message(), HasSubstr("rules.yaml:2:21: unknown gate 'Z'"));
  EXPECT_THAT(pack.status().message(), HasSubstr("rules.yaml:2:47: rule 'a.x' expr: "));
}

TEST(LoaderTest, ReportsAMissingPackYaml) {
  LoadResult r = LoadPackFromSources({SourceFile{"t/rules.yaml", "rules: []\n"}}, nullptr);
  EXPECT_THAT(Messages(r), Contains("t/pack.yaml:1:1: the pack has no pack.yaml"));
}

TEST(LoaderTest, DigestIsStableAcrossLoadsAndIndependentOfFileLayout) {
  const std::string rules = R"y(rules:
  - {id: a.x, gate: A, severity: must, expr: "has(outputs.vision)", message: {et: x, en: y}}
  - {id: a.y, gate: A, severity: should, expr: "true", message: {et: x, en: y}}
)y";
  LoadResult a = LoadWithRules(rules);
  LoadResult b = LoadWithRules(rules);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.pack->digest(), b.pack->digest());

  // The same rules split over two files, in another order.
  LoadResult split = LoadPackFromSources(
      {SourceFile{"t/pack.yaml", testing::kManifest},
       SourceFile{"t/a.yaml",
                  "rules:\n  - {id: a.y, gate: A, severity: should, expr: \"true\", "
                  "message: {et: x, en: y}}\n"},
       SourceFile{"t/b.yaml",
                  "rules:\n  - {id: a.x, gate: A, severity: must, expr: "
                  "\"has(outputs.vision)\", message: {et: x, en: y}}\n"}},
      nullptr);
  ASSERT_TRUE(split.ok()) << ::testing::PrintToString(Messages(split));
  EXPECT_EQ(split.pack->digest(), a.pack->digest());
}

TEST(LoaderTest, DigestChangesWhenARuleChanges) {
  LoadResult a = LoadWithRules(R"y(rules:
  - {id: a.x, gate: A, severity: must, expr: "has(outputs.vision)", message: {et: x, en: y}}
)y");
  LoadResult b = LoadWithRules(R"y(rules:
  - {id: a.x, gate: A, severity: must, expr: "!has(outputs.vision)", message: {et: x, en: y}}
)y");
  LoadResult c = LoadWithRules(R"y(rules:
  - {id: a.x, gate: A, severity: should, expr: "has(outputs.vision)", message: {et: x, en: y}}
)y");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_NE(a.pack->digest(), b.pack->digest());
  EXPECT_NE(a.pack->digest(), c.pack->digest());
  EXPECT_EQ(PackDigest(a.pack->proto()), a.pack->digest());
}

TEST(LoaderTest, LoadsBundledPacksBasesFirst) {
  // testdata holds tiny and two packs extending it; names sort the derived ones first or last
  // depending on the key, so the order must come from `extends`.
  absl::StatusOr<std::vector<PackHeader>> ordered =
      OrderByExtends({PackHeader{"d1", "a-derived", "1.0.0", "z-base@1.0.0"},
                      PackHeader{"d2", "z-base", "1.0.0", ""}});
  ASSERT_TRUE(ordered.ok());
  ASSERT_EQ(ordered->size(), 2u);
  EXPECT_EQ((*ordered)[0].id, "z-base");
  EXPECT_EQ((*ordered)[1].id, "a-derived");

  absl::StatusOr<std::vector<PackHeader>> cycle = OrderByExtends(
      {PackHeader{"d1", "a", "1.0.0", "b@1.0.0"}, PackHeader{"d2", "b", "1.0.0", "a@1.0.0"}});
  EXPECT_FALSE(cycle.ok());

  PackRegistry registry;
  ASSERT_TRUE(LoadBundledPacks(testing::TestData(""), &registry).ok());
  EXPECT_NE(registry.Find("tiny@1.0.0"), nullptr);
  EXPECT_NE(registry.Find("tiny-ext@1.1.0"), nullptr);
  EXPECT_THAT(registry.List(), ::testing::SizeIs(3));
}

}  // namespace
}  // namespace varav::model
