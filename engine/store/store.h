// The durable store of Värav: services, outputs, assessments, gate evaluations, decisions, the
// hash-chained event log, the portfolio index and idempotency records, in one RocksDB database.
// Only this module touches RocksDB; what the records mean is its callers' business.
//
//   VARAV_ASSIGN_OR_RETURN(auto store, Store::Open({.path = dir, .index_terms = terms}));
//   Mutation m{.service_id = "s1", .expected_etag = etag, .service = new_state,
//              .events = {event}, .request_id = id, .request_hash = hash, .response = bytes};
//   VARAV_ASSIGN_OR_RETURN(CommitResult r, store->Commit(m));
//
// Contract. A Commit is atomic (all of it or nothing) and acknowledged only once durable (its
// write-ahead log record fsynced when `sync`); the global event log has no gaps, even after a
// crash; a read returns only what a crash cannot take away; a stale etag is refused. After a
// write fails the store latches the failure and acknowledges nothing more. How the group commit
// achieves this is in docs/store.md.
//
// Thread safety: thread-safe; every method may be called concurrently. A Store must outlive the
// calls in progress. One process opens a store directory at a time (RocksDB's LOCK file).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "varav/storage/v1/request_record.pb.h"
#include "varav/v1/resources.pb.h"

namespace rocksdb {
class ColumnFamilyHandle;
class WriteBatch;
class DB;
struct ReadOptions;
}  // namespace rocksdb

