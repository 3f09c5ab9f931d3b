// A portfolio of many services through the real varavd: what ListServices costs per call for single
// and combined filters, and how long varavd takes from start to SERVING after a write burst, after
// a crash (SIGKILL) and after a clean stop (SIGTERM).
//
//   portfolio_bench --varavd=build/services/server/varavd --services=100000
//
// The portfolio is registered through the API by 32 client threads: service i belongs to agency
// i % 10 and is registered at stage (i / 10) % 10, so one agency or one stage holds 10% of the
// services and an agency with a stage 1%. No service is in review, so "stage and status in
// review" matches nothing: the combination that once scanned thousands of candidates per call.
// Figures: per-call latency (p50, p99) over `--calls` first pages of 50, and the server's CPU per
// call (its /proc utime + stime). Restart: the time from spawning varavd on the data directory
// to its first SERVING health answer, with the write-ahead log's size beforehand.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/machine.h"
#include "engine/common/sha256.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"

ABSL_FLAG(std::string, varavd, "", "the varavd binary to start (required)");
ABSL_FLAG(std::string, rules_dir, VARAV_SOURCE_DIR "/rules", "rule packs for varavd");
ABSL_FLAG(std::string, data_parent, "",
          "where the temporary data directory goes (default $TMPDIR)");
ABSL_FLAG(int, services, 100000, "services in the portfolio");
ABSL_FLAG(int, burst, 20000, "registrations in each burst before a crash");
ABSL_FLAG(int, crashes, 3, "crash-and-restart rounds after the first");
ABSL_FLAG(int, calls, 300, "ListServices calls per filter");
ABSL_FLAG(int, threads, 32, "client threads registering services");
ABSL_FLAG(bool, keep_data, false, "keep the data directory (and varavd.log) for inspection");

extern char** environ;

namespace varav::bench {
namespace {

using v1::LifecycleService;

constexpr const char* kStages[] = {"envision", "plan",           "understand", "define",
                                   "solve",    "validate",       "develop",    "implement",
                                   "operate",  "scale_or_retire"};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// utime + stime of `pid` in seconds.
double ProcessCpuSeconds(pid_t pid) {
  std::vector<std::string> fields =
      absl::StrSplit(ReadAll(absl::StrCat("/proc/", pid, "/stat")), ' ', absl::SkipEmpty());
  if (fields.size() < 15) return 0;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(fields[13]) + std::stod(fields[14])) / ticks;
}

uint64_t WalBytes(const std::string& data_dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir, ec)) {
    if (entry.path().extension() == ".log") bytes += entry.file_size();
  }
  return bytes;
}

class Server {
 public:
  Server(std::string binary, std::string dir) : binary_(std::move(binary)), dir_(std::move(dir)) {}
  ~Server() { Stop(SIGKILL); }

  // Spawns varavd and returns the time until its first SERVING answer.
  absl::StatusOr<absl::Duration> StartAndTimeToServing() {
    const std::string port_file = dir_ + "/port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args = {binary_,
                                     "--listen=127.0.0.1:" + std::to_string(port_),
                                     "--port_file=" + port_file,
                                     "--data_dir=" + dir_ + "/data",
                                     "--rules_dir=" + absl::GetFlag(FLAGS_rules_dir),
                                     "--principals_file=" + dir_ + "/principals.yaml",
                                     "--log_calls=false"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = dir_ + "/varavd.log";
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const absl::Time start = absl::Now();
    const int rc = posix_spawn(&pid_, binary_.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return absl::InternalError("cannot start varavd");
    // varavd writes the port file once it listens (on a restart, on the port it had before).
    for (;;) {
      const std::string text(absl::StripAsciiWhitespace(ReadAll(port_file)));
      if (!text.empty()) {
        port_ = std::stoi(text);
        break;
      }
      if (absl::Now() - start > absl::Seconds(60)) return absl::DeadlineExceededError("no port");
      absl::SleepFor(absl::Milliseconds(1));
    }
    // Reconnect at once rather than after gRPC's default backoff (1 s and growing), so the time
    // measured is the server's, not the client's.
    grpc::ChannelArguments channel_args;
    channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
    channel_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5);
    channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                         grpc::InsecureChannelCredentials(), channel_args);
    auto health = grpc::health::v1::Health::NewStub(channel_);
    while (absl::Now() - start < absl::Seconds(120)) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
      if (health->Check(&context, request, &response).ok() &&
          response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        return absl::Now() - start;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return absl::InternalError(absl::StrCat("varavd exited:\n", ReadAll(log)));
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    return absl::DeadlineExceededError("not SERVING within 120 s");
  }

