#include "services/server/server.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/common/logging.h"
#include "engine/model/loader.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"

namespace varav::server {
namespace {

// Draining ends once no call has been in flight or arrived for this long.
constexpr absl::Duration kQuietPeriod = absl::Milliseconds(50);
// How long the transport may take to deliver responses of finished calls during shutdown.
constexpr absl::Duration kFlushWindow = absl::Milliseconds(250);

absl::StatusOr<std::string> ReadFile(absl::string_view setting, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(setting, ": cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& options) {
  if (options.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadFile("tls_cert", options.tls_cert);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("tls_key", options.tls_key);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_client_ca.empty()) {
    auto ca = ReadFile("tls_client_ca", options.tls_client_ca);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<VaravServer>> VaravServer::Create(ServerOptions options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  auto server = std::unique_ptr<VaravServer>(new VaravServer());
  server->options_ = std::move(options);
  const ServerOptions& opts = server->options_;

  auto auth = Authenticator::FromFile(opts.principals_file);
  if (!auth.ok()) return auth.status();
  server->auth_ = *std::move(auth);
  auto credentials = Credentials(opts);
  if (!credentials.ok()) return credentials.status();

  server->dispatcher_ = std::make_unique<CallDispatcher>(
      server->auth_.get(), DispatcherOptions{.max_inflight = opts.max_inflight,
                                             .worker_threads = opts.worker_threads,
                                             .log_calls = opts.log_calls});
  server->lifecycle_handler_ = std::make_unique<LifecycleHandler>(server->dispatcher_.get());
  server->rules_handler_ = std::make_unique<RulesHandler>(server->dispatcher_.get());
  // NOT_SERVING from the first moment the port accepts (gRPC's own health service would start
  // SERVING).
  server->health_ = std::make_unique<HealthService>(
      std::vector<std::string>(std::begin(kHealthServices), std::end(kHealthServices)));

  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(opts.listen, *credentials, &server->port_);
  builder.RegisterService(server->health_.get());
  builder.RegisterService(server->lifecycle_handler_.get());
  builder.RegisterService(server->rules_handler_.get());
  builder.SetMaxReceiveMessageSize(opts.max_message_bytes);
  builder.SetMaxSendMessageSize(opts.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, opts.max_concurrent_streams);
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr ||
      (server->port_ == 0 && !absl::StartsWith(opts.listen, "unix"))) {
    server->grpc_server_.reset();
    server->dispatcher_->Stop();
    return absl::UnavailableError(absl::StrCat("listen: cannot bind ", opts.listen));
  }
  return server;
}

VaravServer::~VaravServer() { Shutdown(); }

absl::Status VaravServer::Initialize() {
  const absl::Time start = absl::Now();
  auto store = store::Store::Open({.path = options_.data_dir,
                                   .index_terms = governance::PortfolioIndexTerms,
                                   .sync = options_.sync});
  if (!store.ok()) {
    return absl::Status(store.status().code(), absl::StrCat("data_dir ", options_.data_dir, ": ",
                                                            store.status().message()));
  }
  store_ = *std::move(store);
  registry_ = std::make_unique<model::PackRegistry>();
  if (absl::Status s = model::LoadBundledPacks(options_.rules_dir, registry_.get()); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("rules_dir ", options_.rules_dir, ": ", s.message()));
  }
  std::vector<std::string> keys;
  for (const auto& pack : registry_->List()) keys.push_back(pack->key());
  if (keys.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rules_dir ", options_.rules_dir, ": no rule pack found"));
  }
  if (!options_.default_pack.empty() && registry_->Find(options_.default_pack) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("default_pack: ", options_.default_pack,
                     " is not loaded (loaded: ", absl::StrJoin(keys, ", "), ")"));
  }
  governance_ = std::make_unique<governance::Governance>(
      store_.get(), registry_.get(),
      governance::GovernanceOptions{
          .default_pack = options_.default_pack,
          .snapshot_cache_entries = static_cast<size_t>(options_.snapshot_cache_entries)});
  event_hub_ = std::make_unique<events::EventHub>(store_.get());
  if (!options_.nats_url.empty()) {
    auto publisher = events::NatsPublisher::Start(
        store_.get(), {.url = options_.nats_url, .stream = options_.nats_stream});
    if (!publisher.ok()) {
      return absl::Status(publisher.status().code(),
                          absl::StrCat("nats: ", publisher.status().message()));
    }
    nats_publisher_ = *std::move(publisher);
  }
  lifecycle_handler_->SetEvents(event_hub_.get(), governance_.get());
  dispatcher_->SetGovernance(governance_.get());
  SetServing(true);
  LogLine("info", "ready")
      .Str("data_dir", options_.data_dir)
      .Str("packs", absl::StrJoin(keys, ","))
      .Double("init_ms", absl::ToDoubleMilliseconds(absl::Now() - start))
      .Emit();
  return absl::OkStatus();
}

void VaravServer::SetServing(bool serving) { health_->SetServing(serving); }

void VaravServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (grpc_server_ != nullptr) {
    const absl::Time start = absl::Now();
    LogLine("info", "draining")
        .Int("inflight", dispatcher_->inflight())
        .Double("grace_s", absl::ToDoubleSeconds(options_.shutdown_grace))
        .Emit();
    SetServing(false);
    // Draining happens here rather than in grpc::Server::Shutdown, which would also wait for idle
    // client connections to go away (up to the whole grace period) and cancel calls that arrive
    // after it began: new calls are refused with UNAVAILABLE while admitted ones finish, until
    // nothing has been in flight or arrived for kQuietPeriod; then the transport shuts down.
    dispatcher_->StartDraining();
    // Open event streams end now with UNAVAILABLE (clients resume elsewhere or later).
    if (event_hub_ != nullptr) event_hub_->Shutdown();
    const absl::Time deadline = start + options_.shutdown_grace;
    int64_t received = dispatcher_->received();
    absl::Time quiet_since = absl::Now();
    while (absl::Now() < deadline) {
      const int64_t now_received = dispatcher_->received();
      if (dispatcher_->inflight() > 0 || now_received != received) {
        received = now_received;
        quiet_since = absl::Now();
      } else if (absl::Now() - quiet_since >= kQuietPeriod) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    const int64_t unfinished = dispatcher_->inflight();
    // The grace period is over for whatever still runs: its CEL evaluations stop as cancelled.
    if (unfinished > 0) dispatcher_->CancelRunning();
    // gRPC gets a short window to flush the last responses (and to refuse calls racing the
    // GOAWAY) before whatever is left is cancelled; Shutdown returns once every reactor has
    // finished.
    const absl::Time flush_until = std::min(deadline, absl::Now() + kFlushWindow);
    grpc_server_->Shutdown(absl::ToChronoTime(std::max(flush_until, absl::Now())));
    dispatcher_->Stop();
    grpc_server_.reset();
    LogLine("info", "drained")
        .Int("unfinished", unfinished)
        .Double("drain_ms", absl::ToDoubleMilliseconds(absl::Now() - start))
        .Emit();
  } else if (dispatcher_ != nullptr) {
    dispatcher_->Stop();
  }
  if (dispatcher_ != nullptr) dispatcher_->SetGovernance(nullptr);
  if (lifecycle_handler_ != nullptr) lifecycle_handler_->SetEvents(nullptr, nullptr);
  if (event_hub_ != nullptr) {
    // The gRPC server is gone, so every stream reactor has finished or is about to.
    event_hub_->Shutdown();
    event_hub_->AwaitListenersGone(absl::Now() + absl::Seconds(5));
    event_hub_.reset();
  }
  // The publisher persists its cursor in the store, so it stops before the store closes.
  if (nats_publisher_ != nullptr) nats_publisher_->Stop();
  nats_publisher_.reset();
  governance_.reset();
  // Closing the store last: every call that could write has finished.
  store_.reset();
}

}  // namespace varav::server
