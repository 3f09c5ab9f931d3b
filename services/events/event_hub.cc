#include "services/events/event_hub.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/time/clock.h"

namespace varav::events {
namespace {

// Largest single store read of the follower; bounds the time between partial progress reports.
constexpr int kLoadChunk = 1000;
// Agencies remembered before the cache starts over (a service id and an agency id are short).
constexpr size_t kMaxCachedAgencies = 100000;

}  // namespace

EventHub::EventHub(store::Store* store, EventHubOptions options)
    : store_(store), options_(std::move(options)) {
  loaded_sequence_.store(store_->LastGlobalSequence(), std::memory_order_release);
  int threads = options_.notify_threads;
  if (threads <= 0)
    threads = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 4);
  for (int i = 0; i < threads; ++i) shards_.push_back(std::make_unique<Shard>());
  for (auto& shard : shards_) {
    shard->thread = std::thread([this, s = shard.get()] { Notify(*s); });
  }
  follower_ = std::thread([this] { Follow(); });
}

EventHub::~EventHub() {
  Shutdown();
  if (follower_.joinable()) follower_.join();
  for (auto& shard : shards_) {
    if (shard->thread.joinable()) shard->thread.join();
  }
}

EventHub::Shard& EventHub::ShardOf(Listener* listener) {
  return *shards_[absl::HashOf(listener) % shards_.size()];
}

bool EventHub::Register(Listener* listener) {
  Shard& shard = ShardOf(listener);
  absl::MutexLock lock(&shard.mu);
  if (shard.closed) return false;
  if (shard.listeners.insert(listener).second) listener_count_.fetch_add(1);
  return true;
}

void EventHub::Unregister(Listener* listener) {
  Shard& shard = ShardOf(listener);
  absl::MutexLock lock(&shard.mu);
  if (shard.listeners.erase(listener) > 0) listener_count_.fetch_sub(1);
}

