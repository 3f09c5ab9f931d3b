// Test support for the WatchEvents stream: an in-process gRPC server on a free loopback port
// whose LifecycleService answers WatchEvents with the real stream reactor, as varavd wires it.
//
// Thread safety: a TestServer is created and shut down by one thread; gRPC serves it from its own.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "services/events/event_hub.h"
#include "services/governance/principal.h"
#include "services/server/watch_reactor.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"

namespace varav::server::testing {

// LifecycleService with only WatchEvents implemented, as the real server wires it.
class WatchOnlyService final : public v1::LifecycleService::WithRawCallbackMethod_WatchEvents<
                                   v1::LifecycleService::CallbackService> {
 public:
  WatchOnlyService(events::EventHub* hub, governance::Principal principal)
      : hub_(hub), principal_(std::move(principal)) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override {
    return StartWatch(*hub_, context, request, principal_);
  }

 private:
  events::EventHub* hub_;
  governance::Principal principal_;
};

// A gRPC server on a free loopback port serving WatchOnlyService.
class TestServer {
 public:
  TestServer(events::EventHub* hub, governance::Principal principal)
      : service_(hub, std::move(principal)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~TestServer() { Shutdown(); }

  void Shutdown() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      server_.reset();
    }
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::shared_ptr<grpc::Channel> NewChannel() const {
    grpc::ChannelArguments args;
    // Separate channels instead of one shared subchannel, so tests can spread streams.
    args.SetInt("grpc.channel_id", next_channel_id_++);
    return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
  }

 private:
  WatchOnlyService service_;
  int port_ = 0;
  mutable int next_channel_id_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

inline governance::Principal Reader() {
  return governance::Principal{.id = "watcher",
                               .roles = {governance::Role{.kind = governance::RoleKind::kReader}}};
}

}  // namespace varav::server::testing
