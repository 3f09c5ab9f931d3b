// Benchmark of WatchEvents delivery: the delay from a command's commit to its event's arrival at
// a watcher, with 1 and with 1,000 concurrent watchers.
//
// Setup: a store with the WAL synced (as in production), the EventHub and an in-process gRPC
// server on loopback serving the real WatchEvents reactor (raw, as varavd serves it); the
// watchers are gRPC clients in the same process, spread over several channels. One writer commits
// one event per command at `--rate` commands per second (each through Store::Commit, like a
// SubmitOutput).
//
// The watchers share the two cores with the server, so their own cost is part of every figure.
// `--client` picks how they are written, from the most convenient to the cheapest:
//   callback   a grpc::ClientReadReactor per stream, parsing each WatchEventsResponse;
//   cq         the completion-queue API drained by --cq_threads threads, parsing each message;
//   raw        a generic (byte buffer) call on completion queues that decodes only the event's
//              global_sequence, as a consumer forwarding the bytes would.
// All three receive every message whole; the server's work is the same.
// For every (event, watcher) pair the benchmark records:
//   ack -> arrival     from Commit() returning (the command is acknowledged) to the watcher
//                      receiving the event; can be slightly negative (the event becomes durable,
//                      and visible, just before Commit returns), reported as 0 then;
//   start -> arrival   from the command starting its commit (includes the WAL fsync).
// Clients and server share the machine's cores, so the numbers include the clients' own work.
// The rate must stay below what the machine can fan out (rate x watchers messages per second);
// beyond it delays grow with the backlog and measure throughput, not delay.
//
//   watch_bench                              # 1 and 1000 watchers, 200 commands at 20/s each
//   watch_bench --client=raw --channels=1    # the cheapest watchers
//   watch_bench --watchers=1,100,1000 --events=500 --rate=100 --dir=/var/tmp
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bench/machine.h"
#include "bench/wire_scan.h"
#include "engine/store/store.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "services/events/event_hub.h"
#include "services/governance/principal.h"
#include "services/server/watch_reactor.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"

ABSL_FLAG(std::string, watchers, "1,1000", "comma-separated watcher counts to measure");
ABSL_FLAG(int, events, 200, "commands (one event each) per measurement");
ABSL_FLAG(double, rate, 20, "commands per second");
ABSL_FLAG(int, channels, 8, "client channels the watchers are spread over");
ABSL_FLAG(std::string, client, "callback",
          "watcher client API: callback (a reactor per stream) or cq (completion queues drained "
          "by --cq_threads threads)");
ABSL_FLAG(int, cq_threads, 2, "threads draining the completion queues with --client=cq");
ABSL_FLAG(bool, sync, true, "sync the WAL on every commit (production setting)");
ABSL_FLAG(int, notify_threads, 0, "EventHub notifier threads (0: one per core, at most 4)");
ABSL_FLAG(
    bool, mutex_deadlock_detection, false,
    "keep Abseil's mutex deadlock detection on (Debian's Abseil enables it; it costs a global "
    "lock per mutex operation)");
ABSL_FLAG(std::string, dir, "", "directory for the store (default: a temp directory)");

namespace varav::events {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Service final : public v1::LifecycleService::WithRawCallbackMethod_WatchEvents<
                          v1::LifecycleService::CallbackService> {
 public:
  explicit Service(EventHub* hub) : hub_(hub) {}
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override {
    static const governance::Principal kReader{
        .id = "bench", .roles = {governance::Role{.kind = governance::RoleKind::kReader}}};
    return server::StartWatch(*hub_, context, request, kReader);
  }

 private:
  EventHub* hub_;
};

// One watcher, whichever client API it uses: records (global sequence, arrival time) of every
// event and counts itself complete once it has `expected` of them.
class Watcher {
 public:
  Watcher(size_t expected, std::atomic<size_t>* complete)
      : expected_(expected), complete_(complete) {
    arrivals_.reserve(expected);
  }
  virtual ~Watcher() = default;
  virtual void Cancel() = 0;
  void AwaitDone() { done_.WaitForNotification(); }
  const std::vector<std::pair<uint64_t, int64_t>>& arrivals() const { return arrivals_; }

