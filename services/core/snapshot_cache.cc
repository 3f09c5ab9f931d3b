#include "services/core/snapshot_cache.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"

namespace varav::core {

SnapshotCache::SnapshotCache(SnapshotCacheOptions options)
    : options_(options),
      per_shard_(options.capacity == 0
                     ? 0
                     : std::max<size_t>(
                           1, options.capacity / static_cast<size_t>(std::max(1, options.shards)))),
      shards_(new Shard[static_cast<size_t>(std::max(1, options.shards))]) {}

SnapshotCache::Shard& SnapshotCache::ShardFor(absl::string_view service_id) const {
  const size_t n = static_cast<size_t>(std::max(1, options_.shards));
  return shards_[absl::Hash<absl::string_view>()(service_id) % n];
}

std::optional<lifecycle::ServiceSnapshot> SnapshotCache::Take(absl::string_view service_id,
                                                              absl::string_view etag) {
  if (per_shard_ == 0 || etag.empty()) return std::nullopt;
  Shard& shard = ShardFor(service_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(service_id);
  if (it == shard.entries.end() || it->second.service.etag() != etag) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  std::optional<lifecycle::ServiceSnapshot> out(std::move(it->second));
  shard.entries.erase(it);
  return out;
}

void SnapshotCache::Put(lifecycle::ServiceSnapshot snapshot) {
  const v1::Service& s = snapshot.service;
  if (per_shard_ == 0 || s.id().empty() || s.etag().empty()) return;
  if (s.status() == v1::SERVICE_STATUS_IN_REVIEW || !s.gate_under_review().empty()) return;
  // What a fresh load of a service with no gate under review holds (store::ServiceState).
  snapshot.gate_decisions.clear();
  snapshot.latest_evaluation.reset();
  Shard& shard = ShardFor(s.id());
  std::string key = s.id();
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(key);
  if (it != shard.entries.end()) {
    it->second = std::move(snapshot);
    return;
  }
  if (shard.entries.size() >= per_shard_) shard.entries.erase(shard.entries.begin());
  shard.entries.emplace(std::move(key), std::move(snapshot));
}

size_t SnapshotCache::size() const {
  size_t total = 0;
  for (int i = 0; i < std::max(1, options_.shards); ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    total += shards_[i].entries.size();
  }
  return total;
}

}  // namespace varav::core
