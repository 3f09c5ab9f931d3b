// Hostile input against the real varavd: CEL expressions built to exhaust memory or CPU, sent
// through EvaluateExpression (open to every reader) while the server has only two workers, rule
// packs whose rules could never finish within the budget, and requests that do not parse. Each
// must get a clear error in bounded time and memory, the server must stay alive and answer other
// calls meanwhile, and SIGTERM must end it within its grace period.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/services/server/api_helpers.h"
#include "tests/services/server/varavd_process.h"

namespace varav::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using LS = v1::LifecycleService::Stub;
using RS = v1::RulesService::Stub;

constexpr char kSka[] = "sotsiaalkindlustusamet";

std::string Doubling(int n) {
  std::string e = R"(["foo", "bar"])";
  for (int i = 0; i < n; ++i) e = absl::StrCat(e, ".map(x, [x + x, x + x])");
  return e;
}

// The hostile expressions an outside client used, and relatives.
std::vector<std::string> HostileExpressions() {
  std::string replaces = "'aaaaaaaaaa'";
  for (int i = 0; i < 8; ++i) {
    replaces = absl::StrCat(replaces, ".replace('a', '", std::string(100, 'a'), "')");
  }
  return {
      Doubling(16),
      Doubling(30),
      absl::StrCat("'%s'.format([", Doubling(20), "])"),
      absl::StrCat(Doubling(20), " == ", Doubling(20)),
      absl::StrCat(Doubling(20), " != ", Doubling(20)),
      absl::StrCat(Doubling(20), " in [", Doubling(20), "]"),
      replaces,
      absl::StrCat("'", std::string(9000, 'x'), "'.replace('', '", std::string(900, 'y'), "')"),
      absl::StrCat("('", std::string(4000, 'x'), "'.replace('x', '", std::string(3000, 'z'),
                   "')).split('').size()"),
      absl::StrCat("['", std::string(2000, 'x'), "'].map(s, s.replace('x', s).replace('x', s))"),
  };
}

// Peak resident memory of `pid` in KiB (VmHWM), 0 when unreadable.
int64_t PeakRssKib(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "VmHWM:")) continue;
    absl::string_view rest = absl::StripAsciiWhitespace(absl::string_view(line).substr(6));
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripSuffix(rest, " kB"), &kib)) return kib;
  }
  return 0;
}

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<VaravdProcess>(dir_.path(), TestPrincipals());
    ASSERT_TRUE(server_->Start({"--worker_threads=2", "--shutdown_grace_s=10"}).ok())
        << server_->Log();
    client_ = std::make_unique<ApiClient>(server_.get(), server_->Channel());
    v1::RegisterServiceRequest r;
    r.set_service_id("hostile");
    r.set_name("Vaenulik");
    r.set_agency(kSka);
    r.set_owner("Mari Tamm");
    v1::RegisterServiceResponse out;
    ASSERT_THAT(client_->Lifecycle(&LS::RegisterService, "ska_editor", r, &out), GrpcOk());
  }

  grpc::Status Evaluate(const std::string& expression, v1::EvaluateExpressionResponse* out,
                        absl::Duration timeout = absl::Seconds(60)) {
    v1::EvaluateExpressionRequest r;
    r.set_service_id("hostile");
    r.set_expression(expression);
    return client_->Rules(&RS::EvaluateExpression, "reader", r, out, timeout);
  }

  TempDir dir_;
  std::unique_ptr<VaravdProcess> server_;
  std::unique_ptr<ApiClient> client_;
};

