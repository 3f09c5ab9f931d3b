// The durable store of Värav: services, outputs, assessments, gate evaluations, decisions, the
// event log, portfolio indexes and idempotency records, in one RocksDB database.
//
// Only this module touches RocksDB. The lifecycle engine computes a new service state and the
// records and events a command produces; Commit() writes all of it in one atomic, durable write
// batch. Key layouts are documented in engine/store/layout.h.
//
//   VARAV_ASSIGN_OR_RETURN(auto store, Store::Open({.path = dir}));
//   Mutation m{.service_id = "s1", .expected_etag = etag, .service = new_state,
//              .events = {event}, .request_id = id, .request_hash = hash, .response = bytes};
//   VARAV_ASSIGN_OR_RETURN(CommitResult r, store->Commit(m));
//
// Durability and ordering. With `sync` on, Commit returns only after its write is in the synced
// WAL. Global event sequences are allocated, and the write is handed to RocksDB, inside one short
// critical section with WAL sync off; the WAL fsync happens afterwards, outside that section, by
// whichever waiting committer leads the next group sync (group commit: one fsync covers every
// write before it). Because the WAL is appended in exactly the allocation order and RocksDB
// recovers a prefix of it, a crash can never leave event N+1 without event N, so the global log
// has no gaps. Readers never observe data that a crash could still take away: event reads stop at
// the durable watermark (the last global sequence known synced), and every other read waits, if
// needed, until the writes it may have seen are synced. Handing the write to RocksDB with
// `sync = true` from each committer instead would let a later sequence reach the disk before an
// earlier one (RocksDB forms write groups in arrival order, not allocation order).
//
// Concurrency control. Writers of the same service are serialized by a striped mutex (chosen by
// hashing the service id) held across the read-check-write of the etag until the write is handed
// to RocksDB; writers of different services proceed in parallel and share group syncs. The stripe
// is released before the commit waits for its sync. That is safe: the next writer of the service
// reads the handed-off state (RocksDB makes it visible at once) and gets a larger ticket, so its
// own wait covers the earlier write; a failed sync latches and fails every later wait, so nothing
// built on a lost write is ever acknowledged; and a refusal inside Commit (stale etag, existing
// record) first waits for everything written so far, so it never rests on state a crash could
// take away.
//
// Reads that feed a commit (LoadSnapshot). A read-modify-write command reads the service, decides,
// and commits. Its reads need not wait for a group sync: whatever not-yet-durable write W they saw
// was handed to RocksDB before the read, so W's ticket is below the ticket of the command's own
// commit, and the commit's wait for durability covers W. A command that is refused instead must
// call ReadBarrier() before it answers, so that no refusal rests on state a crash could take away.
// Every other read (GetService, ListAssessments, ...) waits by itself.
//
// Thread safety: Store is thread-safe; every method may be called concurrently. A Store must
// outlive calls in progress. Only one process may open a store directory at a time (RocksDB's
// LOCK file enforces it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "varav/v1/resources.pb.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
struct ReadOptions;
}  // namespace rocksdb

namespace varav::store {

struct StoreOptions {
  // Directory of the RocksDB database. Required.
  std::string path;
  // Default true: a commit is acknowledged only after the WAL is fsynced. False trades durability
  // across an OS crash or power loss for latency (a process crash still loses nothing written).
  bool sync = true;
  // Default true: create an empty store when `path` holds none; false makes Open fail with
  // NotFound instead.
  bool create_if_missing = true;
  // Default 64: number of mutexes that serialize writers of the same service.
  int lock_stripes = 64;
  // Default "/varav": the CloudEvents `source` given to events that carry none.
  std::string event_source = "/varav";
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
  // New output revisions; a revision that already exists is refused (outputs are append-only).
  std::vector<v1::OutputRevision> outputs;
  // Assessments to store; each replaces the stored assessment of its principle.
  std::vector<v1::Assessment> assessments;
  // New gate evaluations.
  std::vector<EvaluationBlob> evaluations;
  // Decisions to store; writing an existing (gate, cycle, number) replaces it, which is how a
  // decision is marked superseded.
  std::vector<v1::Decision> decisions;
  // Events, in order. The store assigns `global_sequence`, `service_sequence`, `prev_hash` and
  // `hash`, and fills `spec_version`, `subject`, `source`, `type`, `id` and `data_content_type`
  // when empty. Each must carry a payload; a non-empty `type` must match it.
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

// Secondary indexes over services (see layout.h).
enum class ServiceIndex {
  kAll,       // every service, by id; `value` is ignored
  kAgency,    // value: agency id
  kStage,     // value: stage id
  kStatus,    // value: ServiceStatus enum name, e.g. "SERVICE_STATUS_IN_REVIEW"
  kAwaiting,  // value: panel id that still has to decide at the gate under review
  kReady,     // value: "1" (latest evaluation ready and not stale) or "0"
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
                                                           absl::string_view request_hash);

  // --- Reads. NotFound when the thing asked for does not exist. ---

  absl::StatusOr<v1::Service> GetService(absl::string_view service_id);

  // The service and everything a command on it reads (see ServiceState), from one RocksDB
  // snapshot, WITHOUT waiting for durability: for the read-modify-write path only (see "Reads
  // that feed a commit" above). The caller either commits a mutation based on it (whose wait
  // covers what was read) or calls ReadBarrier() before it answers. NotFound when the service does
  // not exist; DataLoss when a record it names is missing or does not parse.
  absl::StatusOr<ServiceState> LoadSnapshot(absl::string_view service_id);

