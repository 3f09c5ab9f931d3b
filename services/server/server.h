// varavd's server: binds the gRPC services, opens the store, loads the rule packs, reports
// readiness through the standard health service and drains on shutdown.
//
//   VARAV_ASSIGN_OR_RETURN(auto server, VaravServer::Create(options));  // bound, NOT_SERVING
//   std::cout << server->port();
//   VARAV_RETURN_IF_ERROR(server->Initialize());  // store open, packs loaded: SERVING
//   ...
//   server->Shutdown();  // NOT_SERVING, drain in-flight calls, close the store
//
// Health (grpc.health.v1.Health) reports the overall service "" and each API service by name:
// NOT_SERVING from bind until Initialize succeeds, SERVING until Shutdown begins, NOT_SERVING while
// draining. Reflection (grpc.reflection.v1alpha.ServerReflection) is on. Neither needs
// credentials; every API call does (handlers.h).
//
// Thread safety: Create, Initialize and Shutdown are called by one thread in that order;
// port() is safe at any time after Create.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model/pack.h"
#include "engine/store/store.h"
#include "grpcpp/grpcpp.h"
#include "services/events/event_hub.h"
#include "services/events/nats_publisher.h"
#include "services/governance/governance.h"
#include "services/server/auth.h"
#include "services/server/config.h"
#include "services/server/handlers.h"
#include "services/server/health.h"

namespace varav::server {

class VaravServer {
 public:
  // The gRPC services whose health is reported besides "".
  static constexpr const char* kHealthServices[] = {"varav.v1.LifecycleService",
                                                    "varav.v1.RulesService"};

  // Validates `options`, reads the principals file and the TLS files, and starts listening. Errors:
  // InvalidArgument for bad options (also an insecure remote listen address), NotFound for missing
  // files, Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<VaravServer>> Create(ServerOptions options);

  ~VaravServer();  // Shutdown()

  // Opens the store and loads the packs; on success the server is SERVING. On error the server
  // stays NOT_SERVING (calls are UNAVAILABLE) and should be shut down.
  absl::Status Initialize();

  // Health NOT_SERVING, stop accepting calls, wait up to `shutdown_grace` for in-flight calls
  // (then cancel them), stop the workers and close the store. Idempotent.
  void Shutdown();

  // The bound TCP port (0 for a unix socket).
  int port() const { return port_; }
  const ServerOptions& options() const { return options_; }
  int64_t inflight() const { return dispatcher_->inflight(); }

 private:
  VaravServer() = default;
  void SetServing(bool serving);

  ServerOptions options_;
  int port_ = 0;
  bool shut_down_ = false;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<CallDispatcher> dispatcher_;
  std::unique_ptr<LifecycleHandler> lifecycle_handler_;
  std::unique_ptr<RulesHandler> rules_handler_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<grpc::Server> grpc_server_;
  // Set by Initialize; destroyed by Shutdown after the last call finished.
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<model::PackRegistry> registry_;
  std::unique_ptr<governance::Governance> governance_;
  // Event delivery (services/events): WatchEvents streams and, with --nats_url, JetStream.
  std::unique_ptr<events::EventHub> event_hub_;
  std::unique_ptr<events::NatsPublisher> nats_publisher_;
};

}  // namespace varav::server