TEST_F(HostileInputTest, EveryHostileExpressionGetsAClearErrorAndTheServerKeepsAnswering) {
  const std::vector<std::string> hostile = HostileExpressions();
  std::atomic<bool> done{false};
  std::atomic<int> benign_ok{0};
  std::atomic<int> benign_failed{0};
  // Meanwhile, a reader asks a trivial question again and again.
  std::thread benign([&] {
    while (!done.load()) {
      v1::EvaluateExpressionResponse out;
      grpc::Status s = Evaluate("1 + 1 == 2", &out, absl::Seconds(10));
      if (s.ok() && out.value_text() == "true") {
        benign_ok.fetch_add(1);
      } else {
        benign_failed.fetch_add(1);
        ADD_FAILURE() << "a benign call failed: " << s.error_message() << " " << out.error();
      }
    }
  });
  // Two hostile callers at once, as many as there are workers.
  std::vector<std::thread> attackers;
  for (int t = 0; t < 2; ++t) {
    attackers.emplace_back([&, t] {
      for (size_t i = t; i < hostile.size(); i += 2) {
        v1::EvaluateExpressionResponse out;
        const absl::Time start = absl::Now();
        grpc::Status s = Evaluate(hostile[i], &out);
        const absl::Duration took = absl::Now() - start;
        EXPECT_TRUE(s.ok()) << i << ": " << s.error_message();
        // A budget error, or a value too large to return: never a crash, never silence.
        EXPECT_THAT(out.error(), AnyOf(HasSubstr("budget exceeded"), HasSubstr("renders to more")))
            << "expression " << i << " gave " << out.value_text().substr(0, 100);
        EXPECT_LT(took, absl::Seconds(20)) << "expression " << i;
      }
    });
  }
  for (std::thread& t : attackers) t.join();
  done.store(true);
  benign.join();
  EXPECT_GT(benign_ok.load(), 0);
  EXPECT_EQ(benign_failed.load(), 0);
  // Two evaluations at a time, each within its 16 MiB budget: the process stays far below the
  // gigabytes the expressions would take unbounded.
  const int64_t peak = PeakRssKib(server_->pid());
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 512 * 1024) << "peak RSS " << peak << " KiB";
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
}

TEST_F(HostileInputTest, SigtermEndsTheServerWithinTheGracePeriodWhileEvaluationsRun) {
  // Expensive but within the budgets: runs until the deadline of the call or the shutdown.
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t) {
    callers.emplace_back([&] {
      v1::EvaluateExpressionResponse out;
      Evaluate(absl::StrCat(Doubling(11), " == ", Doubling(11)), &out, absl::Seconds(60));
    });
  }
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time start = absl::Now();
  const int code = server_->Stop(SIGTERM, absl::Seconds(30));
  const absl::Duration took = absl::Now() - start;
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(code, 0) << server_->Log();
  EXPECT_LT(took, absl::Seconds(12)) << server_->Log();
}

