// A fixed pool of threads running the application layer for varavd's handlers.
//
// gRPC's callback API runs handlers on its own few polling threads, which must not block; the
// application layer does (RocksDB reads, waiting for a group fsync), so handlers hand each call
// to this pool. Many workers also let many commits share one WAL sync.
//
//   WorkerPool pool(32);
//   pool.Submit([reactor] { ...; reactor->Finish(status); });
//   pool.Stop();  // runs what is queued, then joins
//
// The queue is unbounded; callers bound it (the server's in-flight limit).
//
// Thread safety: Submit may be called from any thread, also concurrently with Stop; a task
// submitted after Stop began is run by the thread calling Submit.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace varav::server {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();  // Stop()

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs every queued task, then joins the threads. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace varav::server
