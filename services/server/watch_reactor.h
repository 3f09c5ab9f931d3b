// LifecycleService.WatchEvents as a gRPC callback stream: replays the durable event log from any
// global sequence, then follows it live, filtered by service, agency and type.
//
// The method is served raw (bytes in, bytes out): each event is serialized once, by the hub, and
// every stream sends those shared bytes inside its own WatchEventsResponse framing. Clients see
// the ordinary typed method. The server's service derives from
// v1::LifecycleService::WithRawCallbackMethod_WatchEvents<...> and returns StartWatch(...):
//
//   grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(
//       grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override {
//     return StartWatch(*hub_, context, request, PrincipalOf(context), governance_);
//   }
//
// Delivery contract (what a client may rely on):
// - Events come in global sequence order, so the events of one service come in service sequence
//   order; each stream delivers each matching event once. Across reconnects delivery is
//   at-least-once: resume with `after_sequence` = the larger of the last event's
//   global_sequence and the last `scanned_sequence` seen, and nothing is missed or repeated.
// - `scanned_sequence` on a message means: every matching event up to it has been sent. A
//   heartbeat (no event) carries it at least every `heartbeat_interval` while idle, and after
//   every `max_batches_per_turn` batches scanned without a match.
// - Authorisation: any authenticated principal holding a role may watch (reading is what every
//   role allows, principal.h); the filters narrow what is sent, they do not grant access.
//   PERMISSION_DENIED for a principal without roles; INVALID_ARGUMENT for malformed filters.
// - The stream ends with CANCELLED when the client cancels or its deadline passes, UNAVAILABLE
//   when the server shuts down (resume elsewhere or later), INTERNAL on a storage failure.
//
// Cost: no thread per stream. A reactor holds one message in flight and at most `batch_size`
// events read ahead; it reads the next batch only when gRPC reports the previous write done
// (OnWriteDone), so a client that stops reading stalls only its own stream (HTTP/2 flow control)
// and costs bounded memory, and writers never wait for watchers.
//
// Thread safety: gRPC and the hub call the reactor from their threads; it serialises itself.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/server_callback.h"
#include "services/events/event_hub.h"
#include "services/governance/governance.h"
#include "services/governance/principal.h"
#include "services/server/grpc_glue.h"
#include "varav/v1/lifecycle_service.pb.h"

namespace varav::server {

// Which events a watcher wants. Empty fields match everything.
struct WatchFilter {
  std::string service_id;
  std::string agency;
  absl::flat_hash_set<std::string> types;

  static WatchFilter FromRequest(const v1::WatchEventsRequest& request);
};

// The stream of one WatchEvents call. Created by StartWatch; deletes itself in OnDone.
class WatchEventsReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                                 public events::EventHub::Listener {
 public:
  WatchEventsReactor(events::EventHub& hub, uint64_t after_sequence, WatchFilter filter);
  ~WatchEventsReactor() override;

  // grpc::ServerWriteReactor
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // events::EventHub::Listener
  void OnEventsAvailable(uint64_t durable_sequence) override;
  void OnHubShutdown() override;

 private:
  // Sends the next message, or finishes, when nothing is in flight. Called from every event.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);
  // Reads and filters the next batches into pending_. Returns false when the turn's scan budget
  // ran out without a match (the caller sends a heartbeat).
  bool Refill() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> Matches(const v1::Event& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets response_ to a WatchEventsResponse of `event` (none: a heartbeat) and `scanned`.
  void Encode(const events::HubEvent* event, uint64_t scanned) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RequestFinish(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  events::EventHub& hub_;
  const WatchFilter filter_;
  bool registered_ = false;

  absl::Mutex mu_;
  // Highest global sequence read and filtered.
  uint64_t cursor_ ABSL_GUARDED_BY(mu_);
  // Matching events read ahead and not yet sent (at most batch_size).
  std::deque<std::shared_ptr<const events::HubEvent>> pending_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_ ABSL_GUARDED_BY(mu_);
  // The message being written (kept until OnWriteDone); its slices hold references to the
  // event's shared bytes for as long as gRPC needs them.
  grpc::ByteBuffer response_ ABSL_GUARDED_BY(mu_);
};

// Parses `request` (a serialized varav.v1.WatchEventsRequest; INVALID_ARGUMENT naming `request`
// when it is not one), validates and authorises it for `principal` (with `governance` when given,
// otherwise only the principal's roles), then returns a reactor streaming the events; on refusal,
// one that finishes at once with the status. `context` and `request` are gRPC's; the hub must
// outlive the stream (events::EventHub::Shutdown then AwaitListenersGone before destroying it).
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartWatch(
    events::EventHub& hub, grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    const governance::Principal& principal, const governance::Governance* governance = nullptr);

// A reactor that ends the call at once with `status` (e.g. UNAVAILABLE before the hub exists,
// UNAUTHENTICATED for a caller without credentials).
grpc::ServerWriteReactor<grpc::ByteBuffer>* FinishedWatch(grpc::Status status);

}  // namespace varav::server
