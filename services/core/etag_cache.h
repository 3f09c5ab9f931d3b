// EtagCache: answers that depend only on a service's stored state, kept per key and tagged with
// the etag of the state they were computed from.
//
// Every change to a service gets a new, never reused etag (engine/store), so an answer computed
// from the state at etag E stays right for as long as E is the service's etag: a reader that has
// just read the service's current etag may use the cached answer for it instead of reading and
// assembling everything again. Values are immutable and shared; Find hands out a reference.
//
//   EtagCache<v1::GetGateStatusResponse> cache({.capacity = 4096});
//   if (auto hit = cache.Find(key, service.etag())) return *hit;
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
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace varav::core {

struct EtagCacheOptions {
  // Default 4096: most keys kept. 0 disables the cache (Find always misses).
  size_t capacity = 4096;
  // Default 16: independently locked shards.
  int shards = 16;
};

template <typename T>
class EtagCache {
 public:
  explicit EtagCache(EtagCacheOptions options = {})
      : shard_count_(static_cast<size_t>(std::max(1, options.shards))),
        per_shard_(options.capacity == 0 ? 0
                                         : std::max<size_t>(1, options.capacity / shard_count_)),
        shards_(new Shard[shard_count_]) {}
  EtagCache(const EtagCache&) = delete;
  EtagCache& operator=(const EtagCache&) = delete;

  // The value kept under `key` when it was computed at `etag`; null otherwise.
  std::shared_ptr<const T> Find(absl::string_view key, absl::string_view etag) const {
    if (per_shard_ == 0 || etag.empty()) return nullptr;
    Shard& shard = ShardFor(key);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end() || it->second.etag != etag) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second.value;
  }

  // Keeps `value`, computed at `etag`, under `key`, replacing what was there.
  void Put(absl::string_view key, absl::string_view etag, std::shared_ptr<const T> value) {
    if (per_shard_ == 0 || etag.empty() || value == nullptr) return;
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

 private:
  struct Entry {
    std::string etag;
    std::shared_ptr<const T> value;
  };
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(absl::string_view key) const {
    return shards_[absl::Hash<absl::string_view>()(key) % shard_count_];
  }

  const size_t shard_count_;
  const size_t per_shard_;
  std::unique_ptr<Shard[]> shards_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

}  // namespace varav::core
