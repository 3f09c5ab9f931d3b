#include "engine/lifecycle/lifecycle.h"

#include "engine/lifecycle/event_types.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model/evaluation.h"
#include "engine/model/loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::lifecycle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::string_view kSha =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

std::string TestData(absl::string_view name) {
  return absl::StrCat(VARAV_SOURCE_DIR, "/tests/engine/lifecycle/testdata/", name);
}

google::protobuf::Struct Fields(std::vector<std::pair<std::string, google::protobuf::Value>> kv) {
  google::protobuf::Struct s;
  for (auto& [k, v] : kv) (*s.mutable_fields())[k] = std::move(v);
  return s;
}
google::protobuf::Value Str(std::string v) {
  google::protobuf::Value out;
  out.set_string_value(std::move(v));
  return out;
}
google::protobuf::Value Num(double v) {
  google::protobuf::Value out;
  out.set_number_value(v);
  return out;
}

v1::DocumentRef Doc(std::string id) {
  v1::DocumentRef d;
  d.set_system("dhs");
  d.set_id(std::move(id));
  d.set_version("1");
  d.set_uri("https://dhs.example.ee/doc");
  d.set_sha256(std::string(kSha));
  return d;
}

std::vector<std::string> EventKinds(const Transition& t) {
  std::vector<std::string> kinds;
  for (const v1::Event& e : t.events) {
    const auto* field = e.GetDescriptor()->FindOneofByName("data");
    const auto* set = e.GetReflection()->GetOneofFieldDescriptor(e, field);
    kinds.push_back(set ? set->name() : "none");
  }
  return kinds;
}

// Drives the pure engine the way the server does, folding each transition into the snapshot as
// the store would (etag and chain fields aside).
class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pack = model::LoadPack(TestData("mini"), nullptr);
    ASSERT_TRUE(pack.ok()) << pack.status();
    pack_ = *std::move(pack);
    auto v2 = model::LoadPack(TestData("mini-v2"), nullptr);
    ASSERT_TRUE(v2.ok()) << v2.status();
    pack_v2_ = *std::move(v2);
  }

  // A member of `panel` from another agency resumes a held service.
  absl::StatusOr<Transition> Resume(std::string reason, std::string panel = "funding") {
    Context context = Ctx(absl::StrCat("panel:", panel), "mkm");
    context.actor.panels = {panel};
    return Run(ResumeFromHold{.reason = std::move(reason)}, context);
  }

  Context Ctx(std::string principal = "ria:mari", std::string agency = "ria") {
    now_ += absl::Minutes(1);
    return Context{.pack = current_pack_ ? current_pack_ : pack_.get(),
                   .target_pack = nullptr,
                   .now = now_,
                   .actor = {.principal = std::move(principal), .agency = std::move(agency)},
                   .request_id = absl::StrCat("req-", ++request_)};
  }

  absl::StatusOr<Transition> Run(const Command& command, Context context) {
    absl::StatusOr<Transition> t = Apply(snapshot_, command, context);
    if (!t.ok()) return t;
    Fold(*t);
    return t;
  }
  absl::StatusOr<Transition> Run(const Command& command) { return Run(command, Ctx()); }

  void Fold(const Transition& t) {
    const uint64_t seq = snapshot_.service.last_event_sequence() + t.events.size();
    snapshot_.service = t.service;
    snapshot_.service.set_last_event_sequence(seq);
    for (const auto& o : t.outputs) snapshot_.latest_outputs[o->output_type()] = o;
    for (const auto& a : t.assessments) snapshot_.assessments[a->principle()] = a;
    // As the store keeps every decision and loads those at the gate under review in the cycle.
    for (const v1::Decision& d : t.decisions) {
      bool replaced = false;
      for (v1::Decision& existing : decisions_) {
        if (existing.number() == d.number()) {
          existing = d;
          replaced = true;
        }
      }
      if (!replaced) decisions_.push_back(d);
    }
    snapshot_.gate_decisions.clear();
    for (const v1::Decision& d : decisions_) {
      if (d.gate() == snapshot_.service.gate_under_review() &&
          d.cycle() == snapshot_.service.cycle()) {
        snapshot_.gate_decisions.push_back(d);
      }
    }
    if (t.evaluation && snapshot_.service.latest_evaluation().evaluation_id() == t.evaluation_id) {
      snapshot_.latest_evaluation = *t.evaluation;
    }
  }

  void Register(std::string stage = "") {
    ASSERT_TRUE(Run(RegisterService{.service_id = "parental-benefit",
                                    .name = "Vanemahüvitise e-teenus",
                                    .agency = "ria",
                                    .owner = "Mari Maasikas",
                                    .stage = std::move(stage)})
                    .ok());
  }
  void SubmitGateAOutputs() {
    ASSERT_TRUE(Run(SubmitOutput{"vision", Doc("v"),
                                 Fields({{"statement", Str("Better")}, {"horizon_years", Num(5)}})})
                    .ok());
    ASSERT_TRUE(Run(SubmitOutput{"plan", Doc("p"),
                                 Fields({{"owner", Str("Mari")}, {"decision_ref", Str("KK-1")}})})
                    .ok());
  }
  void ReachReviewAtGateA() {
    Register();
    SubmitGateAOutputs();
    ASSERT_TRUE(Run(AdvanceStage{}).ok());
    auto review = Run(RequestGateReview{});
    ASSERT_TRUE(review.ok()) << review.status();
  }
  absl::StatusOr<Transition> Decide(std::string panel, v1::GateOutcome outcome,
                                    std::string recycle_to = "",
                                    std::vector<v1::Condition> conditions = {}) {
    const std::string& under_review = snapshot_.service.gate_under_review();
    return Run(RecordDecision{.gate = under_review.empty() ? "A" : under_review,
                              .panel = panel,
                              .outcome = outcome,
                              .recycle_to_stage = std::move(recycle_to),
                              .rationale = "Reviewed the evidence",
                              .conditions = std::move(conditions)},
               Ctx(absl::StrCat("panel:", panel), "mkm"));
  }

  std::shared_ptr<const model::CompiledPack> pack_;
  std::shared_ptr<const model::CompiledPack> pack_v2_;
  const model::CompiledPack* current_pack_ = nullptr;
  ServiceSnapshot snapshot_;
  // Every decision stored so far, as the store's decisions column family holds them.
  std::vector<v1::Decision> decisions_;
  absl::Time now_ = absl::FromUnixSeconds(1'780'000'000);
  int request_ = 0;
};

