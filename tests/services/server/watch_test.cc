// WatchEvents through a real gRPC server (in process, loopback) over a real store: resumption,
// ordering, filters, replay-then-live, slow consumers, heartbeats, cancellation, deadlines,
// shutdown, authorisation and a thousand concurrent streams.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/model/pack.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/generic/generic_stub.h"
#include "services/governance/governance.h"
#include "tests/services/events/event_test_util.h"
#include "tests/services/server/watch_test_server.h"
#include "tests/status_matchers.h"

namespace varav::server {
namespace {

using events::EventHub;
using events::EventHubOptions;
using events::testing::EventWriter;
using events::testing::TempDir;
using ::testing::ElementsAreArray;
using ::testing::Le;
using testing::Reader;
using testing::TestServer;
using ::varav::testing::IsOk;

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// A blocking client stream.
struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::WatchEventsResponse>> reader;

  // The next message; false at the end of the stream.
  bool Next(v1::WatchEventsResponse& response) { return reader->Read(&response); }
  // Reads until `n` events arrived (heartbeats skipped); appends them to `out`.
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

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void TearDown() override { Stop(); }

  void Start(EventHubOptions options, governance::Principal principal = Reader()) {
    dir_ = std::make_unique<TempDir>("watch");
    auto opened = store::Store::Open({.path = dir_->path("db"), .sync = false});
    ASSERT_THAT(opened, IsOk());
    store_ = std::move(opened).value();
    writer_ = std::make_unique<EventWriter>(store_.get());
    if (options.poll_interval == EventHubOptions().poll_interval) {
      options.poll_interval = absl::Milliseconds(50);
    }
    hub_ = std::make_unique<EventHub>(store_.get(), options);
    server_ = std::make_unique<TestServer>(hub_.get(), std::move(principal));
    stub_ = v1::LifecycleService::NewStub(server_->NewChannel());
  }

  void Stop() {
    if (hub_ != nullptr) hub_->Shutdown();
    if (server_ != nullptr) server_->Shutdown();
    if (hub_ != nullptr) {
      EXPECT_TRUE(hub_->AwaitListenersGone(absl::Now() + absl::Seconds(5)));
    }
    stub_.reset();
    server_.reset();
    hub_.reset();
    writer_.reset();
    store_.reset();
    dir_.reset();
  }

  std::unique_ptr<Stream> Watch(uint64_t after, absl::string_view service = "",
                                absl::string_view agency = "", std::vector<std::string> types = {},
                                absl::Duration timeout = absl::Seconds(60)) {
    auto stream = std::make_unique<Stream>();
    stream->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::WatchEventsRequest request;
    request.set_after_sequence(after);
    request.set_service_id(std::string(service));
    request.set_agency(std::string(agency));
    for (auto& t : types) request.add_types(t);
    stream->reader = stub_->WatchEvents(&stream->context, request);
    return stream;
  }

  bool AwaitListeners(size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (hub_->listener_count() != n) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }

