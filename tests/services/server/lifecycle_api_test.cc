// Drives every RPC of varav.v1.LifecycleService and varav.v1.RulesService through the generated
// C++ client against the real varavd binary: the walk of a service through gate A, every refusal,
// every role, idempotent replay and that refused calls write nothing.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/services/server/api_helpers.h"
#include "tests/services/server/varavd_process.h"

namespace varav::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using LS = v1::LifecycleService::Stub;
using RS = v1::RulesService::Stub;

constexpr char kSka[] = "sotsiaalkindlustusamet";
constexpr char kPack[] = "teenuse-standard@2.0.0";
constexpr char kNextPack[] = "teenuse-standard@2.0.1";

// Copies the bundled pack twice (as 2.0.0 and 2.0.1) so that MigratePack has a target.
std::string MakeRulesDir(const std::string& root) {
  namespace fs = std::filesystem;
  const fs::path source = fs::path(SourceDir()) / "rules" / "teenuse-standard-2.0";
  const fs::path rules = fs::path(root) / "rules";
  fs::create_directories(rules);
  fs::copy(source, rules / "ts-2.0.0", fs::copy_options::recursive);
  fs::copy(source, rules / "ts-2.0.1", fs::copy_options::recursive);
  const std::string pack_yaml = (rules / "ts-2.0.1" / "pack.yaml").string();
  WriteFile(pack_yaml, absl::StrReplaceAll(ReadFileOrEmpty(pack_yaml),
                                           {{"version: 2.0.0", "version: 2.0.1"}}));
  return rules.string();
}

class LifecycleApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new VaravdProcess(dir_->path(), TestPrincipals());
    const absl::Status started = server_->Start(
        {"--rules_dir=" + MakeRulesDir(dir_->path()), "--default_pack=" + std::string(kPack)});
    ASSERT_TRUE(started.ok()) << started;
    api_ = new ApiClient(server_, server_->Channel());
  }

  static void TearDownTestSuite() {
    delete api_;
    if (server_->running()) {
      EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
    }
    delete server_;
    delete dir_;
  }

  void SetUp() override { ASSERT_NE(api_, nullptr) << "server did not start"; }

  // A service of Sotsiaalkindlustusamet at stage plan with the complete gate A fixture submitted.
  v1::Service ReadyForGateA(absl::string_view id) {
    v1::Service s = api_->Register("ska_editor", id, kSka, "plan");
    return api_->SubmitFixture("ska_editor", s, LoadFixture("gate_a.yaml", "gate_a_complete"));
  }

  v1::Service RequestReview(const v1::Service& s) {
    v1::RequestGateReviewRequest request;
    request.set_etag(s.etag());
    request.set_service_id(s.id());
    v1::RequestGateReviewResponse response;
    EXPECT_THAT(api_->Lifecycle(&LS::RequestGateReview, "ska_editor", request, &response),
                GrpcOk());
    return response.service();
  }

  grpc::Status Decide(absl::string_view as, const v1::Service& s, absl::string_view panel,
                      v1::GateOutcome outcome, v1::RecordDecisionResponse* response) {
    v1::RecordDecisionRequest request;
    request.set_etag(s.etag());
    request.set_service_id(s.id());
    request.set_gate("A");
    request.set_panel(std::string(panel));
    request.set_outcome(outcome);
    request.set_rationale("Visioon ja plaan on teostatavad; eelarve on kaetud.");
    return api_->Lifecycle(&LS::RecordDecision, as, request, response);
  }

  static TempDir* dir_;
  static VaravdProcess* server_;
  static ApiClient* api_;
};

TempDir* LifecycleApiTest::dir_ = nullptr;
VaravdProcess* LifecycleApiTest::server_ = nullptr;
ApiClient* LifecycleApiTest::api_ = nullptr;