TEST_F(LifecycleTest, RegistersAtTheFirstStageAndEvaluatesItsGate) {
  auto t = Run(RegisterService{
      .service_id = "parental-benefit", .name = "Vanemahüvitis", .agency = "ria", .owner = "Mari"});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->service.stage(), "envision");
  EXPECT_EQ(t->service.cycle(), 1u);
  EXPECT_EQ(t->service.status(), v1::SERVICE_STATUS_ACTIVE);
  EXPECT_EQ(t->service.pack_digest(), pack_->digest());
  ASSERT_EQ(t->service.stage_history_size(), 1);
  EXPECT_EQ(t->service.stage_history(0).stage(), "envision");
  EXPECT_THAT(EventKinds(*t), ElementsAre("service_registered", "gate_evaluated"));
  EXPECT_EQ(t->events[0].principal(), "ria:mari");
  ASSERT_NE(t->evaluation, nullptr);
  EXPECT_EQ(t->evaluation->gate_id(), "A");
  EXPECT_FALSE(t->evaluation->ready());
  EXPECT_EQ(t->evaluation_id, "parental-benefit/1/A/2");
}

TEST_F(LifecycleTest, RegistersAtAnyStageOfTheCanvas) {
  Register("operate");
  EXPECT_EQ(snapshot_.service.stage(), "operate");
  EXPECT_EQ(snapshot_.service.latest_evaluation().gate(), "B");
}

TEST_F(LifecycleTest, RefusesRegisteringTwice) {
  Register();
  auto t = Run(RegisterService{
      .service_id = "parental-benefit", .name = "x", .agency = "ria", .owner = "y"});
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(LifecycleTest, RefusesRegistrationsWithBadFieldsNamingTheField) {
  auto bad_id =
      Run(RegisterService{.service_id = "Bad Id!", .name = "x", .agency = "a", .owner = "o"});
  EXPECT_EQ(bad_id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_id.status().message(), HasSubstr("service_id"));
  auto no_name = Run(RegisterService{.service_id = "s", .agency = "a", .owner = "o"});
  EXPECT_THAT(no_name.status().message(), HasSubstr("name"));
  auto no_agency = Run(RegisterService{.service_id = "s", .name = "n", .owner = "o"});
  EXPECT_THAT(no_agency.status().message(), HasSubstr("agency"));
  auto bad_stage = Run(RegisterService{
      .service_id = "s", .name = "n", .agency = "a", .owner = "o", .stage = "nowhere"});
  EXPECT_EQ(bad_stage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_stage.status().message(), HasSubstr("stage"));
}

TEST_F(LifecycleTest, CommandsOnAnUnregisteredServiceAreNotFound) {
  auto t = Run(AdvanceStage{});
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LifecycleTest, SubmittingAddsRevisionsAndNeverOverwrites) {
  Register();
  auto first = Run(SubmitOutput{"vision", Doc("v1"), Fields({{"statement", Str("One")}})});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Run(SubmitOutput{"vision", Doc("v2"), Fields({{"statement", Str("Two")}})});
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(first->outputs.size(), 1u);
  ASSERT_EQ(second->outputs.size(), 1u);
  EXPECT_EQ(first->outputs[0]->revision(), 1u);
  EXPECT_EQ(second->outputs[0]->revision(), 2u);
  EXPECT_EQ(second->outputs[0]->document().id(), "v2");
  EXPECT_EQ(second->service.output_revisions().at("vision"), 2u);
  EXPECT_THAT(EventKinds(*second), ElementsAre("output_submitted", "gate_evaluated"));
}

// A memo of the records' CEL values (what a shell keeps with a cached snapshot) is only a memo:
// commands applied with one give exactly the transitions they give without.
TEST_F(LifecycleTest, AMemoOfBoundRecordsNeverChangesATransition) {
  model::BoundRecords bound;
  ServiceSnapshot plain = snapshot_;
  auto both = [&](const Command& command) {
    Context context = Ctx();
    auto without = Apply(plain, command, context);
    context.bound = &bound;
    auto with = Run(command, context);
    ASSERT_EQ(with.ok(), without.ok()) << with.status() << " / " << without.status();
    if (!with.ok()) return;
    ASSERT_TRUE(with->evaluation && without->evaluation);
    EXPECT_EQ(with->evaluation->DebugString(), without->evaluation->DebugString());
    plain = snapshot_;
  };
  both(RegisterService{.service_id = "memo", .name = "Memo", .agency = "ria", .owner = "Mari"});
  both(SubmitOutput{"vision", Doc("v1"), Fields({{"statement", Str("First")}})});
  both(SubmitOutput{"vision", Doc("v2"), Fields({{"statement", Str("Second")}})});
  v1::AssessmentAnswer yes;
  yes.set_question("P1.Q1");
  yes.set_answer(v1::ANSWER_VALUE_YES);
  both(RecordAssessment{"P1", {yes}});
  yes.set_answer(v1::ANSWER_VALUE_NO);
  both(RecordAssessment{"P1", {yes}});
  both(
      SubmitOutput{"plan", Doc("p"), Fields({{"owner", Str("Mari")}, {"decision_ref", Str("1")}})});
}

TEST_F(LifecycleTest, RefusesOutputsThatDoNotFitTheirTypeNamingTheField) {
  Register();
  auto unknown = Run(SubmitOutput{"nonsense", Doc("x"), Fields({})});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("output_type"));

  v1::DocumentRef bad_doc = Doc("x");
  bad_doc.set_sha256("abc");
  auto sha = Run(SubmitOutput{"vision", bad_doc, Fields({{"statement", Str("s")}})});
  EXPECT_THAT(sha.status().message(), HasSubstr("document.sha256"));

  auto missing = Run(SubmitOutput{"vision", Doc("x"), Fields({})});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("fields.statement"));

  auto wrong_type = Run(SubmitOutput{
      "vision", Doc("x"), Fields({{"statement", Str("s")}, {"horizon_years", Str("five")}})});
  EXPECT_THAT(wrong_type.status().message(), HasSubstr("fields.horizon_years"));
  EXPECT_TRUE(snapshot_.latest_outputs.empty());
}