  // Every durable event, from the store (the ground truth).
  std::vector<v1::Event> AllEvents() {
    std::vector<v1::Event> all;
    while (true) {
      auto batch = store_->ReadEvents(all.size(), 1000);
      EXPECT_THAT(batch, IsOk());
      if (!batch.ok() || batch->empty()) return all;
      for (auto& e : *batch) all.push_back(std::move(e));
    }
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<EventWriter> writer_;
  std::unique_ptr<EventHub> hub_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<v1::LifecycleService::Stub> stub_;
};

std::vector<uint64_t> Sequences(const std::vector<v1::Event>& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) out.push_back(e.global_sequence());
  return out;
}

TEST_F(WatchTest, WatcherThatDisconnectsAndResumesSeesEveryEventExactlyOnce) {
  for (int s = 0; s < 3; ++s) writer_->Register(absl::StrCat("svc-", s), "ria");
  for (int i = 0; i < 150; ++i) writer_->Advance(absl::StrCat("svc-", i % 3));
  constexpr uint64_t kTotal = 3 + 150 + 300;

  // Writes continue while the watcher comes and goes.
  std::thread live([&] {
    for (int i = 0; i < 300; ++i) writer_->Advance(absl::StrCat("svc-", i % 3));
  });
  std::vector<v1::Event> seen;
  uint64_t resume_after = 0;
  int connections = 0;
  while (resume_after < kTotal) {
    auto stream = Watch(resume_after);
    ++connections;
    // Disconnect after an odd number of events each time (fewer at the end).
    const size_t take = std::min<uint64_t>(37, kTotal - resume_after);
    ASSERT_TRUE(stream->ReadEvents(take, seen)) << "connection " << connections;
    stream->context.TryCancel();
    v1::WatchEventsResponse rest;
    while (stream->Next(rest)) {
    }
    EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
    resume_after = seen.back().global_sequence();
  }
  live.join();

  EXPECT_GT(connections, 10);
  EXPECT_THAT(Sequences(seen), ElementsAreArray(Range(1, kTotal)));
  // Each event as stored, not a look-alike.
  const std::vector<v1::Event> stored = AllEvents();
  ASSERT_EQ(stored.size(), seen.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].hash(), stored[i].hash());
    EXPECT_EQ(seen[i].id(), stored[i].id());
  }
  EXPECT_TRUE(AwaitListeners(0));
}

// With no watcher registered the hub moves past new events without reading them; a watcher that
// comes later reads them from the store and then follows live.
TEST_F(WatchTest, WatcherArrivingAfterAnUnwatchedBurstReadsItAndThenFollowsLive) {
  writer_->Register("svc-0", "ria");
  for (int i = 0; i < 200; ++i) writer_->Advance("svc-0");
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (hub_->loaded_sequence() < 201 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(hub_->loaded_sequence(), 201u);

  auto stream = Watch(150);
  std::vector<v1::Event> seen;
  ASSERT_TRUE(stream->ReadEvents(51, seen));
  ASSERT_TRUE(AwaitListeners(1));
  for (int i = 0; i < 20; ++i) writer_->Advance("svc-0");
  ASSERT_TRUE(stream->ReadEvents(20, seen));
  EXPECT_THAT(Sequences(seen), ElementsAreArray(Range(151, 221)));
  stream->context.TryCancel();
  v1::WatchEventsResponse rest;
  while (stream->Next(rest)) {
  }
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// The stream sends each event's bytes as the hub serialized them, once for every watcher, inside
// its own WatchEventsResponse framing: what a typed client parses must be the stored event, with
// the scanned sequence next to it, and a request that does not parse is refused by name.
TEST_F(WatchTest, SendsEveryEventAsStoredAndRefusesAnUnparsableRequest) {
  writer_->Register("svc-a", "ria");
  writer_->Register("svc-b", "ska");
  for (int i = 0; i < 5; ++i) writer_->Advance(i % 2 == 0 ? "svc-a" : "svc-b");
  const std::vector<v1::Event> stored = AllEvents();
  ASSERT_EQ(stored.size(), 7u);

  for (int round = 0; round < 2; ++round) {  // the second round reads the hub's cached bytes
    auto stream = Watch(0);
    std::vector<v1::Event> got;
    ASSERT_TRUE(stream->ReadEvents(stored.size(), got));
    for (size_t i = 0; i < stored.size(); ++i) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got[i], stored[i]))
          << "event " << i << " in round " << round << ":\n"
          << got[i].DebugString() << "\nstored:\n"
          << stored[i].DebugString();
    }
    stream->context.TryCancel();
    v1::WatchEventsResponse rest;
    while (stream->Next(rest)) {
    }
  }
  // A live event, sent alone, carries its own sequence as the scanned one.
  auto live = Watch(stored.size());
  const uint64_t next = writer_->Advance("svc-a");
  v1::WatchEventsResponse response;
  do {
    ASSERT_TRUE(live->Next(response));
  } while (!response.has_event());
  EXPECT_EQ(response.event().global_sequence(), next);
  EXPECT_EQ(response.scanned_sequence(), next);
  live->context.TryCancel();
  while (live->Next(response)) {
  }

  // Not a WatchEventsRequest: the call ends at once with INVALID_ARGUMENT naming the request.
  grpc::GenericStub generic(server_->NewChannel());
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto call = generic.PrepareCall(&context, "/varav.v1.LifecycleService/WatchEvents", &cq);
  auto await = [&cq] {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    return ok;
  };
  void* tag = reinterpret_cast<void*>(1);
  call->StartCall(tag);
  ASSERT_TRUE(await());
  grpc::Slice junk(std::string("\xff\xff\xff", 3));
  call->WriteLast(grpc::ByteBuffer(&junk, 1), grpc::WriteOptions(), tag);
  await();  // the server may already have ended the call
  grpc::ByteBuffer unexpected;
  call->Read(&unexpected, tag);
  EXPECT_FALSE(await()) << "no message before the refusal";
  grpc::Status status;
  call->Finish(&status, tag);
  ASSERT_TRUE(await());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("request:"));
  cq.Shutdown();
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(WatchTest, EventsOfOneServiceArriveInServiceSequenceOrder) {
  constexpr int kServices = 4;
  constexpr int kPerService = 100;
  auto stream = Watch(0);
  std::vector<std::thread> writers;
  for (int s = 0; s < kServices; ++s) {
    writers.emplace_back([&, s] {
      const std::string id = absl::StrCat("par-", s);
      writer_->Register(id, "ria");
      for (int i = 0; i < kPerService; ++i) writer_->Advance(id);
    });
  }
  std::vector<v1::Event> seen;
  ASSERT_TRUE(stream->ReadEvents(kServices * (kPerService + 1), seen));
  for (auto& w : writers) w.join();

  std::map<std::string, std::vector<uint64_t>> per_service;
  uint64_t previous = 0;
  for (const auto& e : seen) {
    EXPECT_GT(e.global_sequence(), previous);
    previous = e.global_sequence();
    per_service[e.subject()].push_back(e.service_sequence());
  }
  ASSERT_EQ(per_service.size(), static_cast<size_t>(kServices));
  for (const auto& [service, sequences] : per_service) {
    EXPECT_THAT(sequences, ElementsAreArray(Range(1, kPerService + 1))) << service;
  }
}