  // A completion-queue tag: the watcher's address with a step number in its low bits.
  static std::pair<Watcher*, int> Untag(void* tag) {
    const auto bits = reinterpret_cast<uintptr_t>(tag);
    return {reinterpret_cast<Watcher*>(bits & ~uintptr_t{7}), static_cast<int>(bits & 7)};
  }
  // Takes the completion of step `what` (completion-queue watchers only).
  virtual void Step(int what, bool ok) {}

 protected:
  void Arrived(uint64_t sequence) {
    arrivals_.emplace_back(sequence, NowNs());
    if (arrivals_.size() == expected_) complete_->fetch_add(1);
  }
  void Done() { done_.Notify(); }
  void* Tag(int what) { return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(this) | what); }

 private:
  const size_t expected_;
  std::atomic<size_t>* complete_;
  std::vector<std::pair<uint64_t, int64_t>> arrivals_;
  absl::Notification done_;
};

// A grpc::ClientReadReactor per stream, parsing each message.
class CallbackWatcher final : public Watcher,
                              public grpc::ClientReadReactor<v1::WatchEventsResponse> {
 public:
  CallbackWatcher(v1::LifecycleService::Stub* stub, uint64_t after, size_t expected,
                  std::atomic<size_t>* complete)
      : Watcher(expected, complete) {
    request_.set_after_sequence(after);
    stub->async()->WatchEvents(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (response_.has_event()) Arrived(response_.event().global_sequence());
    StartRead(&response_);
  }
  void OnDone(const grpc::Status&) override { Done(); }
  void Cancel() override { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  v1::WatchEventsRequest request_;
  v1::WatchEventsResponse response_;
};

// The same on the completion-queue API, parsing each message: `cq_threads` threads drain the
// queues, each handling whatever completions are ready without a thread hop per message.
class CqWatcher final : public Watcher {
 public:
  CqWatcher(v1::LifecycleService::Stub* stub, grpc::CompletionQueue* cq, uint64_t after,
            size_t expected, std::atomic<size_t>* complete)
      : Watcher(expected, complete) {
    request_.set_after_sequence(after);
    reader_ = stub->PrepareAsyncWatchEvents(&context_, request_, cq);
    reader_->StartCall(Tag(kStarted));
  }
  void Cancel() override { context_.TryCancel(); }
  void Step(int what, bool ok) override {
    if (what == kFinished) {
      Done();
      return;
    }
    if (what == kRead && ok && response_.has_event()) Arrived(response_.event().global_sequence());
    if (ok) {
      reader_->Read(&response_, Tag(kRead));
    } else {
      reader_->Finish(&status_, Tag(kFinished));
    }
  }

 private:
  enum : int { kStarted = 0, kRead = 1, kFinished = 2 };

  grpc::ClientContext context_;
  v1::WatchEventsRequest request_;
  v1::WatchEventsResponse response_;
  std::unique_ptr<grpc::ClientAsyncReader<v1::WatchEventsResponse>> reader_;
  grpc::Status status_;
};

// The lightest watcher: a generic (byte buffer) call on a completion queue that decodes only the
// event's global_sequence from the wire, as a consumer forwarding events would. Every message is
// still delivered whole; only the client's own decoding work (which shares the cores with the
// server here) is smaller.
class RawWatcher final : public Watcher {
 public:
  RawWatcher(grpc::GenericStub* stub, grpc::CompletionQueue* cq, uint64_t after, size_t expected,
             std::atomic<size_t>* complete)
      : Watcher(expected, complete) {
    v1::WatchEventsRequest request;
    request.set_after_sequence(after);
    grpc::Slice slice(request.SerializeAsString());
    request_ = grpc::ByteBuffer(&slice, 1);
    call_ = stub->PrepareCall(&context_, "/varav.v1.LifecycleService/WatchEvents", cq);
    call_->StartCall(Tag(kStarted));
  }
  void Cancel() override { context_.TryCancel(); }
  void Step(int what, bool ok) override {
    switch (what) {
      case kStarted:
        if (!ok) {
          reading_ = false;
          break;
        }
        writing_ = true;
        call_->WriteLast(request_, grpc::WriteOptions(), Tag(kWritten));
        call_->Read(&response_, Tag(kRead));
        return;
      case kWritten:
        writing_ = false;
        break;
      case kRead:
        if (ok) {
          // WatchEventsResponse.event (1) .global_sequence (8); absent in a heartbeat.
          const uint64_t sequence =
              bench::FindVarint(bench::Flatten(response_, slices_, scratch_), {1, 8}).value_or(0);
          if (sequence != 0) Arrived(sequence);
          call_->Read(&response_, Tag(kRead));
          return;
        }
        reading_ = false;
        break;
      case kFinished:
        Done();
        return;
    }
    if (!reading_ && !writing_ && !finishing_) {
      finishing_ = true;
      call_->Finish(&status_, Tag(kFinished));
    }
  }

 private:
  enum : int { kStarted = 0, kWritten = 1, kRead = 2, kFinished = 3 };

  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::vector<grpc::Slice> slices_;
  std::string scratch_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::Status status_;
  bool reading_ = true;
  bool writing_ = false;
  bool finishing_ = false;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t index = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + index, v.end());
  return v[index];
}

struct Row {
  int watchers;
  size_t deliveries;
  size_t expected;
  double ack_p50, ack_p99, ack_max, start_p50, start_p99;
};

Row Measure(store::Store* store, EventHub* hub, const std::string& address, int watchers,
            int events, double rate, int channels, int round) {
  std::vector<std::unique_ptr<v1::LifecycleService::Stub>> stubs;
  std::vector<std::unique_ptr<grpc::GenericStub>> generics;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", round * 1000 + c);
    auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    stubs.push_back(v1::LifecycleService::NewStub(channel));
    generics.push_back(std::make_unique<grpc::GenericStub>(channel));
  }
  const uint64_t base = store->LastGlobalSequence();
  std::atomic<size_t> complete{0};
  std::vector<std::unique_ptr<Watcher>> list;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs;
  std::vector<std::thread> cq_threads;
  const std::string client = absl::GetFlag(FLAGS_client);
  if (client == "cq" || client == "raw") {
    for (int t = 0; t < absl::GetFlag(FLAGS_cq_threads); ++t) {
      cqs.push_back(std::make_unique<grpc::CompletionQueue>());
    }
  }
  for (int i = 0; i < watchers; ++i) {
    if (client == "cq") {
      list.push_back(std::make_unique<CqWatcher>(
          stubs[i % channels].get(), cqs[i % cqs.size()].get(), base, events, &complete));
    } else if (client == "raw") {
      list.push_back(std::make_unique<RawWatcher>(
          generics[i % channels].get(), cqs[i % cqs.size()].get(), base, events, &complete));
    } else {
      list.push_back(
          std::make_unique<CallbackWatcher>(stubs[i % channels].get(), base, events, &complete));
    }
  }
  for (auto& cq : cqs) {
    cq_threads.emplace_back([q = cq.get()] {
      void* tag;
      bool ok;
      while (q->Next(&tag, &ok)) {
        auto [watcher, what] = Watcher::Untag(tag);
        watcher->Step(what, ok);
      }
    });
  }
  while (hub->listener_count() < static_cast<size_t>(watchers)) {
    absl::SleepFor(absl::Milliseconds(5));
  }

  const std::string service = absl::StrCat("bench-", round);
  std::vector<int64_t> start_ns(events), ack_ns(events);
  v1::Service current;
  const absl::Duration period = absl::Seconds(1) / rate;
  absl::Time next = absl::Now();
  for (int i = 0; i < events; ++i) {
    absl::SleepFor(next - absl::Now());
    next += period;
    store::Mutation m;
    m.service_id = service;
    v1::Event event;
    event.set_principal("bench");
    if (i == 0) {
      current.set_id(service);
      current.set_name("Benchmark service");
      current.set_agency("bench");
      current.set_stage("envision");
      current.set_cycle(1);
      current.set_status(v1::SERVICE_STATUS_ACTIVE);
      m.service = current;
      event.mutable_service_registered()->set_agency("bench");
    } else {
      m.expected_etag = current.etag();
      m.service = current;
      event.mutable_stage_advanced()->set_agency("bench");
      event.mutable_stage_advanced()->set_to_stage(absl::StrCat("s", i));
    }
    m.events.push_back(std::move(event));
    start_ns[i] = NowNs();
    absl::StatusOr<store::CommitResult> result = store->Commit(m);
    ack_ns[i] = NowNs();
    if (!result.ok()) {
      std::fprintf(stderr, "commit failed: %s\n", result.status().ToString().c_str());
      std::exit(1);
    }
    current = result->service;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (complete.load() < static_cast<size_t>(watchers) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (auto& w : list) w->Cancel();
  for (auto& w : list) w->AwaitDone();
  for (auto& cq : cqs) cq->Shutdown();
  for (auto& t : cq_threads) t.join();

  Row row{.watchers = watchers, .expected = static_cast<size_t>(watchers) * events};
  std::vector<double> from_ack, from_start;
  for (const auto& w : list) {
    for (const auto& [sequence, at] : w->arrivals()) {
      const size_t i = sequence - base - 1;
      from_ack.push_back(std::max<int64_t>(0, at - ack_ns[i]) / 1e6);
      from_start.push_back((at - start_ns[i]) / 1e6);
    }
  }
  row.deliveries = from_ack.size();
  row.ack_p50 = Percentile(from_ack, 0.50);
  row.ack_p99 = Percentile(from_ack, 0.99);
  row.ack_max = from_ack.empty() ? 0 : *std::max_element(from_ack.begin(), from_ack.end());
  row.start_p50 = Percentile(from_start, 0.50);
  row.start_p99 = Percentile(from_start, 0.99);
  return row;
}

int Main() {
  const std::string client = absl::GetFlag(FLAGS_client);
  if (client != "callback" && client != "cq" && client != "raw") {
    std::fprintf(stderr, "--client must be callback, cq or raw, not '%s'\n", client.c_str());
    return 2;
  }
  if ((client == "cq" || client == "raw") && absl::GetFlag(FLAGS_cq_threads) < 1) {
    std::fprintf(stderr, "--cq_threads must be at least 1\n");
    return 2;
  }
  std::string dir = absl::GetFlag(FLAGS_dir);
  const bool temp = dir.empty();
  if (temp) {
    dir =
        (std::filesystem::temp_directory_path() / absl::StrCat("watch_bench_", getpid())).string();
  }
  std::filesystem::remove_all(dir);
  auto opened = store::Store::Open({.path = dir,
                                    .index_terms = governance::PortfolioIndexTerms,
                                    .sync = absl::GetFlag(FLAGS_sync)});
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<store::Store> store = std::move(opened).value();
  auto hub = std::make_unique<EventHub>(
      store.get(), EventHubOptions{.notify_threads = absl::GetFlag(FLAGS_notify_threads)});
  Service service(hub.get());
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  const std::string address = absl::StrCat("127.0.0.1:", port);

  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf(
      "WatchEvents delivery delay, %d commands at %.0f/s, WAL sync %s, %s, load average %.2f\n",
      absl::GetFlag(FLAGS_events), absl::GetFlag(FLAGS_rate),
      absl::GetFlag(FLAGS_sync) ? "on" : "off", bench::MachineSummary().c_str(), load[0]);
  std::printf(
      "| watchers | deliveries | ack->arrival p50 | p99 | max | start->arrival p50 | p99 | CPU "
      "steal |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  int round = 0;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_watchers), ',')) {
    int watchers = 0;
    if (!absl::SimpleAtoi(part, &watchers) || watchers <= 0) continue;
    const bench::StealMeter steal;
    const Row r = Measure(store.get(), hub.get(), address, watchers, absl::GetFlag(FLAGS_events),
                          absl::GetFlag(FLAGS_rate), absl::GetFlag(FLAGS_channels), round++);
    std::printf("| %d | %zu/%zu | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %s |\n",
                r.watchers, r.deliveries, r.expected, r.ack_p50, r.ack_p99, r.ack_max, r.start_p50,
                r.start_p99, steal.Text().c_str());
    std::fflush(stdout);
  }
  hub->Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  hub->AwaitListenersGone(absl::Now() + absl::Seconds(5));
  hub.reset();
  store.reset();
  if (temp) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace varav::events

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_mutex_deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  return varav::events::Main();
}
