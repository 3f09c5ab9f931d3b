#include "services/server/watch_reactor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"

namespace varav::server {
namespace {

// Finishes a refused call at once.
class RefusedWatch final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedWatch(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// WatchEventsResponse's field tags: event = 1 (length-delimited), scanned_sequence = 2 (varint).
constexpr uint8_t kEventTag = (1 << 3) | 2;
constexpr uint8_t kScannedTag = (2 << 3) | 0;

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* FinishedWatch(grpc::Status status) {
  return new RefusedWatch(std::move(status));
}

WatchFilter WatchFilter::FromRequest(const v1::WatchEventsRequest& request) {
  WatchFilter filter;
  filter.service_id = request.service_id();
  filter.agency = request.agency();
  filter.types.insert(request.types().begin(), request.types().end());
  return filter;
}

WatchEventsReactor::WatchEventsReactor(events::EventHub& hub, uint64_t after_sequence,
                                       WatchFilter filter)
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
  hub_.AdjustBuffered(-static_cast<int64_t>(pending_.size()));
}

void WatchEventsReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    response_.Clear();
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

void WatchEventsReactor::Encode(const events::HubEvent* event, uint64_t scanned) {
  using google::protobuf::io::CodedOutputStream;
  // Framing around the shared event bytes: at most a tag and a 64-bit varint on each side.
  uint8_t head[1 + 5];   // tag, varint32
  uint8_t tail[1 + 10];  // tag, varint64
  size_t tail_size = 0;
  if (scanned != 0) {  // proto3 leaves a zero scalar out
    tail[0] = kScannedTag;
    tail_size = CodedOutputStream::WriteVarint64ToArray(scanned, tail + 1) - tail;
  }
  if (event == nullptr) {
    grpc::Slice only(tail, tail_size);
    grpc::ByteBuffer heartbeat(&only, 1);
    response_.Swap(&heartbeat);
    return;
  }
  head[0] = kEventTag;
  const size_t head_size =
      CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(event->wire.size()), head + 1) -
      head;
  // The framing is small enough to be inlined in its slices; the event's bytes are shared.
  const grpc::Slice slices[3] = {grpc::Slice(head, head_size), event->wire,
                                 grpc::Slice(tail, tail_size)};
  grpc::ByteBuffer message(slices, tail_size == 0 ? 2 : 3);
  response_.Swap(&message);
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
  const events::EventHubOptions& options = hub_.options();
  for (int batches = 0; pending_.empty(); ++batches) {
    if (batches >= options.max_batches_per_turn) return false;
    // Caught up (the common case on every wake-up): skip the cache lock.
    if (cursor_ >= hub_.loaded_sequence()) return true;
    absl::StatusOr<std::vector<std::shared_ptr<const events::HubEvent>>> batch =
        hub_.Read(cursor_, options.batch_size);
    if (!batch.ok()) {
      RequestFinish(grpc::Status(grpc::StatusCode::INTERNAL,
                                 absl::StrCat("reading events: ", batch.status().message())));
      return true;
    }
    if (batch->empty()) return true;
    for (std::shared_ptr<const events::HubEvent>& event : *batch) {
      absl::StatusOr<bool> matches = Matches(event->event);
      if (!matches.ok()) {
        // Stop before the event so that a resumed watch retries it.
        RequestFinish(ToGrpcStatus(matches.status()));
        break;
      }
      cursor_ = event->event.global_sequence();
      if (*matches) pending_.push_back(std::move(event));
    }
    hub_.AdjustBuffered(static_cast<int64_t>(pending_.size()));
    if (finish_requested_) return true;
  }
  return true;
}

void WatchEventsReactor::Pump() {
  const grpc::ByteBuffer* to_write = nullptr;
  bool finish = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || write_in_flight_) return;
    if (!finish_requested_) {
      const bool found_or_caught_up = pending_.empty() ? Refill() : true;
      const absl::Time now = absl::Now();
      if (!finish_requested_ && !pending_.empty()) {
        std::shared_ptr<const events::HubEvent> next = std::move(pending_.front());
        pending_.pop_front();
        hub_.AdjustBuffered(-1);
        // Every matching event up to here is sent once this one is; the ones read ahead are not.
        Encode(next.get(),
               pending_.empty() ? cursor_ : pending_.front()->event.global_sequence() - 1);
        to_write = &response_;
      } else if (!finish_requested_ &&
                 (!found_or_caught_up || now - last_write_ >= hub_.options().heartbeat_interval)) {
        Encode(nullptr, cursor_);
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

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartWatch(events::EventHub& hub,
                                                       grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* raw_request,
                                                       const governance::Principal& principal,
                                                       const governance::Governance* governance) {
  v1::WatchEventsRequest request;
  if (absl::Status status = ParseRawRequest(*raw_request, request); !status.ok()) {
    return new RefusedWatch(ToGrpcStatus(status));
  }
  absl::Status allowed;
  if (governance != nullptr) {
    allowed = governance->ValidateWatchEvents(request, principal);
  } else if (!principal.MayRead()) {
    allowed = absl::PermissionDeniedError(
        absl::StrCat("principal '", principal.id, "' holds no role that may read events"));
  }
  if (!allowed.ok()) return new RefusedWatch(ToGrpcStatus(allowed));
  if (hub.shutting_down()) {
    return new RefusedWatch(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
  return new WatchEventsReactor(hub, request.after_sequence(), WatchFilter::FromRequest(request));
}

}  // namespace varav::server