namespace varav::store {

// One term a service is found by in the portfolio index: an attribute and one of its values, e.g.
// {"stage", "envision"}. Both non-empty, without the bytes \0, \1 or \2. A service may have
// several values of one attribute (the panels it awaits, say).
struct IndexTerm {
  std::string attribute;
  std::string value;
};
// The index terms of a service record. Must be a pure function of the record.
using IndexTermsFn = std::function<std::vector<IndexTerm>(const v1::Service&)>;

struct StoreOptions {
  // Directory of the RocksDB database. Required.
  std::string path;
  // Default none: the terms services are indexed by (see IndexTerm, ListServicesBy); without it
  // only the listing of all services works. What the terms mean is the caller's business.
  IndexTermsFn index_terms;
  // Default true: a commit is acknowledged only after the WAL is fsynced. False trades durability
  // across an OS crash or power loss for latency (a process crash still loses nothing written).
  bool sync = true;
  // Default true: create an empty store when `path` holds none; false makes Open fail with
  // NotFound instead.
  bool create_if_missing = true;
  // Default 4096: number of mutexes that serialize writers of the same service (and retries of one
  // request). A commit holds two of them until its group write has returned, fsync included, so
  // too few make unrelated commits wait for each other's group.
  int lock_stripes = 4096;
  // Default 65,536: service records kept parsed in memory for GetService and for the commit path's
  // read of the current record (an entry costs a few KB; 0 turns the cache off). Commits keep the
  // entries current, so a hit is exactly what RocksDB holds.
  size_t service_cache_entries = 65536;
  // Default 64 MiB: the block cache shared by every column family (uncompressed data, index and
  // filter blocks of the SST files).
  size_t block_cache_bytes = 64 << 20;
  // Default 64 MiB: once the write-ahead log grows past this, the column families whose data keep
  // its oldest file alive are flushed, so that a restart replays at most about this much log
  // however seldom a column family is written.
  uint64_t max_total_wal_bytes = 64 << 20;
};

// A gate evaluation, stored as opaque bytes (a serialized varav.v1.GateEvaluation).
struct EvaluationBlob {
  // Unique id; writing an existing id is refused.
  std::string id;
  // Serialized evaluation.
  std::string bytes;
};

struct CommitResult;

// Everything one command changes, written atomically by Store::Commit.
struct Mutation {
  // The service the command changes; every record below must belong to it.
  std::string service_id;
  // The etag the command read; empty to create the service (which must not exist yet).
  std::string expected_etag;
  // The new service state. The store sets `etag`, `last_event_sequence` and `last_event_hash`;
  // every other field is stored as given and drives the index entries.
  v1::Service service;
  // New output revisions (immutable, and may be shared with the caller, e.g. its cached
  // snapshot); a revision that already exists is refused (outputs are append-only).
  std::vector<std::shared_ptr<const v1::OutputRevision>> outputs;
  // Assessments to store; each replaces the stored assessment of its principle.
  std::vector<v1::Assessment> assessments;
  // New gate evaluations.
  std::vector<EvaluationBlob> evaluations;
  // Decisions to store; writing an existing (gate, cycle, number) replaces it, which is how a
  // decision is marked superseded.
  std::vector<v1::Decision> decisions;
  // Events, in order. The store assigns `global_sequence`, `service_sequence`, `prev_hash` and
  // `hash`, sets `subject` to the service id (and the call's request id when the event has none);
  // the caller names the events (CloudEvents id, type, source). Each must carry a payload; its
  // `subject`, when set, must be the service.
  std::vector<v1::Event> events;
  // Optional idempotency key. When set, the response is recorded under it atomically with the
  // rest, and a later Commit or LookupRequest with the same id replays it.
  std::string request_id;
  // Caller-defined hash of the request content, compared on replay.
  std::string request_hash;
  // The response to record for `request_id`.
  std::string response;
  // Optional: builds the response from the commit's outcome (new etag, sequences) instead of
  // `response`. Runs inside the store's ordering critical section: it must be quick and must not
  // call into the Store.
  std::function<std::string(const CommitResult&)> make_response;
};

// The outcome of a Commit.
struct CommitResult {
  // The stored service state (etag and chain fields filled in). On a replay: the current state.
  v1::Service service;
  // Global sequences of the events written; both 0 when none were (or on a replay, those of the
  // original commit).
  uint64_t first_global_sequence = 0;
  uint64_t last_global_sequence = 0;
  // True when `request_id` had been applied before and nothing was written now.
  bool replayed = false;
  // The recorded response (empty when the mutation had no request id and no response).
  std::string response;
};

// Everything a command on one service reads, from one consistent RocksDB snapshot
// (Store::LoadSnapshot).
struct ServiceState {
  v1::Service service;
  // The revision the service record names as latest (`service.output_revisions`) of every output
  // type, ordered by type.
  std::vector<v1::OutputRevision> latest_outputs;
  // Every stored assessment, ordered by principle.
  std::vector<v1::Assessment> assessments;
  // Decisions at `service.gate_under_review` in `service.cycle` (superseded ones included), by
  // number; empty when no gate is under review.
  std::vector<v1::Decision> gate_decisions;
  // The serialized evaluation `service.latest_evaluation` names; empty when it names none.
  std::string latest_evaluation;
};

struct ServicePage {
  std::vector<v1::Service> services;
  // Token for the next page; empty when this page is the last.
  std::string next_page_token;
};

class Store {
 public:
  // Opens (or creates) the store at `options.path`. Errors: InvalidArgument for bad options,
  // NotFound when absent and !create_if_missing, FailedPrecondition when the directory holds a
  // store of another format version (or something that is not a Värav store), Unavailable when
  // another process has it open, Internal for other RocksDB failures.
  static absl::StatusOr<std::unique_ptr<Store>> Open(StoreOptions options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies `m` atomically and durably: all of it or nothing. Errors: InvalidArgument (malformed
  // mutation, or `request_id` reused with a different `request_hash`), AlreadyExists (creating an
  // existing service, or an output revision / evaluation id that exists), NotFound (updating a
  // missing service), Aborted (etag mismatch: re-read and retry), Internal / DataLoss on storage
  // failure. A repeated `request_id` with the same hash returns the recorded response with
  // `replayed` set and writes nothing.
  absl::StatusOr<CommitResult> Commit(const Mutation& m);
  // The same, taking the mutation's service and events instead of copying them.
  absl::StatusOr<CommitResult> Commit(Mutation&& m);

  // Idempotency check before doing work: the recorded response when `request_id` was applied with
  // the same `request_hash`, nullopt when unknown, InvalidArgument when applied with another hash.
  absl::StatusOr<std::optional<std::string>> LookupRequest(absl::string_view request_id,
                                                           absl::string_view request_hash) const;

  // --- Reads. NotFound when the thing asked for does not exist. ---

  absl::StatusOr<v1::Service> GetService(absl::string_view service_id) const;
  // The same without a copy: the record is shared with the store's service cache (immutable).
  absl::StatusOr<std::shared_ptr<const v1::Service>> GetServiceShared(
      absl::string_view service_id) const;

  // The service and everything a command on it reads (see ServiceState), from one RocksDB
  // snapshot. NotFound when the service does not exist; DataLoss when a record it names is missing
  // or does not parse.
  absl::StatusOr<ServiceState> LoadSnapshot(absl::string_view service_id) const;

  // OK unless a write failed: then that error, latched (the store acknowledges nothing more).
  // Reads check it themselves; callers may too before answering from what they read earlier.
  absl::Status LatchedFailure() const;
  // The services that have every term of `filter` (at most one value per attribute; empty: every
  // service), ordered by service id, `page_size` (1..1000, default 50 when <= 0) at a time and at
  // most `max_bytes` of records (the first always comes). Cost is O(page) for any combination of
  // terms. The token is the last service id of the previous page. InvalidArgument for a
  // malformed filter.
  absl::StatusOr<ServicePage> ListServicesBy(
      const std::vector<IndexTerm>& filter, int page_size, absl::string_view page_token,
      size_t max_bytes = std::numeric_limits<size_t>::max()) const;

  // `revision` 0 means the latest revision.
  absl::StatusOr<v1::OutputRevision> GetOutput(absl::string_view service_id,
                                               absl::string_view output_type,
                                               uint32_t revision) const;
  // The revisions of `output_type` (of every type when empty), by type then revision: those after
  // `after_revision` (of the one type), no more than fit in `max_bytes` of stored records (the
  // first always comes).
  absl::StatusOr<std::vector<v1::OutputRevision>> ListOutputRevisions(
      absl::string_view service_id, absl::string_view output_type, uint32_t after_revision = 0,
      size_t max_bytes = std::numeric_limits<size_t>::max()) const;

  absl::StatusOr<v1::Assessment> GetAssessment(absl::string_view service_id,
                                               absl::string_view principle) const;
  // Every stored assessment of the service, by principle.
  absl::StatusOr<std::vector<v1::Assessment>> ListAssessments(absl::string_view service_id) const;

  // The serialized evaluation stored under `evaluation_id`.
  absl::StatusOr<std::string> GetEvaluation(absl::string_view evaluation_id) const;

  // Decisions of the service, narrowed to `gate` when non-empty and to `cycle` when also > 0;
  // ordered by gate, cycle, number.
  absl::StatusOr<std::vector<v1::Decision>> ListDecisions(absl::string_view service_id,
                                                          absl::string_view gate,
                                                          uint32_t cycle) const;

  // Up to `limit` durable events with global_sequence > `after_global_sequence`, in order, and
  // no more than fit in `max_bytes` of stored bytes (the first event always comes). `stored`, when
  // given, receives each event's stored bytes (see layout.h), in the same order.
  absl::StatusOr<std::vector<v1::Event>> ReadEvents(
      uint64_t after_global_sequence, int limit,
      size_t max_bytes = std::numeric_limits<size_t>::max(),
      std::vector<std::string>* stored = nullptr) const;
  // The same for the durable events of one service with service_sequence >
  // `after_service_sequence`.
  absl::StatusOr<std::vector<v1::Event>> ReadServiceEvents(
      absl::string_view service_id, uint64_t after_service_sequence, int limit,
      size_t max_bytes = std::numeric_limits<size_t>::max(),
      std::vector<std::string>* stored = nullptr) const;
  // The highest durable global sequence (0 when the log is empty).
  uint64_t LastGlobalSequence() const;
  // Blocks until an event with global_sequence > `after` is durable or `deadline` passes; returns
  // LastGlobalSequence() then. For event streams that wake on new events.
  uint64_t AwaitEventsAfter(uint64_t after, absl::Time deadline) const;

  // Checks the hash chain of one service: sequences 1..n without gaps, each event's prev_hash is
  // its predecessor's hash, each hash recomputes, and the service record's last_event_sequence /
  // last_event_hash name the last event. OK or DataLoss naming the first bad service_sequence and
  // why; NotFound for an unknown service.
  absl::Status VerifyChain(absl::string_view service_id) const;

  // Full offline-style consistency check (for recovery checks and `fsck` tooling): the global
  // log is 1..N without gaps and every event sits at its own sequence, per-service entries point
  // at events of that service, every service chain verifies, and the indexes hold exactly the
  // entries the service records imply. OK or DataLoss describing the first problem. Cost is
  // O(database); not for request paths.
  absl::Status CheckConsistency() const;

  // Commits written, the group writes that carried them, and the bytes of their write batches
  // (what each group appends to the WAL, record framing aside), since Open. For benchmarks: the
  // mean group size, and the bytes a command writes.
  uint64_t commits_written() const { return commits_written_.load(std::memory_order_relaxed); }
  uint64_t group_writes() const { return group_writes_.load(std::memory_order_relaxed); }
  uint64_t batch_bytes_written() const {
    return batch_bytes_written_.load(std::memory_order_relaxed);
  }

  // --- Consumer cursors (e.g. the NATS publisher's position), kept in metadata. ---

  // The stored position of `name`, 0 when never set.
  absl::StatusOr<uint64_t> GetCursor(absl::string_view name) const;
  absl::Status SetCursor(absl::string_view name, uint64_t sequence);

  // --- Backup. ---

  // Writes an online, consistent checkpoint (a complete RocksDB directory, hard-linked where
  // possible) to `dir`, which must not exist. Open it with Store::Open to restore.
  absl::Status CreateCheckpoint(absl::string_view dir);
  // Adds an incremental backup to the BackupEngine directory `backup_dir` (created if missing).
  absl::Status CreateBackup(absl::string_view backup_dir);
  // Restores the latest backup in `backup_dir` into `db_dir` (which must not be open).
  static absl::Status RestoreLatestBackup(absl::string_view backup_dir, absl::string_view db_dir);

 private:
  struct Handles;
  class ServiceCache;

  Store(StoreOptions options, std::unique_ptr<rocksdb::DB> db, std::unique_ptr<Handles> handles);
  // Checks (or, on a fresh store, writes) the format version, rebuilds the index of a store of
  // the previous format, and loads the sequence counters.
  absl::Status Initialize(bool fresh);
  // Replaces the whole portfolio index with the entries the service records imply.
  absl::Status RebuildIndex();
  // The index entries of `service` (StoreOptions::index_terms); InvalidArgument for bad terms.
  absl::StatusOr<std::set<std::string>> IndexKeysOf(const v1::Service& service) const;

  // One commit between its preparation (under its stripe locks) and the end of its group write
  // (defined in internal/store_internal.h).
  struct PendingCommit;

  // Under the stripe locks: checks `m` against the stored state and prepares `pending`. Sets
  // `write` when there is something to write (false for a replay, whose result is filled in).
  // `next` and `events` are the mutation's service and events, which it takes over.
  absl::Status CommitLocked(const Mutation& m, v1::Service next, std::vector<v1::Event> events,
                            PendingCommit& pending, bool& write);
  absl::StatusOr<CommitResult> CommitTaking(const Mutation& m, v1::Service next,
                                            std::vector<v1::Event> events);
  // Queues `pending` (allocating its global sequences), seals it, and returns once its group
  // write has returned: the commit's status.
  absl::Status WriteInGroup(PendingCommit& pending);
  // The leader's part: writes the sealed batches of `group` (consecutive in queue order) as one.
  void WriteGroup(const std::vector<PendingCommit*>& group);
  // Appends `p`'s events (from its allocated first global sequence on), service record and
  // idempotency record to its batch, and completes its result.
  void Seal(PendingCommit& p);
  absl::StatusOr<std::optional<storage::v1::RequestRecord>> ReadRequestRecord(
      absl::string_view request_id) const;
  absl::Status VerifyChainAt(const rocksdb::ReadOptions& read_options, absl::string_view service_id,
                             const v1::Service& service) const;
  absl::Mutex& StripeFor(absl::string_view key);
  // The stored record of `service_id` (nullptr when there is none), from the service cache or
  // RocksDB. Does not check for a latched failure.
  absl::StatusOr<std::shared_ptr<const v1::Service>> ReadService(
      absl::string_view service_id) const;

  const StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<Handles> cf_;
  std::unique_ptr<absl::Mutex[]> stripes_;
  std::unique_ptr<ServiceCache> service_cache_;

  // The commit queue. Lock order: stripes (by address) -> commit_mu_; the leader takes
  // sync_mu_ without holding commit_mu_.
  absl::Mutex commit_mu_;
  std::deque<PendingCommit*> commit_queue_ ABSL_GUARDED_BY(commit_mu_);
  bool group_leader_active_ ABSL_GUARDED_BY(commit_mu_) = false;
  // Next global event sequence to allocate (when a commit is queued).
  uint64_t next_global_sequence_ ABSL_GUARDED_BY(commit_mu_) = 1;

  // The latched write failure, and waiters for new events.
  mutable absl::Mutex sync_mu_;
  absl::Status sync_error_ ABSL_GUARDED_BY(sync_mu_);
  // Set once with sync_error_, so that reads check for a failure without taking sync_mu_.
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> commits_written_{0};
  std::atomic<uint64_t> group_writes_{0};
  std::atomic<uint64_t> batch_bytes_written_{0};
  // Highest durable global sequence; written under sync_mu_, read without it.
  std::atomic<uint64_t> durable_global_sequence_{0};
};

}  // namespace varav::store
