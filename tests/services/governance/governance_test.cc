// Tests of the application layer against a real store in a temporary directory and the bundled
// Service Standard 2.0 pack, driven only through the API's request and response messages.
#include "services/governance/governance.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/sha256.h"
#include "engine/model/loader.h"
#include "engine/store/event_chain.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/governance/request_util.h"
#include "tests/status_matchers.h"

namespace varav::governance {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr absl::string_view kPack = "teenuse-standard@2.0.0";
constexpr absl::string_view kAgency = "sotsiaalkindlustusamet";
constexpr absl::string_view kSha =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

using ::varav::testing::IsOk;
using ::varav::testing::StatusIs;

// The outputs of gate A for the parental benefit e-service, as in the rule pack's complete gate A
// fixture (rules/teenuse-standard-2.0/tests/gate_a.yaml, gate_a_complete).
const std::vector<std::pair<std::string, std::string>>& GateAOutputs() {
  static const auto* outputs = new std::vector<std::pair<std::string, std::string>>{
      {"vision", R"json({
        "statement": "Lapsevanem saab vanemahüvitise ilma taotlust esitamata: riik pakub hüvitist ennetavalt lapse sünni registreerimise põhjal ning vanem ainult kinnitab valikud.",
        "intended_impact": "Vanemate halduskoormus väheneb, hüvitis jõuab kõigi õigustatuteni õigel ajal ja Sotsiaalkindlustusameti käsitöö väheneb poole võrra.",
        "strategy_refs": ["Heaolu arengukava 2023–2030", "Eesti digiühiskonna arengukava 2030",
                          "Sotsiaalkindlustusameti arengukava 2025–2028"],
        "horizon_years": 5,
        "scope": "Vanemahüvitise ja sünnitushüvitise määramine ning vanemate vahel hüvitise jagamine.",
        "affected_services": ["Vanemahüvitis", "Sünnitoetus", "Lapsetoetus"]})json"},
      {"goals_metrics", R"json({
        "goals": ["Vähemalt 90% vanemahüvitistest määratakse ennetavalt ilma taotluseta.",
                  "Hüvitise määramise aeg lüheneb kümnelt tööpäevalt kahele.",
                  "Teenusega rahulolu tõuseb vähemalt 85%-ni."],
        "kpis": [
          {"name": "Ennetavalt määratud hüvitiste osakaal", "baseline": 12.0, "target": 90.0,
           "unit": "%", "due": "2027-06-30T00:00:00Z",
           "data_source": "SKA sotsiaalkaitse infosüsteem (SKAIS2)"},
          {"name": "Määramise keskmine kestus", "baseline": 10.0, "target": 2.0,
           "unit": "tööpäeva", "due": "2027-06-30T00:00:00Z",
           "data_source": "SKAIS2 menetlusandmed"},
          {"name": "Kasutajate rahulolu", "baseline": 71.0, "target": 85.0, "unit": "%",
           "due": "2027-12-31T00:00:00Z", "data_source": "Rahuloluküsitlus eesti.ee-s"}],
        "evaluation_frequency": "quarterly",
        "expected_impact_5y": "Vanemate ajakulu väheneb kokku ligikaudu 20 000 tunni võrra aastas."})json"},
      {"management_plan", R"json({
        "service_owner": {"name": "Mari Tamm", "role": "Perehüvitiste osakonna juhataja",
                          "appointed_at": "2025-01-06T00:00:00Z"},
        "management_roles": [{"role": "Tootejuht", "name": "Kristjan Kask"},
                             {"role": "Teenusejuht", "name": "Liis Mägi"}],
        "action_plan_uri": "https://dhs.sotsiaalkindlustusamet.ee/projektid/vanemahyvitis/tegevuskava",
        "budget_eur": 480000.0,
        "budget_source": "Riigieelarve ja taaste- ja vastupidavusrahastu",
        "decision_ref": "SKA peadirektori käskkiri nr 1.1-3/25/17",
        "decision_date": "2025-02-20T00:00:00Z",
        "project_end": "2026-12-31T00:00:00Z"})json"},
      {"team", R"json({
        "roles": [
          {"role": "Tootejuht", "name": "Kristjan Kask", "competence": "äri", "allocation_percent": 100},
          {"role": "Teenusedisainer", "name": "Anu Saar", "competence": "kasutajauuringud", "allocation_percent": 80},
          {"role": "Ärianalüütik", "name": "Peeter Lepp", "competence": "protsessid ja andmed", "allocation_percent": 100},
          {"role": "Arhitekt", "name": "Tõnu Rebane", "competence": "IT", "allocation_percent": 50},
          {"role": "Jurist", "name": "Kadri Sepp", "competence": "õigus", "allocation_percent": 20}],
        "competence_needs": ["äri", "kasutajauuringud", "IT-arhitektuur", "õigus", "andmekaitse"],
        "competence_gaps": [{"competence": "andmekaitse",
                             "mitigation": "Kaasatakse Sotsiaalministeeriumi andmekaitsespetsialist."}],
        "stakeholders_mapped": true})json"},
  };
  return *outputs;
}

// The fixture's self-assessments: principle -> answers to its questions in order.
const std::vector<std::pair<std::string, std::vector<v1::AnswerValue>>>& GateAAssessments() {
  constexpr v1::AnswerValue Y = v1::ANSWER_VALUE_YES, P = v1::ANSWER_VALUE_PARTLY,
                            NA = v1::ANSWER_VALUE_NOT_APPLICABLE;
  static const auto* assessments =
      new std::vector<std::pair<std::string, std::vector<v1::AnswerValue>>>{
          {"P1", {Y, Y, Y, P, Y, P}}, {"P2", {Y, Y, Y, P, P, Y}}, {"P3", {Y, P, P, NA, P, Y}},
          {"P4", {Y, Y, P, Y}},       {"P9", {NA, Y, NA, P}},     {"P14", {Y, Y, P, P}},
      };
  return *assessments;
}

google::protobuf::Struct Json(absl::string_view json) {
  google::protobuf::Struct s;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &s);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return s;
}

v1::DocumentRef Doc(absl::string_view id) {
  v1::DocumentRef d;
  d.set_system("dhs");
  d.set_id(std::string(id));
  d.set_version("1");
  d.set_uri(absl::StrCat("https://dhs.sotsiaalkindlustusamet.ee/dokumendid/", id));
  d.set_sha256(std::string(kSha));
  return d;
}

Principal Admin() { return {.id = "admin", .roles = {{.kind = RoleKind::kAdmin}}}; }
Principal Editor() {
  return {.id = "ska:mari",
          .agency = std::string(kAgency),
          .roles = {{.kind = RoleKind::kAgencyEditor, .scope = std::string(kAgency)}}};
}
Principal OtherEditor() {
  return {.id = "ria:jaan",
          .agency = "ria",
          .roles = {{.kind = RoleKind::kAgencyEditor, .scope = "ria"}}};
}
Principal Panelist(std::string id, std::string agency, std::string panel) {
  return {.id = std::move(id),
          .agency = std::move(agency),
          .roles = {{.kind = RoleKind::kPanelMember, .scope = std::move(panel)}}};
}
Principal Business() { return Panelist("mkm:anna", "mkm", "business_panel"); }
Principal Funding() { return Panelist("fin:toomas", "rahandusministeerium", "it_funding_council"); }
Principal Reader() { return {.id = "audit:kati", .roles = {{.kind = RoleKind::kReader}}}; }

std::filesystem::path SourceDir() { return VARAV_SOURCE_DIR; }

class GovernanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("governance_test_", getpid(), "_", counter++);
    std::filesystem::remove_all(dir_);
    // Durability is the store's concern and tested there; unsynced commits keep this suite fast.
    auto store = store::Store::Open(
        {.path = dir_.string(), .index_terms = PortfolioIndexTerms, .sync = false});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    ASSERT_THAT(model::LoadBundledPacks((SourceDir() / "rules").string(), &registry_), IsOk());
    for (const char* mini : {"mini", "mini-v2"}) {
      auto pack = model::LoadPack((SourceDir() / "tests/engine/lifecycle/testdata" / mini).string(),
                                  nullptr);
      ASSERT_TRUE(pack.ok()) << pack.status();
      ASSERT_THAT(registry_.Add(*pack), IsOk());
    }
    governance_ = std::make_unique<Governance>(
        store_.get(), &registry_,
        GovernanceOptions{.clock = [this] { return now_; }, .default_pack = std::string(kPack)});
  }

  void TearDown() override {
    governance_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  Governance& gov() { return *governance_; }
  uint64_t LastSequence() const { return store_->LastGlobalSequence(); }

  std::string Etag(absl::string_view id) {
    v1::GetServiceRequest r;
    r.set_service_id(std::string(id));
    auto s = gov().GetService(r, Reader());
    EXPECT_THAT(s, IsOk());
    return s.ok() ? s->service().etag() : "";
  }

  v1::RegisterServiceRequest RegisterRequest(absl::string_view id, absl::string_view stage = "") {
    v1::RegisterServiceRequest r;
    r.set_service_id(std::string(id));
    r.set_name("Vanemahüvitise e-teenus");
    r.set_agency(std::string(kAgency));
    r.set_owner("Mari Tamm");
    r.set_description("Vanemahüvitise ennetav määramine lapse sünni registreerimise põhjal.");
    r.set_stage(std::string(stage));
    return r;
  }

  v1::Service Register(absl::string_view id, absl::string_view stage = "",
                       absl::string_view pack = "") {
    v1::RegisterServiceRequest r = RegisterRequest(id, stage);
    r.set_pack(std::string(pack));
    auto response = gov().RegisterService(r, Editor());
    EXPECT_THAT(response, IsOk());
    return response.ok() ? response->service() : v1::Service();
  }

  v1::SubmitOutputRequest SubmitRequest(absl::string_view id, absl::string_view type,
                                        absl::string_view json) {
    v1::SubmitOutputRequest r;
    r.set_etag(Etag(id));
    r.set_service_id(std::string(id));
    r.set_output_type(std::string(type));
    *r.mutable_document() = Doc(absl::StrCat(id, "-", type));
    *r.mutable_fields() = Json(json);
    return r;
  }

  absl::StatusOr<v1::SubmitOutputResponse> Submit(absl::string_view id, absl::string_view type,
                                                  absl::string_view json,
                                                  const Principal& who = Editor()) {
    return gov().SubmitOutput(SubmitRequest(id, type, json), who);
  }

  absl::StatusOr<v1::RecordAssessmentResponse> Assess(absl::string_view id,
                                                      absl::string_view principle,
                                                      const std::vector<v1::AnswerValue>& answers) {
    v1::RecordAssessmentRequest r;
    r.set_etag(Etag(id));
    r.set_service_id(std::string(id));
    r.set_principle(std::string(principle));
    for (size_t i = 0; i < answers.size(); ++i) {
      v1::AssessmentAnswer* a = r.add_answers();
      a->set_question(absl::StrCat(principle, ".Q", i + 1));
      a->set_answer(answers[i]);
      a->set_evidence(absl::StrCat("dhs:", principle, "-", i + 1));
    }
    return gov().RecordAssessment(r, Editor());
  }

  absl::StatusOr<v1::AdvanceStageResponse> Advance(absl::string_view id,
                                                   const Principal& who = Editor()) {
    v1::AdvanceStageRequest r;
    r.set_etag(Etag(id));
    r.set_service_id(std::string(id));
    return gov().AdvanceStage(r, who);
  }

  absl::StatusOr<v1::RequestGateReviewResponse> RequestReview(absl::string_view id,
                                                              const Principal& who = Editor()) {
    v1::RequestGateReviewRequest r;
    r.set_etag(Etag(id));
    r.set_service_id(std::string(id));
    return gov().RequestGateReview(r, who);
  }

  v1::RecordDecisionRequest DecisionRequest(absl::string_view id, absl::string_view panel,
                                            v1::GateOutcome outcome, absl::string_view gate = "A") {
    v1::RecordDecisionRequest r;
    r.set_etag(Etag(id));
    r.set_service_id(std::string(id));
    r.set_gate(std::string(gate));
    r.set_panel(std::string(panel));
    r.set_outcome(outcome);
    r.set_rationale("Visioon ja eesmärgid on selged, meeskond on komplekteeritud.");
    return r;
  }

  // Registers `id` at envision, submits every gate A output, records the self-assessments and
  // advances to plan, where gate A is reviewed.
  void PrepareGateA(absl::string_view id) {
    Register(id, "envision");
    for (const auto& [type, json] : GateAOutputs()) ASSERT_THAT(Submit(id, type, json), IsOk());
    for (const auto& [principle, answers] : GateAAssessments()) {
      ASSERT_THAT(Assess(id, principle, answers), IsOk());
    }
    ASSERT_THAT(Advance(id), IsOk());
  }

  // A mini-pack service ready for its gate A review (vision and plan submitted, at plan).
  void PrepareMini(absl::string_view id) {
    Register(id, "plan", "mini@1.0.0");
    ASSERT_THAT(Submit(id, "vision", R"({"statement": "Proactive benefits"})"), IsOk());
    ASSERT_THAT(Submit(id, "plan", R"({"owner": "Mari", "decision_ref": "1.1-3/25/17"})"), IsOk());
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  model::PackRegistry registry_;
  absl::Time now_ = absl::FromUnixSeconds(1741946400);  // 2025-03-14T10:00:00Z
  std::unique_ptr<Governance> governance_;
};

// --- The happy path ---

TEST_F(GovernanceTest, WalksAServiceThroughGateAWithTwoPanels) {
  const std::string id = "svc-vanemahyvitis";
  v1::Service registered = Register(id, "envision");
  EXPECT_EQ(registered.stage(), "envision");
  EXPECT_EQ(registered.status(), v1::SERVICE_STATUS_ACTIVE);
  EXPECT_EQ(registered.pack_version(), "2.0.0");
  EXPECT_THAT(registered.etag(), Not(IsEmpty()));

  // The first output: gate A is evaluated and still misses the other three.
  auto vision = Submit(id, "vision", GateAOutputs()[0].second);
  ASSERT_THAT(vision, IsOk());
  EXPECT_EQ(vision->output().revision(), 1u);
  EXPECT_EQ(vision->output().submitted_by(), "ska:mari");
  EXPECT_EQ(vision->gate_check().summary().gate(), "A");
  EXPECT_FALSE(vision->gate_check().summary().ready());
  EXPECT_THAT(vision->gate_check().failing_rules(), Contains("a.goals_metrics.present"));
  EXPECT_NE(vision->service().etag(), registered.etag());

  bool became_ready = false;
  for (size_t i = 1; i < GateAOutputs().size(); ++i) {
    auto r = Submit(id, GateAOutputs()[i].first, GateAOutputs()[i].second);
    ASSERT_THAT(r, IsOk());
    became_ready |= r->gate_check().became_ready();
  }
  EXPECT_TRUE(became_ready);
  for (const auto& [principle, answers] : GateAAssessments()) {
    auto r = Assess(id, principle, answers);
    ASSERT_THAT(r, IsOk());
    EXPECT_GT(r->assessment().score(), 0.5);
  }

  // Gate A is reviewed at plan, the last stage of the first diamond.
  EXPECT_THAT(RequestReview(id), StatusIs(absl::StatusCode::kFailedPrecondition, "plan"));
  auto advanced = Advance(id);
  ASSERT_THAT(advanced, IsOk());
  EXPECT_EQ(advanced->service().stage(), "plan");

  auto review = RequestReview(id);
  ASSERT_THAT(review, IsOk());
  EXPECT_EQ(review->service().status(), v1::SERVICE_STATUS_IN_REVIEW);
  EXPECT_THAT(review->service().awaiting_panels(),
              ElementsAre("business_panel", "it_funding_council"));
  EXPECT_TRUE(review->gate_check().summary().ready());

  v1::ListServicesRequest awaiting;
  awaiting.set_awaiting_panel("business_panel");
  auto portfolio = gov().ListServices(awaiting, Business());
  ASSERT_THAT(portfolio, IsOk());
  ASSERT_THAT(portfolio->services(), SizeIs(1));
  EXPECT_EQ(portfolio->services(0).id(), id);

  v1::GetGateStatusRequest status_request;
  status_request.set_service_id(id);
  auto status = gov().GetGateStatus(status_request, Business());
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->gate().id(), "A");
  EXPECT_FALSE(status->dry_run());
  EXPECT_TRUE(status->evaluation().ready());
  EXPECT_THAT(status->missing_outputs(), IsEmpty());
  EXPECT_GT(status->should_score(), 0.0);
  EXPECT_THAT(status->decisions(), IsEmpty());
  EXPECT_THAT(status->awaiting_panels(), ElementsAre("business_panel", "it_funding_council"));
  ASSERT_GT(status->evaluation().results_size(), 0);
  EXPECT_THAT(status->evaluation().results(0).principles(), Not(IsEmpty()));

  // The business panel says go; the funding council still has to decide.
  auto business =
      gov().RecordDecision(DecisionRequest(id, "business_panel", v1::GATE_OUTCOME_GO), Business());
  ASSERT_THAT(business, IsOk());
  EXPECT_EQ(business->applied_outcome(), v1::GATE_OUTCOME_UNSPECIFIED);
  EXPECT_EQ(business->decision().decided_by(), "mkm:anna");
  EXPECT_THAT(business->service().awaiting_panels(), ElementsAre("it_funding_council"));

  // The funding council goes with a condition: the gate's outcome applies.
  v1::RecordDecisionRequest funding =
      DecisionRequest(id, "it_funding_council", v1::GATE_OUTCOME_GO_WITH_CONDITIONS);
  v1::ConditionSpec* condition = funding.add_conditions();
  condition->set_text("Täpsustada eelarve jaotus etappide kaupa.");
  condition->mutable_due()->set_seconds(absl::ToUnixSeconds(now_ + absl::Hours(24 * 90)));
  auto decided = gov().RecordDecision(funding, Funding());
  ASSERT_THAT(decided, IsOk());
  EXPECT_EQ(decided->applied_outcome(), v1::GATE_OUTCOME_GO_WITH_CONDITIONS);
  EXPECT_EQ(decided->service().stage(), "understand");
  EXPECT_EQ(decided->service().status(), v1::SERVICE_STATUS_ACTIVE);
  ASSERT_THAT(decided->service().open_conditions(), SizeIs(1));
  EXPECT_EQ(decided->service().open_conditions(0).panel(), "it_funding_council");

  status_request.set_gate("A");
  status = gov().GetGateStatus(status_request, Reader());
  ASSERT_THAT(status, IsOk());
  EXPECT_THAT(status->decisions(), SizeIs(2));
  EXPECT_THAT(status->open_conditions(), SizeIs(1));
  EXPECT_THAT(status->awaiting_panels(), IsEmpty());

  // The audit trail holds every change and verifies.
  v1::VerifyAuditTrailRequest verify;
  verify.set_service_id(id);
  auto verified = gov().VerifyAuditTrail(verify, Reader());
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(verified->valid());
  EXPECT_EQ(verified->event_count(), decided->service().last_event_sequence());
  EXPECT_EQ(verified->head_hash(), decided->service().last_event_hash());

  v1::ListEventsRequest events;
  events.set_service_id(id);
  events.set_page_size(1000);
  auto listed = gov().ListEvents(events, Reader());
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->events_size(), static_cast<int>(verified->event_count()));
  EXPECT_TRUE(listed->next_page_token().empty());
  std::vector<std::string> types;
  for (const v1::Event& e : listed->events()) types.push_back(e.type());
  EXPECT_THAT(types, Contains("ee.varav.gate.ready"));
  EXPECT_THAT(types, Contains("ee.varav.review.requested"));
  EXPECT_THAT(types, Contains("ee.varav.gate.approved_with_conditions"));
}

