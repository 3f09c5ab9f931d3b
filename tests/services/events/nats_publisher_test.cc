// The NATS JetStream publisher against a real nats-server on loopback: every event ends up in
// the stream exactly once although NATS and the publisher are restarted mid-stream.
#include "services/events/nats_publisher.h"

#include <set>
#include <thread>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/services/events/event_test_util.h"
#include "tests/services/events/nats_test_util.h"
#include "tests/status_matchers.h"

namespace varav::events {
namespace {

using testing::EventWriter;
using ::testing::HasSubstr;
using testing::NatsServer;
using testing::TempDir;
using ::varav::testing::IsOk;
using ::varav::testing::StatusIs;

NatsPublisherOptions FastOptions(std::string url) {
  return {.url = std::move(url),
          .duplicate_window = absl::Minutes(10),
          .batch_size = 16,
          .min_backoff = absl::Milliseconds(50),
          .max_backoff = absl::Milliseconds(400),
          .timeout = absl::Milliseconds(800),
          .poll_interval = absl::Milliseconds(50)};
}

// The publisher's persisted cursor (UINT64_MAX when it cannot be read).
uint64_t Cursor(store::Store& store) {
  absl::StatusOr<uint64_t> cursor = store.GetCursor("nats");
  return cursor.ok() ? *cursor : UINT64_MAX;
}

TEST(NatsPublisherOptionsTest, RejectsOptionsThatCannotWork) {
  TempDir dir("nats_options");
  auto store = store::Store::Open({.path = dir.path("db"), .sync = false});
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT(NatsPublisher::Start(store->get(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("url")));
  NatsPublisherOptions bad_stream = FastOptions("nats://127.0.0.1:1");
  bad_stream.stream = "has.dots";
  EXPECT_THAT(NatsPublisher::Start(store->get(), bad_stream),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stream")));
  NatsPublisherOptions bad_backoff = FastOptions("nats://127.0.0.1:1");
  bad_backoff.max_backoff = absl::Milliseconds(1);
  EXPECT_THAT(NatsPublisher::Start(store->get(), bad_backoff),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("backoff")));
}

TEST(NatsPublisherOptionsTest, RetriesWithoutLosingItsPlaceWhileNatsIsUnreachable) {
  TempDir dir("nats_down");
  auto opened = store::Store::Open({.path = dir.path("db"), .sync = false});
  ASSERT_THAT(opened, IsOk());
  auto store = std::move(opened).value();
  EventWriter(store.get()).Register("s", "ria");
  const int port = testing::FreePort();
  auto publisher =
      NatsPublisher::Start(store.get(), FastOptions(absl::StrCat("nats://127.0.0.1:", port)));
  ASSERT_THAT(publisher, IsOk());
  absl::SleepFor(absl::Milliseconds(600));
  const NatsPublisherStats stats = (*publisher)->stats();
  // Backoff doubles from 50 ms: about four attempts in 600 ms, not a busy loop.
  EXPECT_GE(stats.failures, 2u);
  EXPECT_LE(stats.failures, 8u);
  EXPECT_FALSE(stats.connected);
  EXPECT_EQ(stats.cursor, 0u);
  EXPECT_THAT(stats.last_error, HasSubstr("connecting"));
  (*publisher)->Stop();
  EXPECT_EQ(Cursor(*store), 0u);
}

class NatsPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::NatsServerBinary().empty()) GTEST_SKIP() << "nats-server is not installed";
    auto opened = store::Store::Open({.path = dir_.path("db"), .sync = false});
    ASSERT_THAT(opened, IsOk());
    store_ = std::move(opened).value();
    writer_ = std::make_unique<EventWriter>(store_.get());
    nats_ = std::make_unique<NatsServer>(dir_.path("nats"), testing::FreePort());
    ASSERT_TRUE(nats_->Start());
  }

  std::unique_ptr<NatsPublisher> StartPublisher() {
    auto publisher = NatsPublisher::Start(store_.get(), FastOptions(nats_->url()));
    EXPECT_THAT(publisher, IsOk());
    return publisher.ok() ? std::move(publisher).value() : nullptr;
  }

  void Advance(int n) {
    for (int i = 0; i < n; ++i) writer_->Advance(i % 2 == 0 ? "alpha" : "beta");
  }

  TempDir dir_{"nats"};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<EventWriter> writer_;
  std::unique_ptr<NatsServer> nats_;
};