bool EventHub::AwaitListenersGone(absl::Time deadline) {
  // Rare (shutdown only): polling keeps the registration path free of a shared condition.
  while (listener_count() > 0) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

void EventHub::Shutdown() {
  stopping_.store(true, std::memory_order_release);
  for (auto& shard : shards_) {
    {
      absl::MutexLock lock(&shard->mu);
      if (shard->closed) continue;
      shard->closed = true;
      for (Listener* listener : shard->listeners) listener->OnHubShutdown();
    }
    absl::MutexLock lock(&shard->wake_mu);
    shard->stop = true;
  }
}

void EventHub::WakeAll(uint64_t durable) {
  for (auto& shard : shards_) {
    absl::MutexLock lock(&shard->wake_mu);
    ++shard->generation;
    shard->durable = durable;
  }
}

void EventHub::Notify(Shard& shard) {
  uint64_t handled = 0;
  auto woken = [&shard, &handled]() ABSL_SHARED_LOCKS_REQUIRED(shard.wake_mu) {
    return shard.stop || shard.generation != handled;
  };
  while (true) {
    uint64_t durable = 0;
    {
      absl::MutexLock lock(&shard.wake_mu);
      shard.wake_mu.Await(absl::Condition(&woken));
      if (shard.stop) return;
      // Several wake-ups while busy collapse into one: listeners read up to what is loaded.
      handled = shard.generation;
      durable = shard.durable;
    }
    absl::MutexLock lock(&shard.mu);
    if (shard.closed) return;
    for (Listener* listener : shard.listeners) listener->OnEventsAvailable(durable);
  }
}

void EventHub::Follow() {
  uint64_t seen = loaded_sequence();
  while (!stopping_.load(std::memory_order_acquire)) {
    const uint64_t durable = store_->AwaitEventsAfter(seen, absl::Now() + options_.poll_interval);
    if (stopping_.load(std::memory_order_acquire)) break;
    if (durable > seen && listener_count() == 0) {
      // Nobody is watching: move on without reading the events. A watcher that registers later
      // reads anything older from the store (Read), and the tail fills again from here on.
      absl::MutexLock lock(&cache_mu_);
      ClearTailLocked();
      loaded_sequence_.store(durable, std::memory_order_release);
      seen = durable;
    } else if (durable > seen) {
      LoadTail(seen, durable);
      const uint64_t loaded = loaded_sequence();
      // A store read that failed leaves `seen` behind `durable`; back off instead of spinning.
      if (loaded < durable) absl::SleepFor(options_.poll_interval);
      seen = loaded;
    }
    // Also on a timeout: listeners use the tick for heartbeats.
    WakeAll(seen);
  }
}

void EventHub::LoadTail(uint64_t after, uint64_t durable) {
  const uint64_t capacity = static_cast<uint64_t>(std::max(options_.tail_cache_events, 1));
  uint64_t from = after;
  if (durable - after > capacity) from = durable - capacity;
  while (from < durable && !stopping_.load(std::memory_order_acquire)) {
    const int chunk = static_cast<int>(std::min<uint64_t>(durable - from, kLoadChunk));
    absl::StatusOr<std::vector<v1::Event>> events =
        store_->ReadEvents(from, chunk, options_.batch_bytes);
    if (!events.ok() || events->empty()) return;
    // Serialized before taking the lock, which watchers reading the tail wait for.
    std::vector<std::shared_ptr<const HubEvent>> loaded;
    loaded.reserve(events->size());
    for (v1::Event& event : *events) {
      loaded.push_back(std::make_shared<const HubEvent>(std::move(event)));
    }
    absl::MutexLock lock(&cache_mu_);
    // Skipping ahead (a burst larger than the cache) breaks contiguity: start over.
    if (!tail_.empty() && tail_.back()->event.global_sequence() != from) ClearTailLocked();
    if (tail_.empty() && loaded_sequence_.load(std::memory_order_relaxed) != from) {
      ClearTailLocked();
    }
    for (std::shared_ptr<const HubEvent>& event : loaded) {
      from = event->event.global_sequence();
      tail_bytes_ += event->wire.size();
      tail_.push_back(std::move(event));
    }
    // The newest event stays even when it alone is over the byte bound.
    while (tail_.size() > capacity ||
           (tail_.size() > 1 && tail_bytes_ > options_.tail_cache_bytes)) {
      tail_bytes_ -= tail_.front()->wire.size();
      tail_.pop_front();
    }
    loaded_sequence_.store(std::max(from, loaded_sequence_.load(std::memory_order_relaxed)),
                           std::memory_order_release);
  }
}

absl::StatusOr<std::vector<std::shared_ptr<const HubEvent>>> EventHub::Read(uint64_t after,
                                                                            int limit) {
  limit = std::max(limit, 1);
  std::vector<std::shared_ptr<const HubEvent>> out;
  uint64_t loaded = 0;
  {
    absl::ReaderMutexLock lock(&cache_mu_);
    loaded = loaded_sequence_.load(std::memory_order_acquire);
    if (after >= loaded) return out;
    if (!tail_.empty() && tail_.front()->event.global_sequence() <= after + 1) {
      size_t index = static_cast<size_t>(after + 1 - tail_.front()->event.global_sequence());
      out.reserve(std::min<size_t>(limit, tail_.size() - index));
      size_t bytes = 0;
      for (; index < tail_.size() && static_cast<int>(out.size()) < limit; ++index) {
        const size_t size = tail_[index]->wire.size();
        if (!out.empty() && bytes + size > options_.batch_bytes) break;
        bytes += size;
        out.push_back(tail_[index]);
      }
      return out;
    }
  }
  // Older than the cache: a replaying or lagging watcher reads the store itself.
  const int want = static_cast<int>(std::min<uint64_t>(loaded - after, limit));
  absl::StatusOr<std::vector<v1::Event>> events =
      store_->ReadEvents(after, want, options_.batch_bytes);
  if (!events.ok()) return events.status();
  out.reserve(events->size());
  for (v1::Event& event : *events) {
    out.push_back(std::make_shared<const HubEvent>(std::move(event)));
  }
  return out;
}

absl::StatusOr<std::string> EventHub::AgencyOf(absl::string_view service_id) {
  {
    absl::MutexLock lock(&agency_mu_);
    auto it = agencies_.find(service_id);
    if (it != agencies_.end()) return it->second;
  }
  absl::StatusOr<v1::Service> service = store_->GetService(service_id);
  if (!service.ok()) return service.status();
  absl::MutexLock lock(&agency_mu_);
  if (agencies_.size() >= kMaxCachedAgencies) agencies_.clear();
  agencies_.emplace(std::string(service_id), service->agency());
  return service->agency();
}

}  // namespace varav::events
