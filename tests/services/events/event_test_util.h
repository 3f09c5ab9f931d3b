// Helpers for the tests of event delivery: a store in a temporary directory and commands that
// append events to it through Store::Commit.
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
#include "gtest/gtest.h"
#include "tests/engine/store/test_util.h"
#include "tests/status_matchers.h"

namespace varav::events::testing {

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
    EXPECT_THAT(result, ::varav::testing::IsOk());
    return result.ok() ? result->last_global_sequence : 0;
  }

  // Appends one `ee.varav.stage.advanced` event to the service (with `padding` bytes in the
  // principal, to make events big); returns its global sequence.
  uint64_t Advance(absl::string_view id, size_t padding = 0) {
    auto current = store_->GetService(id);
    EXPECT_THAT(current, ::varav::testing::IsOk());
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
    EXPECT_THAT(result, ::varav::testing::IsOk());
    return result.ok() ? result->last_global_sequence : 0;
  }

 private:
  store::Store* store_;
};

}  // namespace varav::events::testing
