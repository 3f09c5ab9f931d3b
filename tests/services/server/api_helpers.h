// Test support for driving varavd's API: typed call helpers that attach a principal's token, the
// gate A fixture of the bundled pack as API requests, and status matchers.
//
// Thread safety: ApiClient may be shared by threads (gRPC stubs are thread-safe).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "tests/services/server/varavd_process.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"
#include "varav/v1/rules_service.grpc.pb.h"

namespace varav::testing {

// Matches a grpc::Status with `code` whose message contains `substring`.
MATCHER_P2(GrpcStatusIs, code, substring,
           absl::StrCat("has code ", static_cast<int>(code), " and a message containing \"",
                        substring, "\"")) {
  *result_listener << "code " << static_cast<int>(arg.error_code()) << ": " << arg.error_message();
  return arg.error_code() == code &&
         arg.error_message().find(std::string(substring)) != std::string::npos;
}

MATCHER(GrpcOk, "is OK") {
  *result_listener << "code " << static_cast<int>(arg.error_code()) << ": " << arg.error_message();
  return arg.ok();
}

// One output of a fixture, as the request fields that submit it.
struct FixtureOutput {
  std::string output_type;
  google::protobuf::Struct fields;
};

// One self-assessment of a fixture: answers by position ("yes", "partly", "no", "na").
struct FixtureAssessment {
  std::string principle;
  std::vector<std::string> answers;
};

struct Fixture {
  std::vector<FixtureOutput> outputs;
  std::vector<FixtureAssessment> assessments;
};

// Reads fixture `name` of rules/<pack_dir>/tests/<file> (format: rules/FORMAT.md). Plain YAML
// scalars become numbers or booleans when they read as such, everything else strings (the server
// types them by the output schemas). Fails the test on a problem.
Fixture LoadFixture(absl::string_view file, absl::string_view name);

// A document reference that passes validation, distinct per `id`.
v1::DocumentRef TestDocument(absl::string_view id);

v1::AnswerValue ToAnswerValue(absl::string_view answer);

// Calls into one server as one principal per call.
class ApiClient {
 public:
  ApiClient(VaravdProcess* server, std::shared_ptr<grpc::Channel> channel);

  // Calls stub method `fn` of LifecycleService or RulesService as principal `as` ("" sends no
  // credentials). `timeout` bounds the call.
  template <typename Request, typename Response>
  grpc::Status Lifecycle(grpc::Status (v1::LifecycleService::Stub::*fn)(grpc::ClientContext*,
                                                                        const Request&, Response*),
                         absl::string_view as, const Request& request, Response* response,
                         absl::Duration timeout = absl::Seconds(20)) {
    grpc::ClientContext context;
    Prepare(context, as, timeout);
    return (lifecycle_.get()->*fn)(&context, request, response);
  }
  template <typename Request, typename Response>
  grpc::Status Rules(grpc::Status (v1::RulesService::Stub::*fn)(grpc::ClientContext*,
                                                                const Request&, Response*),
                     absl::string_view as, const Request& request, Response* response,
                     absl::Duration timeout = absl::Seconds(20)) {
    grpc::ClientContext context;
    Prepare(context, as, timeout);
    return (rules_.get()->*fn)(&context, request, response);
  }

  // Calls `method` ("/package.Service/Method") with `request` as the raw message bytes, as `as`;
  // `response` receives the raw response bytes. For requests the generated client cannot send.
  grpc::Status Raw(absl::string_view method, absl::string_view as, const std::string& request,
                   std::string* response, absl::Duration timeout = absl::Seconds(20));

  // Shortcuts that fail the test unless the call succeeds.
  v1::Service Register(absl::string_view as, absl::string_view id, absl::string_view agency,
                       absl::string_view stage = "");
  v1::Service Get(absl::string_view id);
  // Every event of `service_id` (all pages); of the global log when empty.
  std::vector<v1::Event> Events(absl::string_view service_id);
  // Submits every output of `fixture` and then its assessments as `as`; returns the service after.
  v1::Service SubmitFixture(absl::string_view as, const v1::Service& service,
                            const Fixture& fixture);
  // Question ids of each principle of the pinned pack (via GetRulePack).
  std::map<std::string, std::vector<std::string>> Questions(absl::string_view pack);

  v1::LifecycleService::Stub& lifecycle() { return *lifecycle_; }
  v1::RulesService::Stub& rules() { return *rules_; }

 private:
  void Prepare(grpc::ClientContext& context, absl::string_view as, absl::Duration timeout) const;

  VaravdProcess* server_;
  std::unique_ptr<v1::LifecycleService::Stub> lifecycle_;
  std::unique_ptr<v1::RulesService::Stub> rules_;
  std::unique_ptr<grpc::GenericStub> generic_;
};

}  // namespace varav::testing