TEST_F(GovernanceTest, PagesThroughTheGlobalEventLog) {
  PrepareMini("svc-a");
  PrepareMini("svc-b");
  v1::ListEventsRequest request;
  request.set_page_size(4);
  std::vector<uint64_t> sequences;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = gov().ListEvents(request, Reader());
    ASSERT_THAT(page, IsOk());
    EXPECT_LE(page->events_size(), 4);
    for (const v1::Event& e : page->events()) sequences.push_back(e.global_sequence());
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  ASSERT_EQ(sequences.size(), LastSequence());
  for (size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], i + 1);
}

TEST_F(GovernanceTest, ListsServicesByCombinedFiltersAcrossPages) {
  Register("a-envision", "envision");
  Register("b-plan", "plan");
  Register("c-envision", "envision");
  Register("d-envision", "envision");
  v1::RegisterServiceRequest ria = RegisterRequest("e-envision", "envision");
  ria.set_agency("ria");
  ASSERT_THAT(gov().RegisterService(ria, Admin()), IsOk());

  v1::ListServicesRequest request;
  request.set_agency(std::string(kAgency));
  request.set_stage("envision");
  request.set_page_size(1);
  std::vector<std::string> ids;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = gov().ListServices(request, Reader());
    ASSERT_THAT(page, IsOk());
    for (const v1::Service& s : page->services()) ids.push_back(s.id());
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  EXPECT_THAT(ids, ElementsAre("a-envision", "c-envision", "d-envision"));

  v1::ListServicesRequest everything;
  auto all = gov().ListServices(everything, Reader());
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(all->services(), SizeIs(5));
  EXPECT_TRUE(all->next_page_token().empty());

  v1::ListServicesRequest active;
  active.set_status(v1::SERVICE_STATUS_ACTIVE);
  active.set_ready_for_review(false);
  active.set_agency("ria");
  auto ria_active = gov().ListServices(active, Reader());
  ASSERT_THAT(ria_active, IsOk());
  ASSERT_THAT(ria_active->services(), SizeIs(1));
  EXPECT_EQ(ria_active->services(0).id(), "e-envision");
}

TEST_F(GovernanceTest, ListsServicesReadyForReview) {
  PrepareMini("mini-ready");
  Register("mini-not-ready", "plan", "mini@1.0.0");
  v1::ListServicesRequest request;
  request.set_ready_for_review(true);
  auto ready = gov().ListServices(request, Reader());
  ASSERT_THAT(ready, IsOk());
  ASSERT_THAT(ready->services(), SizeIs(1));
  EXPECT_EQ(ready->services(0).id(), "mini-ready");
}

TEST_F(GovernanceTest, ListsOutputsWithEveryRevision) {
  const std::string id = "svc-outputs";
  Register(id, "envision");
  ASSERT_THAT(Submit(id, "vision", GateAOutputs()[0].second), IsOk());
  auto second = Submit(id, "vision", GateAOutputs()[0].second);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->output().revision(), 2u);
  ASSERT_THAT(Submit(id, "team", GateAOutputs()[3].second), IsOk());

  v1::ListOutputsRequest request;
  request.set_service_id(id);
  request.set_page_size(1);
  auto page = gov().ListOutputs(request, Reader());
  ASSERT_THAT(page, IsOk());
  ASSERT_THAT(page->outputs(), SizeIs(1));
  EXPECT_EQ(page->outputs(0).output_type(), "team");
  ASSERT_FALSE(page->next_page_token().empty());
  request.set_page_token(page->next_page_token());
  page = gov().ListOutputs(request, Reader());
  ASSERT_THAT(page, IsOk());
  ASSERT_THAT(page->outputs(), SizeIs(1));
  EXPECT_EQ(page->outputs(0).output_type(), "vision");
  EXPECT_EQ(page->outputs(0).latest_revision(), 2u);
  EXPECT_THAT(page->outputs(0).revisions(), SizeIs(2));
  EXPECT_TRUE(page->next_page_token().empty());

  v1::GetOutputRequest get;
  get.set_service_id(id);
  get.set_output_type("vision");
  auto latest = gov().GetOutput(get, Reader());
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->output().revision(), 2u);
  get.set_revision(1);
  auto first = gov().GetOutput(get, Reader());
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->output().revision(), 1u);
}

TEST_F(GovernanceTest, ChecksAGateWithHypotheticalOutputsWithoutWriting) {
  const std::string id = "svc-whatif";
  Register(id, "plan");
  v1::CheckGateRequest request;
  request.set_service_id(id);
  auto empty = gov().CheckGate(request, Reader());
  ASSERT_THAT(empty, IsOk());
  EXPECT_FALSE(empty->evaluation().ready());
  EXPECT_THAT(empty->missing_outputs(), SizeIs(4));

  for (const auto& [type, json] : GateAOutputs()) {
    v1::OutputDraft* draft = request.add_hypothetical_outputs();
    draft->set_output_type(type);
    *draft->mutable_fields() = Json(json);
  }
  const uint64_t before = LastSequence();
  auto complete = gov().CheckGate(request, Reader());
  ASSERT_THAT(complete, IsOk());
  EXPECT_TRUE(complete->evaluation().ready()) << complete->evaluation().DebugString();
  EXPECT_THAT(complete->missing_outputs(), IsEmpty());
  EXPECT_EQ(LastSequence(), before);

  request.mutable_hypothetical_outputs(0)->mutable_fields()->mutable_fields()->erase("statement");
  EXPECT_THAT(gov().CheckGate(request, Reader()),
              StatusIs(absl::StatusCode::kInvalidArgument, "hypothetical_outputs[0].fields."));
}