  // Waits until every write handed to RocksDB so far is durable (at once with sync off). Call it
  // after reads made without a barrier (LoadSnapshot) before answering from them without a
  // commit. Errors: the latched sync failure, when the WAL could not be synced.
  absl::Status ReadBarrier();
  // Services in an index, ordered by service id, `page_size` (1..1000, default 50 when <= 0) at a
  // time. Cost is O(page). The token is the last service id of the previous page.
  absl::StatusOr<ServicePage> ListServicesBy(ServiceIndex index, absl::string_view value,
                                             int page_size, absl::string_view page_token);

  // `revision` 0 means the latest revision.
  absl::StatusOr<v1::OutputRevision> GetOutput(absl::string_view service_id,
                                               absl::string_view output_type, uint32_t revision);
  // Every revision of `output_type` (of every type when empty), by type then revision.
  absl::StatusOr<std::vector<v1::OutputRevision>> ListOutputRevisions(
      absl::string_view service_id, absl::string_view output_type);

  absl::StatusOr<v1::Assessment> GetAssessment(absl::string_view service_id,
                                               absl::string_view principle);
  // Every stored assessment of the service, by principle.
  absl::StatusOr<std::vector<v1::Assessment>> ListAssessments(absl::string_view service_id);

  // The serialized evaluation stored under `evaluation_id`.
  absl::StatusOr<std::string> GetEvaluation(absl::string_view evaluation_id);

  // Decisions of the service, narrowed to `gate` when non-empty and to `cycle` when also > 0;
  // ordered by gate, cycle, number.
  absl::StatusOr<std::vector<v1::Decision>> ListDecisions(absl::string_view service_id,
                                                          absl::string_view gate, uint32_t cycle);

  // Up to `limit` durable events with global_sequence > `after_global_sequence`, in order.
  absl::StatusOr<std::vector<v1::Event>> ReadEvents(uint64_t after_global_sequence, int limit);
  // Up to `limit` durable events of one service with service_sequence > `after_service_sequence`.
  absl::StatusOr<std::vector<v1::Event>> ReadServiceEvents(absl::string_view service_id,
                                                           uint64_t after_service_sequence,
                                                           int limit);
  // The highest durable global sequence (0 when the log is empty).
  uint64_t LastGlobalSequence() const;
  // Blocks until an event with global_sequence > `after` is durable or `deadline` passes; returns
  // LastGlobalSequence() then. For event streams that wake on new events.
  uint64_t AwaitEventsAfter(uint64_t after, absl::Time deadline);

  // Checks the hash chain of one service: sequences 1..n without gaps, each event's prev_hash is
  // its predecessor's hash, each hash recomputes, and the service record's last_event_sequence /
  // last_event_hash name the last event. OK or DataLoss naming the first bad service_sequence and
  // why; NotFound for an unknown service.
  absl::Status VerifyChain(absl::string_view service_id);

  // Full offline-style consistency check (for recovery checks and `fsck` tooling): the global
  // log is 1..N without gaps and every event sits at its own sequence, per-service entries point
  // at events of that service, every service chain verifies, and the indexes hold exactly the
  // entries the service records imply. OK or DataLoss describing the first problem. Cost is
  // O(database); not for request paths.
  absl::Status CheckConsistency();

  // --- Consumer cursors (e.g. the NATS publisher's position), kept in metadata. ---

  // The stored position of `name`, 0 when never set.
  absl::StatusOr<uint64_t> GetCursor(absl::string_view name);
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

  Store(StoreOptions options, std::unique_ptr<rocksdb::DB> db, std::unique_ptr<Handles> handles);
  // Checks (or, on a fresh store, writes) the format version and loads the sequence counters.
  absl::Status Initialize(bool fresh);

  // Waits until every write with a ticket <= `ticket` is in the synced WAL, leading a group sync
  // when no sync is in progress.
  absl::Status AwaitDurable(uint64_t ticket);
  // Under the stripe locks: checks `m` against the stored state and hands its write batch to
  // RocksDB. Sets `ticket` to the write's ticket (0 when nothing was written: a replay).
  // `next` and `events` are the mutation's service and events, which it takes over.
  absl::Status CommitLocked(const Mutation& m, v1::Service next, std::vector<v1::Event> events,
                            CommitResult& result, uint64_t& ticket);
  absl::StatusOr<CommitResult> CommitTaking(const Mutation& m, v1::Service next,
                                            std::vector<v1::Event> events);
  absl::StatusOr<std::optional<v1::RequestRecord>> ReadRequestRecord(absl::string_view request_id);
  absl::Status VerifyChainAt(const rocksdb::ReadOptions& read_options, absl::string_view service_id,
                             const v1::Service& service);
  bool SyncIdle() const ABSL_SHARED_LOCKS_REQUIRED(sync_mu_) { return !sync_in_progress_; }
  absl::Mutex& StripeFor(absl::string_view key);

  const StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<Handles> cf_;
  std::unique_ptr<absl::Mutex[]> stripes_;

  // Orders global sequence allocation with the hand-off of writes to RocksDB. Lock order: stripes
  // (by address) -> write_mu_ -> sync_mu_; the group-sync leader takes write_mu_ only while not
  // holding sync_mu_.
  absl::Mutex write_mu_;
  uint64_t next_global_sequence_ ABSL_GUARDED_BY(write_mu_) = 1;
  // Tickets number writes in WAL order; a reader that saw some data waits for the ticket current
  // after its read.
  std::atomic<uint64_t> written_ticket_{0};

  // Group sync state.
  absl::Mutex sync_mu_;
  bool sync_in_progress_ ABSL_GUARDED_BY(sync_mu_) = false;
  uint64_t durable_ticket_ ABSL_GUARDED_BY(sync_mu_) = 0;
  absl::Status sync_error_ ABSL_GUARDED_BY(sync_mu_);
  // Highest durable global sequence; written under sync_mu_, read without it.
  std::atomic<uint64_t> durable_global_sequence_{0};
};

}  // namespace varav::store
