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
// Memory is bounded as in EtagCache, which holds the entries. Thread safety: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "engine/lifecycle/lifecycle.h"
#include "services/core/etag_cache.h"

namespace varav::core {

class SnapshotCache {
 public:
  // `options.capacity` 0 disables the cache (Take always misses).
  explicit SnapshotCache(EtagCacheOptions options = {}) : entries_(options) {}

  // Removes and returns the entry of `service_id` when it was taken at `etag`; nullopt otherwise.
  // An entry at another etag stays (it may be newer than the caller's).
  std::optional<lifecycle::ServiceSnapshot> Take(absl::string_view service_id,
                                                 absl::string_view etag) {
    return entries_.Take(service_id, etag);
  }

  // Keeps `snapshot` (whose `service` must be the committed record, etag set), replacing any
  // entry of the service. A snapshot of a service in review, or with a gate under review, is not
  // kept: lifecycle::ApplyInPlace does not maintain its decisions and evaluation.
  void Put(lifecycle::ServiceSnapshot snapshot);

  // Counters since construction, for tests and benchmarks.
  uint64_t hits() const { return entries_.hits(); }
  uint64_t misses() const { return entries_.misses(); }
  size_t size() const { return entries_.size(); }

 private:
  EtagCache<lifecycle::ServiceSnapshot> entries_;
};

}  // namespace varav::core