TEST_F(GovernanceTest, ReportsAGateNotYetEvaluatedAsADryRun) {
  const std::string id = "svc-gate-b";
  Register(id, "envision");
  v1::GetGateStatusRequest request;
  request.set_service_id(id);
  request.set_gate("B");
  auto status = gov().GetGateStatus(request, Reader());
  ASSERT_THAT(status, IsOk());
  EXPECT_TRUE(status->dry_run());
  EXPECT_EQ(status->evaluation().gate_id(), "B");
  EXPECT_FALSE(status->evaluation().ready());
  EXPECT_THAT(status->missing_outputs(), Not(IsEmpty()));
  for (const v1::OutputType& t : status->missing_outputs()) EXPECT_EQ(t.gate(), "B");
}

TEST_F(GovernanceTest, HoldsAndResumesOnlyThroughTheHoldingGatesPanels) {
  const std::string id = "mini-hold";
  PrepareMini(id);
  ASSERT_THAT(RequestReview(id), IsOk());
  const Principal business = Panelist("mkm:anna", "mkm", "business");
  const Principal funding = Panelist("fin:toomas", "rahandusministeerium", "funding");
  ASSERT_THAT(
      gov().RecordDecision(DecisionRequest(id, "business", v1::GATE_OUTCOME_HOLD), business),
      IsOk());
  auto held = gov().RecordDecision(DecisionRequest(id, "funding", v1::GATE_OUTCOME_GO), funding);
  ASSERT_THAT(held, IsOk());
  EXPECT_EQ(held->applied_outcome(), v1::GATE_OUTCOME_HOLD);
  EXPECT_EQ(held->service().status(), v1::SERVICE_STATUS_ON_HOLD);

  v1::ResumeFromHoldRequest resume;
  resume.set_etag(Etag(id));
  resume.set_service_id(id);
  resume.set_reason("Rahastus on kinnitatud.");
  const uint64_t before = LastSequence();
  EXPECT_THAT(gov().ResumeFromHold(resume, Editor()),
              StatusIs(absl::StatusCode::kPermissionDenied, "ska:mari"));
  EXPECT_THAT(gov().ResumeFromHold(resume, Business()),  // a standard-pack panel, not mini's
              StatusIs(absl::StatusCode::kPermissionDenied, "no panel of gate A"));
  EXPECT_EQ(LastSequence(), before);
  auto resumed = gov().ResumeFromHold(resume, funding);
  ASSERT_THAT(resumed, IsOk());
  EXPECT_EQ(resumed->service().status(), v1::SERVICE_STATUS_ACTIVE);
}

// A new review of a gate starts with no decisions: neither the outcome, nor the gate status, nor
// the portfolio's "awaiting my panel" counts what the panels decided in the previous review.
TEST_F(GovernanceTest, ANewReviewCountsOnlyItsOwnDecisions) {
  const std::string id = "mini-rereview";
  PrepareMini(id);
  const Principal business = Panelist("mkm:anna", "mkm", "business");
  const Principal funding = Panelist("fin:toomas", "rahandusministeerium", "funding");
  auto awaiting = [&](absl::string_view panel) {
    v1::ListServicesRequest r;
    r.set_awaiting_panel(std::string(panel));
    auto page = gov().ListServices(r, Reader());
    EXPECT_THAT(page, IsOk());
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const v1::Service& s : page->services()) ids.push_back(s.id());
    }
    return ids;
  };
  auto status = [&] {
    v1::GetGateStatusRequest r;
    r.set_service_id(id);
    auto s = gov().GetGateStatus(r, Reader());
    EXPECT_THAT(s, IsOk());
    return s.ok() ? *s : v1::GetGateStatusResponse();
  };

  // Review 1: business holds, funding goes: on hold.
  ASSERT_THAT(RequestReview(id), IsOk());
  ASSERT_THAT(
      gov().RecordDecision(DecisionRequest(id, "business", v1::GATE_OUTCOME_HOLD), business),
      IsOk());
  ASSERT_THAT(gov().RecordDecision(DecisionRequest(id, "funding", v1::GATE_OUTCOME_GO), funding),
              IsOk());
  EXPECT_EQ(status().decisions_size(), 2);
  v1::ResumeFromHoldRequest resume;
  resume.set_etag(Etag(id));
  resume.set_service_id(id);
  resume.set_reason("Rahastus on kinnitatud.");
  ASSERT_THAT(gov().ResumeFromHold(resume, funding), IsOk());

  // Review 2: both panels are awaited and none has decided.
  ASSERT_THAT(RequestReview(id), IsOk());
  v1::GetGateStatusResponse second = status();
  EXPECT_EQ(second.service().review(), 2u);
  EXPECT_THAT(second.decisions(), IsEmpty());
  EXPECT_THAT(second.awaiting_panels(), ElementsAre("business", "funding"));
  EXPECT_THAT(awaiting("business"), ElementsAre(id));
  EXPECT_THAT(awaiting("funding"), ElementsAre(id));

  // Funding goes first: the outcome waits for business, whose hold of review 1 is history.
  auto first_go =
      gov().RecordDecision(DecisionRequest(id, "funding", v1::GATE_OUTCOME_GO), funding);
  ASSERT_THAT(first_go, IsOk());
  EXPECT_EQ(first_go->applied_outcome(), v1::GATE_OUTCOME_UNSPECIFIED);
  EXPECT_EQ(first_go->service().status(), v1::SERVICE_STATUS_IN_REVIEW);
  EXPECT_EQ(first_go->decision().review(), 2u);
  EXPECT_THAT(awaiting("business"), ElementsAre(id));
  EXPECT_THAT(awaiting("funding"), IsEmpty());
  ASSERT_EQ(status().decisions_size(), 1);
  EXPECT_EQ(status().decisions(0).panel(), "funding");

  auto applied =
      gov().RecordDecision(DecisionRequest(id, "business", v1::GATE_OUTCOME_GO), business);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->applied_outcome(), v1::GATE_OUTCOME_GO);
  EXPECT_EQ(applied->service().stage(), "build");

  // The outcome event carries only review 2's decisions.
  v1::ListEventsRequest events;
  events.set_service_id(id);
  events.set_page_size(1000);
  auto log = gov().ListEvents(events, Reader());
  ASSERT_THAT(log, IsOk());
  int approvals = 0;
  for (const v1::Event& e : log->events()) {
    if (!e.has_gate_approved()) continue;
    ++approvals;
    EXPECT_EQ(e.gate_approved().result().review(), 2u);
    for (const v1::PanelDecision& d : e.gate_approved().result().panel_decisions()) {
      EXPECT_EQ(d.outcome(), v1::GATE_OUTCOME_GO);
      EXPECT_EQ(d.review(), 2u);
    }
  }
  EXPECT_EQ(approvals, 1);
}

