// The in-process fan-out point of the durable event log: one follower thread per process waits
// for new durable events (Store::AwaitEventsAfter) and wakes every registered listener, typically
// the server's WatchEvents stream reactors. Writers thus pay for one waiter however many streams
// are open; `notify_threads` notifier threads, each owning a shard of the listeners, do the
// fan-out.
//
// Listeners read only the durable log, never events handed over by a writer: Read() serves a
// bounded tail cache that the follower fills right after events became durable (while any
// listener is registered) and goes to the store for anything older. A watcher sees exactly what a
// restart would show it, and a lagging one costs a bounded store read per batch, not memory.
//
// A service's agency (for agency filters) is looked up once and cached: no command changes it.
//
//   EventHub hub(store.get());
//   hub.Register(&listener);        // listener.OnEventsAvailable(...) on each new durable event
//   VARAV_ASSIGN_OR_RETURN(auto batch, hub.Read(cursor, 64));
//   ...
//   hub.Shutdown();                 // listeners get OnHubShutdown(); new ones are refused
//   hub.AwaitListenersGone(absl::Now() + absl::Seconds(5));
//
// Thread safety: every method may be called from any thread. Listener callbacks run on a
// notifier thread (or the thread calling Shutdown) with the listener's shard lock held: they must
// be quick, must not block on anything that waits for the hub, and must not call Register or
// Unregister. The store must outlive the hub; the hub must outlive its listeners' registrations.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/store/store.h"
#include "grpcpp/support/slice.h"
#include "varav/v1/resources.pb.h"

namespace varav::events {

struct EventHubOptions {
  // Default 4096 and 64 MiB (of serialized events): newest durable events kept in memory for
  // watchers that are caught up, so that a new event is read from RocksDB once and not once per
  // watcher. Older reads go to the store.
  int tail_cache_events = 4096;
  size_t tail_cache_bytes = 64 << 20;
  // Default 250 ms: longest wait of the follower between checks for shutdown; it also wakes
  // listeners this often so they can send heartbeats.
  absl::Duration poll_interval = absl::Milliseconds(250);
  // Default 64 and 4 MiB (of serialized events, at least one event): most a watcher reads (and
  // holds) at a time, so that a watcher costs bounded memory however large the events are.
  int batch_size = 64;
  size_t batch_bytes = 4 << 20;
  // Default 8: batches a filtered watcher scans in one turn before it yields with a heartbeat, so
  // a filter that matches nothing in a long replay does not hold a callback thread.
  int max_batches_per_turn = 8;
  // Default 10 s: a watcher that sent nothing for this long sends a heartbeat (an empty event
  // with the scanned sequence), which also reveals dead clients.
  absl::Duration heartbeat_interval = absl::Seconds(10);
  // Default 0, meaning one per core (at most 4): threads that wake listeners, each for its own
  // shard of them.
  int notify_threads = 0;
};

// A durable event as the hub hands it out: parsed, for filtering, and serialized once, so that a
// thousand streams send the same bytes instead of each serializing the event again.
struct HubEvent {
  explicit HubEvent(v1::Event parsed)
      : event(std::move(parsed)), wire(grpc::Slice(event.SerializeAsString())) {}
  v1::Event event;
  // event's wire form (varav.v1.Event), in a reference-counted gRPC slice: a stream sending it
  // takes a reference instead of a copy.
  grpc::Slice wire;
};

class EventHub {
 public:
  // A party woken by the hub.
  class Listener {
   public:
    virtual ~Listener() = default;
    // New events up to `durable_sequence` may be readable, or a poll interval passed.
    virtual void OnEventsAvailable(uint64_t durable_sequence) = 0;
    // The hub is shutting down: finish (the hub calls nothing else afterwards except through a
    // later Unregister).
    virtual void OnHubShutdown() = 0;
  };

  // Starts the follower thread. `store` is not owned.
  explicit EventHub(store::Store* store, EventHubOptions options = {});
  // Shuts down (see Shutdown) and joins the follower. Listeners must have unregistered.
  ~EventHub();

  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  const EventHubOptions& options() const { return options_; }

