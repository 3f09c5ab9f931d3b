// The gRPC handlers of varavd: every method of varav.v1.LifecycleService and
// varav.v1.RulesService, served raw (bytes in, bytes out) through one table of methods and one
// dispatcher, over the application layer (services/governance/governance.h).
//
// Every unary call goes through CallDispatcher::Handle, which in order:
//   1. parses the request itself (governance::ParseRequest), so a request that does not parse is
//      INVALID_ARGUMENT naming the field at fault (invalid UTF-8 in a string, say);
//   2. refuses with RESOURCE_EXHAUSTED when --max_inflight calls are already being handled;
//   3. queues the call on the worker pool (handlers must not block gRPC's threads), except short
//      reads, which never wait on storage and run inline on gRPC's thread;
//   4. answers DEADLINE_EXCEEDED / CANCELLED without doing any work when the deadline has passed or
//      the client went away while the call was queued;
//   5. answers UNAVAILABLE until the server is ready (store open, packs loaded) and once it drains;
//   6. authenticates the caller (auth.h): UNAUTHENTICATED on failure;
//   7. calls the Governance method with the call's deadline and cancellation (which stop a CEL
//      evaluation, see cel::Interrupt), converting its absl::Status to grpc::Status once;
//   8. sends the response's bytes as they are (GetGateStatus's are kept serialized per etag);
//   9. writes one JSON log line: request_id (the request's field, else `x-request-id` metadata),
//      method, principal, code, latency_ms.
//
// WatchEvents (a server stream) bypasses the dispatcher: it authenticates the caller and hands the
// call to the event hub's stream reactor (services/server/watch_reactor.h); streams hold no
// worker and do not count against --max_inflight.
//
// Thread safety: the dispatcher and handlers are used concurrently by gRPC; SetGovernance and the
// counters are atomic. The Authenticator and Governance must outlive the gRPC server.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/cel/cel.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "services/events/event_hub.h"
#include "services/governance/governance.h"
#include "services/server/auth.h"
#include "services/server/worker_pool.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"
#include "varav/v1/rules_service.grpc.pb.h"

namespace varav::server {

// "OK", "INVALID_ARGUMENT", ... for a gRPC status code.
absl::string_view StatusCodeName(grpc::StatusCode code);

// Where a method runs: on a worker (calls that may wait: mutations wait for their group write, and
// calls that evaluate CEL at length) or inline on gRPC's callback thread (short reads, which never
// wait on storage and would pay more for the hand-off than for their own work).
enum class Where { kWorker, kInline };

// One unary method of the API, whatever transport it arrives on.
struct UnaryMethod {
  // "varav.v1.LifecycleService/SubmitOutput".
  std::string name;
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  Where where = Where::kWorker;
  // An empty request of the method's input type.
  const google::protobuf::Message* request_prototype = nullptr;
  // Runs the method on a parsed request: the serialized response, or the call's status.
  std::function<absl::StatusOr<std::shared_ptr<const std::string>>(
      governance::Governance&, const governance::Principal&,
      const google::protobuf::Message& request, const cel::Interrupt& interrupt)>
      run;
};

// Every unary method of LifecycleService and RulesService; nullptr for an unknown name.
const UnaryMethod* FindUnaryMethod(absl::string_view name);

struct DispatcherOptions {
  // Default 1024: calls handled at once; more are RESOURCE_EXHAUSTED.
  int max_inflight = 1024;
  // Default 32: worker threads.
  int worker_threads = 32;
  // Default true: one log line per call.
  bool log_calls = true;
};

class CallDispatcher {
 public:
  // `auth` is not owned and must outlive the dispatcher.
  CallDispatcher(const Authenticator* auth, DispatcherOptions options);

  // Makes the server ready: calls from now on reach `governance` (not owned; must outlive every
  // call). nullptr makes calls UNAVAILABLE again.
  void SetGovernance(governance::Governance* governance) {
    governance_.store(governance, std::memory_order_release);
  }

  // Serves one call of `method` whose serialized request is `request`, finishing the call's
  // default reactor with the method's response (written to `response`) or status.
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* context, const UnaryMethod& method,
                                   const grpc::ByteBuffer& request, grpc::ByteBuffer* response);

  // From now on new calls are refused with UNAVAILABLE (clients retry elsewhere or later);
  // calls already admitted run to completion.
  void StartDraining() { draining_.store(true); }
  // Stops the calls still running: their CEL evaluations end as cancelled (for when the drain's
  // grace period is over).
  void CancelRunning() { cancel_running_.store(true); }

  // Finishes queued calls and joins the workers. Call after grpc::Server::Shutdown returned.
  void Stop() { pool_.Stop(); }

  // The caller of `context`: the bearer token's principal, else the verified client
  // certificate's; Unauthenticated otherwise. Also for streaming handlers, which do not go through
  // Handle.
  absl::StatusOr<governance::Principal> Authenticate(grpc::CallbackServerContext* context) const;

  int64_t inflight() const { return inflight_.load(); }
  // Calls received so far (admitted or not).
  int64_t received() const { return received_.load(); }

 private:
  struct Call;
  void Run(Call& call);
  void Finish(Call& call, absl::string_view principal, const grpc::Status& status);

  const Authenticator* const auth_;
  const DispatcherOptions options_;
  std::atomic<governance::Governance*> governance_{nullptr};
  std::atomic<int64_t> inflight_{0};
  std::atomic<int64_t> received_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> cancel_running_{false};
  WorkerPool pool_;
};

// LifecycleService with every method served raw through the dispatcher (WatchEvents through the
// event hub).
class LifecycleHandler final : public v1::LifecycleService::Service {
 public:
  // `dispatcher` is not owned and must outlive the handler.
  explicit LifecycleHandler(CallDispatcher* dispatcher);

  // Makes WatchEvents available (UNAVAILABLE until then); nullptrs make it unavailable again.
  // Neither is owned; both must outlive every stream.
  void SetEvents(events::EventHub* hub, const governance::Governance* governance) {
    governance_.store(governance, std::memory_order_release);
    hub_.store(hub, std::memory_order_release);
  }

 private:
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request);

  CallDispatcher* const dispatcher_;
  std::atomic<events::EventHub*> hub_{nullptr};
  std::atomic<const governance::Governance*> governance_{nullptr};
};

// RulesService with every method served raw through the dispatcher.
class RulesHandler final : public v1::RulesService::Service {
 public:
  // `dispatcher` is not owned and must outlive the handler.
  explicit RulesHandler(CallDispatcher* dispatcher);
};

}  // namespace varav::server
