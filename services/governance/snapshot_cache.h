// SnapshotCache: the command path's memory of the services it has just changed, so that the next
// command on a service neither re-reads its outputs and assessments from the store nor converts
// their fields to CEL again.
//
// An entry is the lifecycle::ServiceSnapshot of one service exactly as it stood after a committed
// (durable) command, with the CEL values of its records (model::BoundRecords), keyed by service
// id and tagged with the etag that commit produced. Every change to a service goes through
// Store::Commit and gets a new, never reused etag, so an entry is a faithful copy of the stored
// state at its etag: a command whose etag is that of the entry *and* the store's current record
// uses it instead of Store::LoadSnapshot, and its outcome is final.
//
// Entries are taken, not shared: Take() removes the entry and Put() stores the next one after the
// commit, so no two commands ever use one entry's BoundRecords at once. Only snapshots of services
// with no gate under review are kept (see Put).
//
//   SnapshotCache cache({.capacity = 4096});
//   if (std::optional<CachedSnapshot> s = cache.Take(id, request.etag())) { ... }
//   cache.Put(std::move(next));  // next.snapshot.service is the committed record
//
// Memory is bounded as in EtagCache, which holds the entries. Thread safety: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "engine/lifecycle/lifecycle.h"
#include "engine/model/bound_records.h"
#include "services/governance/etag_cache.h"

namespace varav::governance {

struct CachedSnapshot {
  lifecycle::ServiceSnapshot snapshot;
  model::BoundRecords bound;
};

class SnapshotCache {
 public:
  // `options.capacity` 0 disables the cache (Take always misses).
  explicit SnapshotCache(EtagCacheOptions options = {}) : entries_(options) {}

  // Removes and returns the entry of `service_id` when it was taken at `etag`; nullopt otherwise.
  // An entry at another etag stays (it may be newer than the caller's).
  std::optional<CachedSnapshot> Take(absl::string_view service_id, absl::string_view etag) {
    return entries_.Take(service_id, etag);
  }

  // Keeps `entry` (whose snapshot's service must be the committed record, etag set), replacing any
  // entry of the service. A service with a gate under review is not kept: its decisions and the
  // evaluation its review rests on change with every decision.
  void Put(CachedSnapshot entry);

  // Counters since construction, for tests and benchmarks.
  uint64_t hits() const { return entries_.hits(); }
  uint64_t misses() const { return entries_.misses(); }
  size_t size() const { return entries_.size(); }

 private:
  EtagCache<CachedSnapshot> entries_;
};

}  // namespace varav::governance
