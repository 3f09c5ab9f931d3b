#include "tests/services/server/api_helpers.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/common/sha256.h"
#include "gtest/gtest.h"
#include "services/server/auth.h"
#include "yaml-cpp/yaml.h"

namespace varav::testing {
namespace {

google::protobuf::Value ToValue(const YAML::Node& node) {
  google::protobuf::Value value;
  if (node.IsMap()) {
    auto* fields = value.mutable_struct_value()->mutable_fields();
    for (const auto& kv : node) (*fields)[kv.first.as<std::string>()] = ToValue(kv.second);
  } else if (node.IsSequence()) {
    auto* list = value.mutable_list_value();
    for (const YAML::Node& item : node) *list->add_values() = ToValue(item);
  } else if (node.IsNull()) {
    value.set_null_value(google::protobuf::NULL_VALUE);
  } else {
    const std::string text = node.as<std::string>();
    double number = 0;
    // Quoted scalars (tag "!") stay strings.
    if (node.Tag() != "!" && (text == "true" || text == "false")) {
      value.set_bool_value(text == "true");
    } else if (node.Tag() != "!" && absl::SimpleAtod(text, &number) &&
               text.find_first_of("0123456789") != std::string::npos) {
      value.set_number_value(number);
    } else {
      value.set_string_value(text);
    }
  }
  return value;
}

}  // namespace

Fixture LoadFixture(absl::string_view file, absl::string_view name) {
  Fixture fixture;
  const std::string path = absl::StrCat(SourceDir(), "/rules/teenuse-standard-2.0/tests/", file);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << path << ": " << e.what();
    return fixture;
  }
  const YAML::Node node = root["fixtures"][std::string(name)];
  if (!node) {
    ADD_FAILURE() << path << ": no fixture " << name;
    return fixture;
  }
  for (const auto& kv : node["outputs"]) {
    FixtureOutput& out = fixture.outputs.emplace_back();
    out.output_type = kv.first.as<std::string>();
    const google::protobuf::Value fields = ToValue(kv.second["fields"]);
    out.fields = fields.struct_value();
  }
  for (const auto& kv : node["assessments"]) {
    FixtureAssessment& a = fixture.assessments.emplace_back();
    a.principle = kv.first.as<std::string>();
    for (const YAML::Node& answer : kv.second["answers"])
      a.answers.push_back(answer.as<std::string>());
  }
  return fixture;
}

v1::DocumentRef TestDocument(absl::string_view id) {
  v1::DocumentRef doc;
  doc.set_system("dhs.sotsiaalkindlustusamet.ee");
  doc.set_id(std::string(id));
  doc.set_version("1");
  doc.set_uri(absl::StrCat("https://dhs.sotsiaalkindlustusamet.ee/doc/", id));
  doc.set_sha256(varav::Sha256Hex(id));
  return doc;
}

v1::AnswerValue ToAnswerValue(absl::string_view answer) {
  if (answer == "yes") return v1::ANSWER_VALUE_YES;
  if (answer == "partly") return v1::ANSWER_VALUE_PARTLY;
  if (answer == "no") return v1::ANSWER_VALUE_NO;
  if (answer == "na") return v1::ANSWER_VALUE_NOT_APPLICABLE;
  ADD_FAILURE() << "unknown answer " << answer;
  return v1::ANSWER_VALUE_UNSPECIFIED;
}

ApiClient::ApiClient(VaravdProcess* server, std::shared_ptr<grpc::Channel> channel)
    : server_(server),
      lifecycle_(v1::LifecycleService::NewStub(channel)),
      rules_(v1::RulesService::NewStub(channel)),
      generic_(std::make_unique<grpc::GenericStub>(channel)) {}