TEST_F(LifecycleTest, EmitsGateReadyOnceWhenEveryMustRulePasses) {
  Register();
  auto vision = Run(SubmitOutput{"vision", Doc("v"), Fields({{"statement", Str("s")}})});
  ASSERT_TRUE(vision.ok());
  EXPECT_THAT(EventKinds(*vision), ElementsAre("output_submitted", "gate_evaluated"));
  auto plan = Run(SubmitOutput{"plan", Doc("p"),
                               Fields({{"owner", Str("Mari")}, {"decision_ref", Str("KK-1")}})});
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(EventKinds(*plan), ElementsAre("output_submitted", "gate_evaluated", "gate_ready"));
  EXPECT_TRUE(plan->service.latest_evaluation().ready());
  auto again = Run(SubmitOutput{"vision", Doc("v2"), Fields({{"statement", Str("t")}})});
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(EventKinds(*again), ElementsAre("output_submitted", "gate_evaluated"));
}

TEST_F(LifecycleTest, ScoresAssessmentsAndExcludesNotApplicable) {
  Register();
  v1::AssessmentAnswer yes, na;
  yes.set_question("P1.Q1");
  yes.set_answer(v1::ANSWER_VALUE_PARTLY);
  na.set_question("P1.Q2");
  na.set_answer(v1::ANSWER_VALUE_NOT_APPLICABLE);
  auto t = Run(RecordAssessment{"P1", {yes, na}});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->assessments.size(), 1u);
  EXPECT_DOUBLE_EQ(t->assessments[0]->score(), 0.5);
  EXPECT_EQ(t->assessments[0]->answered(), 1u);
  EXPECT_EQ(t->assessments[0]->total(), 2u);
  EXPECT_THAT(EventKinds(*t), ElementsAre("assessment_recorded", "gate_evaluated"));
}

TEST_F(LifecycleTest, RefusesMalformedAssessments) {
  Register();
  v1::AssessmentAnswer a;
  a.set_question("P9.Q1");
  a.set_answer(v1::ANSWER_VALUE_YES);
  EXPECT_THAT(Run(RecordAssessment{"P1", {a}}).status().message(),
              HasSubstr("answers[0].question"));
  a.set_question("P1.Q1");
  EXPECT_THAT(Run(RecordAssessment{"P1", {a, a}}).status().message(), HasSubstr("twice"));
  a.set_answer(v1::ANSWER_VALUE_UNSPECIFIED);
  EXPECT_THAT(Run(RecordAssessment{"P1", {a}}).status().message(), HasSubstr("answers[0].answer"));
  a.set_answer(v1::ANSWER_VALUE_YES);
  EXPECT_THAT(Run(RecordAssessment{"P7", {a}}).status().message(), HasSubstr("principle"));
  EXPECT_THAT(Run(RecordAssessment{"P1", {}}).status().message(), HasSubstr("answers"));
}

