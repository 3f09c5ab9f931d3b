// Event delivery through the real varavd binary: WatchEvents over the network with resumption
// and filters, the audit trail, a drain that ends streams with UNAVAILABLE, and the NATS
// JetStream publisher (--nats_url) across a NATS restart and a varavd restart.
#include <algorithm>
#include <csignal>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/services/events/nats_test_util.h"
#include "tests/services/server/api_helpers.h"
#include "tests/services/server/varavd_process.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"

namespace varav::events {
namespace {

using ::testing::ElementsAreArray;
using varav::testing::GrpcOk;
using varav::testing::TestPrincipals;
using varav::testing::VaravdProcess;

constexpr char kAgency[] = "sotsiaalkindlustusamet";

class VaravdEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<VaravdProcess>(dir_.path(), TestPrincipals());
  }

  // Registers `id` as the agency's editor; returns how many events the service has (a
  // registration records the service and evaluates its first gate).
  uint64_t Register(const std::string& id) {
    auto stub = v1::LifecycleService::NewStub(server_->Channel());
    grpc::ClientContext context;
    server_->Authorize(context, "ska_editor");
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::RegisterServiceRequest request;
    request.set_service_id(id);
    request.set_name(absl::StrCat("Service ", id));
    request.set_agency(kAgency);
    request.set_owner("owner@example.ee");
    v1::RegisterServiceResponse response;
    const grpc::Status status = stub->RegisterService(&context, request, &response);
    EXPECT_THAT(status, GrpcOk()) << server_->Log();
    return status.ok() ? response.service().last_event_sequence() : 0;
  }

  varav::testing::TempDir dir_;
  std::unique_ptr<VaravdProcess> server_;
};

struct Watch {
  std::unique_ptr<v1::LifecycleService::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::WatchEventsResponse>> reader;

  bool ReadEvents(size_t n, std::vector<v1::Event>& out) {
    v1::WatchEventsResponse response;
    for (size_t got = 0; got < n;) {
      if (!reader->Read(&response)) return false;
      if (!response.has_event()) continue;
      out.push_back(response.event());
      ++got;
    }
    return true;
  }
};

std::unique_ptr<Watch> OpenWatch(VaravdProcess& server, uint64_t after,
                                 const std::string& agency = "") {
  auto watch = std::make_unique<Watch>();
  server.Authorize(watch->context, "reader");
  watch->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::WatchEventsRequest request;
  request.set_after_sequence(after);
  request.set_agency(agency);
  watch->stub = v1::LifecycleService::NewStub(server.Channel());
  watch->reader = watch->stub->WatchEvents(&watch->context, request);
  return watch;
}

std::vector<uint64_t> Sequences(const std::vector<v1::Event>& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) out.push_back(e.global_sequence());
  return out;
}