grpc::Status ApiClient::Raw(absl::string_view method, absl::string_view as,
                            const std::string& request, std::string* response,
                            absl::Duration timeout) {
  grpc::ClientContext context;
  Prepare(context, as, timeout);
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::Status status;
  absl::Notification done;
  generic_->UnaryCall(&context, std::string(method), grpc::StubOptions(), &request_buffer,
                      &response_buffer, [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
  done.WaitForNotification();
  response->clear();
  std::vector<grpc::Slice> slices;
  if (status.ok() && response_buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return status;
}

void ApiClient::Prepare(grpc::ClientContext& context, absl::string_view as,
                        absl::Duration timeout) const {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!as.empty()) server_->Authorize(context, as);
}

v1::Service ApiClient::Register(absl::string_view as, absl::string_view id,
                                absl::string_view agency, absl::string_view stage) {
  v1::RegisterServiceRequest request;
  request.set_service_id(std::string(id));
  request.set_name("Vanemahüvitise e-teenus");
  request.set_agency(std::string(agency));
  request.set_owner("Mari Tamm");
  request.set_stage(std::string(stage));
  v1::RegisterServiceResponse response;
  const grpc::Status status =
      Lifecycle(&v1::LifecycleService::Stub::RegisterService, as, request, &response);
  EXPECT_TRUE(status.ok()) << id << ": " << status.error_message();
  return response.service();
}

v1::Service ApiClient::Get(absl::string_view id) {
  v1::GetServiceRequest request;
  request.set_service_id(std::string(id));
  v1::GetServiceResponse response;
  const grpc::Status status =
      Lifecycle(&v1::LifecycleService::Stub::GetService, "reader", request, &response);
  EXPECT_TRUE(status.ok()) << id << ": " << status.error_message();
  return response.service();
}

std::vector<v1::Event> ApiClient::Events(absl::string_view service_id) {
  std::vector<v1::Event> events;
  v1::ListEventsRequest request;
  request.set_service_id(std::string(service_id));
  request.set_page_size(1000);
  while (true) {
    v1::ListEventsResponse response;
    const grpc::Status status =
        Lifecycle(&v1::LifecycleService::Stub::ListEvents, "reader", request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    for (const v1::Event& e : response.events()) events.push_back(e);
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return events;
}

std::map<std::string, std::vector<std::string>> ApiClient::Questions(absl::string_view pack) {
  v1::GetRulePackRequest request;
  request.set_pack(std::string(pack));
  v1::GetRulePackResponse response;
  const grpc::Status status =
      Rules(&v1::RulesService::Stub::GetRulePack, "reader", request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::vector<std::string>> questions;
  for (const v1::Principle& p : response.rule_pack().principles()) {
    for (const v1::Question& q : p.questions()) questions[p.id()].push_back(q.id());
  }
  return questions;
}

v1::Service ApiClient::SubmitFixture(absl::string_view as, const v1::Service& service,
                                     const Fixture& fixture) {
  v1::Service current = service;
  for (const FixtureOutput& output : fixture.outputs) {
    v1::SubmitOutputRequest request;
    request.set_request_id(absl::StrCat("submit-", service.id(), "-", output.output_type));
    request.set_etag(current.etag());
    request.set_service_id(current.id());
    request.set_output_type(output.output_type);
    *request.mutable_document() = TestDocument(output.output_type);
    *request.mutable_fields() = output.fields;
    v1::SubmitOutputResponse response;
    const grpc::Status status =
        Lifecycle(&v1::LifecycleService::Stub::SubmitOutput, as, request, &response);
    EXPECT_TRUE(status.ok()) << output.output_type << ": " << status.error_message();
    if (status.ok()) current = response.service();
  }
  const auto questions = Questions(absl::StrCat(service.pack_id(), "@", service.pack_version()));
  for (const FixtureAssessment& assessment : fixture.assessments) {
    v1::RecordAssessmentRequest request;
    request.set_etag(current.etag());
    request.set_service_id(current.id());
    request.set_principle(assessment.principle);
    const auto it = questions.find(assessment.principle);
    EXPECT_NE(it, questions.end()) << assessment.principle;
    if (it == questions.end()) continue;
    for (size_t i = 0; i < assessment.answers.size() && i < it->second.size(); ++i) {
      v1::AssessmentAnswer* answer = request.add_answers();
      answer->set_question(it->second[i]);
      answer->set_answer(ToAnswerValue(assessment.answers[i]));
    }
    v1::RecordAssessmentResponse response;
    const grpc::Status status =
        Lifecycle(&v1::LifecycleService::Stub::RecordAssessment, as, request, &response);
    EXPECT_TRUE(status.ok()) << assessment.principle << ": " << status.error_message();
    if (status.ok()) current = response.service();
  }
  return current;
}

}  // namespace varav::testing