TEST_F(LifecycleTest, AdvancesOnlyInsideADiamond) {
  Register();
  auto next = Run(AdvanceStage{});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->service.stage(), "plan");
  ASSERT_EQ(next->service.stage_history_size(), 2);
  EXPECT_TRUE(next->service.stage_history(0).has_left_at());
  EXPECT_THAT(EventKinds(*next), ElementsAre("stage_advanced", "gate_evaluated"));

  auto across = Run(AdvanceStage{});
  EXPECT_EQ(across.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(across.status().message(), HasSubstr("gate A"));
}

TEST_F(LifecycleTest, RefusesAdvancingToAStageThatIsNotNext) {
  Register();
  auto skip = Run(AdvanceStage{"build"});
  EXPECT_EQ(skip.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(skip.status().message(), HasSubstr("to_stage"));
  auto unknown = Run(AdvanceStage{"nowhere"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LifecycleTest, RefusesReviewBeforeTheGateStage) {
  Register();
  SubmitGateAOutputs();
  auto early = Run(RequestGateReview{});
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.status().message(), HasSubstr("stage 'plan'"));
}

TEST_F(LifecycleTest, RefusesReviewListingTheFailingMustRules) {
  Register();
  ASSERT_TRUE(Run(AdvanceStage{}).ok());
  const ServiceSnapshot before = snapshot_;
  auto review = Run(RequestGateReview{});
  EXPECT_EQ(review.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(review.status().message(), HasSubstr("a.vision.present"));
  EXPECT_THAT(review.status().message(), HasSubstr("a.plan.decision"));
  EXPECT_THAT(review.status().message(), HasSubstr("Submit the vision"));
  EXPECT_EQ(snapshot_.service.status(), before.service.status());
}

TEST_F(LifecycleTest, ReviewAwaitsEveryPanelOfTheGate) {
  ReachReviewAtGateA();
  EXPECT_EQ(snapshot_.service.status(), v1::SERVICE_STATUS_IN_REVIEW);
  EXPECT_EQ(snapshot_.service.gate_under_review(), "A");
  EXPECT_THAT(snapshot_.service.awaiting_panels(), ElementsAre("business", "funding"));
}

TEST_F(LifecycleTest, GoFromEveryPanelEntersTheNextDiamond) {
  ReachReviewAtGateA();
  auto first = Decide("business", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(EventKinds(*first), ElementsAre("decision_recorded"));
  EXPECT_THAT(first->service.awaiting_panels(), ElementsAre("funding"));
  EXPECT_EQ(first->service.status(), v1::SERVICE_STATUS_IN_REVIEW);

  auto second = Decide("funding", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(EventKinds(*second),
              ElementsAre("decision_recorded", "gate_approved", "gate_evaluated"));
  EXPECT_EQ(second->service.stage(), "build");
  EXPECT_EQ(second->service.status(), v1::SERVICE_STATUS_ACTIVE);
  EXPECT_TRUE(second->service.gate_under_review().empty());
  const v1::GateResult& result = second->events[1].gate_approved().result();
  EXPECT_EQ(result.gate(), "A");
  EXPECT_EQ(result.panel_decisions_size(), 2);
  EXPECT_EQ(result.pack().pack_digest(), pack_->digest());
  EXPECT_EQ(result.to_stage(), "build");
  ASSERT_EQ(result.evidence_size(), 2);
  EXPECT_EQ(result.evidence(0).document().sha256(), kSha);
}

TEST_F(LifecycleTest, RefusesDecisionsFromPanelsTheGateDoesNotNeed) {
  ReachReviewAtGateA();
  auto t = Decide("architecture", v1::GATE_OUTCOME_GO);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), HasSubstr("panel"));
}

TEST_F(LifecycleTest, RefusesADeciderFromTheServicesOwnAgency) {
  ReachReviewAtGateA();
  auto t = Run(
      RecordDecision{
          .gate = "A", .panel = "business", .outcome = v1::GATE_OUTCOME_GO, .rationale = "Fine"},
      Ctx("ria:boss", "ria"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(t.status().message(), HasSubstr("segregation of duties"));
}

TEST_F(LifecycleTest, RefusesDecisionsWithoutRationaleOrWithMisplacedDetails) {
  ReachReviewAtGateA();
  auto no_rationale =
      Run(RecordDecision{.gate = "A", .panel = "business", .outcome = v1::GATE_OUTCOME_GO},
          Ctx("p", "mkm"));
  EXPECT_THAT(no_rationale.status().message(), HasSubstr("rationale"));
  EXPECT_THAT(Decide("business", v1::GATE_OUTCOME_RECYCLE).status().message(),
              HasSubstr("recycle_to_stage"));
  EXPECT_THAT(Decide("business", v1::GATE_OUTCOME_RECYCLE, "operate").status().message(),
              HasSubstr("not at or before"));
  EXPECT_THAT(Decide("business", v1::GATE_OUTCOME_GO_WITH_CONDITIONS).status().message(),
              HasSubstr("conditions"));
  v1::Condition c;
  c.set_text("Publish the accessibility statement");
  EXPECT_THAT(Decide("business", v1::GATE_OUTCOME_GO_WITH_CONDITIONS, "", {c}).status().message(),
              HasSubstr("conditions[0].due"));
  *c.mutable_due() = google::protobuf::Timestamp();
  EXPECT_THAT(Decide("business", v1::GATE_OUTCOME_GO_WITH_CONDITIONS, "", {c}).status().message(),
              HasSubstr("conditions[0].due: must lie in the future"));
  c.mutable_due()->set_seconds(1'790'000'000);
  c.set_check_expr("outputs.vision.fields.nope");
  EXPECT_THAT(Decide("business", v1::GATE_OUTCOME_GO_WITH_CONDITIONS, "", {c}).status().message(),
              HasSubstr("conditions[0].check_expr"));
  EXPECT_EQ(snapshot_.gate_decisions.size(), 0u);
}

TEST_F(LifecycleTest, OutcomesOnlyApplyToReviewedServices) {
  Register();
  EXPECT_EQ(Decide("business", v1::GATE_OUTCOME_GO).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LifecycleTest, APanelSupersedesItsOwnDecisionBeforeTheOutcome) {
  ReachReviewAtGateA();
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_HOLD).ok());
  auto changed = Decide("business", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(changed.ok()) << changed.status();
  ASSERT_EQ(changed->decisions.size(), 2u);
  EXPECT_TRUE(changed->decisions[0].superseded());
  EXPECT_EQ(changed->decisions[0].outcome(), v1::GATE_OUTCOME_HOLD);
  EXPECT_FALSE(changed->decisions[1].superseded());
  auto funding = Decide("funding", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(funding.ok());
  EXPECT_EQ(funding->service.stage(), "build");
}

TEST_F(LifecycleTest, StopOutweighsEveryOtherOutcome) {
  ReachReviewAtGateA();
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_RECYCLE, "envision").ok());
  auto t = Decide("funding", v1::GATE_OUTCOME_STOP);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->service.status(), v1::SERVICE_STATUS_STOPPED);
  EXPECT_THAT(EventKinds(*t), ElementsAre("decision_recorded", "stopped"));
  auto after = Run(SubmitOutput{"vision", Doc("v"), Fields({{"statement", Str("s")}})});
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LifecycleTest, RecycleReturnsToTheEarliestStageAsked) {
  ReachReviewAtGateA();
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_RECYCLE, "plan").ok());
  auto t = Decide("funding", v1::GATE_OUTCOME_RECYCLE, "envision");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->service.stage(), "envision");
  EXPECT_EQ(t->service.status(), v1::SERVICE_STATUS_ACTIVE);
  EXPECT_THAT(EventKinds(*t), ElementsAre("decision_recorded", "recycled", "gate_evaluated"));
}

TEST_F(LifecycleTest, HoldPausesAndResumeReactivates) {
  ReachReviewAtGateA();
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_GO).ok());
  auto held = Decide("funding", v1::GATE_OUTCOME_HOLD);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->service.status(), v1::SERVICE_STATUS_ON_HOLD);
  EXPECT_EQ(held->service.stage(), "plan");
  EXPECT_EQ(Run(AdvanceStage{}).status().code(), absl::StatusCode::kFailedPrecondition);
  auto resumed = Resume("Budget confirmed");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->service.status(), v1::SERVICE_STATUS_ACTIVE);
  EXPECT_THAT(EventKinds(*resumed), ElementsAre("resumed"));
  EXPECT_EQ(Resume("Again").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Resume("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LifecycleTest, HoldPausesTheTeamsWorkUntilResumed) {
  ReachReviewAtGateA();
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_HOLD).ok());
  ASSERT_TRUE(Decide("funding", v1::GATE_OUTCOME_GO).ok());
  ASSERT_EQ(snapshot_.service.status(), v1::SERVICE_STATUS_ON_HOLD);
  auto output = Run(SubmitOutput{"vision", Doc("v2"), Fields({{"statement", Str("Later")}})});
  EXPECT_EQ(output.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(output.status().message(), HasSubstr("on hold"));
  v1::AssessmentAnswer answer;
  answer.set_question("P1.Q1");
  answer.set_answer(v1::ANSWER_VALUE_YES);
  auto assessed = Run(RecordAssessment{.principle = "P1", .answers = {answer}});
  EXPECT_EQ(assessed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(assessed.status().message(), HasSubstr("ResumeFromHold"));
  EXPECT_EQ(Run(RequestGateReview{}).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Resume("Budget confirmed").ok());
  EXPECT_TRUE(Run(SubmitOutput{"vision", Doc("v2"), Fields({{"statement", Str("Later")}})}).ok());
}

// Every review starts with no decisions: a panel's recycle or hold in one review is not counted
// again in the next review of the same gate.
TEST_F(LifecycleTest, ANewReviewAfterARecycleStartsWithNoDecisions) {
  ReachReviewAtGateA();
  EXPECT_EQ(snapshot_.service.review(), 1u);
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_RECYCLE, "envision").ok());
  auto recycled = Decide("funding", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(recycled.ok()) << recycled.status();
  ASSERT_EQ(snapshot_.service.stage(), "envision");

  ASSERT_TRUE(Run(AdvanceStage{}).ok());
  auto review = Run(RequestGateReview{});
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_EQ(snapshot_.service.review(), 2u);
  EXPECT_EQ(review->events.back().review_requested().review(), 2u);
  EXPECT_THAT(snapshot_.service.awaiting_panels(), ElementsAre("business", "funding"));
  EXPECT_THAT(AwaitingPanels(*pack_, snapshot_), ElementsAre("business", "funding"));

  auto funding = Decide("funding", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(funding.ok()) << funding.status();
  EXPECT_THAT(EventKinds(*funding), ElementsAre("decision_recorded"));
  EXPECT_EQ(funding->service.status(), v1::SERVICE_STATUS_IN_REVIEW);
  EXPECT_THAT(funding->service.awaiting_panels(), ElementsAre("business"));
  EXPECT_EQ(funding->decisions.back().review(), 2u);
  // The first review's decisions are history, not superseded by the second review's.
  for (const v1::Decision& d : funding->decisions) EXPECT_EQ(d.review(), 2u);

  auto business = Decide("business", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(business.ok()) << business.status();
  ASSERT_THAT(EventKinds(*business),
              ElementsAre("decision_recorded", "gate_approved", "gate_evaluated"));
  const v1::GateResult& result = business->events[1].gate_approved().result();
  EXPECT_EQ(result.review(), 2u);
  ASSERT_EQ(result.panel_decisions_size(), 2);
  for (const v1::PanelDecision& d : result.panel_decisions()) {
    EXPECT_EQ(d.outcome(), v1::GATE_OUTCOME_GO);
    EXPECT_EQ(d.review(), 2u);
  }
  EXPECT_EQ(business->service.stage(), "build");
}

TEST_F(LifecycleTest, ANewReviewAfterAHoldStartsWithNoDecisions) {
  ReachReviewAtGateA();
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_HOLD).ok());
  ASSERT_TRUE(Decide("funding", v1::GATE_OUTCOME_GO).ok());
  ASSERT_EQ(snapshot_.service.status(), v1::SERVICE_STATUS_ON_HOLD);
  ASSERT_TRUE(Resume("Budget confirmed").ok());
  ASSERT_TRUE(Run(RequestGateReview{}).ok());
  EXPECT_EQ(snapshot_.service.review(), 2u);

  auto first = Decide("funding", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->service.status(), v1::SERVICE_STATUS_IN_REVIEW);
  EXPECT_THAT(first->service.awaiting_panels(), ElementsAre("business"));
  EXPECT_THAT(first->events.front().decision_recorded().awaiting_panels(), ElementsAre("business"));

  auto second = Decide("business", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->service.status(), v1::SERVICE_STATUS_ACTIVE);
  EXPECT_EQ(second->service.stage(), "build");
}

