#include "services/events/nats_publisher.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/common/logging.h"
#include "nats/nats.h"
#include "services/events/cloud_event.h"

namespace varav::events {
namespace {

absl::Status NatsError(absl::string_view what, natsStatus s, jsErrCode js_error = jsErrCode(0)) {
  std::string detail = natsStatus_GetText(s);
  // The thread-local last error usually says more (e.g. which address refused the connection).
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && last[0] != '\0') {
    absl::StrAppend(&detail, ": ", last);
  }
  if (static_cast<int>(js_error) != 0) {
    absl::StrAppend(&detail, " (JetStream error ", static_cast<int>(js_error), ")");
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", detail));
}

}  // namespace

// One connection with its JetStream context; torn down on any failure and rebuilt.
struct NatsPublisher::Connection {
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;

  ~Connection() {
    if (js != nullptr) jsCtx_Destroy(js);
    if (connection != nullptr) {
      natsConnection_Close(connection);
      natsConnection_Destroy(connection);
    }
    if (options != nullptr) natsOptions_Destroy(options);
  }

  absl::Status Open(const NatsPublisherOptions& o) {
    natsStatus s = natsOptions_Create(&options);
    if (s == NATS_OK) s = natsOptions_SetURL(options, o.url.c_str());
    if (s == NATS_OK) s = natsOptions_SetName(options, "varavd-event-publisher");
    if (s == NATS_OK) {
      s = natsOptions_SetTimeout(options, absl::ToInt64Milliseconds(o.timeout));
    }
    // The publisher owns retrying: a dead connection is rebuilt from the cursor, so that nothing
    // is buffered blindly in the client while the server is away.
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(options, false);
    if (s != NATS_OK) return NatsError("configuring the NATS client", s);
    s = natsConnection_Connect(&connection, options);
    if (s != NATS_OK) return NatsError(absl::StrCat("connecting to ", o.url), s);
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = absl::ToInt64Milliseconds(o.timeout);
    s = natsConnection_JetStream(&js, connection, &js_options);
    if (s != NATS_OK) return NatsError("opening a JetStream context", s);
    return absl::OkStatus();
  }

  // Creates the stream when it does not exist.
  absl::Status EnsureStream(const NatsPublisherOptions& o) {
    jsStreamInfo* info = nullptr;
    jsErrCode js_error = jsErrCode(0);
    natsStatus s = js_GetStreamInfo(&info, js, o.stream.c_str(), nullptr, &js_error);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(info);
      return absl::OkStatus();
    }
    if (s != NATS_NOT_FOUND) {
      return NatsError(absl::StrCat("looking up stream ", o.stream), s, js_error);
    }
    const std::string subjects_pattern = absl::StrCat(o.subject_prefix, ".>");
    const char* subjects[] = {subjects_pattern.c_str()};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = o.stream.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Duplicates = absl::ToInt64Nanoseconds(o.duplicate_window);
    js_error = jsErrCode(0);
    s = js_AddStream(&info, js, &config, nullptr, &js_error);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(info);
      return absl::OkStatus();
    }
    // Another publisher may have created it in between.
    if (js_error == JSStreamNameExistErr) return absl::OkStatus();
    return NatsError(absl::StrCat("creating stream ", o.stream), s, js_error);
  }

  // Publishes one event and waits for its acknowledgement. Sets `duplicate` when JetStream had it,
  // and `claim_check` when the event went as a claim check (too large to go whole).
  absl::Status Publish(const NatsPublisherOptions& o, const v1::Event& event, bool& duplicate,
                       bool& claim_check) {
    absl::StatusOr<std::string> json = ToCloudEventJson(event);
    if (!json.ok()) return json.status();
    claim_check = false;
    // Headers (the message id, the expected stream) share the payload limit.
    constexpr int64_t kHeaderAllowance = 1024;
    const int64_t max_payload = natsConnection_GetMaxPayload(connection);
    if (max_payload > 0 && static_cast<int64_t>(json->size()) + kHeaderAllowance > max_payload) {
      json = ToCloudEventClaimCheck(event, json->size());
      if (!json.ok()) return json.status();
      claim_check = true;
    }
    jsErrCode js_error = jsErrCode(0);
    natsStatus s = Send(o, event, *json, duplicate, js_error);
    if (!claim_check && (s == NATS_MAX_PAYLOAD || js_error == JSStreamMessageExceedsMaximumErr)) {
      // The stream's own maximum message size, below what the server would take.
      const size_t full = json->size();
      json = ToCloudEventClaimCheck(event, full);
      if (!json.ok()) return json.status();
      claim_check = true;
      js_error = jsErrCode(0);
      s = Send(o, event, *json, duplicate, js_error);
    }
    if (s != NATS_OK) {
      return NatsError(
          absl::StrCat("publishing event ", event.global_sequence(), " (", event.id(), ")"), s,
          js_error);
    }
    return absl::OkStatus();
  }

  natsStatus Send(const NatsPublisherOptions& o, const v1::Event& event, const std::string& json,
                  bool& duplicate, jsErrCode& js_error) {
    const std::string subject = NatsSubjectFor(o.subject_prefix, event.type());
    jsPubOptions publish_options;
    jsPubOptions_Init(&publish_options);
    publish_options.MsgId = event.id().c_str();
    publish_options.ExpectStream = o.stream.c_str();
    publish_options.MaxWait = absl::ToInt64Milliseconds(o.timeout);
    jsPubAck* ack = nullptr;
    natsStatus s = js_Publish(&ack, js, subject.c_str(), json.data(), static_cast<int>(json.size()),
                              &publish_options, &js_error);
    if (s == NATS_OK) {
      duplicate = ack->Duplicate;
      jsPubAck_Destroy(ack);
    }
    return s;
  }
};