TEST_F(LifecycleApiTest, WalksAServiceFromEnvisionThroughGateAWithBothPanels) {
  v1::Service s = api_->Register("ska_editor", "vanemahyvitis", kSka);
  EXPECT_EQ(s.stage(), "envision");
  EXPECT_EQ(s.pack_id() + "@" + s.pack_version(), kPack);
  EXPECT_EQ(s.status(), v1::SERVICE_STATUS_ACTIVE);

  // Outputs and assessments from the pack's complete gate A fixture, submitted during envision.
  s = api_->SubmitFixture("ska_editor", s, LoadFixture("gate_a.yaml", "gate_a_complete"));
  EXPECT_EQ(s.output_revisions().size(), 4u);

  v1::AdvanceStageRequest advance;
  advance.set_etag(s.etag());
  advance.set_service_id(s.id());
  v1::AdvanceStageResponse advanced;
  ASSERT_THAT(api_->Lifecycle(&LS::AdvanceStage, "ska_editor", advance, &advanced), GrpcOk());
  s = advanced.service();
  EXPECT_EQ(s.stage(), "plan");

  v1::GetGateStatusRequest status_request;
  status_request.set_service_id(s.id());
  v1::GetGateStatusResponse status;
  ASSERT_THAT(api_->Lifecycle(&LS::GetGateStatus, "reader", status_request, &status), GrpcOk());
  EXPECT_EQ(status.gate().id(), "A");
  EXPECT_TRUE(status.evaluation().ready()) << status.evaluation().DebugString();
  EXPECT_THAT(status.evaluation().failing_rules(), IsEmpty());
  EXPECT_THAT(status.missing_outputs(), IsEmpty());
  EXPECT_GT(status.should_score(), 0.0);

  v1::CheckGateRequest check;
  check.set_service_id(s.id());
  v1::CheckGateResponse checked;
  ASSERT_THAT(api_->Lifecycle(&LS::CheckGate, "reader", check, &checked), GrpcOk());
  EXPECT_TRUE(checked.evaluation().ready());

  s = RequestReview(s);
  EXPECT_EQ(s.status(), v1::SERVICE_STATUS_IN_REVIEW);
  EXPECT_EQ(s.gate_under_review(), "A");
  EXPECT_THAT(s.awaiting_panels(), ElementsAre("business_panel", "it_funding_council"));

  v1::ListServicesRequest awaiting;
  awaiting.set_awaiting_panel("business_panel");
  v1::ListServicesResponse listed;
  ASSERT_THAT(api_->Lifecycle(&LS::ListServices, "business", awaiting, &listed), GrpcOk());
  std::vector<std::string> ids;
  for (const v1::Service& x : listed.services()) ids.push_back(x.id());
  EXPECT_THAT(ids, ::testing::Contains("vanemahyvitis"));

  v1::RecordDecisionResponse first;
  ASSERT_THAT(Decide("business", s, "business_panel", v1::GATE_OUTCOME_GO, &first), GrpcOk());
  EXPECT_EQ(first.applied_outcome(), v1::GATE_OUTCOME_UNSPECIFIED);
  EXPECT_EQ(first.decision().decided_by(), "mkm:business");
  EXPECT_THAT(first.service().awaiting_panels(), ElementsAre("it_funding_council"));

  v1::RecordDecisionResponse second;
  ASSERT_THAT(
      Decide("funding", first.service(), "it_funding_council", v1::GATE_OUTCOME_GO, &second),
      GrpcOk());
  EXPECT_EQ(second.applied_outcome(), v1::GATE_OUTCOME_GO);
  EXPECT_EQ(second.service().stage(), "understand");
  EXPECT_EQ(second.service().status(), v1::SERVICE_STATUS_ACTIVE);

  v1::GetGateStatusRequest after_request;
  after_request.set_service_id(s.id());
  after_request.set_gate("A");
  v1::GetGateStatusResponse after;
  ASSERT_THAT(api_->Lifecycle(&LS::GetGateStatus, "reader", after_request, &after), GrpcOk());
  EXPECT_THAT(after.decisions(), SizeIs(2));

  // The audit trail: every event names the principal who caused it, and the chain verifies.
  const std::vector<v1::Event> events = api_->Events(s.id());
  ASSERT_FALSE(events.empty());
  bool approved = false;
  for (const v1::Event& e : events) {
    EXPECT_FALSE(e.principal().empty()) << e.type();
    if (e.has_gate_approved()) approved = true;
  }
  EXPECT_TRUE(approved);
  EXPECT_EQ(events.front().principal(), "ska:editor");
  v1::VerifyAuditTrailRequest verify;
  verify.set_service_id(s.id());
  v1::VerifyAuditTrailResponse verified;
  ASSERT_THAT(api_->Lifecycle(&LS::VerifyAuditTrail, "reader", verify, &verified), GrpcOk());
  EXPECT_TRUE(verified.valid()) << verified.problem();
  EXPECT_EQ(verified.event_count(), events.size());
  EXPECT_EQ(verified.head_hash(), events.back().hash());
}