TEST_F(LifecycleTest, LatestReviewDecisionsAreThoseOfTheGatesLastReview) {
  ReachReviewAtGateA();
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_HOLD).ok());
  ASSERT_TRUE(Decide("funding", v1::GATE_OUTCOME_GO).ok());
  // On hold after review 1: its two decisions are the gate's latest.
  EXPECT_EQ(LatestReviewDecisions(snapshot_.service, "A", decisions_).size(), 2u);
  ASSERT_TRUE(Resume("Budget confirmed").ok());
  ASSERT_TRUE(Run(RequestGateReview{}).ok());
  // Review 2 is under way and has no decisions yet.
  EXPECT_TRUE(LatestReviewDecisions(snapshot_.service, "A", decisions_).empty());
  EXPECT_TRUE(LatestReviewDecisions(snapshot_.service, "B", decisions_).empty());
  ASSERT_TRUE(Decide("funding", v1::GATE_OUTCOME_GO).ok());
  const std::vector<v1::Decision> latest =
      LatestReviewDecisions(snapshot_.service, "A", decisions_);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].panel(), "funding");
  EXPECT_EQ(latest[0].review(), 2u);
}

// Only a panel of the holding gate (from another agency) or an administrator lifts a hold.
TEST_F(LifecycleTest, OnlyAPanelOfTheHoldingGateOrAnAdminResumes) {
  ReachReviewAtGateA();
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_HOLD).ok());
  ASSERT_TRUE(Decide("funding", v1::GATE_OUTCOME_GO).ok());
  auto team = Run(ResumeFromHold{.reason = "We are ready"});
  EXPECT_EQ(team.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(team.status().message(), HasSubstr("sits on no panel of gate A"));
  EXPECT_EQ(Resume("Not ours", "architecture").status().code(),
            absl::StatusCode::kPermissionDenied);
  Context own = Ctx("ria:panelist", "ria");
  own.actor.panels = {"funding"};
  auto refused = Run(ResumeFromHold{.reason = "Ours"}, own);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(), HasSubstr("segregation of duties"));
  Context admin = Ctx("admin", "jdm");
  admin.actor.admin = true;
  auto resumed = Run(ResumeFromHold{.reason = "Decided by the council"}, admin);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->service.status(), v1::SERVICE_STATUS_ACTIVE);
}