// Five outputs of about 900 KB: list pages stay within a response's limit (4 MiB) however much
// the items weigh, and paging through them yields every item once, in order.
TEST_F(GovernanceTest, BoundsEveryListPageInBytesAndPagesThroughEverything) {
  const std::string id = "mini-heavy";
  PrepareMini(id);
  const std::string statement(900'000, 'x');
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(Submit(id, "vision", absl::StrCat(R"({"statement": ")", statement, i, R"("})")),
                IsOk());
  }
  constexpr size_t kLimit = 4 << 20;
  // ListEvents, one service and the global log.
  for (const std::string& service : {id, std::string()}) {
    std::vector<uint64_t> sequences;
    std::string token;
    int pages = 0;
    do {
      v1::ListEventsRequest r;
      r.set_service_id(service);
      r.set_page_size(100);
      r.set_page_token(token);
      auto page = gov().ListEvents(r, Reader());
      ASSERT_THAT(page, IsOk());
      EXPECT_LT(page->ByteSizeLong(), kLimit);
      for (const v1::Event& e : page->events()) {
        sequences.push_back(service.empty() ? e.global_sequence() : e.service_sequence());
      }
      token = page->next_page_token();
      ++pages;
    } while (!token.empty() && pages < 100);
    EXPECT_GT(pages, 2);
    ASSERT_FALSE(sequences.empty());
    for (size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], i + 1);
    // The audit view doubles each event and still fits.
    v1::ListEventsRequest audit;
    audit.set_service_id(service);
    audit.set_page_size(100);
    audit.set_view(v1::EVENT_VIEW_AUDIT);
    auto page = gov().ListEvents(audit, Reader());
    ASSERT_THAT(page, IsOk());
    EXPECT_LT(page->ByteSizeLong(), kLimit);
    EXPECT_FALSE(page->next_page_token().empty());
  }
  // ListOutputs: a page ends inside the vision's revisions and the next one continues them.
  std::vector<uint32_t> revisions;
  std::string token;
  int pages = 0;
  do {
    v1::ListOutputsRequest r;
    r.set_service_id(id);
    r.set_page_token(token);
    auto page = gov().ListOutputs(r, Reader());
    ASSERT_THAT(page, IsOk());
    EXPECT_LT(page->ByteSizeLong(), kLimit);
    for (const v1::OutputHistory& h : page->outputs()) {
      if (h.output_type() != "vision") continue;
      EXPECT_EQ(h.latest_revision(), 6u);
      for (const v1::OutputRevision& rev : h.revisions()) revisions.push_back(rev.revision());
    }
    token = page->next_page_token();
    ++pages;
  } while (!token.empty() && pages < 100);
  EXPECT_GT(pages, 2);
  EXPECT_THAT(revisions, ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST_F(GovernanceTest, MigratesAServiceToANewerPackVersion) {
  const std::string id = "mini-migrate";
  PrepareMini(id);
  v1::MigratePackRequest request;
  request.set_etag(Etag(id));
  request.set_service_id(id);
  request.set_target_pack("mini@9.9.9");
  EXPECT_THAT(gov().MigratePack(request, Editor()),
              StatusIs(absl::StatusCode::kNotFound, "target_pack"));
  request.set_target_pack("mini@1.1.0");
  auto migrated = gov().MigratePack(request, Editor());
  ASSERT_THAT(migrated, IsOk());
  EXPECT_EQ(migrated->service().pack_version(), "1.1.0");
  EXPECT_EQ(migrated->gate_check().summary().gate(), "A");
}

TEST_F(GovernanceTest, RefusesWorkOnAServiceWhosePackIsNotLoaded) {
  PrepareMini("mini-orphan");
  model::PackRegistry standard_only;
  ASSERT_THAT(model::LoadBundledPacks((SourceDir() / "rules").string(), &standard_only), IsOk());
  Governance other(store_.get(), &standard_only, {.clock = [this] { return now_; }});
  v1::SubmitOutputRequest r = SubmitRequest("mini-orphan", "vision", R"({"statement": "x"})");
  EXPECT_THAT(other.SubmitOutput(r, Editor()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "mini@1.0.0"));
}

// --- Refusals ---

TEST_F(GovernanceTest, RefusesMalformedFieldsNamingThemAndWritesNothing) {
  const std::string id = "svc-invalid";
  Register(id, "envision");
  const uint64_t before = LastSequence();
  const auto kInvalid = absl::StatusCode::kInvalidArgument;

  v1::RegisterServiceRequest reg = RegisterRequest("");
  EXPECT_THAT(gov().RegisterService(reg, Editor()), StatusIs(kInvalid, "service_id: required"));
  reg.set_service_id("Vanemahüvitis");
  EXPECT_THAT(gov().RegisterService(reg, Editor()), StatusIs(kInvalid, "service_id:"));
  reg = RegisterRequest("svc-new");
  reg.clear_name();
  EXPECT_THAT(gov().RegisterService(reg, Editor()), StatusIs(kInvalid, "name: required"));
  reg = RegisterRequest("svc-new");
  reg.set_stage("nowhere");
  EXPECT_THAT(gov().RegisterService(reg, Editor()), StatusIs(kInvalid, "stage:"));
  reg = RegisterRequest("svc-new");
  reg.set_request_id("not an id!");
  EXPECT_THAT(gov().RegisterService(reg, Editor()), StatusIs(kInvalid, "request_id:"));

  v1::SubmitOutputRequest submit = SubmitRequest(id, "vision", GateAOutputs()[0].second);
  submit.clear_etag();
  EXPECT_THAT(gov().SubmitOutput(submit, Editor()), StatusIs(kInvalid, "etag: required"));
  submit = SubmitRequest(id, "vision", GateAOutputs()[0].second);
  submit.clear_document();
  EXPECT_THAT(gov().SubmitOutput(submit, Editor()), StatusIs(kInvalid, "document: required"));
  submit = SubmitRequest(id, "vision", GateAOutputs()[0].second);
  submit.mutable_document()->set_sha256("abc");
  EXPECT_THAT(gov().SubmitOutput(submit, Editor()), StatusIs(kInvalid, "document.sha256"));
  submit = SubmitRequest(id, "vision", GateAOutputs()[0].second);
  submit.mutable_document()->set_uri("not a uri");
  EXPECT_THAT(gov().SubmitOutput(submit, Editor()), StatusIs(kInvalid, "document.uri"));
  submit = SubmitRequest(id, "vision", R"({"statement": "x", "horizon_years": "five"})");
  EXPECT_THAT(gov().SubmitOutput(submit, Editor()), StatusIs(kInvalid, "fields.horizon_years"));
  submit = SubmitRequest(id, "visionary", GateAOutputs()[0].second);
  EXPECT_THAT(gov().SubmitOutput(submit, Editor()), StatusIs(kInvalid, "output_type:"));

  v1::RecordAssessmentRequest assess;
  assess.set_etag(Etag(id));
  assess.set_service_id(id);
  assess.set_principle("P1");
  EXPECT_THAT(gov().RecordAssessment(assess, Editor()), StatusIs(kInvalid, "answers:"));
  assess.add_answers()->set_question("P1.Q1");
  EXPECT_THAT(gov().RecordAssessment(assess, Editor()), StatusIs(kInvalid, "answers[0].answer"));
  assess.mutable_answers(0)->set_answer(v1::ANSWER_VALUE_YES);
  assess.mutable_answers(0)->set_question("P1.Q99");
  EXPECT_THAT(gov().RecordAssessment(assess, Editor()), StatusIs(kInvalid, "answers[0].question"));

  v1::RecordDecisionRequest decision = DecisionRequest(id, "business_panel", v1::GATE_OUTCOME_GO);
  decision.clear_rationale();
  EXPECT_THAT(gov().RecordDecision(decision, Business()),
              StatusIs(kInvalid, "rationale: required"));
  decision = DecisionRequest(id, "business_panel", v1::GATE_OUTCOME_GO_WITH_CONDITIONS);
  decision.add_conditions()->set_text("Täpsustada eelarve.");
  decision.mutable_conditions(0)->mutable_due()->set_seconds(absl::ToUnixSeconds(now_) - 60);
  EXPECT_THAT(gov().RecordDecision(decision, Business()), StatusIs(kInvalid, "conditions[0].due"));
  decision = DecisionRequest(id, "business_panel", v1::GATE_OUTCOME_UNSPECIFIED);
  EXPECT_THAT(gov().RecordDecision(decision, Business()), StatusIs(kInvalid, "outcome: required"));

  v1::ListServicesRequest list;
  list.set_page_size(-1);
  EXPECT_THAT(gov().ListServices(list, Reader()), StatusIs(kInvalid, "page_size"));
  list.set_page_size(1001);
  EXPECT_THAT(gov().ListServices(list, Reader()), StatusIs(kInvalid, "page_size"));
  list.set_page_size(0);
  list.set_page_token("garbage!");
  EXPECT_THAT(gov().ListServices(list, Reader()), StatusIs(kInvalid, "page_token"));

  // A token is bound to the filters it was issued for.
  Register("svc-invalid-2", "envision");
  v1::ListServicesRequest paged;
  paged.set_page_size(1);
  auto first = gov().ListServices(paged, Reader());
  ASSERT_THAT(first, IsOk());
  ASSERT_FALSE(first->next_page_token().empty());
  paged.set_page_token(first->next_page_token());
  paged.set_stage("plan");
  EXPECT_THAT(gov().ListServices(paged, Reader()), StatusIs(kInvalid, "page_token"));

  v1::EvaluateExpressionRequest eval;
  eval.set_service_id(id);
  EXPECT_THAT(gov().EvaluateExpression(eval, Reader()), StatusIs(kInvalid, "expression: required"));
  v1::ValidateRulePackRequest validate;
  EXPECT_THAT(gov().ValidateRulePack(validate, Reader()), StatusIs(kInvalid, "files:"));
  v1::WatchEventsRequest watch;
  watch.add_types("ee.varav.nothing");
  EXPECT_THAT(gov().ValidateWatchEvents(watch, Reader()), StatusIs(kInvalid, "types[0]"));

  EXPECT_EQ(LastSequence(), before + 2);  // only the second registration
}

TEST_F(GovernanceTest, ReportsMissingThingsAsNotFound) {
  const auto kNotFound = absl::StatusCode::kNotFound;
  v1::GetServiceRequest get;
  get.set_service_id("svc-nowhere");
  EXPECT_THAT(gov().GetService(get, Reader()), StatusIs(kNotFound, "svc-nowhere"));

  v1::SubmitOutputRequest submit;
  submit.set_etag("whatever");
  submit.set_service_id("svc-nowhere");
  submit.set_output_type("vision");
  *submit.mutable_document() = Doc("x");
  EXPECT_THAT(gov().SubmitOutput(submit, Editor()), StatusIs(kNotFound, "svc-nowhere"));

  Register("svc-here", "envision");
  v1::GetOutputRequest output;
  output.set_service_id("svc-here");
  output.set_output_type("vision");
  EXPECT_THAT(gov().GetOutput(output, Reader()), StatusIs(kNotFound, "vision"));

  v1::GetRulePackRequest pack;
  pack.set_pack("teenuse-standard@9.0.0");
  EXPECT_THAT(gov().GetRulePack(pack, Reader()), StatusIs(kNotFound, "9.0.0"));

  v1::RegisterServiceRequest reg = RegisterRequest("svc-other-pack");
  reg.set_pack("teenuse-standard@9.0.0");
  EXPECT_THAT(gov().RegisterService(reg, Editor()), StatusIs(kNotFound, "pack:"));

  v1::VerifyAuditTrailRequest verify;
  verify.set_service_id("svc-nowhere");
  EXPECT_THAT(gov().VerifyAuditTrail(verify, Reader()), StatusIs(kNotFound, "svc-nowhere"));
}

TEST_F(GovernanceTest, RefusesToRegisterAnExistingServiceAgain) {
  Register("svc-twice", "envision");
  const uint64_t before = LastSequence();
  v1::RegisterServiceRequest again = RegisterRequest("svc-twice", "plan");
  EXPECT_THAT(gov().RegisterService(again, Editor()),
              StatusIs(absl::StatusCode::kAlreadyExists, "svc-twice"));
  EXPECT_EQ(LastSequence(), before);
}

TEST_F(GovernanceTest, RefusesAReviewWhileMustRulesFailListingThem) {
  const std::string id = "svc-early";
  Register(id, "plan");
  ASSERT_THAT(Submit(id, "vision", GateAOutputs()[0].second), IsOk());
  const uint64_t before = LastSequence();
  const auto refused = RequestReview(id);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition, "a.goals_metrics.present"));
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition, "a.team.present"));
  // Crossing a gate happens only through its outcome; deciding needs a review.
  EXPECT_THAT(Advance(id), StatusIs(absl::StatusCode::kFailedPrecondition, "gate A"));
  EXPECT_THAT(
      gov().RecordDecision(DecisionRequest(id, "business_panel", v1::GATE_OUTCOME_GO), Business()),
      StatusIs(absl::StatusCode::kFailedPrecondition, "not in review"));
  EXPECT_EQ(LastSequence(), before);
}