TEST_F(LifecycleApiTest, RejectsMalformedFieldsWithInvalidArgumentNamingTheField) {
  v1::RegisterServiceRequest no_name;
  no_name.set_service_id("nimeta");
  no_name.set_agency(kSka);
  no_name.set_owner("Mari Tamm");
  v1::RegisterServiceResponse registered;
  EXPECT_THAT(api_->Lifecycle(&LS::RegisterService, "admin", no_name, &registered),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "name"));

  v1::RegisterServiceRequest bad_id = no_name;
  bad_id.set_name("Teenus");
  bad_id.set_service_id("Not A Valid Id!");
  EXPECT_THAT(api_->Lifecycle(&LS::RegisterService, "admin", bad_id, &registered),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "service_id"));

  v1::SubmitOutputRequest no_etag;
  no_etag.set_service_id("vanemahyvitis");
  no_etag.set_output_type("vision");
  v1::SubmitOutputResponse submitted;
  EXPECT_THAT(api_->Lifecycle(&LS::SubmitOutput, "admin", no_etag, &submitted),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "etag"));

  v1::GetOutputRequest no_type;
  no_type.set_service_id("vanemahyvitis");
  v1::GetOutputResponse output;
  EXPECT_THAT(api_->Lifecycle(&LS::GetOutput, "reader", no_type, &output),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "output_type"));

  v1::ListServicesRequest bad_page;
  bad_page.set_page_size(-1);
  v1::ListServicesResponse listed;
  EXPECT_THAT(api_->Lifecycle(&LS::ListServices, "reader", bad_page, &listed),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "page_size"));

  v1::ListEventsRequest bad_token;
  bad_token.set_page_token("not-a-token");
  v1::ListEventsResponse events;
  EXPECT_THAT(api_->Lifecycle(&LS::ListEvents, "reader", bad_token, &events),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "page_token"));

  v1::RecordDecisionRequest no_rationale;
  no_rationale.set_etag("x");
  no_rationale.set_service_id("vanemahyvitis");
  no_rationale.set_gate("A");
  no_rationale.set_panel("business_panel");
  no_rationale.set_outcome(v1::GATE_OUTCOME_GO);
  v1::RecordDecisionResponse decided;
  EXPECT_THAT(api_->Lifecycle(&LS::RecordDecision, "business", no_rationale, &decided),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "rationale"));

  v1::SubmitOutputRequest bad_request_id;
  bad_request_id.set_request_id("spaces are not allowed");
  bad_request_id.set_etag("x");
  bad_request_id.set_service_id("vanemahyvitis");
  EXPECT_THAT(api_->Lifecycle(&LS::SubmitOutput, "admin", bad_request_id, &submitted),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "request_id"));

  v1::EvaluateExpressionRequest no_expression;
  no_expression.set_service_id("vanemahyvitis");
  v1::EvaluateExpressionResponse evaluated;
  EXPECT_THAT(api_->Rules(&RS::EvaluateExpression, "reader", no_expression, &evaluated),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "expression"));
}

// GetGateStatus is served as bytes serialized once per etag: what the generated client parses
// must equal a fresh answer, a repeated call must answer the same bytes, and a request that does
// not parse is refused like any malformed field.
TEST_F(LifecycleApiTest, GetGateStatusAnswersWellFormedBytesAndRefusesUnparsableRequests) {
  const v1::Service s = api_->Register("ska_editor", "raw-status-svc", kSka);
  constexpr char kMethod[] = "/varav.v1.LifecycleService/GetGateStatus";
  v1::GetGateStatusRequest request;
  request.set_service_id(s.id());
  v1::GetGateStatusResponse typed;
  ASSERT_THAT(api_->Lifecycle(&LS::GetGateStatus, "reader", request, &typed), GrpcOk());
  EXPECT_EQ(typed.service().etag(), s.etag());
  EXPECT_EQ(typed.gate().id(), "A");
  EXPECT_FALSE(typed.missing_outputs().empty());

  std::string first;
  ASSERT_THAT(api_->Raw(kMethod, "reader", request.SerializeAsString(), &first), GrpcOk());
  v1::GetGateStatusResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(first));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, typed)) << parsed.DebugString();
  std::string second;
  ASSERT_THAT(api_->Raw(kMethod, "reader", request.SerializeAsString(), &second), GrpcOk());
  EXPECT_EQ(second, first);

  std::string ignored;
  EXPECT_THAT(api_->Raw(kMethod, "reader", std::string("\xff\xff\xff", 3), &ignored),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "request:"));
  // An all-default request arrives as no bytes: it is the empty request, which lacks service_id.
  EXPECT_THAT(api_->Raw(kMethod, "reader", "", &ignored),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "service_id"));
  EXPECT_THAT(api_->Raw(kMethod, "", request.SerializeAsString(), &ignored),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, ""));
}

