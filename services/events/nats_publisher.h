// Delivers the durable event log to NATS JetStream, for funding and other downstream systems.
//
// Every event is published, in global sequence order, to the subject
// `<subject_prefix>.<event type>` (e.g. `varav.events.ee.varav.gate.approved`; NATS subjects are
// dot-separated tokens, so consumers can subscribe to `varav.events.>` or to one type) as
// CloudEvents 1.0 JSON (cloud_event.h), with the event id (`<service id>/<service sequence>`) as
// the JetStream message id (`Nats-Msg-Id`), which JetStream uses to drop duplicates within the
// stream's duplicate window.
//
// Exactly once into the stream. The position is a cursor in the store (`Store::GetCursor`,
// name `cursor_name`), advanced only after JetStream acknowledged every event up to it (once per
// batch). After a crash or restart publishing resumes from the cursor, so the events since the
// last advance may be published again; their message ids make JetStream drop them, as long as
// the restart happens within `duplicate_window`. Beyond that window delivery is at-least-once:
// consumers should still key on the event id.
//
// No event stops the feed. An event whose CloudEvents message would exceed what the NATS server
// accepts (its max_payload, or the stream's maximum message size) is published as a claim check
// (cloud_event.h: the event's identity, type, hash and a `dataref` to fetch it with ListEvents),
// under the same message id; every other event goes whole.
//
// Faults. At start and after every failure the publisher (re)connects and makes sure the stream
// exists (created with the configured subjects, file storage and duplicate window when missing;
// an existing stream is used as it is). When NATS is unreachable or a publish is not
// acknowledged, it retries with exponential backoff (`min_backoff` doubling to `max_backoff`)
// and never skips an event. Failures are logged with NATS's error (the first, then at most every
// `log_interval`), and how far the publisher is behind the log is in stats(). NATS being down
// never affects commands: the publisher only reads the store.
//
//   VARAV_ASSIGN_OR_RETURN(auto publisher, NatsPublisher::Start(store.get(),
//                                                              {.url = "nats://127.0.0.1:4222"}));
//   ...
//   publisher->Stop();  // before the store closes
//
// Thread safety: one background thread does all the work; every public method may be called
// from any thread. The store must outlive the publisher (or at least Stop()).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/store/store.h"

namespace varav::events {

struct NatsPublisherOptions {
  // NATS server URL(s), comma-separated, e.g. "nats://127.0.0.1:4222". Required.
  std::string url;
  // Default "VARAV_EVENTS": the JetStream stream, created when missing.
  std::string stream = "VARAV_EVENTS";
  // Default "varav.events": subjects are `<prefix>.<type>`; the stream covers `<prefix>.>`.
  std::string subject_prefix = "varav.events";
  // Default "nats": name of the store cursor holding the last acknowledged global sequence.
  std::string cursor_name = "nats";
  // Default 1 h: the duplicate window of a stream this publisher creates; a restart within it
  // publishes nothing twice (see the file comment).
  absl::Duration duplicate_window = absl::Hours(1);
  // Default 256: events read from the store, and acknowledged, per cursor advance.
  int batch_size = 256;
  // Default 100 ms / 5 s: the first and the longest wait between retries.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Default 2 s: connect timeout, and how long one publish waits for its acknowledgement.
  absl::Duration timeout = absl::Seconds(2);
  // Default 250 ms: longest wait for new events before checking for Stop.
  absl::Duration poll_interval = absl::Milliseconds(250);
  // Default 30 s: while publishing keeps failing, a log line at most this often.
  absl::Duration log_interval = absl::Seconds(30);
};

struct NatsPublisherStats {
  // The last global sequence acknowledged by JetStream (and persisted, or about to be).
  uint64_t cursor = 0;
  // Publishes acknowledged since start, and how many of them JetStream reported as duplicates.
  uint64_t published = 0;
  uint64_t duplicates = 0;
  // Failed attempts (connect, stream, publish or store) since start.
  uint64_t failures = 0;
  // Events published as claim checks (too large for NATS whole) since start.
  uint64_t claim_checks = 0;
  bool connected = false;
  // The most recent failure, for logs and health reporting.
  std::string last_error;
  // The newest durable event when last looked, and how many events the cursor is behind it.
  uint64_t head = 0;
  uint64_t behind = 0;
  // When the oldest event not yet acknowledged happened; InfinitePast when none is waiting.
  absl::Time oldest_unpublished = absl::InfinitePast();
};

class NatsPublisher {
 public:
  // Validates `options` (InvalidArgument) and starts the background thread. Does not need NATS
  // to be reachable yet. `store` is not owned.
  static absl::StatusOr<std::unique_ptr<NatsPublisher>> Start(store::Store* store,
                                                              NatsPublisherOptions options);
  // Stops (see Stop).
  ~NatsPublisher();

  NatsPublisher(const NatsPublisher&) = delete;
  NatsPublisher& operator=(const NatsPublisher&) = delete;

  // Persists the cursor reached, disconnects and joins the thread. Idempotent. Returns within
  // about `timeout` + `poll_interval`.
  void Stop();

  NatsPublisherStats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until the cursor reaches `sequence` or `deadline` passes; true when reached.
  bool AwaitCursor(uint64_t sequence, absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Connection;

  NatsPublisher(store::Store* store, NatsPublisherOptions options);
  void Run();
  // Sleeps for `d` or until Stop.
  void Pause(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  void RecordFailure(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // Records how far `cursor` is behind the log's head; `next` is the first unpublished event.
  void UpdateLag(uint64_t cursor, const v1::Event* next) ABSL_LOCKS_EXCLUDED(mu_);
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  store::Store* const store_;
  const NatsPublisherOptions options_;
  std::atomic<bool> stopping_{false};

  mutable absl::Mutex mu_;
  NatsPublisherStats stats_ ABSL_GUARDED_BY(mu_);
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;
};

}  // namespace varav::events