TEST_F(GovernanceTest, RefusesADecisionOnAGateNotUnderReview) {
  const std::string id = "svc-wrong-gate";
  PrepareGateA(id);
  ASSERT_THAT(RequestReview(id), IsOk());
  const uint64_t before = LastSequence();
  EXPECT_THAT(gov().RecordDecision(DecisionRequest(id, "business_panel", v1::GATE_OUTCOME_GO, "B"),
                                   Business()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "gate: service"));
  EXPECT_THAT(
      gov().RecordDecision(DecisionRequest(id, "it_architecture_panel", v1::GATE_OUTCOME_GO),
                           Panelist("ria:arhitekt", "ria", "it_architecture_panel")),
      StatusIs(absl::StatusCode::kFailedPrecondition, "does not decide at gate A"));
  EXPECT_EQ(LastSequence(), before);
}

TEST_F(GovernanceTest, RefusesAStaleEtagAndWritesNothing) {
  const std::string id = "svc-stale";
  Register(id, "envision");
  v1::SubmitOutputRequest first = SubmitRequest(id, "vision", GateAOutputs()[0].second);
  v1::SubmitOutputRequest second = SubmitRequest(id, "team", GateAOutputs()[3].second);
  ASSERT_THAT(gov().SubmitOutput(first, Editor()), IsOk());
  const uint64_t before = LastSequence();
  EXPECT_THAT(gov().SubmitOutput(second, Editor()), StatusIs(absl::StatusCode::kAborted, "etag"));
  EXPECT_EQ(LastSequence(), before);
  second.set_etag(Etag(id));
  EXPECT_THAT(gov().SubmitOutput(second, Editor()), IsOk());
}

// The snapshot cache must be invisible: a service driven through a Governance that keeps
// snapshots ends in the same state, with the same gate checks, as one driven through a Governance
// that reads every snapshot from the store.
TEST_F(GovernanceTest, CachedSnapshotsGiveTheSameResultsAsStoredOnes) {
  Governance uncached(store_.get(), &registry_,
                      GovernanceOptions{.clock = [this] { return now_; },
                                        .default_pack = std::string(kPack),
                                        .snapshot_cache_entries = 0});
  const uint64_t hits_before = gov().snapshot_cache().hits();
  std::vector<std::vector<std::string>> checks(2);
  std::vector<v1::Service> finals(2);
  for (int run = 0; run < 2; ++run) {
    Governance& g = run == 0 ? gov() : uncached;
    const std::string id = run == 0 ? "svc-cached" : "svc-uncached";
    v1::RegisterServiceRequest reg = RegisterRequest(id, "envision");
    ASSERT_THAT(g.RegisterService(reg, Editor()), IsOk());
    for (const auto& [type, json] : GateAOutputs()) {
      v1::SubmitOutputRequest r = SubmitRequest(id, type, json);
      auto response = g.SubmitOutput(r, Editor());
      ASSERT_THAT(response, IsOk());
      std::string check = absl::StrCat(response->gate_check().summary().must_passed(), "/",
                                       response->gate_check().summary().must_total(),
                                       " ready=", response->gate_check().summary().ready());
      for (const auto& rule : response->gate_check().failing_rules())
        absl::StrAppend(&check, " ", rule);
      checks[run].push_back(check);
    }
    // A second revision of an output already bound in the cached snapshot.
    ASSERT_THAT(g.SubmitOutput(SubmitRequest(id, "vision", GateAOutputs()[0].second), Editor()),
                IsOk());
    // P1 is assessed again at the end with other answers: its kept binding must not outlive it.
    auto assessments = GateAAssessments();
    assessments.emplace_back("P1", std::vector<v1::AnswerValue>(6, v1::ANSWER_VALUE_NO));
    for (const auto& [principle, answers] : assessments) {
      v1::RecordAssessmentRequest r;
      r.set_etag(Etag(id));
      r.set_service_id(id);
      r.set_principle(principle);
      for (size_t i = 0; i < answers.size(); ++i) {
        v1::AssessmentAnswer* a = r.add_answers();
        a->set_question(absl::StrCat(principle, ".Q", i + 1));
        a->set_answer(answers[i]);
        a->set_evidence("dhs:e");
      }
      auto response = g.RecordAssessment(r, Editor());
      ASSERT_THAT(response, IsOk());
      checks[run].push_back(absl::StrCat(response->gate_check().summary().must_passed(), " ",
                                         response->gate_check().summary().should_score()));
    }
    v1::GetServiceRequest get;
    get.set_service_id(id);
    auto service = g.GetService(get, Reader());
    ASSERT_THAT(service, IsOk());
    finals[run] = service->service();
  }
  EXPECT_EQ(checks[0], checks[1]);
  EXPECT_EQ(finals[0].output_revisions().at("vision"), 2u);
  EXPECT_EQ(finals[0].latest_evaluation().ready(), finals[1].latest_evaluation().ready());
  EXPECT_EQ(finals[0].latest_evaluation().must_passed(),
            finals[1].latest_evaluation().must_passed());
  EXPECT_EQ(finals[0].last_event_sequence(), finals[1].last_event_sequence());
  // Every command after the registration found its snapshot in the cache.
  EXPECT_EQ(gov().snapshot_cache().hits() - hits_before,
            GateAOutputs().size() + 1 + GateAAssessments().size() + 1);
  // The second P1 assessment changed the gate's outcome in both runs alike.
  EXPECT_NE(checks[0][checks[0].size() - 1], checks[0][checks[0].size() - 2]);
  EXPECT_EQ(uncached.snapshot_cache().hits(), 0u);
  EXPECT_THAT(store_->VerifyChain("svc-cached"), IsOk());
}