TEST_F(LifecycleApiTest, AnswersNotFoundForUnknownResources) {
  v1::GetServiceRequest get;
  get.set_service_id("puudub");
  v1::GetServiceResponse service;
  EXPECT_THAT(api_->Lifecycle(&LS::GetService, "reader", get, &service),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND, "puudub"));

  const v1::Service s = api_->Register("ska_editor", "notfound-svc", kSka);
  v1::GetOutputRequest output;
  output.set_service_id(s.id());
  output.set_output_type("vision");
  v1::GetOutputResponse got;
  EXPECT_THAT(api_->Lifecycle(&LS::GetOutput, "reader", output, &got),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND, ""));

  v1::SubmitOutputRequest submit;
  submit.set_etag("etag");
  submit.set_service_id("puudub");
  submit.set_output_type("vision");
  *submit.mutable_document() = TestDocument("vision");
  v1::SubmitOutputResponse submitted;
  EXPECT_THAT(api_->Lifecycle(&LS::SubmitOutput, "admin", submit, &submitted),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND, "puudub"));

  v1::GetRulePackRequest pack;
  pack.set_pack("teenuse-standard@9.9.9");
  v1::GetRulePackResponse got_pack;
  EXPECT_THAT(api_->Rules(&RS::GetRulePack, "reader", pack, &got_pack),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND, "9.9.9"));

  v1::VerifyAuditTrailRequest verify;
  verify.set_service_id("puudub");
  v1::VerifyAuditTrailResponse verified;
  EXPECT_THAT(api_->Lifecycle(&LS::VerifyAuditTrail, "reader", verify, &verified),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND, ""));
}

TEST_F(LifecycleApiTest, RefusesToRegisterAnExistingServiceId) {
  api_->Register("ska_editor", "kaks-korda", kSka);
  v1::RegisterServiceRequest again;
  again.set_service_id("kaks-korda");
  again.set_name("Teine");
  again.set_agency(kSka);
  again.set_owner("Mari Tamm");
  v1::RegisterServiceResponse response;
  EXPECT_THAT(api_->Lifecycle(&LS::RegisterService, "ska_editor", again, &response),
              GrpcStatusIs(grpc::StatusCode::ALREADY_EXISTS, "kaks-korda"));
}

TEST_F(LifecycleApiTest, RefusesReviewOfAnIncompleteGateListingTheFailingRules) {
  const v1::Service s = api_->Register("ska_editor", "poolik", kSka, "plan");
  v1::RequestGateReviewRequest request;
  request.set_etag(s.etag());
  request.set_service_id(s.id());
  v1::RequestGateReviewResponse response;
  const grpc::Status status =
      api_->Lifecycle(&LS::RequestGateReview, "ska_editor", request, &response);
  EXPECT_THAT(status, GrpcStatusIs(grpc::StatusCode::FAILED_PRECONDITION, "a.vision.present"));
  EXPECT_THAT(status.error_message(), HasSubstr("a.team.present"));

  // Deciding on a service that is not in review is illegal in its state, too.
  v1::RecordDecisionResponse decided;
  EXPECT_THAT(
      Decide("business", api_->Get(s.id()), "business_panel", v1::GATE_OUTCOME_GO, &decided),
      GrpcStatusIs(grpc::StatusCode::FAILED_PRECONDITION, "not in review"));
}

TEST_F(LifecycleApiTest, RefusesAStaleEtagWithAborted) {
  const v1::Service s = api_->Register("ska_editor", "vana-etag", kSka);
  const Fixture fixture = LoadFixture("gate_a.yaml", "gate_a_complete");
  v1::SubmitOutputRequest request;
  request.set_etag(s.etag());
  request.set_service_id(s.id());
  request.set_output_type(fixture.outputs[0].output_type);
  *request.mutable_document() = TestDocument("a");
  *request.mutable_fields() = fixture.outputs[0].fields;
  v1::SubmitOutputResponse response;
  ASSERT_THAT(api_->Lifecycle(&LS::SubmitOutput, "ska_editor", request, &response), GrpcOk());
  EXPECT_NE(response.service().etag(), s.etag());
  // The same etag again is stale now.
  *request.mutable_document() = TestDocument("b");
  EXPECT_THAT(api_->Lifecycle(&LS::SubmitOutput, "ska_editor", request, &response),
              GrpcStatusIs(grpc::StatusCode::ABORTED, ""));
}