TEST_F(VaravdEventsTest, WatchResumesWithoutLossOrRepeatAndDrainEndsItWithUnavailable) {
  ASSERT_TRUE(server_->Start().ok()) << server_->Log();
  const uint64_t per = Register("svc-0");
  ASSERT_GE(per, 1u);
  for (int i = 1; i < 5; ++i) ASSERT_EQ(Register(absl::StrCat("svc-", i)), per);

  std::vector<v1::Event> seen;
  {
    auto watch = OpenWatch(*server_, 0);
    ASSERT_TRUE(watch->ReadEvents(3, seen)) << watch->reader->Finish().error_message();
    watch->context.TryCancel();
    watch->reader->Finish();
  }
  // Commands keep coming while the watcher is away; it resumes from its last sequence.
  for (int i = 5; i < 10; ++i) Register(absl::StrCat("svc-", i));
  auto watch = OpenWatch(*server_, seen.back().global_sequence(), kAgency);
  ASSERT_TRUE(watch->ReadEvents(10 * per - 3, seen));
  std::vector<uint64_t> expected;
  for (uint64_t s = 1; s <= 10 * per; ++s) expected.push_back(s);
  EXPECT_THAT(Sequences(seen), ElementsAreArray(expected));
  std::map<std::string, std::vector<uint64_t>> per_service;
  for (const auto& e : seen) {
    per_service[e.subject()].push_back(e.service_sequence());
    if (e.service_sequence() == 1) {
      EXPECT_EQ(e.type(), "ee.varav.service.registered");
      EXPECT_EQ(e.service_registered().agency(), kAgency);
    }
  }
  EXPECT_EQ(per_service.size(), 10u);
  for (const auto& [service, sequences] : per_service) {
    EXPECT_EQ(sequences.size(), per) << service;
    EXPECT_TRUE(std::is_sorted(sequences.begin(), sequences.end())) << service;
  }

  // Live: a new command's events arrive on the open stream.
  Register("svc-live");
  std::vector<v1::Event> live;
  ASSERT_TRUE(watch->ReadEvents(per, live));
  EXPECT_EQ(live[0].subject(), "svc-live");
  EXPECT_EQ(live[0].global_sequence(), 10 * per + 1);

  // The audit trail of a service verifies through the API.
  {
    auto stub = v1::LifecycleService::NewStub(server_->Channel());
    grpc::ClientContext context;
    server_->Authorize(context, "reader");
    v1::VerifyAuditTrailRequest request;
    request.set_service_id("svc-3");
    v1::VerifyAuditTrailResponse response;
    ASSERT_THAT(stub->VerifyAuditTrail(&context, request, &response), GrpcOk());
    EXPECT_TRUE(response.valid()) << response.problem();
    EXPECT_EQ(response.event_count(), per);
  }

  // Draining the server ends the open stream with UNAVAILABLE, and the server exits cleanly.
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
  v1::WatchEventsResponse rest;
  while (watch->reader->Read(&rest)) {
  }
  EXPECT_EQ(watch->reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(VaravdEventsTest, JetStreamHoldsEveryEventOnceAcrossNatsAndVaravdRestarts) {
  if (testing::NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
  testing::NatsServer nats(absl::StrCat(dir_.path(), "/nats"), testing::FreePort());
  ASSERT_TRUE(nats.Start());
  const std::vector<std::string> flags = {absl::StrCat("--nats_url=", nats.url()),
                                          "--nats_stream=VARAV_TEST"};
  ASSERT_TRUE(server_->Start(flags).ok()) << server_->Log();

  auto stream_count = [&] {
    return testing::ReadStream(nats.url(), "VARAV_TEST", "varav.events.>").stream_messages;
  };
  auto await_count = [&](uint64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (stream_count() >= n) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  };

  const uint64_t per = Register("a-0");
  ASSERT_GE(per, 1u);
  for (int i = 1; i < 10; ++i) Register(absl::StrCat("a-", i));
  ASSERT_TRUE(await_count(10 * per)) << server_->Log();

  // NATS goes away: commands still succeed; their events wait in the store.
  nats.Stop();
  for (int i = 0; i < 10; ++i) Register(absl::StrCat("b-", i));
  ASSERT_TRUE(nats.Start());
  ASSERT_TRUE(await_count(20 * per)) << server_->Log();

  // varavd restarts in the middle: more commands before and after.
  for (int i = 0; i < 10; ++i) Register(absl::StrCat("c-", i));
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
  ASSERT_TRUE(server_->Start(flags).ok()) << server_->Log();
  for (int i = 0; i < 10; ++i) Register(absl::StrCat("d-", i));
  ASSERT_TRUE(await_count(40 * per)) << server_->Log();
  absl::SleepFor(absl::Milliseconds(300));  // anything extra (a duplicate) would show up now

  const testing::StreamContents contents =
      testing::ReadStream(nats.url(), "VARAV_TEST", "varav.events.>");
  ASSERT_TRUE(contents.error.empty()) << contents.error;
  EXPECT_EQ(contents.stream_messages, 40 * per);
  ASSERT_EQ(contents.payloads.size(), 40 * per);
  // Event ids are "<service>/<service sequence>": every one of the 40 services' events, once.
  std::set<std::string> expected_ids;
  for (const char* prefix : {"a-", "b-", "c-", "d-"}) {
    for (int i = 0; i < 10; ++i) {
      for (uint64_t n = 1; n <= per; ++n) expected_ids.insert(absl::StrCat(prefix, i, "/", n));
    }
  }
  std::set<std::string> ids;
  for (const auto& [id, count] : contents.ids) {
    EXPECT_EQ(count, 1) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids, expected_ids);
  for (size_t i = 0; i < contents.payloads.size(); ++i) {
    google::protobuf::Struct parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(contents.payloads[i], &parsed).ok());
    const auto& fields = parsed.fields();
    EXPECT_EQ(fields.at("sequence").string_value(), absl::StrCat(i + 1)) << "in global order";
    EXPECT_EQ(contents.subjects[i],
              absl::StrCat("varav.events.", fields.at("type").string_value()));
    if (fields.at("type").string_value() == "ee.varav.service.registered") {
      EXPECT_EQ(fields.at("data").struct_value().fields().at("agency").string_value(), kAgency);
    }
  }
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
}

}  // namespace
}  // namespace varav::events