  void Stop(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }

  pid_t pid() const { return pid_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::string data_dir() const { return dir_ + "/data"; }

 private:
  std::string binary_;
  std::string dir_;
  int port_ = 0;  // kept across restarts, so clients reconnect to the same address
  pid_t pid_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

// Registers services [first, first + count) with `threads` clients.
absl::Status Register(Server& server, const std::string& token, int first, int count, int threads) {
  std::atomic<int> next{first};
  std::atomic<int> failures{0};
  std::string error;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      auto stub = LifecycleService::NewStub(server.channel());
      for (int i = next.fetch_add(1); i < first + count; i = next.fetch_add(1)) {
        grpc::ClientContext context;
        context.AddMetadata("authorization", "Bearer " + token);
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
        v1::RegisterServiceRequest request;
        request.set_service_id(absl::StrFormat("svc-%07d", i));
        request.set_name(absl::StrCat("Teenus ", i));
        request.set_agency(absl::StrCat("agency-", i % 10));
        request.set_owner("Mari Tamm");
        request.set_stage(kStages[(i / 10) % 10]);
        v1::RegisterServiceResponse response;
        if (!stub->RegisterService(&context, request, &response).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  if (failures.load() > 0) {
    return absl::InternalError(absl::StrCat(failures.load(), " registrations failed"));
  }
  return absl::OkStatus();
}

struct Query {
  std::string name;
  v1::ListServicesRequest request;
};

std::vector<Query> Queries() {
  std::vector<Query> q;
  auto add = [&](std::string name, auto fill) {
    Query& query = q.emplace_back();
    query.name = std::move(name);
    query.request.set_page_size(50);
    fill(query.request);
  };
  add("no filter", [](v1::ListServicesRequest&) {});
  add("stage (10%)", [](v1::ListServicesRequest& r) { r.set_stage("envision"); });
  add("agency (10%)", [](v1::ListServicesRequest& r) { r.set_agency("agency-3"); });
  add("agency + stage (1%)", [](v1::ListServicesRequest& r) {
    r.set_agency("agency-3");
    r.set_stage("plan");
  });
  add("stage + in review (0)", [](v1::ListServicesRequest& r) {
    r.set_stage("envision");
    r.set_status(v1::SERVICE_STATUS_IN_REVIEW);
  });
  add("agency + stage + not ready + active (1%)", [](v1::ListServicesRequest& r) {
    r.set_agency("agency-7");
    r.set_stage("solve");
    r.set_ready_for_review(false);
    r.set_status(v1::SERVICE_STATUS_ACTIVE);
  });
  add("awaiting a panel (0)",
      [](v1::ListServicesRequest& r) { r.set_awaiting_panel("business_panel"); });
  return q;
}

int Main() {
  const std::string binary = absl::GetFlag(FLAGS_varavd);
  if (binary.empty()) {
    std::fprintf(stderr, "--varavd is required\n");
    return 2;
  }
  std::string parent = absl::GetFlag(FLAGS_data_parent);
  if (parent.empty()) parent = std::filesystem::temp_directory_path().string();
  std::string templ = parent + "/varav-portfolio-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return 1;
  const std::string dir = templ;
  absl::BitGen gen;
  const std::string token =
      absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
  std::ofstream(dir + "/principals.yaml") << "principals:\n  - id: bench\n    roles: [admin]\n"
                                          << "    token_sha256: " << Sha256Hex(token) << "\n";
  std::printf("machine: %s\n", MachineSummary().c_str());
  const int n = absl::GetFlag(FLAGS_services);
  const int threads = absl::GetFlag(FLAGS_threads);

  Server server(binary, dir);
  auto first = server.StartAndTimeToServing();
  if (!first.ok()) {
    std::fprintf(stderr, "%s\n", first.status().ToString().c_str());
    return 1;
  }
  std::printf("empty store to SERVING: %.3f s\n", absl::ToDoubleSeconds(*first));
  StealMeter build_steal;
  const absl::Time build_start = absl::Now();
  if (absl::Status s = Register(server, token, 0, n, threads); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("registered %d services in %.1f s (%.0f/s), CPU steal %s\n", n,
              absl::ToDoubleSeconds(absl::Now() - build_start),
              n / absl::ToDoubleSeconds(absl::Now() - build_start), build_steal.Text().c_str());

  // ListServices, one filter combination at a time, first pages.
  std::printf("\nListServices at %d services, %d first pages of 50 per filter:\n", n,
              absl::GetFlag(FLAGS_calls));
  std::printf("%-44s %8s %10s %10s %12s\n", "filter", "matches", "p50 ms", "p99 ms",
              "server CPU/call");
  auto stub = LifecycleService::NewStub(server.channel());
  for (const Query& q : Queries()) {
    std::vector<double> ms;
    int matches = 0;
    StealMeter steal;
    const double cpu_before = ProcessCpuSeconds(server.pid());
    for (int i = 0; i < absl::GetFlag(FLAGS_calls); ++i) {
      grpc::ClientContext context;
      context.AddMetadata("authorization", "Bearer " + token);
      v1::ListServicesResponse response;
      const absl::Time start = absl::Now();
      const grpc::Status s = stub->ListServices(&context, q.request, &response);
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", q.name.c_str(), s.error_message().c_str());
        return 1;
      }
      matches = response.services_size();
    }
    const double cpu = ProcessCpuSeconds(server.pid()) - cpu_before;
    std::sort(ms.begin(), ms.end());
    std::printf("%-44s %8d %10.3f %10.3f %9.1f us   (steal %s)\n", q.name.c_str(), matches,
                ms[ms.size() / 2], ms[ms.size() * 99 / 100], cpu * 1e6 / ms.size(),
                steal.Text().c_str());
  }

  // Restarts.
  std::printf("\nRestart to SERVING (write-ahead log beforehand):\n");
  auto restart = [&](const char* what, int signal) -> bool {
    server.Stop(signal);
    const uint64_t wal = WalBytes(server.data_dir());
    auto took = server.StartAndTimeToServing();
    if (!took.ok()) {
      std::fprintf(stderr, "%s\n", took.status().ToString().c_str());
      return false;
    }
    std::printf("  %-40s %8.3f s   (WAL %.1f MiB)\n", what, absl::ToDoubleSeconds(*took),
                wal / 1048576.0);
    return true;
  };
  if (!restart("SIGKILL after the registrations", SIGKILL)) return 1;
  if (!restart("SIGTERM", SIGTERM)) return 1;
  int next = n;
  for (int round = 0; round < absl::GetFlag(FLAGS_crashes); ++round) {
    const int burst = absl::GetFlag(FLAGS_burst);
    if (absl::Status s = Register(server, token, next, burst, threads); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    next += burst;
    const std::string what = absl::StrCat("SIGKILL after a burst of ", burst);
    if (!restart(what.c_str(), SIGKILL)) return 1;
  }
  server.Stop(SIGTERM);
  if (absl::GetFlag(FLAGS_keep_data)) {
    std::printf("\ndata kept in %s\n", dir.c_str());
    return 0;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace
}  // namespace varav::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "portfolio_bench --varavd=PATH [--services=100000] [--calls=300] [--burst=20000]");
  absl::ParseCommandLine(argc, argv);
  return varav::bench::Main();
}