TEST_F(LifecycleApiTest, EnforcesEveryRole) {
  // Registering: admins and the agency's own editors only.
  v1::RegisterServiceRequest reg;
  reg.set_service_id("rollid");
  reg.set_name("Rollide teenus");
  reg.set_agency(kSka);
  reg.set_owner("Mari Tamm");
  v1::RegisterServiceResponse registered;
  for (const char* who : {"reader", "tta_editor", "business", "ska_panel"}) {
    EXPECT_THAT(api_->Lifecycle(&LS::RegisterService, who, reg, &registered),
                GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""))
        << who;
  }
  v1::Service s = ReadyForGateA("rollid");

  // Changing: another agency's editor and panel members may not.
  v1::SubmitOutputRequest submit;
  submit.set_etag(s.etag());
  submit.set_service_id(s.id());
  submit.set_output_type("vision");
  *submit.mutable_document() = TestDocument("x");
  v1::SubmitOutputResponse submitted;
  for (const char* who : {"reader", "tta_editor", "business", "funding"}) {
    EXPECT_THAT(api_->Lifecycle(&LS::SubmitOutput, who, submit, &submitted),
                GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""))
        << who;
  }

  s = RequestReview(s);
  v1::RecordDecisionResponse decided;
  // Editors and readers never decide; a panel member decides only as their own panel; a member of
  // the service's own agency never decides on it.
  EXPECT_THAT(Decide("ska_editor", s, "business_panel", v1::GATE_OUTCOME_GO, &decided),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  EXPECT_THAT(Decide("reader", s, "business_panel", v1::GATE_OUTCOME_GO, &decided),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  EXPECT_THAT(Decide("funding", s, "business_panel", v1::GATE_OUTCOME_GO, &decided),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, "business_panel"));
  EXPECT_THAT(Decide("ska_panel", s, "business_panel", v1::GATE_OUTCOME_GO, &decided),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, "sotsiaalkindlustusamet"));
  // The architecture panel is a real panel but does not decide at gate A.
  EXPECT_THAT(Decide("architecture", s, "it_architecture_panel", v1::GATE_OUTCOME_GO, &decided),
              GrpcStatusIs(grpc::StatusCode::FAILED_PRECONDITION, "it_architecture_panel"));
  EXPECT_THAT(Decide("business", s, "business_panel", v1::GATE_OUTCOME_GO, &decided), GrpcOk());

  // Everyone with a role reads.
  for (const char* who : {"admin", "ska_editor", "tta_editor", "business", "funding",
                          "architecture", "ska_panel", "reader"}) {
    v1::GetServiceRequest get;
    get.set_service_id(s.id());
    v1::GetServiceResponse got;
    EXPECT_THAT(api_->Lifecycle(&LS::GetService, who, get, &got), GrpcOk()) << who;
  }
}

TEST_F(LifecycleApiTest, RefusesCallsWithoutOrWithAWrongToken) {
  v1::ListServicesRequest request;
  v1::ListServicesResponse response;
  EXPECT_THAT(api_->Lifecycle(&LS::ListServices, "", request, &response),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, "authorization"));

  for (const char* header : {"Bearer wrong-token", "Basic dXNlcjpwYXNz", "Bearer "}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", header);
    EXPECT_THAT(api_->lifecycle().ListServices(&context, request, &response),
                GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, ""))
        << header;
  }
  grpc::ClientContext rules_context;
  rules_context.AddMetadata("authorization", "Bearer wrong-token");
  v1::ListRulePacksResponse packs;
  EXPECT_THAT(api_->rules().ListRulePacks(&rules_context, {}, &packs),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, ""));
}

TEST_F(LifecycleApiTest, RefusedCallsWriteNothing) {
  v1::Service s = ReadyForGateA("keeldumised");
  const std::vector<v1::Event> before = api_->Events("");
  const v1::Service service_before = api_->Get(s.id());

  // A stale etag, a forbidden principal, a bad field, an unauthenticated call, an illegal
  // transition: all refused.
  v1::SubmitOutputRequest stale;
  stale.set_etag("stale-etag");
  stale.set_service_id(s.id());
  stale.set_output_type("vision");
  *stale.mutable_document() = TestDocument("stale");
  v1::SubmitOutputResponse submitted;
  EXPECT_FALSE(api_->Lifecycle(&LS::SubmitOutput, "ska_editor", stale, &submitted).ok());
  v1::SubmitOutputRequest forbidden = stale;
  forbidden.set_etag(s.etag());
  EXPECT_FALSE(api_->Lifecycle(&LS::SubmitOutput, "tta_editor", forbidden, &submitted).ok());
  EXPECT_FALSE(api_->Lifecycle(&LS::SubmitOutput, "", forbidden, &submitted).ok());
  v1::SubmitOutputRequest bad_type = forbidden;
  bad_type.set_output_type("no_such_output");
  EXPECT_FALSE(api_->Lifecycle(&LS::SubmitOutput, "ska_editor", bad_type, &submitted).ok());
  v1::AdvanceStageRequest skip;
  skip.set_etag(s.etag());
  skip.set_service_id(s.id());
  skip.set_to_stage("operate");
  v1::AdvanceStageResponse advanced;
  EXPECT_FALSE(api_->Lifecycle(&LS::AdvanceStage, "ska_editor", skip, &advanced).ok());
  v1::RecordDecisionResponse decided;
  EXPECT_FALSE(Decide("business", s, "business_panel", v1::GATE_OUTCOME_GO, &decided).ok());

  const std::vector<v1::Event> after = api_->Events("");
  ASSERT_EQ(after.size(), before.size());
  EXPECT_EQ(after.back().hash(), before.back().hash());
  const v1::Service service_after = api_->Get(s.id());
  EXPECT_EQ(service_after.etag(), service_before.etag());
  EXPECT_TRUE(MessageDifferencer::Equals(service_after, service_before))
      << service_after.DebugString() << service_before.DebugString();
}