absl::StatusOr<std::unique_ptr<NatsPublisher>> NatsPublisher::Start(store::Store* store,
                                                                    NatsPublisherOptions options) {
  if (store == nullptr) return absl::InvalidArgumentError("store: required");
  if (options.url.empty()) return absl::InvalidArgumentError("url: required");
  if (options.stream.empty() || options.stream.find_first_of(" .*>") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream: '", options.stream, "' is not a JetStream stream name"));
  }
  if (options.subject_prefix.empty() ||
      options.subject_prefix.find_first_of(" *>") != std::string::npos ||
      options.subject_prefix.front() == '.' || options.subject_prefix.back() == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("subject_prefix: '", options.subject_prefix, "' is not a subject prefix"));
  }
  if (options.cursor_name.empty()) return absl::InvalidArgumentError("cursor_name: required");
  if (options.batch_size <= 0) return absl::InvalidArgumentError("batch_size: must be positive");
  if (options.min_backoff <= absl::ZeroDuration() || options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError("backoff: need 0 < min_backoff <= max_backoff");
  }
  std::unique_ptr<NatsPublisher> publisher(new NatsPublisher(store, std::move(options)));
  publisher->thread_ = std::thread([p = publisher.get()] { p->Run(); });
  return publisher;
}

NatsPublisher::NatsPublisher(store::Store* store, NatsPublisherOptions options)
    : store_(store), options_(std::move(options)) {}

NatsPublisher::~NatsPublisher() { Stop(); }

void NatsPublisher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_requested_ = true;
  }
  stopping_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

NatsPublisherStats NatsPublisher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool NatsPublisher::AwaitCursor(uint64_t sequence, absl::Time deadline) {
  auto reached = [this, sequence]()
                     ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stats_.cursor >= sequence; };
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
}

void NatsPublisher::Pause(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stop_requested_), d);
}

void NatsPublisher::UpdateLag(uint64_t cursor, const v1::Event* next) {
  const uint64_t head = store_->LastGlobalSequence();
  absl::MutexLock lock(&mu_);
  stats_.head = head;
  stats_.behind = head > cursor ? head - cursor : 0;
  stats_.oldest_unpublished =
      next != nullptr && next->has_time()
          ? absl::FromUnixSeconds(next->time().seconds()) + absl::Nanoseconds(next->time().nanos())
          : absl::InfinitePast();
}

void NatsPublisher::RecordFailure(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  ++stats_.failures;
  stats_.connected = false;
  stats_.last_error = status.ToString();
}

