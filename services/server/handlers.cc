#include "services/server/handlers.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/common/logging.h"
#include "engine/common/status_macros.h"
#include "grpc/grpc_security_constants.h"
#include "services/governance/wire.h"
#include "services/server/grpc_glue.h"
#include "services/server/watch_reactor.h"

namespace varav::server {

namespace {

absl::string_view ToView(const grpc::string_ref& ref) { return {ref.data(), ref.size()}; }

using SharedBytes = std::shared_ptr<const std::string>;

// A Governance method: `(request, principal)` or `(request, principal, interrupt)`, const for
// the queries, answering a response message or (GetGateStatusBytes) its serialized form.
template <typename Fn>
struct MethodOf;
template <typename R, typename Req, typename... Rest>
struct MethodOf<absl::StatusOr<R> (governance::Governance::*)(const Req&, Rest...)> {
  using Request = Req;
};
template <typename R, typename Req, typename... Rest>
struct MethodOf<absl::StatusOr<R> (governance::Governance::*)(const Req&, Rest...) const> {
  using Request = Req;
};

template <typename Result>
absl::StatusOr<SharedBytes> Serialized(absl::StatusOr<Result> result) {
  if (!result.ok()) return result.status();
  if constexpr (std::is_same_v<Result, SharedBytes>) {
    return *std::move(result);
  } else {
    return std::make_shared<const std::string>(result->SerializeAsString());
  }
}

const google::protobuf::MethodDescriptor& Describe(absl::string_view name) {
  const google::protobuf::MethodDescriptor* method =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(std::string(name));
  if (method == nullptr) {
    // The table below names only methods of the compiled protos: a typo is a programming error.
    LogLine("error", "unknown method in the method table").Str("method", name).Emit();
    std::abort();
  }
  return *method;
}

template <typename Fn>
UnaryMethod Method(absl::string_view service, absl::string_view method, Where where, Fn fn) {
  using Request = typename MethodOf<Fn>::Request;
  const google::protobuf::MethodDescriptor& d = Describe(absl::StrCat(service, ".", method));
  return {
      .name = absl::StrCat(service, "/", method),
      .descriptor = &d,
      .where = where,
      .request_prototype = &Request::default_instance(),
      .run = [fn](governance::Governance& governance, const governance::Principal& principal,
                  const google::protobuf::Message& request, const cel::Interrupt& interrupt) {
        const Request& typed = static_cast<const Request&>(request);
        if constexpr (std::is_invocable_v<Fn, governance::Governance&, const Request&,
                                          const governance::Principal&, const cel::Interrupt*>) {
          return Serialized(std::invoke(fn, governance, typed, principal, &interrupt));
        } else {
          return Serialized(std::invoke(fn, governance, typed, principal));
        }
      }};
}

// Short reads run inline (kInline): they never wait on storage. Mutations wait for their group
// write, and CheckGate, EvaluateExpression, ValidateRulePack and VerifyAuditTrail may compute at
// length: they run on workers.
const absl::flat_hash_map<std::string, UnaryMethod>& MethodTable() {
  static const auto* table = [] {
    using G = governance::Governance;
    constexpr absl::string_view kLifecycle = "varav.v1.LifecycleService";
    constexpr absl::string_view kRules = "varav.v1.RulesService";
    std::vector<UnaryMethod> methods = {
        Method(kLifecycle, "RegisterService", Where::kWorker, &G::RegisterService),
        Method(kLifecycle, "GetService", Where::kInline, &G::GetService),
        Method(kLifecycle, "ListServices", Where::kInline, &G::ListServices),
        Method(kLifecycle, "SubmitOutput", Where::kWorker, &G::SubmitOutput),
        Method(kLifecycle, "GetOutput", Where::kInline, &G::GetOutput),
        Method(kLifecycle, "ListOutputs", Where::kInline, &G::ListOutputs),
        Method(kLifecycle, "RecordAssessment", Where::kWorker, &G::RecordAssessment),
        Method(kLifecycle, "AdvanceStage", Where::kWorker, &G::AdvanceStage),
        Method(kLifecycle, "CheckGate", Where::kWorker, &G::CheckGate),
        Method(kLifecycle, "RequestGateReview", Where::kWorker, &G::RequestGateReview),
        Method(kLifecycle, "GetGateStatus", Where::kInline, &G::GetGateStatusBytes),
        Method(kLifecycle, "RecordDecision", Where::kWorker, &G::RecordDecision),
        Method(kLifecycle, "ResumeFromHold", Where::kWorker, &G::ResumeFromHold),
        Method(kLifecycle, "MigratePack", Where::kWorker, &G::MigratePack),
        Method(kLifecycle, "ListEvents", Where::kInline, &G::ListEvents),
        Method(kLifecycle, "VerifyAuditTrail", Where::kWorker, &G::VerifyAuditTrail),
        Method(kRules, "ListRulePacks", Where::kInline, &G::ListRulePacks),
        Method(kRules, "GetRulePack", Where::kInline, &G::GetRulePack),
        Method(kRules, "ValidateRulePack", Where::kWorker, &G::ValidateRulePack),
        Method(kRules, "EvaluateExpression", Where::kWorker, &G::EvaluateExpression),
    };
    auto* t = new absl::flat_hash_map<std::string, UnaryMethod>();
    for (UnaryMethod& m : methods) {
      std::string name = m.name;
      t->emplace(std::move(name), std::move(m));
    }
    return t;
  }();
  return *table;
}

// The request's `request_id` field when its type has one, else "".
std::string RequestIdOf(const google::protobuf::Message& request) {
  const google::protobuf::FieldDescriptor* field =
      request.GetDescriptor()->FindFieldByName("request_id");
  if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
      field->is_repeated()) {
    return "";
  }
  return request.GetReflection()->GetString(request, field);
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::string bytes;
  if (!buffer.Valid()) return bytes;
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

// The slice keeps the shared bytes alive until gRPC has sent them.
grpc::ByteBuffer ToByteBuffer(SharedBytes bytes) {
  auto* keep = new SharedBytes(std::move(bytes));
  grpc::Slice slice(
      const_cast<char*>((*keep)->data()), (*keep)->size(),
      [](void* p) { delete static_cast<SharedBytes*>(p); }, keep);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

const UnaryMethod* FindUnaryMethod(absl::string_view name) {
  const auto& table = MethodTable();
  auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

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

// One call between its arrival and its end.
struct CallDispatcher::Call {
  grpc::CallbackServerContext* context;
  grpc::ServerUnaryReactor* reactor;
  const UnaryMethod* method;
  std::unique_ptr<google::protobuf::Message> request;
  grpc::ByteBuffer* response;
  std::string request_id;
  absl::Time start;
};

CallDispatcher::CallDispatcher(const Authenticator* auth, DispatcherOptions options)
    : auth_(auth), options_(options), pool_(options.worker_threads) {}

grpc::ServerUnaryReactor* CallDispatcher::Handle(grpc::CallbackServerContext* context,
                                                 const UnaryMethod& method,
                                                 const grpc::ByteBuffer& request,
                                                 grpc::ByteBuffer* response) {
  auto call = std::make_shared<Call>(Call{.context = context,
                                          .reactor = context->DefaultReactor(),
                                          .method = &method,
                                          .request = nullptr,
                                          .response = response,
                                          .request_id = "",
                                          .start = absl::Now()});
  call->request.reset(method.request_prototype->New());
  const absl::Status parsed = governance::ParseRequest(Flatten(request), *call->request);
  if (parsed.ok()) call->request_id = RequestIdOf(*call->request);
  if (call->request_id.empty()) {
    const auto& metadata = context->client_metadata();
    const auto it = metadata.find("x-request-id");
    if (it != metadata.end()) call->request_id = std::string(ToView(it->second));
  }
  // Counted before the draining check (both sequentially consistent), so that Shutdown either
  // sees this call in flight or this call sees the drain.
  received_.fetch_add(1, std::memory_order_relaxed);
  const int64_t already = inflight_.fetch_add(1);
  if (draining_.load()) {
    Finish(*call, "",
           grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down; retry"));
    return call->reactor;
  }
  if (already >= options_.max_inflight) {
    Finish(*call, "",
           grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("server busy: ", options_.max_inflight,
                                     " calls in flight; retry with backoff")));
    return call->reactor;
  }
  if (!parsed.ok()) {
    Finish(*call, "", ToGrpcStatus(parsed));
    return call->reactor;
  }
  grpc::ServerUnaryReactor* reactor = call->reactor;
  if (method.where == Where::kInline) {
    Run(*call);
    return reactor;
  }
  pool_.Submit([this, call = std::move(call)] { Run(*call); });
  return reactor;
}

void CallDispatcher::Run(Call& call) {
  grpc::CallbackServerContext* context = call.context;
  // A call whose deadline passed while it was queued is answered without touching the store:
  // the client has given up, so any write would be a surprise to it.
  if (std::chrono::system_clock::now() >= context->deadline()) {
    Finish(
        call, "",
        grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed before the call ran"));
    return;
  }
  if (context->IsCancelled()) {
    Finish(call, "", grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before the call ran"));
    return;
  }
  governance::Governance* governance = governance_.load(std::memory_order_acquire);
  if (governance == nullptr) {
    Finish(call, "",
           grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is starting; retry shortly"));
    return;
  }
  absl::StatusOr<governance::Principal> principal = Authenticate(context);
  if (!principal.ok()) {
    Finish(call, "", ToGrpcStatus(principal.status()));
    return;
  }
  const auto deadline = context->deadline();
  const cel::Interrupt interrupt{
      .deadline = deadline == std::chrono::system_clock::time_point::max()
                      ? absl::InfiniteFuture()
                      : absl::FromChrono(deadline),
      .cancelled = [this, context] { return cancel_running_.load() || context->IsCancelled(); },
  };
  absl::StatusOr<SharedBytes> result =
      call.method->run(*governance, *principal, *call.request, interrupt);
  if (result.ok()) *call.response = ToByteBuffer(*std::move(result));
  Finish(call, principal->id, ToGrpcStatus(result.status()));
}

void CallDispatcher::Finish(Call& call, absl::string_view principal, const grpc::Status& status) {
  // Everything the log line needs is copied before Finish: after it the call can be gone.
  std::optional<LogLine> log;
  if (options_.log_calls) {
    log.emplace(status.ok() ? "info" : "warn", "call");
    log->Str("method", call.method->name)
        .Str("request_id", call.request_id)
        .Str("principal", principal)
        .Str("code", StatusCodeName(status.error_code()))
        .Double("latency_ms", absl::ToDoubleMilliseconds(absl::Now() - call.start));
    if (!status.ok()) log->Str("error", status.error_message());
  }
  inflight_.fetch_sub(1);
  call.reactor->Finish(status);
  if (log.has_value()) log->Emit();
}

absl::StatusOr<governance::Principal> CallDispatcher::Authenticate(
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

namespace {

const google::protobuf::ServiceDescriptor& ServiceDescriptorOf(const char* name) {
  const google::protobuf::ServiceDescriptor* d =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
  if (d == nullptr) {
    LogLine("error", "service not in the compiled protos").Str("service", name).Emit();
    std::abort();
  }
  return *d;
}

// Serves every unary method of the service `descriptor` describes raw through `dispatcher`, and
// its streaming ones through `serve_streaming`; `mark` installs a handler at a method's index
// (the generated Service lists its methods in the descriptor's order).
void ServeRaw(const google::protobuf::ServiceDescriptor& descriptor, CallDispatcher* dispatcher,
              const std::function<void(int index)>& serve_streaming,
              const std::function<void(int, grpc::internal::MethodHandler*)>& mark) {
  for (int i = 0; i < descriptor.method_count(); ++i) {
    const google::protobuf::MethodDescriptor& m = *descriptor.method(i);
    if (m.server_streaming() || m.client_streaming()) {
      serve_streaming(i);
      continue;
    }
    const UnaryMethod* method =
        FindUnaryMethod(absl::StrCat(descriptor.full_name(), "/", m.name()));
    if (method == nullptr) {
      LogLine("error", "method without a handler").Str("method", m.full_name()).Emit();
      std::abort();
    }
    mark(i, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                [dispatcher, method](grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
                  return dispatcher->Handle(context, *method, *request, response);
                }));
  }
}

}  // namespace

LifecycleHandler::LifecycleHandler(CallDispatcher* dispatcher) : dispatcher_(dispatcher) {
  ServeRaw(
      ServiceDescriptorOf(v1::LifecycleService::service_full_name()), dispatcher,
      [this](int index) {
        MarkMethodRawCallback(
            index,
            new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                [this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
                  return WatchEvents(context, request);
                }));
      },
      [this](int index, grpc::internal::MethodHandler* handler) {
        MarkMethodRawCallback(index, handler);
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* LifecycleHandler::WatchEvents(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  events::EventHub* hub = hub_.load(std::memory_order_acquire);
  if (hub == nullptr) {
    return FinishedWatch(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is not ready"));
  }
  absl::StatusOr<governance::Principal> principal = dispatcher_->Authenticate(context);
  if (!principal.ok()) return FinishedWatch(ToGrpcStatus(principal.status()));
  return StartWatch(*hub, context, request, *principal,
                    governance_.load(std::memory_order_acquire));
}

RulesHandler::RulesHandler(CallDispatcher* dispatcher) {
  ServeRaw(
      ServiceDescriptorOf(v1::RulesService::service_full_name()), dispatcher,
      [](int index) {
        LogLine("error", "RulesService has no streaming method").Int("index", index).Emit();
        std::abort();
      },
      [this](int index, grpc::internal::MethodHandler* handler) {
        MarkMethodRawCallback(index, handler);
      });
}

}  // namespace varav::server
