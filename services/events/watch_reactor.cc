#include "services/events/watch_reactor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace varav::events {
namespace {

// Finishes a refused call at once.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::WatchEventsResponse> {
 public:
  explicit RefusedWatch(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::WatchEventsResponse>* FinishedWatch(grpc::Status status) {
  return new RefusedWatch(std::move(status));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

WatchFilter WatchFilter::FromRequest(const v1::WatchEventsRequest& request) {
  WatchFilter filter;
  filter.service_id = request.service_id();
  filter.agency = request.agency();
  filter.types.insert(request.types().begin(), request.types().end());
  return filter;
}

WatchEventsReactor::WatchEventsReactor(EventHub& hub, uint64_t after_sequence, WatchFilter filter)
    : hub_(hub), filter_(std::move(filter)), cursor_(after_sequence), last_write_(absl::Now()) {
  // Sent before anything else so that the client learns the stream is up even when nothing
  // matches yet (and so that no later write races gRPC over sending it).
  StartSendInitialMetadata();
  registered_ = hub_.Register(this);
  if (!registered_) {
    absl::MutexLock lock(&mu_);
    RequestFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
  Pump();
}

WatchEventsReactor::~WatchEventsReactor() {
  absl::MutexLock lock(&mu_);
  ReleaseInFlight();
  hub_.AdjustBuffered(-static_cast<int64_t>(pending_.size()));
}

void WatchEventsReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    ReleaseInFlight();
    if (!ok) RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "the stream was closed"));
  }
  Pump();
}

void WatchEventsReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
  }
  Pump();
}

void WatchEventsReactor::OnDone() {
  if (registered_) hub_.Unregister(this);
  delete this;
}

void WatchEventsReactor::OnEventsAvailable(uint64_t durable_sequence) { Pump(); }

void WatchEventsReactor::OnHubShutdown() {
  {
    absl::MutexLock lock(&mu_);
    RequestFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "the server is shutting down; resume with after_sequence"));
  }
  Pump();
}

void WatchEventsReactor::RequestFinish(grpc::Status status) {
  // The first reason wins: a shutdown that also breaks the stream reports the shutdown.
  if (finish_requested_) return;
  finish_requested_ = true;
  finish_status_ = std::move(status);
}

void WatchEventsReactor::ReleaseInFlight() {
  // The event is shared with the hub's cache; the message only borrowed it.
  if (response_.has_event()) response_.unsafe_arena_release_event();
  in_flight_.reset();
}

absl::StatusOr<bool> WatchEventsReactor::Matches(const v1::Event& event) {
  if (!filter_.service_id.empty() && event.subject() != filter_.service_id) return false;
  if (!filter_.types.empty() && !filter_.types.contains(event.type())) return false;
  if (!filter_.agency.empty()) {
    absl::StatusOr<std::string> agency = hub_.AgencyOf(event.subject());
    if (absl::IsNotFound(agency.status())) return false;
    if (!agency.ok()) return agency.status();
    if (*agency != filter_.agency) return false;
  }
  return true;
}

bool WatchEventsReactor::Refill() {
  const EventHubOptions& options = hub_.options();
  for (int batches = 0; pending_.empty(); ++batches) {
    if (batches >= options.max_batches_per_turn) return false;
    // Caught up (the common case on every wake-up): skip the cache lock.
    if (cursor_ >= hub_.loaded_sequence()) return true;
    absl::StatusOr<std::vector<std::shared_ptr<const v1::Event>>> batch =
        hub_.Read(cursor_, options.batch_size);
    if (!batch.ok()) {
      RequestFinish(grpc::Status(grpc::StatusCode::INTERNAL,
                                 absl::StrCat("reading events: ", batch.status().message())));
      return true;
    }
    if (batch->empty()) return true;
    for (std::shared_ptr<const v1::Event>& event : *batch) {
      absl::StatusOr<bool> matches = Matches(*event);
      if (!matches.ok()) {
        // Stop before the event so that a resumed watch retries it.
        RequestFinish(ToGrpcStatus(matches.status()));
        break;
      }
      cursor_ = event->global_sequence();
      if (*matches) pending_.push_back(std::move(event));
    }
    hub_.AdjustBuffered(static_cast<int64_t>(pending_.size()));
    if (finish_requested_) return true;
  }
  return true;
}

void WatchEventsReactor::Pump() {
  const v1::WatchEventsResponse* to_write = nullptr;
  bool finish = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || write_in_flight_) return;
    if (!finish_requested_) {
      const bool found_or_caught_up = pending_.empty() ? Refill() : true;
      const absl::Time now = absl::Now();
      if (!finish_requested_ && !pending_.empty()) {
        in_flight_ = std::move(pending_.front());
        pending_.pop_front();
        hub_.AdjustBuffered(-1);
        response_.Clear();
        // Borrow the shared event instead of copying it once per watcher.
        response_.unsafe_arena_set_allocated_event(const_cast<v1::Event*>(in_flight_.get()));
        // Every matching event up to here is sent once this one is; the ones read ahead are not.
        response_.set_scanned_sequence(pending_.empty() ? cursor_
                                                        : pending_.front()->global_sequence() - 1);
        to_write = &response_;
      } else if (!finish_requested_ &&
                 (!found_or_caught_up || now - last_write_ >= hub_.options().heartbeat_interval)) {
        response_.Clear();
        response_.set_scanned_sequence(cursor_);
        to_write = &response_;
      }
      if (to_write != nullptr) {
        write_in_flight_ = true;
        last_write_ = now;
      }
    }
    if (to_write == nullptr && finish_requested_) {
      finished_ = true;
      finish = true;
      status = finish_status_;
    }
  }
  // gRPC calls are made outside mu_: their completions run on other threads and come back here.
  if (to_write != nullptr) {
    StartWrite(to_write);
  } else if (finish) {
    Finish(std::move(status));
  }
}

grpc::ServerWriteReactor<v1::WatchEventsResponse>* StartWatch(EventHub& hub,
                                                              grpc::CallbackServerContext* context,
                                                              const v1::WatchEventsRequest* request,
                                                              const core::Principal& principal,
                                                              const core::Governance* governance) {
  absl::Status allowed;
  if (governance != nullptr) {
    allowed = governance->ValidateWatchEvents(*request, principal);
  } else if (!principal.MayRead()) {
    allowed = absl::PermissionDeniedError(
        absl::StrCat("principal '", principal.id, "' holds no role that may read events"));
  }
  if (!allowed.ok()) return new RefusedWatch(ToGrpcStatus(allowed));
  if (hub.shutting_down()) {
    return new RefusedWatch(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
  return new WatchEventsReactor(hub, request->after_sequence(), WatchFilter::FromRequest(*request));
}

}  // namespace varav::events
