// Helpers for the event delivery tests: a store in a temporary directory with commands that
// append events, and an in-process gRPC server whose LifecycleService answers WatchEvents with
// the real stream reactor (bound to port 0 on loopback).
//
// Thread safety: EventStore::Commit* may be called from several threads for different services.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/store/store.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/core/principal.h"
#include "services/events/event_hub.h"
#include "services/events/watch_reactor.h"
#include "tests/engine/store/test_util.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"

namespace varav::events::testing {

using store::testing::IsOk;
using store::testing::StatusIs;

// A fresh directory under the test temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(absl::string_view tag) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("varav_events_", tag, "_", info != nullptr ? info->name() : "x", "_",
                         getpid());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string path(absl::string_view child = "") const {
    return child.empty() ? path_.string() : (path_ / std::string(child)).string();
  }

 private:
  std::filesystem::path path_;
};

// Appends events through Store::Commit, like the application layer does.
class EventWriter {
 public:
  explicit EventWriter(store::Store* store) : store_(store) {}

  // Registers a service (one `ee.varav.service.registered` event); returns its global sequence.
  uint64_t Register(absl::string_view id, absl::string_view agency) {
    auto result =
        store_->Commit(store::testing::CreateMutation(store::testing::MakeService(id, agency)));
    EXPECT_THAT(result, IsOk());
    return result.ok() ? result->last_global_sequence : 0;
  }

  // Appends one `ee.varav.stage.advanced` event to the service (with `padding` bytes in the
  // principal, to make events big); returns its global sequence.
  uint64_t Advance(absl::string_view id, size_t padding = 0) {
    auto current = store_->GetService(id);
    EXPECT_THAT(current, IsOk());
    if (!current.ok()) return 0;
    store::Mutation m;
    m.service_id = std::string(id);
    m.expected_etag = current->etag();
    m.service = *current;
    const std::string next = current->stage() == "envision" ? "discover" : "envision";
    m.service.set_stage(next);
    v1::Event event = store::testing::StageAdvancedEvent(current->stage(), next);
    event.set_id(absl::StrCat(id, "/", current->last_event_sequence() + 1));
    if (padding > 0) event.set_principal(std::string(padding, 'p'));
    m.events.push_back(std::move(event));
    auto result = store_->Commit(m);
    EXPECT_THAT(result, IsOk());
    return result.ok() ? result->last_global_sequence : 0;
  }

 private:
  store::Store* store_;
};

// LifecycleService with only WatchEvents implemented, as the real server wires it.
class WatchOnlyService final : public v1::LifecycleService::WithRawCallbackMethod_WatchEvents<
                                   v1::LifecycleService::CallbackService> {
 public:
  WatchOnlyService(EventHub* hub, core::Principal principal)
      : hub_(hub), principal_(std::move(principal)) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override {
    return StartWatch(*hub_, context, request, principal_);
  }

 private:
  EventHub* hub_;
  core::Principal principal_;
};

// A gRPC server on a free loopback port serving WatchOnlyService.
class TestServer {
 public:
  TestServer(EventHub* hub, core::Principal principal) : service_(hub, std::move(principal)) {
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

inline core::Principal Reader() {
  return core::Principal{.id = "watcher", .roles = {core::Role{.kind = core::RoleKind::kReader}}};
}

}  // namespace varav::events::testing