// A decision names the gate it is taken at; only the gate under review is decided.
TEST_F(LifecycleTest, RefusesADecisionAtAGateNotUnderReview) {
  ReachReviewAtGateA();
  auto t = Run(
      RecordDecision{
          .gate = "B", .panel = "funding", .outcome = v1::GATE_OUTCOME_GO, .rationale = "Fine"},
      Ctx("panel:funding", "mkm"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), HasSubstr("has gate A under review, not B"));
}

TEST_F(LifecycleTest, ConditionsStayOpenAndReachLaterGates) {
  ReachReviewAtGateA();
  v1::Condition c;
  c.set_text("Publish the accessibility statement");
  c.mutable_due()->set_seconds(1'790'000'000);
  c.set_check_expr("has(outputs.vision)");
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_GO_WITH_CONDITIONS, "", {c}).ok());
  auto t = Decide("funding", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(EventKinds(*t),
              ElementsAre("decision_recorded", "gate_approved_with_conditions", "gate_evaluated"));
  ASSERT_EQ(t->service.open_conditions_size(), 1);
  EXPECT_EQ(t->service.open_conditions(0).panel(), "business");
  EXPECT_EQ(t->service.open_conditions(0).status(), v1::CONDITION_STATUS_OPEN);
  const model::GateSubject subject = SubjectOf(snapshot_, now_);
  ASSERT_EQ(subject.conditions.size(), 1u);
  EXPECT_EQ(subject.conditions[0].gate(), "A");
}