// A cached snapshot whose etag went stale behind the cache's back (another writer changed the
// service) is refused exactly as a stored one: ABORTED, even when the command itself would also be
// refused, and nothing is written.
TEST_F(GovernanceTest, RefusesAStaleEtagOfACachedSnapshotAndWritesNothing) {
  Governance other(store_.get(), &registry_,
                   GovernanceOptions{.clock = [this] { return now_; },
                                     .default_pack = std::string(kPack),
                                     .snapshot_cache_entries = 0});
  const std::string id = "svc-stale-cached";
  Register(id, "envision");
  ASSERT_THAT(Submit(id, "vision", GateAOutputs()[0].second), IsOk());
  const std::string cached_etag = Etag(id);
  v1::SubmitOutputRequest behind = SubmitRequest(id, "team", GateAOutputs()[3].second);
  ASSERT_THAT(other.SubmitOutput(behind, Editor()), IsOk());
  const uint64_t before = LastSequence();

  v1::SubmitOutputRequest stale = SubmitRequest(id, "goals_metrics", GateAOutputs()[1].second);
  stale.set_etag(cached_etag);
  v1::SubmitOutputRequest stale_and_bad = stale;
  (*stale_and_bad.mutable_fields()->mutable_fields())["no_such_field"].set_bool_value(true);
  EXPECT_THAT(gov().SubmitOutput(stale_and_bad, Editor()),
              StatusIs(absl::StatusCode::kAborted, "etag"));
  EXPECT_THAT(gov().SubmitOutput(stale, Editor()), StatusIs(absl::StatusCode::kAborted, ""));
  EXPECT_EQ(LastSequence(), before);
  stale.set_etag(Etag(id));
  auto applied = gov().SubmitOutput(stale, Editor());
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->service().output_revisions().size(), 3u);
}

// A gate status is kept per etag: asked again at the same etag it is the same answer (from the
// cache), and once the service changes it is computed anew.
TEST_F(GovernanceTest, AnswersGateStatusFromTheCacheOnlyWhileTheEtagHolds) {
  const std::string id = "svc-status-cache";
  Register(id, "envision");
  ASSERT_THAT(Submit(id, "vision", GateAOutputs()[0].second), IsOk());
  v1::GetGateStatusRequest request;
  request.set_service_id(id);
  auto first = gov().GetGateStatus(request, Reader());
  ASSERT_THAT(first, IsOk());
  ASSERT_FALSE(first->dry_run());
  // The missing outputs come without their field schemas.
  ASSERT_THAT(first->missing_outputs(), Not(IsEmpty()));
  for (const v1::OutputType& t : first->missing_outputs()) {
    EXPECT_FALSE(t.id().empty());
    EXPECT_THAT(t.fields(), IsEmpty());
  }
  const uint64_t hits = gov().status_cache().hits();
  auto second = gov().GetGateStatus(request, Reader());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(gov().status_cache().hits(), hits + 1);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*first, *second));

  ASSERT_THAT(Submit(id, "team", GateAOutputs()[3].second), IsOk());
  auto third = gov().GetGateStatus(request, Reader());
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(gov().status_cache().hits(), hits + 1);
  EXPECT_NE(third->service().etag(), first->service().etag());
  EXPECT_EQ(third->missing_outputs_size(), first->missing_outputs_size() - 1);
  EXPECT_NE(third->service().latest_evaluation().evaluation_id(),
            first->service().latest_evaluation().evaluation_id());
}

TEST_F(GovernanceTest, AppliesOnlyOneOfConcurrentChangesReadingTheSameEtag) {
  const std::string id = "svc-race";
  Register(id, "envision");
  const v1::SubmitOutputRequest request = SubmitRequest(id, "vision", GateAOutputs()[0].second);
  constexpr int kWriters = 8;
  std::vector<absl::Status> results(kWriters);
  {
    std::vector<std::thread> writers;
    for (int i = 0; i < kWriters; ++i) {
      writers.emplace_back([&, i] { results[i] = gov().SubmitOutput(request, Editor()).status(); });
    }
    for (std::thread& t : writers) t.join();
  }
  int applied = 0;
  for (const absl::Status& s : results) {
    if (s.ok()) {
      ++applied;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
    }
  }
  EXPECT_EQ(applied, 1);
  v1::GetOutputRequest get;
  get.set_service_id(id);
  get.set_output_type("vision");
  auto latest = gov().GetOutput(get, Reader());
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->output().revision(), 1u);
}

TEST_F(GovernanceTest, RefusesCallsTheRolesDoNotAllowAndWritesNothing) {
  const std::string id = "svc-roles";
  PrepareGateA(id);
  const uint64_t before = LastSequence();
  const auto kDenied = absl::StatusCode::kPermissionDenied;

  v1::RegisterServiceRequest reg = RegisterRequest("svc-foreign");
  EXPECT_THAT(gov().RegisterService(reg, OtherEditor()), StatusIs(kDenied, "agency_editor"));
  EXPECT_THAT(gov().RegisterService(reg, Reader()), StatusIs(kDenied, "register"));

  const std::string json = GateAOutputs()[0].second;
  EXPECT_THAT(Submit(id, "vision", json, OtherEditor()), StatusIs(kDenied, "ria:jaan"));
  EXPECT_THAT(Submit(id, "vision", json, Reader()), StatusIs(kDenied, "audit:kati"));
  EXPECT_THAT(Submit(id, "vision", json, Business()), StatusIs(kDenied, "mkm:anna"));
  EXPECT_THAT(RequestReview(id, Funding()), StatusIs(kDenied, "fin:toomas"));
  EXPECT_EQ(LastSequence(), before);

  ASSERT_THAT(RequestReview(id), IsOk());
  const uint64_t in_review = LastSequence();
  v1::RecordDecisionRequest go = DecisionRequest(id, "business_panel", v1::GATE_OUTCOME_GO);
  EXPECT_THAT(gov().RecordDecision(go, Editor()), StatusIs(kDenied, "panel_member"));
  EXPECT_THAT(gov().RecordDecision(go, Reader()), StatusIs(kDenied, "panel_member"));
  EXPECT_THAT(gov().RecordDecision(go, Funding()), StatusIs(kDenied, "business_panel"));
  // Segregation of duties: a panel member from the service's own agency.
  EXPECT_THAT(
      gov().RecordDecision(go, Panelist("ska:peeter", std::string(kAgency), "business_panel")),
      StatusIs(kDenied, "segregation of duties"));

  v1::GetServiceRequest get;
  get.set_service_id(id);
  EXPECT_THAT(gov().GetService(get, Principal{.id = "stranger"}), StatusIs(kDenied, "no role"));
  EXPECT_THAT(gov().GetService(get, Business()), IsOk());

  EXPECT_EQ(LastSequence(), in_review);
}

// --- Idempotency ---

TEST_F(GovernanceTest, ReplaysARetriedRequestWithoutWritingAgain) {
  const std::string id = "svc-retry";
  Register(id, "envision");
  v1::SubmitOutputRequest request = SubmitRequest(id, "vision", GateAOutputs()[0].second);
  request.set_request_id("3f8e2c1a-7b5d-4e0f-9a6c-1d2e3f4a5b6c");
  auto first = gov().SubmitOutput(request, Editor());
  ASSERT_THAT(first, IsOk());
  const uint64_t after_first = LastSequence();

  // A retry gets the first response, even though its etag has gone stale meanwhile; the
  // output's fields, recorded only with the output revision, are read back into it.
  auto retry = gov().SubmitOutput(request, Editor());
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*retry, *first));
  EXPECT_FALSE(retry->output().fields().fields().empty());
  EXPECT_EQ(LastSequence(), after_first);

  ASSERT_THAT(Submit(id, "team", GateAOutputs()[3].second), IsOk());
  const uint64_t after_other = LastSequence();
  retry = gov().SubmitOutput(request, Editor());
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->output().revision(), 1u);
  EXPECT_EQ(retry->service().etag(), first->service().etag());
  EXPECT_EQ(LastSequence(), after_other);

  // The same id for other content, or from another principal, is refused.
  v1::SubmitOutputRequest changed = request;
  changed.mutable_document()->set_version("2");
  EXPECT_THAT(gov().SubmitOutput(changed, Editor()),
              StatusIs(absl::StatusCode::kInvalidArgument, "request_id"));
  EXPECT_THAT(gov().SubmitOutput(request, Admin()),
              StatusIs(absl::StatusCode::kInvalidArgument, "request_id"));
  EXPECT_EQ(LastSequence(), after_other);
}