void NatsPublisher::Run() {
  absl::Duration backoff = options_.min_backoff;
  uint64_t failures_in_row = 0;
  absl::Time last_log = absl::InfinitePast();
  absl::Time last_lag_log = absl::InfinitePast();
  auto fail = [&](const absl::Status& status) {
    RecordFailure(status);
    ++failures_in_row;
    if (absl::Now() - last_log >= options_.log_interval) {
      last_log = absl::Now();
      const NatsPublisherStats now = stats();
      LogLine("warn", "nats publishing failed")
          .Str("error", status.ToString())
          .Int("cursor", static_cast<int64_t>(now.cursor))
          .Int("behind", static_cast<int64_t>(now.behind))
          .Int("failures_in_row", static_cast<int64_t>(failures_in_row))
          .Emit();
    }
    Pause(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  };

  // The cursor; a store that cannot be read is retried like NATS.
  uint64_t cursor = 0;
  while (!stopping()) {
    absl::StatusOr<uint64_t> stored = store_->GetCursor(options_.cursor_name);
    if (stored.ok()) {
      cursor = *stored;
      break;
    }
    fail(stored.status());
  }
  {
    absl::MutexLock lock(&mu_);
    stats_.cursor = cursor;
  }
  uint64_t persisted = cursor;

  std::unique_ptr<Connection> nats;
  while (!stopping()) {
    if (nats == nullptr) {
      auto fresh = std::make_unique<Connection>();
      absl::Status opened = fresh->Open(options_);
      if (opened.ok()) opened = fresh->EnsureStream(options_);
      if (!opened.ok()) {
        fail(opened);
        continue;
      }
      nats = std::move(fresh);
      absl::MutexLock lock(&mu_);
      stats_.connected = true;
    }

    // A batch is bounded in bytes too: events may be large (an output's fields, up to 1 MiB).
    absl::StatusOr<std::vector<v1::Event>> events =
        store_->ReadEvents(cursor, options_.batch_size, 8 << 20);
    if (!events.ok()) {
      fail(events.status());
      continue;
    }
    UpdateLag(cursor, events->empty() ? nullptr : &events->front());
    if (const NatsPublisherStats now = stats();
        now.behind > 0 && absl::Now() - now.oldest_unpublished > options_.log_interval &&
        absl::Now() - last_lag_log >= options_.log_interval) {
      last_lag_log = absl::Now();
      LogLine("warn", "nats publisher behind")
          .Int("behind", static_cast<int64_t>(now.behind))
          .Double("oldest_unpublished_s",
                  absl::ToDoubleSeconds(absl::Now() - now.oldest_unpublished))
          .Emit();
    }
    if (events->empty()) {
      store_->AwaitEventsAfter(cursor, absl::Now() + options_.poll_interval);
      continue;
    }

    absl::Status failure;
    uint64_t published = 0;
    uint64_t duplicates = 0;
    uint64_t claim_checks = 0;
    for (const v1::Event& event : *events) {
      if (stopping()) break;
      bool duplicate = false;
      bool claim_check = false;
      failure = nats->Publish(options_, event, duplicate, claim_check);
      if (!failure.ok()) break;
      if (claim_check) {
        ++claim_checks;
        LogLine("info", "nats event published as a claim check")
            .Str("event", event.id())
            .Int("sequence", static_cast<int64_t>(event.global_sequence()))
            .Emit();
      }
      cursor = event.global_sequence();
      ++published;
      if (duplicate) ++duplicates;
    }
    if (cursor != persisted) {
      // Acknowledged by JetStream: safe to move the durable position past these events.
      absl::Status saved = store_->SetCursor(options_.cursor_name, cursor);
      if (saved.ok()) {
        persisted = cursor;
      } else if (failure.ok()) {
        failure = saved;
      }
    }
    {
      absl::MutexLock lock(&mu_);
      stats_.cursor = cursor;
      stats_.published += published;
      stats_.duplicates += duplicates;
      stats_.claim_checks += claim_checks;
    }
    if (!failure.ok()) {
      // Rebuild the connection: after a failed publish its state (and the stream's) is unknown.
      nats.reset();
      fail(failure);
      continue;
    }
    if (failures_in_row > 0 && published > 0) {
      LogLine("info", "nats publishing resumed")
          .Int("cursor", static_cast<int64_t>(cursor))
          .Int("failures_in_row", static_cast<int64_t>(failures_in_row))
          .Emit();
      failures_in_row = 0;
      last_log = absl::InfinitePast();
    }
    backoff = options_.min_backoff;
  }
  if (cursor != persisted) store_->SetCursor(options_.cursor_name, cursor).IgnoreError();
  nats.reset();
  absl::MutexLock lock(&mu_);
  stats_.connected = false;
}

}  // namespace varav::events
