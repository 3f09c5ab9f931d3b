#include "services/events/cloud_event.h"

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/engine/store/test_util.h"
#include "tests/status_matchers.h"

namespace varav::events {
namespace {

using ::testing::HasSubstr;
using ::varav::testing::IsOk;
using ::varav::testing::StatusIs;

v1::Event GateApprovedEvent() {
  v1::Event e;
  e.set_id("s1/7");
  e.set_source("/varav");
  e.set_spec_version("1.0");
  e.set_type("ee.varav.gate.approved");
  e.set_subject("s1");
  e.mutable_time()->set_seconds(1714644000);  // 2024-05-02T10:00:00Z
  e.set_data_content_type("application/protobuf");
  e.set_global_sequence(42);
  e.set_service_sequence(7);
  e.set_principal("panel:mari \"the chair\"");
  e.set_request_id("req-1");
  e.set_prev_hash("aa");
  e.set_hash("bb");
  v1::GateResult* r = e.mutable_gate_approved()->mutable_result();
  r->set_agency("ria");
  r->set_gate("G2");
  r->set_outcome(v1::GATE_OUTCOME_GO);
  r->set_evaluation_id("ev-9");
  return e;
}

google::protobuf::Struct Parse(const std::string& json) {
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  return parsed;
}

TEST(CloudEventTest, CarriesEveryRequiredAttributeAndTheVaravExtensions) {
  auto json = ToCloudEventJson(GateApprovedEvent());
  ASSERT_THAT(json, IsOk());
  const auto fields = Parse(*json).fields();
  EXPECT_EQ(fields.at("specversion").string_value(), "1.0");
  EXPECT_EQ(fields.at("id").string_value(), "s1/7");
  EXPECT_EQ(fields.at("source").string_value(), "/varav");
  EXPECT_EQ(fields.at("type").string_value(), "ee.varav.gate.approved");
  EXPECT_EQ(fields.at("subject").string_value(), "s1");
  EXPECT_EQ(fields.at("time").string_value(), "2024-05-02T10:00:00Z");
  EXPECT_EQ(fields.at("datacontenttype").string_value(), "application/json");
  EXPECT_EQ(fields.at("sequence").string_value(), "42");
  EXPECT_EQ(fields.at("servicesequence").string_value(), "7");
  EXPECT_EQ(fields.at("hash").string_value(), "bb");
  EXPECT_EQ(fields.at("prevhash").string_value(), "aa");
  EXPECT_EQ(fields.at("principal").string_value(), "panel:mari \"the chair\"");
  EXPECT_EQ(fields.at("requestid").string_value(), "req-1");
}

TEST(CloudEventTest, DataIsThePayloadInProto3Json) {
  auto json = ToCloudEventJson(GateApprovedEvent());
  ASSERT_THAT(json, IsOk());
  const auto data = Parse(*json).fields().at("data").struct_value();
  const auto result = data.fields().at("result").struct_value().fields();
  EXPECT_EQ(result.at("agency").string_value(), "ria");
  EXPECT_EQ(result.at("gate").string_value(), "G2");
  EXPECT_EQ(result.at("outcome").string_value(), "GATE_OUTCOME_GO");
  EXPECT_EQ(result.at("evaluationId").string_value(), "ev-9");
  // The payload converts back into the typed message.
  std::string data_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(data, &data_json).ok());
  v1::GateApproved back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(data_json, &back).ok());
  EXPECT_EQ(back.result().evaluation_id(), "ev-9");
}

TEST(CloudEventTest, OmitsTimeWhenTheEventHasNone) {
  v1::Event e = GateApprovedEvent();
  e.clear_time();
  auto json = ToCloudEventJson(e);
  ASSERT_THAT(json, IsOk());
  EXPECT_FALSE(Parse(*json).fields().contains("time"));
}

TEST(CloudEventTest, RejectsAnEventWithoutPayload) {
  v1::Event e = GateApprovedEvent();
  e.clear_gate_approved();
  EXPECT_THAT(ToCloudEventJson(e),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no payload")));
}

TEST(CloudEventTest, EscapesControlCharactersInStrings) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(JsonQuote("Värav"), "\"Värav\"");
}

TEST(CloudEventTest, SubjectIsThePrefixFollowedByTheTypeTokens) {
  EXPECT_EQ(NatsSubjectFor("varav.events", "ee.varav.gate.approved"),
            "varav.events.ee.varav.gate.approved");
}

}  // namespace
}  // namespace varav::events
