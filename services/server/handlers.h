// The gRPC handlers of varavd: thin adapters from the generated callback services of
// varav.v1.LifecycleService and varav.v1.RulesService to the application layer
// (services/core/governance.h).
//
// Every unary call goes through CallDispatcher::Handle, which in order:
//   1. refuses with RESOURCE_EXHAUSTED when --max_inflight calls are already being handled;
//   2. queues the call on the worker pool (handlers must not block gRPC's threads), except short
//      reads (GetService, ListServices, GetOutput, ListOutputs, CheckGate, GetGateStatus,
//      ListEvents, ListRulePacks, GetRulePack), which never wait on storage and run inline on
//      gRPC's thread: handing them to a worker would cost more than they do;
//   3. answers DEADLINE_EXCEEDED / CANCELLED without doing any work when the deadline has passed or
//      the client went away while the call was queued;
//   4. answers UNAVAILABLE until the server is ready (store open, packs loaded) and once it drains;
//   5. authenticates the caller (auth.h): UNAUTHENTICATED on failure;
//   6. calls the Governance method, converting its absl::Status to grpc::Status once (same code,
//      same message);
//   7. writes one JSON log line: request_id (the request's field, else `x-request-id` metadata),
//      method, principal, code, latency_ms.
//
// GetGateStatus is registered as a raw method: its answer (kept per etag by Governance, and about
// 5 KB) is sent as the bytes Governance serialized once, instead of being copied into the call's
// response message and serialized again on every call. The request is parsed here; a request that
// does not parse is INVALID_ARGUMENT.
//
// WatchEvents (a server stream) bypasses the dispatcher: it authenticates the caller and hands the
// call to the event hub's stream reactor (services/events/watch_reactor.h); streams hold no
// worker and do not count against --max_inflight.
//
// Thread safety: the dispatcher and handlers are used concurrently by gRPC; SetGovernance and the
// counters are atomic. The Authenticator and Governance must outlive the gRPC server.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "services/core/governance.h"
#include "services/events/event_hub.h"
#include "services/events/grpc_glue.h"
#include "services/server/auth.h"
#include "services/server/worker_pool.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"
#include "varav/v1/rules_service.grpc.pb.h"

namespace varav::server {

// "OK", "INVALID_ARGUMENT", ... for a gRPC status code.
absl::string_view StatusCodeName(grpc::StatusCode code);

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
  void SetGovernance(const core::Governance* governance) {
    governance_.store(governance, std::memory_order_release);
  }

  // Runs `work` for the call `context` on a worker (see the file comment) and finishes the call's
  // default reactor with its status. `work` fills the response on success.
  using Work = std::function<absl::Status(const core::Governance&, const core::Principal&)>;
  // Where `work` runs: on a worker (calls that may wait: mutations wait for their group write) or
  // inline on gRPC's callback thread (short reads, which never wait on storage).
  enum class Where { kWorker, kInline };
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* context, absl::string_view method,
                                   std::string request_id, Where where, Work work);

  // From now on new calls are refused with UNAVAILABLE (clients retry elsewhere or later);
  // calls already admitted run to completion.
  void StartDraining() { draining_.store(true); }

  // Finishes queued calls and joins the workers. Call after grpc::Server::Shutdown returned.
  void Stop() { pool_.Stop(); }

  // The caller of `context`: the bearer token's principal, else the verified client
  // certificate's; Unauthenticated otherwise. Also for streaming handlers, which do not go through
  // Handle.
  absl::StatusOr<core::Principal> Authenticate(grpc::CallbackServerContext* context) const;

  int64_t inflight() const { return inflight_.load(); }
  // Calls received so far (admitted or not).
  int64_t received() const { return received_.load(); }

 private:
  void Run(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
           absl::string_view method, std::string request_id, absl::Time start, const Work& work);
  void Finish(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
              absl::string_view method, absl::string_view request_id, absl::string_view principal,
              absl::Time start, const grpc::Status& status);

  const Authenticator* const auth_;
  const DispatcherOptions options_;
  std::atomic<const core::Governance*> governance_{nullptr};
  std::atomic<int64_t> inflight_{0};
  std::atomic<int64_t> received_{0};
  std::atomic<bool> draining_{false};
  WorkerPool pool_;
};

// The request's `request_id` field when the message has one, else "".
template <typename Request>
std::string RequestIdOf(const Request& request) {
  if constexpr (requires { request.request_id(); }) {
    return std::string(request.request_id());
  } else {
    return std::string();
  }
}

