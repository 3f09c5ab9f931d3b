// The varavd process as operators see it: health and reflection, deadlines, limits, structured
// logs, settings and config file, first-run development principals, SIGTERM draining, durability
// across restarts, TLS and mTLS, and the refusal to serve a non-loopback address without TLS.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/common/sha256.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/server/auth.h"
#include "tests/free_port.h"
#include "tests/services/server/api_helpers.h"
#include "tests/services/server/varavd_process.h"

namespace varav::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using LS = v1::LifecycleService::Stub;
using RS = v1::RulesService::Stub;

constexpr char kSka[] = "sotsiaalkindlustusamet";

// Every file of the bundled pack, as a ValidateRulePack upload (slow enough to keep a worker busy).
v1::ValidateRulePackRequest BundledPackUpload() {
  v1::ValidateRulePackRequest request;
  const std::filesystem::path root =
      std::filesystem::path(SourceDir()) / "rules" / "teenuse-standard-2.0";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    const std::string relative = std::filesystem::relative(entry.path(), root).string();
    if (absl::StartsWith(relative, "tests/")) continue;
    v1::RulePackFile* file = request.add_files();
    file->set_path(relative);
    file->set_content(ReadFileOrEmpty(entry.path().string()));
  }
  return request;
}

TEST(ServerProcessTest, ReportsHealthPerServiceAndOffersReflection) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  for (const char* service : {"", "varav.v1.LifecycleService", "varav.v1.RulesService"}) {
    absl::StatusOr<int> health = HealthCheck(server.Channel(), service);
    ASSERT_TRUE(health.ok()) << service << ": " << health.status();
    EXPECT_EQ(*health, 1) << service;  // SERVING
  }
  EXPECT_EQ(HealthCheck(server.Channel(), "no.such.Service").status().code(),
            absl::StatusCode::kNotFound);

  absl::StatusOr<std::vector<std::string>> services = ReflectionListServices(server.Channel());
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, Contains("varav.v1.LifecycleService"));
  EXPECT_THAT(*services, Contains("varav.v1.RulesService"));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));
  EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Log();
}

// Health is polled from before the process listens: once any answer says SERVING, no call may be
// refused as starting (gRPC's built-in health service says SERVING from the moment it listens).
TEST(ServerProcessTest, NeverSaysServingBeforeEveryCallIsServed) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    TempDir dir;
    VaravdProcess server(dir.path(), TestPrincipals());
    // A free port, known before the server starts.
    const int port = FreePort();
    ASSERT_GT(port, 0);
    const std::string address = absl::StrCat("127.0.0.1:", port);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    std::atomic<bool> stop{false};
    std::atomic<int> serving_answers{0};
    std::atomic<int> refused_after_serving{0};
    std::atomic<int> served_after_serving{0};
    std::thread poller([&] {
      auto stub = v1::LifecycleService::NewStub(channel);
      const std::string token = TestPrincipals()["reader"].token;
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
      while (!stop.load() && absl::Now() < deadline && served_after_serving.load() < 50) {
        absl::StatusOr<int> health = HealthCheck(channel, "", absl::Milliseconds(200));
        if (health.ok() && *health == 1) serving_answers.fetch_add(1);
        if (serving_answers.load() == 0) continue;
        grpc::ClientContext context;
        context.AddMetadata("authorization", "Bearer " + token);
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
        v1::GetServiceRequest request;
        request.set_service_id("absent");
        v1::GetServiceResponse response;
        const grpc::Status status = stub->GetService(&context, request, &response);
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
          refused_after_serving.fetch_add(1);
          ADD_FAILURE() << "refused after SERVING: " << status.error_message();
        } else {
          EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
          served_after_serving.fetch_add(1);
        }
      }
    });
    ASSERT_TRUE(server.Start({absl::StrCat("--listen=", address)}, /*wait_serving=*/true).ok())
        << server.Log();
    const absl::Time until = absl::Now() + absl::Seconds(10);
    while (served_after_serving.load() < 50 && refused_after_serving.load() == 0 &&
           absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    stop.store(true);
    poller.join();
    EXPECT_GT(serving_answers.load(), 0);
    EXPECT_EQ(refused_after_serving.load(), 0);
    EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Log();
  }
}

