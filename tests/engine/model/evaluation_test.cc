#include "engine/model/evaluation.h"

#include "engine/model/activation.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/engine/model/test_util.h"

namespace varav::model {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::GateInput Input(const std::string& text) {
  v1::GateInput in;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &in)) << text;
  return in;
}

// Everything testdata/tiny's gate A asks for.
constexpr char kComplete[] = R"pb(
  service { id: "svc-1" stage: "plan" cycle: 1 }
  now { seconds: 1772366400 }
  outputs {
    output_id: "vision"
    revision: 2
    fields {
      fields {
        key: "statement"
        value { string_value: "Better" }
      }
      fields {
        key: "kpis"
        value {
          list_value {
            values {
              struct_value {
                fields {
                  key: "name"
                  value { string_value: "uptake" }
                }
                fields {
                  key: "target"
                  value { number_value: 0.5 }
                }
              }
            }
          }
        }
      }
    }
  }
  outputs {
    output_id: "budget"
    revision: 7
    fields {
      fields {
        key: "amount"
        value { number_value: 100 }
      }
      fields {
        key: "source"
        value { string_value: "state" }
      }
    }
  }
  assessments { principle_id: "P1" score: 0.75 answered: 2 total: 2 }
)pb";

const v1::RuleResult& Result(const v1::GateEvaluation& e, const std::string& id) {
  for (const v1::RuleResult& r : e.results()) {
    if (r.rule_id() == id) return r;
  }
  ADD_FAILURE() << "no result for " << id;
  return v1::RuleResult::default_instance();
}

// Evaluates a fixture's input as the rule tests do.
absl::StatusOr<v1::GateEvaluation> Evaluate(const CompiledPack& pack, absl::string_view gate,
                                            const v1::GateInput& input) {
  v1::GateEvaluation out;
  if (absl::Status s = EvaluateGate(pack, gate, SubjectOf(input), &out); !s.ok()) return s;
  return out;
}

class EvaluationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pack_ = testing::LoadTiny();
    ASSERT_NE(pack_, nullptr);
  }
  std::shared_ptr<const CompiledPack> pack_;
};

TEST_F(EvaluationTest, EveryRulePassesWithACompleteInput) {
  absl::StatusOr<v1::GateEvaluation> e = Evaluate(*pack_, "A", Input(kComplete));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->ready());
  EXPECT_THAT(e->failing_rules(), IsEmpty());
  EXPECT_THAT(e->should_score(), DoubleEq(1.0));
  EXPECT_EQ(e->pack_id(), "tiny");
  EXPECT_EQ(e->pack_version(), "1.0.0");
  EXPECT_EQ(e->pack_digest(), pack_->digest());
  EXPECT_EQ(e->evaluated_at().seconds(), 1772366400);
  ASSERT_EQ(e->results_size(), 5);
  EXPECT_EQ(e->results(0).rule_id(), "a.assessment");  // ordered by id
  EXPECT_EQ(Result(*e, "a.vision.present").outcome(), v1::RULE_OUTCOME_PASS);
  EXPECT_FALSE(Result(*e, "a.vision.present").has_message());
}

TEST_F(EvaluationTest, DistinguishesPassFailAndError) {
  v1::GateInput in = Input(kComplete);
  in.mutable_outputs(0)->mutable_fields()->mutable_fields()->at("statement").set_string_value("");
  in.mutable_outputs()->RemoveLast();  // no budget
  absl::StatusOr<v1::GateEvaluation> e = Evaluate(*pack_, "A", in);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->ready());
  const v1::RuleResult& present = Result(*e, "a.vision.present");
  EXPECT_EQ(present.outcome(), v1::RULE_OUTCOME_FAIL);
  EXPECT_EQ(present.message().en(), "The vision is missing");
  EXPECT_EQ(present.message().et(), "Visioon puudub");
  const v1::RuleResult& amount = Result(*e, "a.budget.amount");
  EXPECT_EQ(amount.outcome(), v1::RULE_OUTCOME_ERROR);
  EXPECT_THAT(amount.error(), HasSubstr("budget"));
  // has() of a field of an absent output is an error too: the select below it has no operand.
  EXPECT_EQ(Result(*e, "a.audit.source").outcome(), v1::RULE_OUTCOME_ERROR);
  EXPECT_THAT(e->failing_rules(),
              ElementsAre("a.audit.source", "a.budget.amount", "a.vision.present"));
}

TEST_F(EvaluationTest, AuditRulesNeverBlockTheGate) {
  v1::GateInput in = Input(kComplete);
  in.mutable_outputs(1)->mutable_fields()->mutable_fields()->at("source").set_string_value("eu");
  absl::StatusOr<v1::GateEvaluation> e = Evaluate(*pack_, "A", in);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Result(*e, "a.audit.source").outcome(), v1::RULE_OUTCOME_FAIL);
  EXPECT_TRUE(e->ready());
}

TEST_F(EvaluationTest, ShouldScoreIsTheWeightedShareOfPassingShouldRules) {
  v1::GateInput in = Input(kComplete);
  in.mutable_assessments(0)->set_score(0.25);  // a.assessment (weight 1) fails
  absl::StatusOr<v1::GateEvaluation> e = Evaluate(*pack_, "A", in);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->ready());
  EXPECT_THAT(e->should_score(), DoubleEq(2.0 / 3.0));  // a.vision.kpis has weight 2
}

