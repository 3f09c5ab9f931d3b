// EtagCache: answers that depend only on a service's stored state, kept per key and tagged with
// the etag of the state they were computed from. Values are copied out (Find; keep them small or
// shared, e.g. a shared_ptr to an immutable answer) or moved out (Take).
//
// Every change to a service gets a new, never reused etag (engine/store), so an answer computed
// from the state at etag E stays right for as long as E is the service's etag: a reader that has
// just read the service's current etag may use the cached answer for it instead of reading and
// assembling everything again.
//
//   EtagCache<std::shared_ptr<const v1::GetGateStatusResponse>> cache({.capacity = 4096});
//   if (auto hit = cache.Find(key, service.etag())) return **hit;
//   cache.Put(key, service.etag(), std::make_shared<const v1::GetGateStatusResponse>(built));
//
// Memory is bounded by `capacity` entries; a full shard drops an arbitrary entry to make room.
// Thread safety: thread-safe; the shards have their own locks.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace varav::governance {

struct EtagCacheOptions {
  // Default 4096: most keys kept. 0 disables the cache (Find always misses).
  size_t capacity = 4096;
  // Default 16: independently locked shards.
  int shards = 16;
};

template <typename V>
class EtagCache {
 public:
  explicit EtagCache(EtagCacheOptions options = {})
      : shard_count_(static_cast<size_t>(std::max(1, options.shards))),
        per_shard_(options.capacity == 0 ? 0
                                         : std::max<size_t>(1, options.capacity / shard_count_)),
        shards_(new Shard[shard_count_]) {}
  EtagCache(const EtagCache&) = delete;
  EtagCache& operator=(const EtagCache&) = delete;

  // A copy of the value kept under `key` when it was computed at `etag`; nullopt otherwise.
  std::optional<V> Find(absl::string_view key, absl::string_view etag) const {
    return Lookup(key, etag, /*take=*/false);
  }
  // The same, removing the value: the caller owns it from now on. A value kept at another etag
  // stays (it may be newer than the caller's).
  std::optional<V> Take(absl::string_view key, absl::string_view etag) {
    return Lookup(key, etag, /*take=*/true);
  }

  // Keeps `value`, computed at `etag`, under `key`, replacing what was there.
  void Put(absl::string_view key, absl::string_view etag, V value) {
    if (per_shard_ == 0 || etag.empty()) return;
    Shard& shard = ShardFor(key);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end()) {
      if (shard.entries.size() >= per_shard_) shard.entries.erase(shard.entries.begin());
      it = shard.entries.emplace(std::string(key), Entry{}).first;
    }
    it->second.etag = std::string(etag);
    it->second.value = std::move(value);
  }

  // Counters since construction, for tests and benchmarks.
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  size_t size() const {
    size_t total = 0;
    for (size_t i = 0; i < shard_count_; ++i) {
      absl::MutexLock lock(&shards_[i].mu);
      total += shards_[i].entries.size();
    }
    return total;
  }

 private:
  struct Entry {
    std::string etag;
    V value;
  };
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(absl::string_view key) const {
    return shards_[absl::Hash<absl::string_view>()(key) % shard_count_];
  }
  std::optional<V> Lookup(absl::string_view key, absl::string_view etag, bool take) const {
    if (per_shard_ == 0 || etag.empty()) return std::nullopt;
    Shard& shard = ShardFor(key);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end() || it->second.etag != etag) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    if (!take) return it->second.value;
    std::optional<V> out(std::move(it->second.value));
    shard.entries.erase(it);
    return out;
  }

  const size_t shard_count_;
  const size_t per_shard_;
  std::unique_ptr<Shard[]> shards_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

}  // namespace varav::governance