TEST(ServerProcessTest, LogsOneJsonLinePerCallWithRequestIdMethodPrincipalCodeAndLatency) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  ApiClient api(&server, server.Channel());

  grpc::ClientContext context;
  server.Authorize(context, "reader");
  context.AddMetadata("x-request-id", "trace-4f2a");
  v1::ListServicesResponse listed;
  ASSERT_THAT(api.lifecycle().ListServices(&context, {}, &listed), GrpcOk());

  v1::RegisterServiceRequest reg;
  reg.set_request_id("reg-logi-1");
  reg.set_service_id("logi");
  reg.set_name("Logi \"teenus\"\n");
  reg.set_agency(kSka);
  reg.set_owner("Mari Tamm");
  v1::RegisterServiceResponse registered;
  ASSERT_THAT(api.Lifecycle(&LS::RegisterService, "ska_editor", reg, &registered), GrpcOk());
  reg.set_service_id("logi-2");
  reg.set_request_id("reg-logi-2");
  EXPECT_THAT(api.Lifecycle(&LS::RegisterService, "reader", reg, &registered),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  ASSERT_EQ(server.Stop(SIGTERM), 0);

  const std::string log = server.Log();
  EXPECT_THAT(log,
              HasSubstr("\"msg\":\"call\",\"method\":\"varav.v1.LifecycleService/ListServices\","
                        "\"request_id\":\"trace-4f2a\",\"principal\":\"rk:reader\","
                        "\"code\":\"OK\",\"latency_ms\":"));
  EXPECT_THAT(log, HasSubstr("\"method\":\"varav.v1.LifecycleService/RegisterService\","
                             "\"request_id\":\"reg-logi-1\",\"principal\":\"ska:editor\","
                             "\"code\":\"OK\""));
  EXPECT_THAT(log, HasSubstr("\"request_id\":\"reg-logi-2\",\"principal\":\"rk:reader\","
                             "\"code\":\"PERMISSION_DENIED\""));
  EXPECT_THAT(log, HasSubstr("\"msg\":\"listening\",\"port\":"));
  EXPECT_THAT(log, HasSubstr("\"msg\":\"drained\""));
  // Every line is one JSON object.
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"time\":\"") && absl::EndsWith(line, "}")) << line;
  }
}

TEST(ServerProcessTest, AnswersDeadlineExceededWithoutWriting) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  // One worker, so a call can be made to wait behind slow ones.
  ASSERT_TRUE(server.Start({"--worker_threads=1"}).ok()) << server.Log();
  ApiClient api(&server, server.Channel());
  const v1::Service s = api.Register("ska_editor", "tahtaeg", kSka);
  const size_t events = api.Events("").size();

  // Already expired at the client.
  v1::RegisterServiceRequest reg;
  reg.set_service_id("tahtaeg-2");
  reg.set_name("Teenus");
  reg.set_agency(kSka);
  reg.set_owner("Mari Tamm");
  v1::RegisterServiceResponse registered;
  EXPECT_THAT(
      api.Lifecycle(&LS::RegisterService, "ska_editor", reg, &registered, absl::Milliseconds(-1)),
      GrpcStatusIs(grpc::StatusCode::DEADLINE_EXCEEDED, ""));

  // Expired while queued at the server behind slow validations: refused before any work.
  const v1::ValidateRulePackRequest upload = BundledPackUpload();
  std::vector<std::thread> slow;
  for (int i = 0; i < 3; ++i) {
    slow.emplace_back([&] {
      v1::ValidateRulePackResponse validated;
      EXPECT_THAT(api.Rules(&RS::ValidateRulePack, "reader", upload, &validated), GrpcOk());
    });
  }
  absl::SleepFor(absl::Milliseconds(30));
  reg.set_service_id("tahtaeg-3");
  EXPECT_THAT(
      api.Lifecycle(&LS::RegisterService, "ska_editor", reg, &registered, absl::Milliseconds(50)),
      GrpcStatusIs(grpc::StatusCode::DEADLINE_EXCEEDED, ""));
  for (std::thread& t : slow) t.join();

  EXPECT_EQ(api.Events("").size(), events);
  v1::GetServiceRequest get;
  get.set_service_id("tahtaeg-3");
  v1::GetServiceResponse got;
  EXPECT_THAT(api.Lifecycle(&LS::GetService, "reader", get, &got),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND, ""));
  ASSERT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_THAT(server.Log(), HasSubstr("\"code\":\"DEADLINE_EXCEEDED\",\"latency_ms\""));
  EXPECT_EQ(s.id(), "tahtaeg");
}