TEST_F(EvaluationTest, ComputesMessagesWithMessageExpr) {
  v1::GateInput in = Input(kComplete);
  google::protobuf::Value* kpis =
      &in.mutable_outputs(0)->mutable_fields()->mutable_fields()->at("kpis");
  (*kpis->mutable_list_value()
        ->mutable_values(0)
        ->mutable_struct_value()
        ->mutable_fields())["target"]
      .set_number_value(-1);
  absl::StatusOr<v1::GateEvaluation> e = Evaluate(*pack_, "A", in);
  ASSERT_TRUE(e.ok());
  const v1::RuleResult& r = Result(*e, "a.vision.kpis");
  EXPECT_EQ(r.outcome(), v1::RULE_OUTCOME_FAIL);
  EXPECT_EQ(r.message().en(), "KPIs: 1");
  EXPECT_EQ(r.message().et(), "KPI-sid: 1");
  EXPECT_EQ(r.severity(), v1::RULE_SEVERITY_SHOULD);
  EXPECT_EQ(r.weight(), 2.0);
}

TEST_F(EvaluationTest, RecordsTheRevisionsOfTheOutputsEachRuleReads) {
  v1::GateInput in = Input(kComplete);
  in.mutable_outputs()->RemoveLast();
  absl::StatusOr<v1::GateEvaluation> e = Evaluate(*pack_, "A", in);
  ASSERT_TRUE(e.ok());
  const v1::RuleResult& vision = Result(*e, "a.vision.present");
  ASSERT_EQ(vision.read_size(), 1);
  EXPECT_EQ(vision.read(0).output_id(), "vision");
  EXPECT_EQ(vision.read(0).revision(), 2);
  const v1::RuleResult& budget = Result(*e, "a.budget.amount");
  ASSERT_EQ(budget.read_size(), 1);
  EXPECT_EQ(budget.read(0).revision(), 0);  // absent
  EXPECT_EQ(Result(*e, "a.assessment").read_size(), 0);
}

TEST_F(EvaluationTest, AValueThatDoesNotFitTheSchemaErrsOnlyTheRulesReadingIt) {
  v1::GateInput in = Input(kComplete);
  in.mutable_outputs(1)->mutable_fields()->mutable_fields()->at("amount").set_string_value("lots");
  absl::StatusOr<v1::GateEvaluation> e = Evaluate(*pack_, "A", in);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Result(*e, "a.budget.amount").outcome(), v1::RULE_OUTCOME_ERROR);
  EXPECT_THAT(Result(*e, "a.budget.amount").error(), HasSubstr("schema"));
  EXPECT_EQ(Result(*e, "a.vision.present").outcome(), v1::RULE_OUTCOME_PASS);
}

TEST_F(EvaluationTest, UnknownGateIsNotFound) {
  absl::StatusOr<v1::GateEvaluation> e = Evaluate(*pack_, "Z", Input(kComplete));
  EXPECT_EQ(e.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EvaluationTest, EvaluationIsDeterministic) {
  absl::StatusOr<v1::GateEvaluation> a = Evaluate(*pack_, "A", Input(kComplete));
  absl::StatusOr<v1::GateEvaluation> b = Evaluate(*pack_, "A", Input(kComplete));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
}

TEST(ActivationTest, CheckOutputFieldsReportsEveryProblemWithItsPath) {
  std::shared_ptr<const CompiledPack> pack = testing::LoadTiny();
  ASSERT_NE(pack, nullptr);
  google::protobuf::Struct fields;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
                                                              fields {
                                                                key: "horizon_years"
                                                                value { number_value: 2.5 }
                                                              }
                                                              fields {
                                                                key: "colour"
                                                                value { string_value: "red" }
                                                              }
                                                              fields {
                                                                key: "kpis"
                                                                value {
                                                                  list_value {
                                                                    values {
                                                                      struct_value {
                                                                        fields {
                                                                          key: "target"
                                                                          value { bool_value: true }
                                                                        }
                                                                      }
                                                                    }
                                                                  }
                                                                }
                                                              }
                                                            )pb",
                                                            &fields));
  EXPECT_THAT(CheckOutputFields(pack->FindOutput("vision")->fields(), fields),
              ElementsAre("statement: required field is missing",
                          "horizon_years: expected an integer, got a number",
                          "kpis[0].name: required field is missing",
                          "kpis[0].target: expected a number, got a bool",
                          "colour: field is not declared by the output's schema"));
}

TEST(ActivationTest, ScoresAnswersExcludingNotApplicable) {
  v1::Assessment a;
  for (v1::AnswerValue v : {v1::ANSWER_VALUE_YES, v1::ANSWER_VALUE_PARTLY, v1::ANSWER_VALUE_NO,
                            v1::ANSWER_VALUE_NOT_APPLICABLE}) {
    a.add_answers()->set_answer(v);
  }
  ScoreAssessment(a, 5);
  EXPECT_THAT(a.score(), DoubleEq(0.5));
  EXPECT_EQ(a.answered(), 3u);
  EXPECT_EQ(a.total(), 5u);
  EXPECT_EQ(a.answers_size(), 4);
  v1::Assessment na;
  na.add_answers()->set_answer(v1::ANSWER_VALUE_NOT_APPLICABLE);
  ScoreAssessment(na, 1);
  EXPECT_EQ(na.score(), 0.0);
  EXPECT_EQ(na.answered(), 0u);
}

}  // namespace
}  // namespace varav::model
