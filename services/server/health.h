// The gRPC health service (grpc.health.v1.Health) of varavd, for load balancers, Kubernetes
// probes and grpc_health_probe.
//
// Every service it knows starts NOT_SERVING: a health check can never say SERVING before the
// server is ready to serve every call (gRPC's built-in service starts SERVING). Check answers the
// status of "" (the server) or a named service, NOT_FOUND for others; Watch sends the status at
// once and again on every change until the call ends.
//
//   HealthService health({"varav.v1.LifecycleService", "varav.v1.RulesService"});
//   builder.RegisterService(&health);
//   ... health.SetServing(true);   // once ready; false while draining
//
// Thread safety: every method may be called from any thread; gRPC calls the handlers
// concurrently. The service must outlive the gRPC server it is registered with.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace varav::server {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  // `services` are the named services besides "" (the server as a whole).
  explicit HealthService(std::vector<std::string> services);
  ~HealthService() override;

  // Sets the status of "" and of every named service, and tells every watcher.
  void SetServing(bool serving);
  bool serving() const;

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;
  void Forget(Watcher* watcher);

  const std::set<std::string> services_;
  mutable absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace varav::server