// A dry run judges hypothetical outputs as if they were submitted, and a memo of bound records
// changes nothing of it.
TEST_F(LifecycleTest, DryRunsWithHypotheticalOutputsJudgeAsTheSubmittedRecordsWould) {
  ReachReviewAtGateA();
  v1::Condition c;
  c.set_text("Publish the accessibility statement");
  c.mutable_due()->set_seconds(1'790'000'000);
  ASSERT_TRUE(Decide("business", v1::GATE_OUTCOME_GO_WITH_CONDITIONS, "", {c}).ok());
  ASSERT_TRUE(Decide("funding", v1::GATE_OUTCOME_GO).ok());
  v1::AssessmentAnswer partly;
  partly.set_question("P1.Q1");
  partly.set_answer(v1::ANSWER_VALUE_PARTLY);
  partly.set_evidence("https://dhs.example.ee/e");
  ASSERT_TRUE(Run(RecordAssessment{"P1", {partly}}).ok());
  ASSERT_EQ(snapshot_.service.open_conditions_size(), 1);
  v1::OutputRevision extra;
  extra.set_output_type("vision");
  extra.set_revision(9);
  *extra.mutable_fields() = Fields({{"statement", Str("Hypothetical")}});
  // The same as a snapshot in which the extra revision is the latest.
  ServiceSnapshot submitted = snapshot_;
  submitted.latest_outputs["vision"] = std::make_shared<const v1::OutputRevision>(extra);
  model::BoundRecords bound;
  for (const v1::Gate& gate : pack_->proto().gates()) {
    auto dry = CheckGate(snapshot_, *pack_, gate.id(), now_, {extra});
    ASSERT_TRUE(dry.ok()) << dry.status();
    v1::GateEvaluation direct;
    ASSERT_TRUE(model::EvaluateGate(*pack_, gate.id(), SubjectOf(submitted, now_), &direct,
                                    {.bound = &bound})
                    .ok());
    EXPECT_EQ(dry->DebugString(), direct.DebugString()) << gate.id();
  }
}

TEST_F(LifecycleTest, GoAtTheLastGateStartsANewCycle) {
  Register("operate");
  ASSERT_TRUE(Run(SubmitOutput{"report", Doc("r"), Fields({{"summary", Str("Done")}})}).ok());
  ASSERT_TRUE(Run(RequestGateReview{}).ok());
  auto t = Decide("funding", v1::GATE_OUTCOME_GO);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->service.stage(), "envision");
  EXPECT_EQ(t->service.cycle(), 2u);
  EXPECT_EQ(t->events[1].gate_approved().result().to_cycle(), 2u);
  EXPECT_EQ(t->service.stage_history().rbegin()->cycle(), 2u);
}

TEST_F(LifecycleTest, StopAtTheLastGateRetiresTheService) {
  Register("operate");
  ASSERT_TRUE(Run(SubmitOutput{"report", Doc("r"), Fields({{"summary", Str("Done")}})}).ok());
  ASSERT_TRUE(Run(RequestGateReview{}).ok());
  auto t = Decide("funding", v1::GATE_OUTCOME_STOP);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->service.status(), v1::SERVICE_STATUS_RETIRED);
  EXPECT_THAT(EventKinds(*t), ElementsAre("decision_recorded", "retired"));
}

TEST_F(LifecycleTest, ANewRevisionOfReviewedEvidenceMarksTheReviewStale) {
  ReachReviewAtGateA();
  const std::string review_evaluation = snapshot_.service.latest_evaluation().evaluation_id();
  EXPECT_FALSE(snapshot_.service.latest_evaluation().stale());
  auto t = Run(SubmitOutput{"vision", Doc("v2"), Fields({{"statement", Str("Changed")}})});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->service.latest_evaluation().stale());
  EXPECT_EQ(t->service.latest_evaluation().evaluation_id(), review_evaluation);
  EXPECT_NE(t->evaluation, nullptr);  // re-evaluated and recorded all the same
}