TEST_F(GovernanceTest, ReplaysADecisionAfterTheReviewItCompletedIsOver) {
  const std::string id = "mini-replay";
  PrepareMini(id);
  ASSERT_THAT(RequestReview(id), IsOk());
  const Principal business = Panelist("mkm:anna", "mkm", "business");
  const Principal funding = Panelist("fin:toomas", "rahandusministeerium", "funding");
  ASSERT_THAT(gov().RecordDecision(DecisionRequest(id, "business", v1::GATE_OUTCOME_GO), business),
              IsOk());
  v1::RecordDecisionRequest last = DecisionRequest(id, "funding", v1::GATE_OUTCOME_GO);
  last.set_request_id("decision-2");
  auto applied = gov().RecordDecision(last, funding);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->applied_outcome(), v1::GATE_OUTCOME_GO);
  EXPECT_EQ(applied->service().stage(), "build");
  const uint64_t before = LastSequence();
  auto replay = gov().RecordDecision(last, funding);
  ASSERT_THAT(replay, IsOk());
  EXPECT_EQ(replay->decision().number(), applied->decision().number());
  EXPECT_EQ(LastSequence(), before);
}

TEST_F(GovernanceTest, RegistersOnceUnderARetriedRequestId) {
  v1::RegisterServiceRequest request = RegisterRequest("svc-once");
  request.set_request_id("register-svc-once");
  auto first = gov().RegisterService(request, Editor());
  ASSERT_THAT(first, IsOk());
  const uint64_t before = LastSequence();
  auto retry = gov().RegisterService(request, Editor());
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->service().etag(), first->service().etag());
  EXPECT_EQ(LastSequence(), before);
}

// --- RulesService ---

std::vector<v1::RulePackFile> BundledPackFiles() {
  std::vector<v1::RulePackFile> files;
  const std::filesystem::path root = SourceDir() / "rules/teenuse-standard-2.0";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    const std::string relative = std::filesystem::relative(entry.path(), root).string();
    if (relative.rfind("tests/", 0) == 0) continue;
    std::ifstream in(entry.path());
    std::stringstream content;
    content << in.rdbuf();
    v1::RulePackFile& f = files.emplace_back();
    f.set_path(relative);
    f.set_content(content.str());
  }
  return files;
}

TEST_F(GovernanceTest, ListsAndReturnsTheLoadedPacks) {
  auto packs = gov().ListRulePacks({}, Reader());
  ASSERT_THAT(packs, IsOk());
  std::vector<std::string> keys;
  for (const v1::RulePackSummary& p : packs->rule_packs()) keys.push_back(p.key());
  EXPECT_THAT(keys, ElementsAre("mini@1.0.0", "mini@1.1.0", "teenuse-standard@2.0.0"));

  v1::GetRulePackRequest get;
  get.set_pack(std::string(kPack));
  auto pack = gov().GetRulePack(get, Reader());
  ASSERT_THAT(pack, IsOk());
  EXPECT_EQ(pack->rule_pack().gates_size(), 5);
  EXPECT_EQ(pack->rule_pack().title().en(), "Service Standard 2.0");
  EXPECT_EQ(pack->digest(), packs->rule_packs(2).digest());
}

TEST_F(GovernanceTest, ValidatesAnUploadedPackReportingPositions) {
  v1::ValidateRulePackRequest request;
  for (v1::RulePackFile& f : BundledPackFiles()) *request.add_files() = std::move(f);
  auto valid = gov().ValidateRulePack(request, Reader());
  ASSERT_THAT(valid, IsOk());
  EXPECT_TRUE(valid->valid());
  EXPECT_EQ(valid->rule_pack().key(), kPack);

  for (v1::RulePackFile& f : *request.mutable_files()) {
    if (f.path() != "rules/gate_a.yaml") continue;
    const std::string typo = "has(outputs.vision)";
    const size_t at = f.content().find(typo);
    ASSERT_NE(at, std::string::npos);
    f.mutable_content()->replace(at, typo.size(), "has(outputs.visoin)");
  }
  auto invalid = gov().ValidateRulePack(request, Reader());
  ASSERT_THAT(invalid, IsOk());
  EXPECT_FALSE(invalid->valid());
  ASSERT_THAT(invalid->diagnostics(), Not(IsEmpty()));
  EXPECT_EQ(invalid->diagnostics(0).file(), "rules/gate_a.yaml");
  EXPECT_GT(invalid->diagnostics(0).line(), 0);
  EXPECT_GT(invalid->diagnostics(0).column(), 0);

  v1::ValidateRulePackRequest no_manifest;
  *no_manifest.add_files() =
      request.files(0).path() == "pack.yaml" ? request.files(1) : request.files(0);
  EXPECT_THAT(gov().ValidateRulePack(no_manifest, Reader()),
              StatusIs(absl::StatusCode::kInvalidArgument, "pack.yaml"));
}

TEST_F(GovernanceTest, EvaluatesExpressionsAgainstAServicesCurrentState) {
  const std::string id = "svc-playground";
  Register(id, "envision");
  ASSERT_THAT(Submit(id, "vision", GateAOutputs()[0].second), IsOk());
  v1::EvaluateExpressionRequest request;
  request.set_service_id(id);

  request.set_expression("outputs.vision.fields.horizon_years");
  auto years = gov().EvaluateExpression(request, Reader());
  ASSERT_THAT(years, IsOk());
  EXPECT_EQ(years->type(), "int");
  EXPECT_EQ(years->value_text(), "5");
  EXPECT_EQ(years->value_json(), "5");

  request.set_expression("[service.stage, gate.id, outputs.vision.revision]");
  auto list = gov().EvaluateExpression(request, Reader());
  ASSERT_THAT(list, IsOk());
  EXPECT_EQ(list->value_json(), R"(["envision","A",1])");

  request.set_expression("outputs.vision.fields.horizon_yeras > 3");
  auto issues = gov().EvaluateExpression(request, Reader());
  ASSERT_THAT(issues, IsOk());
  ASSERT_THAT(issues->issues(), SizeIs(1));
  EXPECT_EQ(issues->issues(0).line(), 1);
  EXPECT_THAT(issues->formatted_issues(), HasSubstr("^"));

  request.set_expression("1 / (outputs.vision.revision - 1)");
  auto error = gov().EvaluateExpression(request, Reader());
  ASSERT_THAT(error, IsOk());
  EXPECT_THAT(error->error(), HasSubstr("divide"));
  EXPECT_TRUE(error->value_json().empty());
}

}  // namespace
}  // namespace varav::governance

namespace varav::governance {
namespace {

// The idempotency hash is over the request without its request_id; computing it must not depend
// on how the field is cut out (stored records are compared against it across versions).
TEST(RequestHashTest, EqualsTheHashOfTheRequestWithItsRequestIdCleared) {
  v1::SubmitOutputRequest request;
  request.set_request_id("req-42");
  request.set_service_id("svc");
  request.set_etag("e1");
  request.set_output_type("vision");
  request.mutable_document()->set_id("doc");
  (*request.mutable_fields()->mutable_fields())["b"].set_string_value("two");
  (*request.mutable_fields()->mutable_fields())["a"].set_number_value(1);
  const Principal principal{.id = "ria:mari"};

  v1::SubmitOutputRequest cleared = request;
  cleared.clear_request_id();
  const std::string expected = varav::Sha256Hex(absl::StrCat(
      12, ":", "SubmitOutput", 8, ":", "ria:mari", store::SerializeDeterministic(cleared)));
  EXPECT_EQ(internal::RequestHash("SubmitOutput", principal, request), expected);
  EXPECT_EQ(internal::RequestHash("SubmitOutput", principal, cleared), expected);
  request.set_request_id("another");
  EXPECT_EQ(internal::RequestHash("SubmitOutput", principal, request), expected);
  request.set_etag("e2");
  EXPECT_NE(internal::RequestHash("SubmitOutput", principal, request), expected);
  EXPECT_NE(internal::RequestHash("SubmitOutput", Principal{.id = "ria:jaan"}, cleared), expected);
}

}  // namespace
}  // namespace varav::governance
