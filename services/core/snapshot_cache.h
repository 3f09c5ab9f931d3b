// SnapshotCache: the command path's memory of the services it has just changed, so that the next
// command on a service does not re-read and re-parse its outputs and assessments from the store
// and re-bind every output's fields to CEL.
//
// An entry is the lifecycle::ServiceSnapshot of one service exactly as it stood after a committed
// (durable) command, keyed by service id and tagged with the etag that commit produced. Every
// change to a service goes through Store::Commit and gets a new, never reused etag, so a snapshot
// is a faithful copy of the stored state *at its etag* for as long as it lives: a command that
// carries the same etag may use it instead of Store::LoadSnapshot. Whether that etag is still the
// current one is decided, as for every command, by the store's own etag check inside Commit.
//
// Entries are taken, not shared: Take() removes the entry, the command works on it in place
// (lifecycle::ApplyInPlace) and Put()s the result after its commit. A concurrent command on the
// same service finds no entry and reads the store, so no two commands ever touch one snapshot.
// Only snapshots of services with no gate under review are kept (see Put).
//
//   SnapshotCache cache({.capacity = 4096});
//   if (std::optional<lifecycle::ServiceSnapshot> s = cache.Take(id, request.etag())) { ... }
//   cache.Put(std::move(after));  // after.service is the committed record, with its new etag
//
// Memory is bounded by `capacity` entries; when a shard is full an arbitrary entry of it makes
// room. Thread safety: thread-safe; the shards have their own locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "engine/lifecycle/lifecycle.h"

namespace varav::core {

struct SnapshotCacheOptions {
  // Default 4096: most services kept. 0 disables the cache (Take always misses).
  size_t capacity = 4096;
  // Default 16: independently locked shards.
  int shards = 16;
};

class SnapshotCache {
 public:
  explicit SnapshotCache(SnapshotCacheOptions options = {});
  SnapshotCache(const SnapshotCache&) = delete;
  SnapshotCache& operator=(const SnapshotCache&) = delete;

  // Removes and returns the entry of `service_id` when it was taken at `etag`; nullopt otherwise.
  // An entry at another etag stays (it may be newer than the caller's).
  std::optional<lifecycle::ServiceSnapshot> Take(absl::string_view service_id,
                                                 absl::string_view etag);

  // Keeps `snapshot` (whose `service` must be the committed record, etag set), replacing any
  // entry of the service. A snapshot of a service in review, or with a gate under review, is not
  // kept: lifecycle::ApplyInPlace does not maintain its decisions and evaluation.
  void Put(lifecycle::ServiceSnapshot snapshot);

  // Counters since construction, for tests and benchmarks.
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  size_t size() const;

 private:
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, lifecycle::ServiceSnapshot> entries ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(absl::string_view service_id) const;

  const SnapshotCacheOptions options_;
  const size_t per_shard_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace varav::core