TEST_F(LifecycleTest, MigratesToAnotherVersionOfTheSamePack) {
  Register();
  Context ctx = Ctx();
  ctx.target_pack = pack_v2_.get();
  auto t = Run(MigratePack{}, ctx);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->service.pack_version(), "1.1.0");
  EXPECT_THAT(EventKinds(*t), ElementsAre("pack_migrated", "gate_evaluated"));
  EXPECT_EQ(t->events[0].pack_migrated().from_pack().pack_version(), "1.0.0");
  EXPECT_EQ(t->evaluation->pack_version(), "1.1.0");

  current_pack_ = pack_v2_.get();
  Context again = Ctx();
  again.target_pack = pack_v2_.get();
  EXPECT_EQ(Run(MigratePack{}, again).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LifecycleTest, RefusesMigrationToAnotherPackOrDuringReview) {
  auto tiny =
      model::LoadPack(absl::StrCat(VARAV_SOURCE_DIR, "/tests/engine/model/testdata/tiny"), nullptr);
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  Register();
  Context other = Ctx();
  other.target_pack = tiny->get();
  EXPECT_EQ(Run(MigratePack{}, other).status().code(), absl::StatusCode::kInvalidArgument);

  snapshot_ = {};
  ReachReviewAtGateA();
  Context during = Ctx();
  during.target_pack = pack_v2_.get();
  EXPECT_EQ(Run(MigratePack{}, during).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LifecycleTest, DryRunChecksHypotheticalOutputsWithoutChangingState) {
  Register();
  ASSERT_TRUE(Run(SubmitOutput{"vision", Doc("v"), Fields({{"statement", Str("s")}})}).ok());
  v1::OutputRevision plan;
  plan.set_output_type("plan");
  *plan.mutable_fields() = Fields({{"owner", Str("Mari")}, {"decision_ref", Str("KK-2")}});
  const ServiceSnapshot before = snapshot_;
  auto without = CheckGate(snapshot_, *pack_, "", now_, {});
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->ready());
  auto with = CheckGate(snapshot_, *pack_, "A", now_, {plan});
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_TRUE(with->ready());
  EXPECT_EQ(snapshot_.service.DebugString(), before.service.DebugString());

  plan.mutable_fields()->mutable_fields()->erase("owner");
  EXPECT_THAT(CheckGate(snapshot_, *pack_, "A", now_, {plan}).status().message(),
              HasSubstr("outputs[0].fields.owner"));
  EXPECT_EQ(CheckGate(snapshot_, *pack_, "Z", now_, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LifecycleTest, AssessmentsFeedShouldScores) {
  Register();
  SubmitGateAOutputs();
  EXPECT_DOUBLE_EQ(snapshot_.service.latest_evaluation().should_score(), 0.0);
  v1::AssessmentAnswer q1, q2;
  q1.set_question("P1.Q1");
  q1.set_answer(v1::ANSWER_VALUE_YES);
  q2.set_question("P1.Q2");
  q2.set_answer(v1::ANSWER_VALUE_NO);
  auto t = Run(RecordAssessment{"P1", {q1, q2}});
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(t->service.latest_evaluation().should_score(), 1.0);
}

TEST(EventTypesTest, NamesEveryPayloadType) {
  const google::protobuf::OneofDescriptor* data = v1::Event::descriptor()->FindOneofByName("data");
  ASSERT_NE(data, nullptr);
  ASSERT_EQ(EventTypes().size(), static_cast<size_t>(data->field_count()));
  for (int i = 0; i < data->field_count(); ++i) {
    const auto data_case = static_cast<v1::Event::DataCase>(data->field(i)->number());
    EXPECT_THAT(std::string(EventTypeFor(data_case)), HasSubstr("ee.varav."))
        << data->field(i)->name();
    EXPECT_EQ(EventTypes()[i], EventTypeFor(data_case));
  }
  EXPECT_EQ(EventTypeFor(v1::Event::kGateApproved), "ee.varav.gate.approved");
  EXPECT_EQ(EventTypeFor(v1::Event::DATA_NOT_SET), "");
}

// Every event a command emits carries its CloudEvents attributes; the store only numbers it.
TEST_F(LifecycleTest, NamesEveryEventItEmits) {
  Register();
  auto t = Run(SubmitOutput{"vision", Doc("v"), Fields({{"statement", Str("s")}})});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->events.size(), 2u);
  EXPECT_EQ(t->events[0].id(), "parental-benefit/3");
  EXPECT_EQ(t->events[0].type(), "ee.varav.output.submitted");
  EXPECT_EQ(t->events[1].id(), "parental-benefit/4");
  EXPECT_EQ(t->events[1].type(), "ee.varav.gate.evaluated");
  for (const v1::Event& e : t->events) {
    EXPECT_EQ(e.subject(), "parental-benefit");
    EXPECT_EQ(e.source(), "/varav");
    EXPECT_EQ(e.spec_version(), "1.0");
    EXPECT_EQ(e.data_content_type(), "application/protobuf");
  }
}

}  // namespace
}  // namespace varav::lifecycle