TEST(ServerProcessTest, RefusesCallsBeyondTheInflightLimitWithResourceExhausted) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  ASSERT_TRUE(server.Start({"--max_inflight=1", "--worker_threads=1"}).ok()) << server.Log();
  ApiClient api(&server, server.Channel());
  const v1::ValidateRulePackRequest upload = BundledPackUpload();
  absl::Mutex mu;
  std::map<grpc::StatusCode, int> codes;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      v1::ValidateRulePackResponse validated;
      const grpc::Status status = api.Rules(&RS::ValidateRulePack, "reader", upload, &validated);
      absl::MutexLock lock(&mu);
      ++codes[status.error_code()];
      if (!status.ok()) {
        EXPECT_THAT(status.error_message(), HasSubstr("busy"));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_GE(codes[grpc::StatusCode::OK], 1);
  EXPECT_GE(codes[grpc::StatusCode::RESOURCE_EXHAUSTED], 1);
  EXPECT_EQ(codes[grpc::StatusCode::OK] + codes[grpc::StatusCode::RESOURCE_EXHAUSTED], 4);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(ServerProcessTest, RefusesOversizedMessagesWithResourceExhausted) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  ASSERT_TRUE(server.Start({"--max_message_bytes=2048"}).ok()) << server.Log();
  ApiClient api(&server, server.Channel());
  v1::RegisterServiceRequest reg;
  reg.set_service_id("suur");
  reg.set_name("Suur");
  reg.set_agency(kSka);
  reg.set_owner("Mari Tamm");
  reg.set_description(std::string(3000, 'x'));
  v1::RegisterServiceResponse registered;
  EXPECT_THAT(api.Lifecycle(&LS::RegisterService, "ska_editor", reg, &registered),
              GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED, ""));
  reg.set_description("väike");
  EXPECT_THAT(api.Lifecycle(&LS::RegisterService, "ska_editor", reg, &registered), GrpcOk());
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(ServerProcessTest, DrainsInFlightCallsOnSigtermAndExitsZeroLosingNoAcknowledgedWrite) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  ApiClient api(&server, server.Channel());
  const Fixture fixture = LoadFixture("gate_a.yaml", "gate_a_complete");
  constexpr int kWriters = 6;
  std::vector<v1::Service> services;
  for (int i = 0; i < kWriters; ++i) {
    services.push_back(api.Register("ska_editor", absl::StrCat("drain-", i), kSka));
  }

  std::atomic<int> acknowledged_total{0};
  std::vector<int> acknowledged(kWriters, 0);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      v1::Service s = services[i];
      for (int n = 0; n < 100000; ++n) {
        v1::SubmitOutputRequest request;
        request.set_etag(s.etag());
        request.set_service_id(s.id());
        request.set_output_type("vision");
        *request.mutable_document() = TestDocument(absl::StrCat(s.id(), "-", n));
        *request.mutable_fields() = fixture.outputs[0].fields;
        v1::SubmitOutputResponse response;
        const grpc::Status status =
            api.Lifecycle(&LS::SubmitOutput, "ska_editor", request, &response);
        if (!status.ok()) {
          // Refused because the server is going away (by varavd while draining, or by gRPC for a
          // call racing the final shutdown); never a failure of the call itself.
          EXPECT_THAT(status.error_code(),
                      ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::CANCELLED))
              << status.error_message();
          return;
        }
        s = response.service();
        ++acknowledged[i];
        ++acknowledged_total;
      }
    });
  }
  while (acknowledged_total.load() < 60) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Log();
  for (std::thread& t : writers) t.join();
  EXPECT_THAT(server.Log(), HasSubstr("\"msg\":\"drained\""));
  EXPECT_THAT(server.Log(), HasSubstr("\"msg\":\"stopped\""));

  // Every acknowledged revision survived (a call whose answer was lost in the shutdown may have
  // landed as well).
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  ApiClient again(&server, server.Channel());
  for (int i = 0; i < kWriters; ++i) {
    const v1::Service s = again.Get(services[i].id());
    const auto it = s.output_revisions().find("vision");
    const int revisions = it == s.output_revisions().end() ? 0 : static_cast<int>(it->second);
    EXPECT_GE(revisions, acknowledged[i]) << s.id();
    EXPECT_LE(revisions, acknowledged[i] + 1) << s.id();
  }
  EXPECT_EQ(server.Stop(SIGINT), 0);
}