TEST_F(LifecycleApiTest, ReplaysAnIdempotentRequestAndRefusesAReusedIdWithOtherContent) {
  const v1::Service s = api_->Register("ska_editor", "korduv", kSka);
  const Fixture fixture = LoadFixture("gate_a.yaml", "gate_a_complete");
  v1::SubmitOutputRequest request;
  request.set_request_id("7d3f2a10-3b7e-4c55-9a61-korduv");
  request.set_etag(s.etag());
  request.set_service_id(s.id());
  request.set_output_type(fixture.outputs[0].output_type);
  *request.mutable_document() = TestDocument("korduv");
  *request.mutable_fields() = fixture.outputs[0].fields;
  v1::SubmitOutputResponse first;
  ASSERT_THAT(api_->Lifecycle(&LS::SubmitOutput, "ska_editor", request, &first), GrpcOk());
  const size_t events = api_->Events(s.id()).size();

  // The retry (its etag is stale by now) gets the first response and changes nothing.
  v1::SubmitOutputResponse replay;
  ASSERT_THAT(api_->Lifecycle(&LS::SubmitOutput, "ska_editor", request, &replay), GrpcOk());
  EXPECT_EQ(replay.output().revision(), first.output().revision());
  EXPECT_EQ(replay.service().etag(), first.service().etag());
  EXPECT_EQ(api_->Events(s.id()).size(), events);

  v1::SubmitOutputRequest other = request;
  *other.mutable_document() = TestDocument("teine");
  v1::SubmitOutputResponse refused;
  EXPECT_THAT(api_->Lifecycle(&LS::SubmitOutput, "ska_editor", other, &refused),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "request_id"));
  EXPECT_EQ(api_->Events(s.id()).size(), events);
}

TEST_F(LifecycleApiTest, ListsAndPagesServicesWithFilters) {
  api_->Register("tta_editor", "tta-1", "tootukassa");
  api_->Register("tta_editor", "tta-2", "tootukassa", "plan");
  api_->Register("tta_editor", "tta-3", "tootukassa", "plan");

  v1::ListServicesRequest request;
  request.set_agency("tootukassa");
  request.set_page_size(2);
  std::vector<std::string> ids;
  for (int page = 0; page < 5; ++page) {
    v1::ListServicesResponse response;
    ASSERT_THAT(api_->Lifecycle(&LS::ListServices, "reader", request, &response), GrpcOk());
    EXPECT_LE(response.services_size(), 2);
    for (const v1::Service& s : response.services()) ids.push_back(s.id());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(ids, ElementsAre("tta-1", "tta-2", "tta-3"));

  v1::ListServicesRequest by_stage;
  by_stage.set_agency("tootukassa");
  by_stage.set_stage("plan");
  v1::ListServicesResponse staged;
  ASSERT_THAT(api_->Lifecycle(&LS::ListServices, "reader", by_stage, &staged), GrpcOk());
  EXPECT_THAT(staged.services(), SizeIs(2));

  v1::ListServicesRequest not_ready;
  not_ready.set_agency("tootukassa");
  not_ready.set_ready_for_review(true);
  v1::ListServicesResponse ready;
  ASSERT_THAT(api_->Lifecycle(&LS::ListServices, "reader", not_ready, &ready), GrpcOk());
  EXPECT_THAT(ready.services(), IsEmpty());

  // A page token is bound to its filters.
  v1::ListServicesRequest mixed = by_stage;
  mixed.set_page_token(request.page_token());
  v1::ListServicesResponse refused;
  EXPECT_THAT(api_->Lifecycle(&LS::ListServices, "reader", mixed, &refused),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "page_token"));
}