TEST_F(HostileInputTest, ACallsDeadlineStopsItsEvaluation) {
  // Within every budget but slow: stopped by the 300 ms deadline the client set.
  v1::EvaluateExpressionResponse out;
  const absl::Time start = absl::Now();
  grpc::Status s =
      Evaluate("[" + std::string("1,") + "2].all(a, " + Doubling(11) + " == " + Doubling(11) + ")",
               &out, absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  EXPECT_THAT(s.error_code(), AnyOf(grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::OK));
  EXPECT_LT(took, absl::Seconds(5));
  // The worker is free again at once.
  v1::EvaluateExpressionResponse benign;
  EXPECT_THAT(Evaluate("1 + 1 == 2", &benign, absl::Seconds(5)), GrpcOk());
  EXPECT_EQ(benign.value_text(), "true");
}

TEST_F(HostileInputTest, ValidationRefusesARuleThatCouldNeverFinishNamingWhereItIs) {
  v1::ValidateRulePackRequest r;
  v1::RulePackFile* pack = r.add_files();
  pack->set_path("pack.yaml");
  pack->set_content(
      ReadFileOrEmpty(SourceDir() + "/tests/engine/lifecycle/testdata/mini/pack.yaml"));
  v1::RulePackFile* rules = r.add_files();
  rules->set_path("rules/slow.yaml");
  rules->set_content(
      "rules:\n"
      "  - id: a.slow\n"
      "    gate: A\n"
      "    severity: should\n"
      "    expr: >-\n"
      "      outputs.vision.fields.statement.split('').all(a, outputs.vision.fields.statement\n"
      "      .split('').all(b, outputs.vision.fields.statement.split('').all(c,\n"
      "      outputs.vision.fields.statement.split('').all(d, a + b + c + d != ''))))\n"
      "    message: {et: 'Aeglane', en: 'Slow'}\n");
  v1::ValidateRulePackResponse out;
  ASSERT_THAT(client_->Rules(&RS::ValidateRulePack, "reader", r, &out), GrpcOk());
  EXPECT_FALSE(out.valid());
  bool found = false;
  for (const v1::RulePackDiagnostic& p : out.diagnostics()) {
    if (absl::StrContains(p.message(), "static cost budget exceeded")) {
      found = true;
      EXPECT_EQ(p.file(), "rules/slow.yaml");
      EXPECT_GE(p.line(), 6);
      EXPECT_GT(p.column(), 0);
    }
  }
  EXPECT_TRUE(found) << out.DebugString();
}

// A request whose string field holds invalid UTF-8 is refused as INVALID_ARGUMENT naming the
// field, for every method, not gRPC's bare UNIMPLEMENTED.
TEST_F(HostileInputTest, RefusesInvalidUtf8NamingTheField) {
  auto call = [&](absl::string_view method, const std::string& bytes) {
    std::string ignored;
    return client_->Raw(method, "ska_editor", bytes, &ignored);
  };
  // A placeholder of the same length is replaced by invalid bytes after serialization.
  v1::SubmitOutputRequest submit;
  submit.set_service_id("hostile");
  submit.set_etag("e");
  submit.set_output_type("vision");
  *submit.mutable_document() = TestDocument("doc");
  submit.mutable_document()->set_id("PLACEHOLDER");
  std::string bytes = submit.SerializeAsString();
  bytes.replace(bytes.find("PLACEHOLDER"), 11, "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5");
  EXPECT_THAT(call("/varav.v1.LifecycleService/SubmitOutput", bytes),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "document.id: not valid UTF-8"));

  (*submit.mutable_fields()->mutable_fields())["title"].set_string_value("PLACEHOLDER");
  submit.mutable_document()->set_id("doc");
  bytes = submit.SerializeAsString();
  bytes.replace(bytes.find("PLACEHOLDER"), 11, "\xc3\x28\xc3\x28\xc3\x28\xc3\x28\xc3\x28\xc3");
  EXPECT_THAT(call("/varav.v1.LifecycleService/SubmitOutput", bytes),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                           "fields.fields[\"title\"].string_value: not valid UTF-8"));

  v1::RecordAssessmentRequest assess;
  assess.set_service_id("hostile");
  assess.add_answers()->set_comment("fine");
  assess.add_answers()->set_comment("PLACEHOLDER");
  bytes = assess.SerializeAsString();
  bytes.replace(bytes.find("PLACEHOLDER"), 11, std::string(11, '\x80'));
  EXPECT_THAT(call("/varav.v1.LifecycleService/RecordAssessment", bytes),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "answers[1].comment"));

  v1::GetServiceRequest get;
  get.set_service_id("PLACEHOLDER");
  bytes = get.SerializeAsString();
  bytes.replace(bytes.find("PLACEHOLDER"), 11, std::string(11, '\xff'));
  EXPECT_THAT(call("/varav.v1.LifecycleService/GetService", bytes),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "service_id: not valid UTF-8"));

  // Bytes that are no protobuf at all.
  EXPECT_THAT(call("/varav.v1.RulesService/ListRulePacks", std::string("\x0a\xff\xff\xff", 4)),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                           "not a serialized varav.v1.ListRulePacksRequest"));
  // Nothing was written: the service is as registered.
  v1::GetServiceRequest again;
  again.set_service_id("hostile");
  v1::GetServiceResponse service;
  ASSERT_THAT(client_->Lifecycle(&LS::GetService, "reader", again, &service), GrpcOk());
  EXPECT_EQ(service.service().last_event_sequence(), 2u);
}

}  // namespace
}  // namespace varav::testing