TEST_F(NatsPublisherTest, StreamEndsWithEveryEventExactlyOnceAcrossNatsAndPublisherRestarts) {
  writer_->Register("alpha", "ria");
  writer_->Register("beta", "mkm");
  Advance(48);
  auto publisher = StartPublisher();
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->AwaitCursor(50, absl::Now() + absl::Seconds(20)));

  // NATS goes down; commands keep committing; the publisher retries and holds its place.
  nats_->Stop();
  Advance(50);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(publisher->stats().cursor, 50u);
  EXPECT_GT(publisher->stats().failures, 0u);
  EXPECT_FALSE(publisher->stats().connected);

  // NATS comes back (same storage): the publisher resumes where it stopped.
  ASSERT_TRUE(nats_->Start());
  ASSERT_TRUE(publisher->AwaitCursor(100, absl::Now() + absl::Seconds(20)))
      << publisher->stats().last_error;

  // The publisher restarts in the middle of a burst.
  std::thread burst([&] { Advance(100); });
  ASSERT_TRUE(publisher->AwaitCursor(120, absl::Now() + absl::Seconds(20)));
  publisher->Stop();
  const uint64_t stopped_at = publisher->stats().cursor;
  EXPECT_EQ(Cursor(*store_), stopped_at);
  publisher = StartPublisher();
  burst.join();
  ASSERT_TRUE(publisher->AwaitCursor(200, absl::Now() + absl::Seconds(20)));
  publisher->Stop();

  // A crash after publishing but before the cursor was saved: the next run publishes the same
  // events again, and JetStream drops them by message id.
  ASSERT_THAT(store_->SetCursor("nats", 150), IsOk());
  publisher = StartPublisher();
  ASSERT_TRUE(publisher->AwaitCursor(200, absl::Now() + absl::Seconds(20)));
  EXPECT_EQ(publisher->stats().published, 50u);
  EXPECT_EQ(publisher->stats().duplicates, 50u);
  publisher->Stop();

  // The stream, read back by a JetStream consumer.
  const testing::StreamContents contents =
      testing::ReadStream(nats_->url(), "VARAV_EVENTS", "varav.events.>");
  ASSERT_TRUE(contents.error.empty()) << contents.error;
  EXPECT_EQ(contents.stream_messages, 200u);
  EXPECT_EQ(contents.duplicate_window_ns, absl::ToInt64Nanoseconds(absl::Minutes(10)));
  ASSERT_EQ(contents.payloads.size(), 200u);
  std::set<std::string> expected_ids;
  auto events = store_->ReadEvents(0, 1000);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 200u);
  for (const auto& e : *events) expected_ids.insert(e.id());
  std::set<std::string> ids;
  for (const auto& [id, count] : contents.ids) {
    EXPECT_EQ(count, 1) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids, expected_ids);
  // In global order, on the subject of their type, as CloudEvents.
  for (size_t i = 0; i < contents.payloads.size(); ++i) {
    const v1::Event& e = (*events)[i];
    EXPECT_EQ(contents.subjects[i], absl::StrCat("varav.events.", e.type()));
    google::protobuf::Struct parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(contents.payloads[i], &parsed).ok());
    EXPECT_EQ(parsed.fields().at("id").string_value(), e.id());
    EXPECT_EQ(parsed.fields().at("sequence").string_value(), absl::StrCat(i + 1));
    EXPECT_EQ(parsed.fields().at("hash").string_value(), e.hash());
  }
}

// An event whose CloudEvents JSON is larger than nats-server's max_payload (1 MiB by default) goes
// as a claim check, and every later event still reaches the stream, in order.
TEST_F(NatsPublisherTest, PublishesAnEventTooLargeForNatsAsAClaimCheckAndGoesOn) {
  writer_->Register("alpha", "ria");
  writer_->Register("beta", "mkm");
  Advance(4);
  const uint64_t large = writer_->Advance("alpha", 1'100'000);
  Advance(5);
  auto publisher = StartPublisher();
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->AwaitCursor(12, absl::Now() + absl::Seconds(20)))
      << publisher->stats().last_error;
  EXPECT_EQ(large, 7u);
  const NatsPublisherStats stats = publisher->stats();
  EXPECT_EQ(stats.claim_checks, 1u);
  EXPECT_EQ(stats.behind, 0u);
  publisher->Stop();

  const testing::StreamContents contents =
      testing::ReadStream(nats_->url(), "VARAV_EVENTS", "varav.events.>");
  ASSERT_TRUE(contents.error.empty()) << contents.error;
  auto events = store_->ReadEvents(0, 1000);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(contents.payloads.size(), events->size());
  for (size_t i = 0; i < events->size(); ++i) {
    const v1::Event& e = (*events)[i];
    google::protobuf::Struct parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(contents.payloads[i], &parsed).ok());
    EXPECT_EQ(parsed.fields().at("id").string_value(), e.id());
    EXPECT_EQ(parsed.fields().at("hash").string_value(), e.hash());
    if (e.global_sequence() == large) {
      EXPECT_FALSE(parsed.fields().contains("data"));
      EXPECT_EQ(parsed.fields().at("dataref").string_value(), absl::StrCat("varav:events/", large));
      EXPECT_GT(std::stoul(parsed.fields().at("datasize").string_value()), 1u << 20);
      EXPECT_LT(contents.payloads[i].size(), 4096u);
    } else {
      EXPECT_TRUE(parsed.fields().contains("data")) << e.id();
    }
  }
}

}  // namespace
}  // namespace varav::events
