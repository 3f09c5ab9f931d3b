#include "services/server/handlers.h"

#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/common/status_macros.h"
#include "grpc/grpc_security_constants.h"
#include "services/events/watch_reactor.h"
#include "services/server/logging.h"

namespace varav::server {

using events::ToGrpcStatus;
namespace {

absl::string_view ToView(const grpc::string_ref& ref) { return {ref.data(), ref.size()}; }

// Delegates one unary RPC to the Governance method `fn`. `method` must have static storage.
template <typename Request, typename Response>
grpc::ServerUnaryReactor* Delegate(
    CallDispatcher* dispatcher, grpc::CallbackServerContext* context, absl::string_view method,
    const Request* request, Response* response,
    absl::StatusOr<Response> (core::Governance::*fn)(const Request&, const core::Principal&) const,
    CallDispatcher::Where where) {
  return dispatcher->Handle(
      context, method, RequestIdOf(*request), where,
      [request, response, fn](const core::Governance& governance,
                              const core::Principal& principal) -> absl::Status {
        absl::StatusOr<Response> result = (governance.*fn)(*request, principal);
        if (!result.ok()) return result.status();
        *response = *std::move(result);
        return absl::OkStatus();
      });
}

}  // namespace

absl::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "UNKNOWN";
  }
}

CallDispatcher::CallDispatcher(const Authenticator* auth, DispatcherOptions options)
    : auth_(auth), options_(options), pool_(options.worker_threads) {}

grpc::ServerUnaryReactor* CallDispatcher::Handle(grpc::CallbackServerContext* context,
                                                 absl::string_view method, std::string request_id,
                                                 Where where, Work work) {
  const absl::Time start = absl::Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (request_id.empty()) {
    const auto& metadata = context->client_metadata();
    const auto it = metadata.find("x-request-id");
    if (it != metadata.end()) request_id = std::string(ToView(it->second));
  }
  // Counted before the draining check (both sequentially consistent), so that Shutdown either
  // sees this call in flight or this call sees the drain.
  received_.fetch_add(1, std::memory_order_relaxed);
  const int64_t already = inflight_.fetch_add(1);
  if (draining_.load()) {
    Finish(context, reactor, method, request_id, "", start,
           grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down; retry"));
    return reactor;
  }
  if (already >= options_.max_inflight) {
    Finish(context, reactor, method, request_id, "", start,
           grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("server busy: ", options_.max_inflight,
                                     " calls in flight; retry with backoff")));
    return reactor;
  }
  if (where == Where::kInline) {
    Run(context, reactor, method, std::move(request_id), start, work);
    return reactor;
  }
  pool_.Submit([this, context, reactor, method, request_id = std::move(request_id), start,
                work = std::move(work)]() mutable {
    Run(context, reactor, method, std::move(request_id), start, work);
  });
  return reactor;
}