  // Adds a listener; false (and nothing registered) once the hub is shutting down.
  bool Register(Listener* listener);
  // Removes a listener; after it returns the hub no longer calls it. Safe to call twice.
  void Unregister(Listener* listener);

  // Up to `limit` durable events with global_sequence > `after`, in order: from the tail cache
  // when it holds them, from the store otherwise. May return fewer (or none) than are durable
  // when the follower has not loaded the newest yet; it then wakes listeners when it has.
  // Errors are the store's.
  absl::StatusOr<std::vector<std::shared_ptr<const HubEvent>>> Read(uint64_t after, int limit)
      ABSL_LOCKS_EXCLUDED(cache_mu_);

  // The agency of `service_id` (cached; see the file comment). NotFound for an unknown service.
  absl::StatusOr<std::string> AgencyOf(absl::string_view service_id)
      ABSL_LOCKS_EXCLUDED(agency_mu_);

  // The highest sequence the follower has loaded (what caught-up watchers can see).
  uint64_t loaded_sequence() const { return loaded_sequence_.load(std::memory_order_acquire); }

  // Stops following, refuses new listeners and calls OnHubShutdown on every registered one.
  // Idempotent. Does not wait for listeners to unregister.
  void Shutdown();
  bool shutting_down() const { return stopping_.load(std::memory_order_acquire); }
  // Waits until no listener is registered or `deadline` passes; true when none is left.
  bool AwaitListenersGone(absl::Time deadline);
  size_t listener_count() const { return listener_count_.load(std::memory_order_acquire); }

  // Events currently held by listeners in their send queues (they report through
  // AdjustBuffered); a bounded number is what "a slow consumer costs bounded memory" means.
  int64_t buffered_events() const { return buffered_.load(std::memory_order_relaxed); }
  void AdjustBuffered(int64_t delta) { buffered_.fetch_add(delta, std::memory_order_relaxed); }

 private:
  // Listeners woken by one notifier thread.
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_set<Listener*> listeners ABSL_GUARDED_BY(mu);
    bool closed ABSL_GUARDED_BY(mu) = false;
    // Separate from `mu` so that the follower never waits for a fan-out in progress.
    absl::Mutex wake_mu;
    // Bumped by the follower for every wake-up; the notifier runs until it has caught up.
    uint64_t generation ABSL_GUARDED_BY(wake_mu) = 0;
    uint64_t durable ABSL_GUARDED_BY(wake_mu) = 0;
    bool stop ABSL_GUARDED_BY(wake_mu) = false;
    std::thread thread;
  };

  void Follow();
  void Notify(Shard& shard);
  // Reads (after, durable] into the tail cache, keeping at most tail_cache_events.
  void LoadTail(uint64_t after, uint64_t durable) ABSL_LOCKS_EXCLUDED(cache_mu_);
  void ClearTailLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cache_mu_) {
    tail_.clear();
    tail_bytes_ = 0;
  }
  void WakeAll(uint64_t durable);
  Shard& ShardOf(Listener* listener);

  store::Store* const store_;
  const EventHubOptions options_;

  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> buffered_{0};
  std::atomic<uint64_t> loaded_sequence_{0};
  std::atomic<size_t> listener_count_{0};

  std::vector<std::unique_ptr<Shard>> shards_;

  // Lock order: Shard::mu -> (a listener's own lock) -> cache_mu_ / agency_mu_.
  mutable absl::Mutex cache_mu_;
  // Consecutive events ending at loaded_sequence_.
  std::deque<std::shared_ptr<const HubEvent>> tail_ ABSL_GUARDED_BY(cache_mu_);
  // Serialized bytes of the events in tail_.
  size_t tail_bytes_ ABSL_GUARDED_BY(cache_mu_) = 0;

  absl::Mutex agency_mu_;
  absl::flat_hash_map<std::string, std::string> agencies_ ABSL_GUARDED_BY(agency_mu_);

  std::thread follower_;
};

}  // namespace varav::events