TEST(ServerProcessTest, KeepsEverythingAcrossARestartOnTheSameDataDir) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  v1::Service before;
  std::vector<v1::Event> events_before;
  {
    ApiClient api(&server, server.Channel());
    v1::Service s = api.Register("ska_editor", "pusiv", kSka, "plan");
    before = api.SubmitFixture("ska_editor", s, LoadFixture("gate_a.yaml", "gate_a_complete"));
    events_before = api.Events("");
  }
  ASSERT_EQ(server.Stop(SIGTERM), 0) << server.Log();

  ASSERT_TRUE(server.Start().ok()) << server.Log();
  ApiClient api(&server, server.Channel());
  const v1::Service after = api.Get("pusiv");
  EXPECT_TRUE(MessageDifferencer::Equals(after, before))
      << after.DebugString() << before.DebugString();
  const std::vector<v1::Event> events_after = api.Events("");
  ASSERT_EQ(events_after.size(), events_before.size());
  EXPECT_EQ(events_after.back().hash(), events_before.back().hash());
  v1::VerifyAuditTrailRequest verify;
  verify.set_service_id("pusiv");
  v1::VerifyAuditTrailResponse verified;
  ASSERT_THAT(api.Lifecycle(&LS::VerifyAuditTrail, "reader", verify, &verified), GrpcOk());
  EXPECT_TRUE(verified.valid()) << verified.problem();
  // The idempotency record survived as well: the retry replays.
  v1::RequestGateReviewRequest review;
  review.set_request_id("review-pusiv");
  review.set_etag(after.etag());
  review.set_service_id("pusiv");
  v1::RequestGateReviewResponse reviewed;
  ASSERT_THAT(api.Lifecycle(&LS::RequestGateReview, "ska_editor", review, &reviewed), GrpcOk());
  ASSERT_EQ(server.Stop(SIGTERM), 0);
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  ApiClient third(&server, server.Channel());
  v1::RequestGateReviewResponse replayed;
  ASSERT_THAT(third.Lifecycle(&LS::RequestGateReview, "ska_editor", review, &replayed), GrpcOk());
  EXPECT_EQ(replayed.service().etag(), reviewed.service().etag());
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(ServerProcessTest, RefusesANonLoopbackAddressWithoutTls) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  absl::StatusOr<int> code = server.RunToExit(
      {"--listen=0.0.0.0:0", "--data_dir=" + dir.path() + "/data",
       "--rules_dir=" + SourceDir() + "/rules", "--principals_file=" + server.principals_file()},
      absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(server.Log(), HasSubstr("not a loopback address"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data"));

  // Explicitly allowed, it serves (here reached over loopback).
  ASSERT_TRUE(server.Start({"--listen=0.0.0.0:0", "--allow_insecure_remote"}).ok()) << server.Log();
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(ServerProcessTest, ReadsAConfigFileThatCommandLineFlagsOverride) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  const std::string config = dir.path() + "/varavd.conf";
  WriteFile(config, absl::StrCat("# test settings\n"
                                 "listen = 0.0.0.0:0   # overridden on the command line\n"
                                 "data_dir = \"",
                                 dir.path(), "/data-from-config\"\n", "rules_dir = ", SourceDir(),
                                 "/rules\n", "max_inflight = 64\n", "sync = false\n"));
  ASSERT_TRUE(server.Start({"--config=" + config, "--listen=127.0.0.1:0"}).ok()) << server.Log();
  ApiClient api(&server, server.Channel());
  api.Register("ska_editor", "seaded", kSka);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  // Start passes --data_dir on the command line as well, and the command line wins.
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data-from-config"));

  WriteFile(config, "listen = 127.0.0.1:0\nno_such_setting = 1\n");
  absl::StatusOr<int> code = server.RunToExit({"--config=" + config}, absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(server.Log(), HasSubstr("unknown setting `no_such_setting`"));
}

TEST(ServerProcessTest, TakesEverySettingFromTheConfigFileAlone) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  const std::string config = dir.path() + "/varavd.conf";
  WriteFile(config, absl::StrCat("listen = 127.0.0.1:0\n", "port_file = ", dir.path(), "/port\n",
                                 "data_dir = ", dir.path(), "/data-from-config\n",
                                 "rules_dir = ", SourceDir(), "/rules\n",
                                 "principals_file = ", server.principals_file(), "\n"));
  std::thread runner;
  absl::StatusOr<int> code;
  // RunToExit blocks, so stop the server from a second thread once it serves.
  runner = std::thread([&] { code = server.RunToExit({"--config=" + config}, absl::Seconds(30)); });
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!std::filesystem::exists(dir.path() + "/port") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const std::string port(absl::StripAsciiWhitespace(ReadFileOrEmpty(dir.path() + "/port")));
  auto channel = grpc::CreateChannel("127.0.0.1:" + port, grpc::InsecureChannelCredentials());
  absl::StatusOr<int> health = 0;
  while (absl::Now() < deadline) {
    health = HealthCheck(channel, "", absl::Seconds(1));
    if (health.ok() && *health == 1) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(health.ok() && *health == 1) << server.Log();
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/data-from-config"));
  // The pid from the server's own "listening" line (RunToExit owns the process handle).
  const std::string log = server.Log();
  const size_t at = log.find("\"pid\":");
  ASSERT_NE(at, std::string::npos) << log;
  const int pid = std::atoi(log.c_str() + at + 6);
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGTERM);
  runner.join();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << server.Log();
}

TEST(ServerProcessTest, CreatesDevelopmentPrincipalsOnFirstRunAndPrintsTheTokenOnce) {
  TempDir dir;
  VaravdProcess server(dir.path(), TestPrincipals());
  const std::string principals = dir.path() + "/var/principals.yaml";
  const std::string token_file = dir.path() + "/var/dev-admin-token";
  const std::vector<std::string> args = {"--principals_file=" + principals, "--init_dev_principals",
                                         "--dev_admin_token_file=" + token_file};
  ASSERT_TRUE(server.Start(args).ok()) << server.Log();
  const std::string token(absl::StripAsciiWhitespace(ReadFileOrEmpty(token_file)));
  ASSERT_EQ(token.size(), 64u);
  struct stat st;
  ASSERT_EQ(::stat(token_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string yaml = ReadFileOrEmpty(principals);
  EXPECT_THAT(yaml, Not(HasSubstr(token)));
  EXPECT_THAT(yaml, HasSubstr(varav::Sha256Hex(token)));
  EXPECT_THAT(server.Log(), HasSubstr(token));

  auto stub = v1::LifecycleService::NewStub(server.Channel());
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + token);
  v1::RegisterServiceRequest reg;
  reg.set_service_id("arendus");
  reg.set_name("Arendus");
  reg.set_agency(kSka);
  reg.set_owner("Mari Tamm");
  v1::RegisterServiceResponse registered;
  EXPECT_THAT(stub->RegisterService(&context, reg, &registered), GrpcOk());
  ASSERT_EQ(server.Stop(SIGTERM), 0);

  // The second run keeps the file and prints no token.
  const size_t log_size = server.Log().size();
  ASSERT_TRUE(server.Start(args).ok()) << server.Log();
  EXPECT_EQ(ReadFileOrEmpty(principals), yaml);
  EXPECT_THAT(server.Log().substr(log_size), Not(HasSubstr(token)));
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

// A throwaway CA with a server certificate for localhost and two client certificates.
class TlsFiles {
 public:
  explicit TlsFiles(const std::string& dir) : dir_(dir) {
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    Run(absl::StrCat("openssl req -x509 ", ec, " -keyout ", Path("ca.key"), " -out ",
                     Path("ca.crt"), " -days 2 -subj /CN=Varav-Test-CA"));
    Issue("server", "localhost",
          "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    Issue("editor", "editor.ska.test", "extendedKeyUsage=clientAuth\n");
    Issue("stranger", "stranger.test", "extendedKeyUsage=clientAuth\n");
  }

  std::string Path(absl::string_view name) const { return absl::StrCat(dir_, "/", name); }
  std::string Read(absl::string_view name) const { return ReadFileOrEmpty(Path(name)); }
  bool ok() const { return ok_; }

 private:
  void Run(const std::string& command) {
    if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
      ADD_FAILURE() << "failed: " << command;
      ok_ = false;
    }
  }
  void Issue(const std::string& name, const std::string& cn, const std::string& extensions) {
    WriteFile(Path(name + ".ext"), "basicConstraints=CA:FALSE\n" + extensions);
    Run(absl::StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ",
                     Path(name + ".key"), " -out ", Path(name + ".csr"), " -subj /CN=", cn));
    Run(absl::StrCat("openssl x509 -req -in ", Path(name + ".csr"), " -CA ", Path("ca.crt"),
                     " -CAkey ", Path("ca.key"), " -CAcreateserial -days 2 -out ",
                     Path(name + ".crt"), " -extfile ", Path(name + ".ext")));
  }

  std::string dir_;
  bool ok_ = true;
};

std::shared_ptr<grpc::Channel> TlsChannel(const VaravdProcess& server, const TlsFiles& tls,
                                          const std::string& client) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.Read("ca.crt");
  if (!client.empty()) {
    options.pem_private_key = tls.Read(client + ".key");
    options.pem_cert_chain = tls.Read(client + ".crt");
  }
  return grpc::CreateChannel("localhost:" + std::to_string(server.port()),
                             grpc::SslCredentials(options));
}

TEST(ServerProcessTest, ServesTlsWithBearerTokens) {
  TempDir dir;
  TlsFiles tls(dir.path());
  ASSERT_TRUE(tls.ok());
  VaravdProcess server(dir.path(), TestPrincipals());
  // TLS also lifts the loopback restriction.
  ASSERT_TRUE(server
                  .Start({"--listen=0.0.0.0:0", "--tls_cert=" + tls.Path("server.crt"),
                          "--tls_key=" + tls.Path("server.key")},
                         /*wait_serving=*/false)
                  .ok())
      << server.Log();
  auto channel = TlsChannel(server, tls, "");
  absl::StatusOr<int> health;
  for (int i = 0; i < 200; ++i) {
    health = HealthCheck(channel, "");
    if (health.ok() && *health == 1) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(health.ok()) << health.status() << server.Log();
  ApiClient api(&server, channel);
  v1::ListServicesRequest list;
  v1::ListServicesResponse listed;
  EXPECT_THAT(api.Lifecycle(&LS::ListServices, "reader", list, &listed), GrpcOk());
  EXPECT_THAT(api.Lifecycle(&LS::ListServices, "", list, &listed),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, ""));

  // A plaintext client gets nowhere.
  ApiClient plain(&server, server.Channel());
  EXPECT_THAT(plain.Lifecycle(&LS::ListServices, "reader", list, &listed, absl::Seconds(3)),
              Not(GrpcOk()));
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(ServerProcessTest, MapsVerifiedClientCertificatesToPrincipalsWithMtls) {
  TempDir dir;
  TlsFiles tls(dir.path());
  ASSERT_TRUE(tls.ok());
  VaravdProcess server(dir.path(), TestPrincipals());
  ASSERT_TRUE(
      server
          .Start({"--tls_cert=" + tls.Path("server.crt"), "--tls_key=" + tls.Path("server.key"),
                  "--tls_client_ca=" + tls.Path("ca.crt")},
                 /*wait_serving=*/false)
          .ok())
      << server.Log();
  auto editor = TlsChannel(server, tls, "editor");
  absl::StatusOr<int> health;
  for (int i = 0; i < 200; ++i) {
    health = HealthCheck(editor, "");
    if (health.ok() && *health == 1) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(health.ok()) << health.status() << server.Log();

  // The certificate's CN maps to ska:editor, who may register the agency's services.
  ApiClient as_editor(&server, editor);
  v1::RegisterServiceRequest reg;
  reg.set_service_id("mtls");
  reg.set_name("mTLS");
  reg.set_agency(kSka);
  reg.set_owner("Mari Tamm");
  v1::RegisterServiceResponse registered;
  ASSERT_THAT(as_editor.Lifecycle(&LS::RegisterService, "", reg, &registered), GrpcOk());
  EXPECT_EQ(as_editor.Events("mtls").front().principal(), "ska:editor");
  // A bearer token, when sent, names the principal instead.
  reg.set_service_id("mtls-2");
  EXPECT_THAT(as_editor.Lifecycle(&LS::RegisterService, "reader", reg, &registered),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, ""));

  // A valid certificate that maps to nobody authenticates the channel but not a principal.
  ApiClient stranger(&server, TlsChannel(server, tls, "stranger"));
  v1::ListServicesResponse listed;
  EXPECT_THAT(stranger.Lifecycle(&LS::ListServices, "", {}, &listed),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, "not mapped"));
  // No client certificate: the handshake fails.
  ApiClient anonymous(&server, TlsChannel(server, tls, ""));
  EXPECT_THAT(anonymous.Lifecycle(&LS::ListServices, "reader", {}, &listed, absl::Seconds(3)),
              Not(GrpcOk()));
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace varav::testing
