#include "services/server/health.h"

#include <utility>

namespace varav::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch call: writes the status it last learnt, one write at a time, until the client goes.
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* health, HealthCheckResponse::ServingStatus status) : health_(health) {
    absl::MutexLock lock(&mu_);
    wanted_ = status;
    WriteLocked();
  }

  // A new status of the watched service.
  void Update(HealthCheckResponse::ServingStatus status) {
    absl::MutexLock lock(&mu_);
    wanted_ = status;
    if (!writing_ && !done_) WriteLocked();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok) {
        if (wanted_ != sent_ && !done_) WriteLocked();
        return;
      }
    }
    FinishOnce(grpc::Status::CANCELLED);
  }

  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

  void OnDone() override {
    health_->Forget(this);
    delete this;
  }

 private:
  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    sent_ = wanted_;
    response_.set_status(sent_);
    StartWrite(&response_);
  }
  // Finish is called without the lock held: gRPC may run OnDone (which takes the service's lock)
  // before it returns.
  void FinishOnce(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
      done_ = true;
    }
    Finish(status);
  }

  HealthService* const health_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  HealthCheckResponse::ServingStatus wanted_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  HealthCheckResponse::ServingStatus sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::HealthService(std::vector<std::string> services)
    : services_(services.begin(), services.end()) {}

HealthService::~HealthService() = default;

void HealthService::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  serving_ = serving;
  for (Watcher* w : watchers_) {
    w->Update(serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
  }
}

bool HealthService::serving() const {
  absl::MutexLock lock(&mu_);
  return serving_;
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!request->service().empty() && !services_.contains(request->service())) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service '" + request->service() + "'"));
    return reactor;
  }
  response->set_status(serving() ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext*, const HealthCheckRequest* request) {
  absl::MutexLock lock(&mu_);
  HealthCheckResponse::ServingStatus status = HealthCheckResponse::SERVICE_UNKNOWN;
  if (request->service().empty() || services_.contains(request->service())) {
    status = serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  }
  auto* watcher = new Watcher(this, status);
  // An unknown service may become known later in gRPC's model; here the set is fixed, so such a
  // watch only ever reports SERVICE_UNKNOWN.
  if (status != HealthCheckResponse::SERVICE_UNKNOWN) watchers_.insert(watcher);
  return watcher;
}

void HealthService::Forget(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

}  // namespace varav::server