TEST_F(LifecycleApiTest, KeepsEveryOutputRevision) {
  v1::Service s = api_->Register("ska_editor", "revisjonid", kSka);
  const Fixture fixture = LoadFixture("gate_a.yaml", "gate_a_complete");
  for (const char* doc : {"v1", "v2"}) {
    v1::SubmitOutputRequest request;
    request.set_etag(s.etag());
    request.set_service_id(s.id());
    request.set_output_type("vision");
    *request.mutable_document() = TestDocument(doc);
    *request.mutable_fields() = fixture.outputs[0].fields;
    v1::SubmitOutputResponse response;
    ASSERT_THAT(api_->Lifecycle(&LS::SubmitOutput, "ska_editor", request, &response), GrpcOk());
    s = response.service();
  }
  v1::GetOutputRequest latest;
  latest.set_service_id(s.id());
  latest.set_output_type("vision");
  v1::GetOutputResponse got;
  ASSERT_THAT(api_->Lifecycle(&LS::GetOutput, "reader", latest, &got), GrpcOk());
  EXPECT_EQ(got.output().revision(), 2u);
  EXPECT_EQ(got.output().document().id(), "v2");
  EXPECT_EQ(got.output().submitted_by(), "ska:editor");
  latest.set_revision(1);
  ASSERT_THAT(api_->Lifecycle(&LS::GetOutput, "reader", latest, &got), GrpcOk());
  EXPECT_EQ(got.output().document().id(), "v1");
  latest.set_revision(3);
  EXPECT_THAT(api_->Lifecycle(&LS::GetOutput, "reader", latest, &got),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND, ""));

  v1::ListOutputsRequest list;
  list.set_service_id(s.id());
  v1::ListOutputsResponse outputs;
  ASSERT_THAT(api_->Lifecycle(&LS::ListOutputs, "reader", list, &outputs), GrpcOk());
  ASSERT_THAT(outputs.outputs(), SizeIs(1));
  EXPECT_EQ(outputs.outputs(0).latest_revision(), 2u);
  EXPECT_THAT(outputs.outputs(0).revisions(), SizeIs(2));
}

TEST_F(LifecycleApiTest, ChecksAGateWithHypotheticalOutputsWithoutWriting) {
  const v1::Service s = api_->Register("ska_editor", "mis-kui", kSka, "plan");
  const size_t events = api_->Events(s.id()).size();
  const Fixture fixture = LoadFixture("gate_a.yaml", "gate_a_complete");

  v1::CheckGateRequest bare;
  bare.set_service_id(s.id());
  v1::CheckGateResponse empty;
  ASSERT_THAT(api_->Lifecycle(&LS::CheckGate, "reader", bare, &empty), GrpcOk());
  EXPECT_FALSE(empty.evaluation().ready());
  EXPECT_THAT(empty.missing_outputs(), SizeIs(4));

  v1::CheckGateRequest what_if = bare;
  what_if.set_gate("A");
  for (const FixtureOutput& output : fixture.outputs) {
    v1::OutputDraft* draft = what_if.add_hypothetical_outputs();
    draft->set_output_type(output.output_type);
    *draft->mutable_fields() = output.fields;
  }
  v1::CheckGateResponse hypothetical;
  ASSERT_THAT(api_->Lifecycle(&LS::CheckGate, "reader", what_if, &hypothetical), GrpcOk());
  EXPECT_THAT(hypothetical.missing_outputs(), IsEmpty());
  EXPECT_THAT(hypothetical.evaluation().failing_rules(),
              ::testing::Not(::testing::Contains("a.vision.present")));
  EXPECT_EQ(api_->Events(s.id()).size(), events);
  EXPECT_EQ(api_->Get(s.id()).etag(), s.etag());
}