TEST_F(WatchTest, FiltersByServiceAgencyAndType) {
  writer_->Register("a1", "agency-x");
  writer_->Register("a2", "agency-y");
  writer_->Register("b1", "agency-x");
  for (int i = 0; i < 30; ++i) writer_->Advance(i % 3 == 0 ? "a1" : i % 3 == 1 ? "a2" : "b1");
  std::vector<v1::Event> all = AllEvents();
  ASSERT_EQ(all.size(), 33u);

  const std::string registered = "ee.varav.service.registered";
  const std::string advanced = "ee.varav.stage.advanced";
  struct Case {
    std::string service, agency;
    std::vector<std::string> types;
    std::function<bool(const v1::Event&)> keep;
  };
  // Services whose name starts with "a2" are agency-y; every other one is agency-x.
  std::vector<Case> cases = {
      {"a1", "", {}, [](const v1::Event& e) { return e.subject() == "a1"; }},
      {"", "agency-x", {}, [](const v1::Event& e) { return e.subject() != "a2"; }},
      {"", "", {advanced}, [&](const v1::Event& e) { return e.type() == advanced; }},
      {"",
       "agency-x",
       {registered},
       [&](const v1::Event& e) { return e.type() == registered && e.subject() != "a2"; }},
      {"a2", "agency-x", {}, [](const v1::Event&) { return false; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("service=", c.service, " agency=", c.agency));
    std::vector<uint64_t> want;
    for (const auto& e : all) {
      if (c.keep(e)) want.push_back(e.global_sequence());
    }
    auto stream = Watch(0, c.service, c.agency, c.types);
    std::vector<v1::Event> seen;
    ASSERT_TRUE(stream->ReadEvents(want.size(), seen));
    EXPECT_THAT(Sequences(seen), ElementsAreArray(want));
    for (const auto& e : seen) {
      if (!c.service.empty()) {
        EXPECT_EQ(e.subject(), c.service);
      }
      if (!c.types.empty()) {
        EXPECT_EQ(e.type(), c.types[0]);
      }
    }
    // Nothing else was left to match: a new matching event is the very next one delivered.
    const bool new_one_matches = c.service.empty() && (c.types.empty() || c.types[0] == registered);
    const uint64_t next = writer_->Register(absl::StrCat("new-", &c - &cases[0]), "agency-x");
    all.push_back(AllEvents().back());
    if (new_one_matches) {
      std::vector<v1::Event> more;
      ASSERT_TRUE(stream->ReadEvents(1, more));
      EXPECT_EQ(more[0].global_sequence(), next);
    }
    stream->context.TryCancel();
  }
}

TEST_F(WatchTest, ReplayThenLiveMissesNothingCommittedDuringTheReplay) {
  writer_->Register("replay", "ria");
  for (int i = 0; i < 2999; ++i) writer_->Advance("replay");
  ASSERT_EQ(store_->LastGlobalSequence(), 3000u);

  auto stream = Watch(0);
  // Commits race the replay: some land before the watcher reaches the live tail, some after.
  std::thread live([&] {
    for (int i = 0; i < 1000; ++i) writer_->Advance("replay");
  });
  std::vector<v1::Event> seen;
  ASSERT_TRUE(stream->ReadEvents(4000, seen));
  live.join();
  EXPECT_THAT(Sequences(seen), ElementsAreArray(Range(1, 4000)));
  // And nothing more comes: no duplicates after the end.
  const uint64_t next = writer_->Advance("replay");
  std::vector<v1::Event> more;
  ASSERT_TRUE(stream->ReadEvents(1, more));
  EXPECT_EQ(more[0].global_sequence(), next);
}

// Commit latency percentiles of `n` commits, in microseconds.
std::pair<double, double> CommitLatency(EventWriter& writer, absl::string_view service, int n,
                                        size_t padding) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    const absl::Time start = absl::Now();
    writer.Advance(service, padding);
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

TEST_F(WatchTest, SlowConsumerCostsBoundedMemoryAndDoesNotBlockWriters) {
  constexpr size_t kPadding = 8192;
  constexpr int kCommits = 1500;  // ~12 MB of events: far beyond HTTP/2 flow-control windows
  writer_->Register("slow", "ria");
  const auto [p50_alone, p99_alone] = CommitLatency(*writer_, "slow", kCommits, kPadding);

  // A client that reads one message and then stops reading.
  auto stalled = Watch(0);
  std::vector<v1::Event> first;
  ASSERT_TRUE(stalled->ReadEvents(1, first));
  const uint64_t before = store_->LastGlobalSequence();
  const auto [p50_stalled, p99_stalled] = CommitLatency(*writer_, "slow", kCommits, kPadding);
  const uint64_t last = store_->LastGlobalSequence();
  EXPECT_EQ(last, before + kCommits) << "every commit completed while the watcher was stalled";

  // Give the hub time to push whatever flow control admits; what it holds stays bounded.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_THAT(hub_->buffered_events(), Le(hub_->options().batch_size));
  std::printf("commit latency p50/p99 (us): no watcher %.0f/%.0f, stalled watcher %.0f/%.0f\n",
              p50_alone, p99_alone, p50_stalled, p99_stalled);

  // The stalled client catches up and gets everything, in order, once.
  std::vector<v1::Event> rest;
  ASSERT_TRUE(stalled->ReadEvents(last - 1, rest));
  EXPECT_THAT(Sequences(rest), ElementsAreArray(Range(2, last)));
}

// Large events: what a watcher reads at a time, and what the hub keeps, is bounded in bytes.
TEST_F(WatchTest, ReadsLargeEventsInBatchesBoundedInBytes) {
  Stop();
  Start({.tail_cache_bytes = 2 << 20, .batch_bytes = 1 << 20});
  writer_->Register("big", "ria");
  for (int i = 0; i < 8; ++i) writer_->Advance("big", 600'000);
  // From the store (nothing is watching, so the tail is empty): two events of 600 KB exceed the
  // 1 MiB batch, so each read returns one.
  auto batch = hub_->Read(1, 64);
  ASSERT_THAT(batch, IsOk());
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0]->event.global_sequence(), 2u);
  // A watcher still receives every event, in order.
  auto stream = Watch(0);
  std::vector<uint64_t> seen;
  while (seen.size() < 9) {
    v1::WatchEventsResponse r;
    if (!stream->reader->Read(&r)) break;
    if (r.has_event()) seen.push_back(r.event().global_sequence());
  }
  ASSERT_EQ(seen.size(), 9u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST(WatchHeartbeatTest, FilteredWatcherLearnsTheScannedSequenceFromHeartbeats) {
  TempDir dir("heartbeat");
  auto opened = store::Store::Open({.path = dir.path("db"), .sync = false});
  ASSERT_THAT(opened, IsOk());
  auto store = std::move(opened).value();
  EventWriter writer(store.get());
  writer.Register("quiet", "ria");
  writer.Register("busy", "ria");
  // A small scan budget forces heartbeats during the replay too.
  EventHub hub(store.get(), {.poll_interval = absl::Milliseconds(20),
                             .batch_size = 16,
                             .max_batches_per_turn = 2,
                             .heartbeat_interval = absl::Milliseconds(100)});
  testing::TestServer server(&hub, Reader());
  auto stub = v1::LifecycleService::NewStub(server.NewChannel());
  for (int i = 0; i < 200; ++i) writer.Advance("busy");

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::WatchEventsRequest request;
  request.set_service_id("quiet");
  auto reader = stub->WatchEvents(&context, request);
  v1::WatchEventsResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_TRUE(response.has_event());
  EXPECT_EQ(response.event().global_sequence(), 1u);
  uint64_t scanned = 0;
  int heartbeats = 0;
  while (scanned < 202 && reader->Read(&response)) {
    EXPECT_FALSE(response.has_event());
    EXPECT_GE(response.scanned_sequence(), scanned) << "the scanned sequence never goes back";
    scanned = response.scanned_sequence();
    ++heartbeats;
  }
  EXPECT_EQ(scanned, 202u);
  EXPECT_GE(heartbeats, 2);
  // A matching event still arrives promptly after heartbeats.
  const uint64_t next = writer.Advance("quiet");
  do {
    ASSERT_TRUE(reader->Read(&response));
  } while (!response.has_event());
  EXPECT_EQ(response.event().global_sequence(), next);
  EXPECT_EQ(response.scanned_sequence(), next);
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  reader->Finish();
  hub.Shutdown();
  server.Shutdown();
  EXPECT_TRUE(hub.AwaitListenersGone(absl::Now() + absl::Seconds(5)));
}

TEST_F(WatchTest, CancelledWatcherIsUnregistered) {
  auto stream = Watch(0);
  ASSERT_TRUE(AwaitListeners(1));
  stream->context.TryCancel();
  v1::WatchEventsResponse response;
  EXPECT_FALSE(stream->Next(response));
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(AwaitListeners(0));
}

TEST_F(WatchTest, DeadlineEndsTheWatch) {
  auto stream = Watch(0, "", "", {}, absl::Milliseconds(300));
  v1::WatchEventsResponse response;
  while (stream->Next(response)) {
  }
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(AwaitListeners(0));
}

TEST_F(WatchTest, ShutdownFinishesWatchersWithUnavailable) {
  writer_->Register("s", "ria");
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < 3; ++i) streams.push_back(Watch(0));
  for (auto& s : streams) {
    std::vector<v1::Event> one;
    ASSERT_TRUE(s->ReadEvents(1, one));
  }
  ASSERT_TRUE(AwaitListeners(3));
  hub_->Shutdown();
  for (auto& s : streams) {
    v1::WatchEventsResponse response;
    while (s->Next(response)) {
    }
    EXPECT_EQ(s->reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_TRUE(hub_->AwaitListenersGone(absl::Now() + absl::Seconds(5)));
  // A watch started after shutdown is refused the same way.
  auto late = Watch(0);
  v1::WatchEventsResponse response;
  EXPECT_FALSE(late->Next(response));
  EXPECT_EQ(late->reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(WatchTest, RefusesPrincipalWithoutRoles) {
  Stop();
  Start({}, governance::Principal{.id = "nobody"});
  auto stream = Watch(0);
  v1::WatchEventsResponse response;
  EXPECT_FALSE(stream->Next(response));
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(hub_->listener_count(), 0u);
}

TEST_F(WatchTest, GovernanceValidationRejectsUnknownEventTypes) {
  model::PackRegistry registry;
  governance::Governance governance(store_.get(), &registry);
  v1::WatchEventsRequest request;
  request.add_types("ee.varav.no.such");
  EXPECT_THAT(governance.ValidateWatchEvents(request, Reader()),
              ::varav::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         ::testing::HasSubstr("types[0]")));
  request.clear_types();
  request.add_types("ee.varav.gate.approved");
  EXPECT_THAT(governance.ValidateWatchEvents(request, Reader()), IsOk());
}

// A callback client that counts events and checks their order.
class CountingWatcher : public grpc::ClientReadReactor<v1::WatchEventsResponse> {
 public:
  CountingWatcher(v1::LifecycleService::Stub* stub, uint64_t want, std::atomic<int>* complete)
      : want_(want), complete_(complete) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
    stub->async()->WatchEvents(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (response_.has_event()) {
      if (response_.event().global_sequence() != last_ + 1) out_of_order_ = true;
      last_ = response_.event().global_sequence();
      if (++count_ == want_) complete_->fetch_add(1);
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }
  void Cancel() { context_.TryCancel(); }
  void AwaitDone() { done_.WaitForNotification(); }
  bool in_order() const { return !out_of_order_; }
  uint64_t count() const { return count_; }

 private:
  grpc::ClientContext context_;
  v1::WatchEventsRequest request_;
  v1::WatchEventsResponse response_;
  const uint64_t want_;
  std::atomic<int>* complete_;
  uint64_t last_ = 0;
  uint64_t count_ = 0;
  bool out_of_order_ = false;
  grpc::Status status_;
  absl::Notification done_;
};

TEST_F(WatchTest, AThousandConcurrentWatchersEachReceiveEveryEvent) {
  constexpr int kWatchers = 1000;
  constexpr int kEvents = 50;
  std::vector<std::unique_ptr<v1::LifecycleService::Stub>> stubs;
  for (int c = 0; c < 4; ++c) stubs.push_back(v1::LifecycleService::NewStub(server_->NewChannel()));
  std::atomic<int> complete{0};
  std::vector<std::unique_ptr<CountingWatcher>> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    watchers.push_back(
        std::make_unique<CountingWatcher>(stubs[i % stubs.size()].get(), kEvents, &complete));
  }
  ASSERT_TRUE(AwaitListeners(kWatchers));
  writer_->Register("many", "ria");
  for (int i = 1; i < kEvents; ++i) writer_->Advance("many");
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (complete.load() < kWatchers && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(complete.load(), kWatchers);
  for (auto& w : watchers) {
    EXPECT_TRUE(w->in_order());
    EXPECT_EQ(w->count(), static_cast<uint64_t>(kEvents));
    w->Cancel();
  }
  for (auto& w : watchers) w->AwaitDone();
  EXPECT_TRUE(AwaitListeners(0));
}

}  // namespace
}  // namespace varav::server