class LifecycleHandler final : public v1::LifecycleService::WithRawCallbackMethod_GetGateStatus<
                                   v1::LifecycleService::WithRawCallbackMethod_WatchEvents<
                                       v1::LifecycleService::CallbackService>> {
 public:
  // `dispatcher` is not owned and must outlive the handler.
  explicit LifecycleHandler(CallDispatcher* dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* RegisterService(grpc::CallbackServerContext* context,
                                            const v1::RegisterServiceRequest* request,
                                            v1::RegisterServiceResponse* response) override;
  grpc::ServerUnaryReactor* GetService(grpc::CallbackServerContext* context,
                                       const v1::GetServiceRequest* request,
                                       v1::GetServiceResponse* response) override;
  grpc::ServerUnaryReactor* ListServices(grpc::CallbackServerContext* context,
                                         const v1::ListServicesRequest* request,
                                         v1::ListServicesResponse* response) override;
  grpc::ServerUnaryReactor* SubmitOutput(grpc::CallbackServerContext* context,
                                         const v1::SubmitOutputRequest* request,
                                         v1::SubmitOutputResponse* response) override;
  grpc::ServerUnaryReactor* GetOutput(grpc::CallbackServerContext* context,
                                      const v1::GetOutputRequest* request,
                                      v1::GetOutputResponse* response) override;
  grpc::ServerUnaryReactor* ListOutputs(grpc::CallbackServerContext* context,
                                        const v1::ListOutputsRequest* request,
                                        v1::ListOutputsResponse* response) override;
  grpc::ServerUnaryReactor* RecordAssessment(grpc::CallbackServerContext* context,
                                             const v1::RecordAssessmentRequest* request,
                                             v1::RecordAssessmentResponse* response) override;
  grpc::ServerUnaryReactor* AdvanceStage(grpc::CallbackServerContext* context,
                                         const v1::AdvanceStageRequest* request,
                                         v1::AdvanceStageResponse* response) override;
  grpc::ServerUnaryReactor* CheckGate(grpc::CallbackServerContext* context,
                                      const v1::CheckGateRequest* request,
                                      v1::CheckGateResponse* response) override;
  grpc::ServerUnaryReactor* RequestGateReview(grpc::CallbackServerContext* context,
                                              const v1::RequestGateReviewRequest* request,
                                              v1::RequestGateReviewResponse* response) override;
  // Raw: a serialized varav.v1.GetGateStatusRequest in, GetGateStatusResponse out.
  grpc::ServerUnaryReactor* GetGateStatus(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RecordDecision(grpc::CallbackServerContext* context,
                                           const v1::RecordDecisionRequest* request,
                                           v1::RecordDecisionResponse* response) override;
  grpc::ServerUnaryReactor* ResumeFromHold(grpc::CallbackServerContext* context,
                                           const v1::ResumeFromHoldRequest* request,
                                           v1::ResumeFromHoldResponse* response) override;
  grpc::ServerUnaryReactor* MigratePack(grpc::CallbackServerContext* context,
                                        const v1::MigratePackRequest* request,
                                        v1::MigratePackResponse* response) override;
  grpc::ServerUnaryReactor* ListEvents(grpc::CallbackServerContext* context,
                                       const v1::ListEventsRequest* request,
                                       v1::ListEventsResponse* response) override;
  grpc::ServerUnaryReactor* VerifyAuditTrail(grpc::CallbackServerContext* context,
                                             const v1::VerifyAuditTrailRequest* request,
                                             v1::VerifyAuditTrailResponse* response) override;
  // Raw: the events' shared serialized bytes are sent (watch_reactor.h).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request) override;

  // Makes WatchEvents available (UNAVAILABLE until then); nullptrs make it unavailable again.
  // Neither is owned; both must outlive every stream.
  void SetEvents(events::EventHub* hub, const core::Governance* governance) {
    governance_.store(governance, std::memory_order_release);
    hub_.store(hub, std::memory_order_release);
  }

 private:
  CallDispatcher* const dispatcher_;
  std::atomic<events::EventHub*> hub_{nullptr};
  std::atomic<const core::Governance*> governance_{nullptr};
};

class RulesHandler final : public v1::RulesService::CallbackService {
 public:
  // `dispatcher` is not owned and must outlive the handler.
  explicit RulesHandler(CallDispatcher* dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* ListRulePacks(grpc::CallbackServerContext* context,
                                          const v1::ListRulePacksRequest* request,
                                          v1::ListRulePacksResponse* response) override;
  grpc::ServerUnaryReactor* GetRulePack(grpc::CallbackServerContext* context,
                                        const v1::GetRulePackRequest* request,
                                        v1::GetRulePackResponse* response) override;
  grpc::ServerUnaryReactor* ValidateRulePack(grpc::CallbackServerContext* context,
                                             const v1::ValidateRulePackRequest* request,
                                             v1::ValidateRulePackResponse* response) override;
  grpc::ServerUnaryReactor* EvaluateExpression(grpc::CallbackServerContext* context,
                                               const v1::EvaluateExpressionRequest* request,
                                               v1::EvaluateExpressionResponse* response) override;

 private:
  CallDispatcher* const dispatcher_;
};

}  // namespace varav::server