void CallDispatcher::Run(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                         absl::string_view method, std::string request_id, absl::Time start,
                         const Work& work) {
  // A call whose deadline passed while it was queued is answered without touching the store:
  // the client has given up, so any write would be a surprise to it.
  if (std::chrono::system_clock::now() >= context->deadline()) {
    Finish(
        context, reactor, method, request_id, "", start,
        grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed before the call ran"));
    return;
  }
  if (context->IsCancelled()) {
    Finish(context, reactor, method, request_id, "", start,
           grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before the call ran"));
    return;
  }
  const core::Governance* governance = governance_.load(std::memory_order_acquire);
  if (governance == nullptr) {
    Finish(context, reactor, method, request_id, "", start,
           grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is starting; retry shortly"));
    return;
  }
  absl::StatusOr<core::Principal> principal = Authenticate(context);
  if (!principal.ok()) {
    Finish(context, reactor, method, request_id, "", start, ToGrpcStatus(principal.status()));
    return;
  }
  const absl::Status status = work(*governance, *principal);
  Finish(context, reactor, method, request_id, principal->id, start, ToGrpcStatus(status));
}

void CallDispatcher::Finish(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                            absl::string_view method, absl::string_view request_id,
                            absl::string_view principal, absl::Time start,
                            const grpc::Status& status) {
  // Everything the log line needs is copied before Finish: after it the call (and the request
  // the id may point into) can be gone.
  std::optional<LogLine> log;
  if (options_.log_calls) {
    log.emplace(status.ok() ? "info" : "warn", "call");
    log->Str("method", method)
        .Str("request_id", request_id)
        .Str("principal", principal)
        .Str("code", StatusCodeName(status.error_code()))
        .Double("latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!status.ok()) log->Str("error", status.error_message());
  }
  inflight_.fetch_sub(1);
  reactor->Finish(status);
  if (log.has_value()) log->Emit();
}

absl::StatusOr<core::Principal> CallDispatcher::Authenticate(
    grpc::CallbackServerContext* context) const {
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  if (it != metadata.end()) return auth_->FromAuthorization(ToView(it->second));
  const std::shared_ptr<const grpc::AuthContext> auth_context = context->auth_context();
  if (auth_context != nullptr && auth_context->IsPeerAuthenticated()) {
    std::vector<std::string> names;
    for (const char* property : {GRPC_X509_CN_PROPERTY_NAME, GRPC_X509_SAN_PROPERTY_NAME}) {
      for (const grpc::string_ref& value : auth_context->FindPropertyValues(property)) {
        names.emplace_back(ToView(value));
      }
    }
    return auth_->FromCertificateNames(names);
  }
  return absl::UnauthenticatedError(
      "missing credentials: send `authorization: Bearer <token>` metadata");
}

// kWorker for calls that may wait (mutations wait for their group write) or run long; kInline for
// short reads, which never wait (see engine/store/store.h) and would pay more for the hand-off to
// a worker than for their own work.
#define VARAV_DELEGATE(Service, Method, Place)                                              \
  grpc::ServerUnaryReactor* Service##Handler::Method(grpc::CallbackServerContext* context,  \
                                                     const v1::Method##Request* request,    \
                                                     v1::Method##Response* response) {      \
    return Delegate(dispatcher_, context, "varav.v1." #Service "Service/" #Method, request, \
                    response, &core::Governance::Method, CallDispatcher::Where::Place);     \
  }

grpc::ServerWriteReactor<grpc::ByteBuffer>* LifecycleHandler::WatchEvents(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  events::EventHub* hub = hub_.load(std::memory_order_acquire);
  if (hub == nullptr) {
    return events::FinishedWatch(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is not ready"));
  }
  absl::StatusOr<core::Principal> principal = dispatcher_->Authenticate(context);
  if (!principal.ok()) return events::FinishedWatch(ToGrpcStatus(principal.status()));
  return events::StartWatch(*hub, context, request, *principal,
                            governance_.load(std::memory_order_acquire));
}

grpc::ServerUnaryReactor* LifecycleHandler::GetGateStatus(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request,
                                                          grpc::ByteBuffer* response) {
  return dispatcher_->Handle(
      context, "varav.v1.LifecycleService/GetGateStatus", "", CallDispatcher::Where::kInline,
      [request, response](const core::Governance& governance,
                          const core::Principal& principal) -> absl::Status {
        v1::GetGateStatusRequest parsed;
        VARAV_RETURN_IF_ERROR(events::ParseRawRequest(*request, parsed));
        absl::StatusOr<std::shared_ptr<const std::string>> answer =
            governance.GetGateStatusBytes(parsed, principal);
        if (!answer.ok()) return answer.status();
        // The slice keeps the shared answer alive until gRPC has sent it.
        auto* keep = new std::shared_ptr<const std::string>(*std::move(answer));
        grpc::Slice slice(
            const_cast<char*>((*keep)->data()), (*keep)->size(),
            [](void* p) { delete static_cast<std::shared_ptr<const std::string>*>(p); }, keep);
        *response = grpc::ByteBuffer(&slice, 1);
        return absl::OkStatus();
      });
}

VARAV_DELEGATE(Lifecycle, RegisterService, kWorker)
VARAV_DELEGATE(Lifecycle, GetService, kInline)
VARAV_DELEGATE(Lifecycle, ListServices, kInline)
VARAV_DELEGATE(Lifecycle, SubmitOutput, kWorker)
VARAV_DELEGATE(Lifecycle, GetOutput, kInline)
VARAV_DELEGATE(Lifecycle, ListOutputs, kInline)
VARAV_DELEGATE(Lifecycle, RecordAssessment, kWorker)
VARAV_DELEGATE(Lifecycle, AdvanceStage, kWorker)
VARAV_DELEGATE(Lifecycle, CheckGate, kInline)
VARAV_DELEGATE(Lifecycle, RequestGateReview, kWorker)
VARAV_DELEGATE(Lifecycle, RecordDecision, kWorker)
VARAV_DELEGATE(Lifecycle, ResumeFromHold, kWorker)
VARAV_DELEGATE(Lifecycle, MigratePack, kWorker)
VARAV_DELEGATE(Lifecycle, ListEvents, kInline)
VARAV_DELEGATE(Lifecycle, VerifyAuditTrail, kWorker)
VARAV_DELEGATE(Rules, ListRulePacks, kInline)
VARAV_DELEGATE(Rules, GetRulePack, kInline)
VARAV_DELEGATE(Rules, ValidateRulePack, kWorker)
VARAV_DELEGATE(Rules, EvaluateExpression, kWorker)

#undef VARAV_DELEGATE

}  // namespace varav::server