TEST_F(LifecycleApiTest, HoldsAndResumesAService) {
  v1::Service s = RequestReview(ReadyForGateA("ootel"));
  v1::RecordDecisionResponse held;
  ASSERT_THAT(Decide("business", s, "business_panel", v1::GATE_OUTCOME_HOLD, &held), GrpcOk());
  v1::RecordDecisionResponse applied;
  ASSERT_THAT(
      Decide("funding", held.service(), "it_funding_council", v1::GATE_OUTCOME_HOLD, &applied),
      GrpcOk());
  EXPECT_EQ(applied.applied_outcome(), v1::GATE_OUTCOME_HOLD);
  s = applied.service();
  EXPECT_EQ(s.status(), v1::SERVICE_STATUS_ON_HOLD);

  v1::ResumeFromHoldRequest resume;
  resume.set_etag(s.etag());
  resume.set_service_id(s.id());
  resume.set_reason("Rahastus on kinnitatud.");
  v1::ResumeFromHoldResponse resumed;
  EXPECT_THAT(api_->Lifecycle(&LS::ResumeFromHold, "ska_editor", resume, &resumed),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  EXPECT_THAT(api_->Lifecycle(&LS::ResumeFromHold, "architecture", resume, &resumed),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  resume.clear_reason();
  EXPECT_THAT(api_->Lifecycle(&LS::ResumeFromHold, "funding", resume, &resumed),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "reason"));
  resume.set_reason("Rahastus on kinnitatud.");
  ASSERT_THAT(api_->Lifecycle(&LS::ResumeFromHold, "funding", resume, &resumed), GrpcOk());
  EXPECT_EQ(resumed.service().status(), v1::SERVICE_STATUS_ACTIVE);
  EXPECT_THAT(api_->Lifecycle(&LS::ResumeFromHold, "funding", resume, &resumed),
              GrpcStatusIs(grpc::StatusCode::ABORTED, ""));
}

TEST_F(LifecycleApiTest, MigratesAServiceToAnotherVersionOfItsPack) {
  const v1::Service s = api_->Register("ska_editor", "ranne", kSka);
  v1::MigratePackRequest request;
  request.set_etag(s.etag());
  request.set_service_id(s.id());
  request.set_target_pack("teenuse-standard@9.9.9");
  v1::MigratePackResponse response;
  EXPECT_FALSE(api_->Lifecycle(&LS::MigratePack, "ska_editor", request, &response).ok());
  request.set_target_pack(kNextPack);
  EXPECT_THAT(api_->Lifecycle(&LS::MigratePack, "tta_editor", request, &response),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  ASSERT_THAT(api_->Lifecycle(&LS::MigratePack, "ska_editor", request, &response), GrpcOk());
  EXPECT_EQ(response.service().pack_version(), "2.0.1");
  EXPECT_EQ(api_->Get(s.id()).pack_version(), "2.0.1");
}

TEST_F(LifecycleApiTest, ServesRulePacksValidationAndExpressions) {
  v1::ListRulePacksRequest list;
  v1::ListRulePacksResponse packs;
  ASSERT_THAT(api_->Rules(&RS::ListRulePacks, "reader", list, &packs), GrpcOk());
  std::vector<std::string> keys;
  for (const v1::RulePackSummary& p : packs.rule_packs()) keys.push_back(p.key());
  EXPECT_THAT(keys, ElementsAre(kPack, kNextPack));

  v1::GetRulePackRequest get;
  get.set_pack(kPack);
  v1::GetRulePackResponse pack;
  ASSERT_THAT(api_->Rules(&RS::GetRulePack, "reader", get, &pack), GrpcOk());
  EXPECT_EQ(pack.rule_pack().gates_size(), 5);
  EXPECT_FALSE(pack.rule_pack().principles(0).name().et().empty());
  EXPECT_FALSE(pack.rule_pack().principles(0).name().en().empty());

  // Validation reports every problem with its position.
  v1::ValidateRulePackRequest validate;
  v1::RulePackFile* file = validate.add_files();
  file->set_path("pack.yaml");
  file->set_content("id: minu-pakk\nversion: 1.0.0\nstages: [oops\n");
  v1::ValidateRulePackResponse validated;
  ASSERT_THAT(api_->Rules(&RS::ValidateRulePack, "reader", validate, &validated), GrpcOk());
  EXPECT_FALSE(validated.valid());
  ASSERT_THAT(validated.diagnostics(), ::testing::Not(IsEmpty()));
  EXPECT_EQ(validated.diagnostics(0).file(), "pack.yaml");
  EXPECT_GT(validated.diagnostics(0).line(), 0);

  v1::Service s = api_->Register("ska_editor", "mangumaa", kSka);
  v1::EvaluateExpressionRequest eval;
  eval.set_service_id(s.id());
  eval.set_expression("service.agency + '/' + service.stage");
  v1::EvaluateExpressionResponse value;
  ASSERT_THAT(api_->Rules(&RS::EvaluateExpression, "reader", eval, &value), GrpcOk());
  EXPECT_THAT(value.issues(), IsEmpty()) << value.formatted_issues();
  EXPECT_EQ(value.type(), "string");
  EXPECT_THAT(value.value_text(), HasSubstr("sotsiaalkindlustusamet/envision"));

  eval.set_expression("service.agency +");
  ASSERT_THAT(api_->Rules(&RS::EvaluateExpression, "reader", eval, &value), GrpcOk());
  EXPECT_THAT(value.issues(), ::testing::Not(IsEmpty()));
}

}  // namespace
}  // namespace varav::testing
