// Internal to engine/store: what the files of the Store's implementation share: its column
// family handles, the service cache, a commit in flight, and small helpers around RocksDB's
// types. The implementation is divided by concern, as RocksDB divides DBImpl:
//
//   store_open.cc     open, format version and its migration, close
//   store_options.cc  column family options (filters, the block cache, memtable insert runs)
//   store_write.cc    validation of a mutation, the group commit, idempotency records
//   store_index.cc    the composite portfolio index
//   store_read.cc     point reads, snapshots, listings, event reads, cursors
//   store_verify.cc   the hash chains and the full consistency check
//   store_backup.cc   checkpoints and backups
//
// Not a public API: nothing outside engine/store includes it.
#pragma once

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "engine/common/status_macros.h"
#include "engine/store/event_chain.h"
#include "engine/store/layout.h"
#include "engine/store/rocksdb_status.h"
#include "engine/store/store.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace varav::store {

struct Store::Handles {
  // Owned; released through DB::DestroyColumnFamilyHandle before the DB closes.
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  rocksdb::ColumnFamilyHandle* services = nullptr;
  rocksdb::ColumnFamilyHandle* outputs = nullptr;
  rocksdb::ColumnFamilyHandle* assessments = nullptr;
  rocksdb::ColumnFamilyHandle* evaluations = nullptr;
  rocksdb::ColumnFamilyHandle* decisions = nullptr;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* indexes = nullptr;
  rocksdb::ColumnFamilyHandle* idempotency = nullptr;
  rocksdb::ColumnFamilyHandle* metadata = nullptr;
};

// Parsed service records by id. Commits replace an entry (Put) while they still hold the
// service's stripe lock, right after their write became visible, so the next command on the
// service reads the record it just wrote. Readers that miss read RocksDB and then Fill, which
// keeps what they read only if no commit touched the shard since their miss: otherwise an older
// record read before a commit could overwrite the newer one the commit put.
class Store::ServiceCache {
 public:
  explicit ServiceCache(size_t capacity)
      : per_shard_(capacity == 0 ? 0 : std::max<size_t>(1, capacity / kShards)) {}

  // The cached record, or nullptr with `*generation` set for a later Fill.
  std::shared_ptr<const v1::Service> Find(absl::string_view id, uint64_t* generation) {
    Shard& shard = ShardOf(id);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.records.find(id);
    if (it != shard.records.end()) return it->second;
    *generation = shard.generation;
    return nullptr;
  }
  void Fill(absl::string_view id, uint64_t generation,
            const std::shared_ptr<const v1::Service>& record) {
    if (per_shard_ == 0) return;
    Shard& shard = ShardOf(id);
    absl::MutexLock lock(&shard.mu);
    if (shard.generation != generation) return;
    Insert(shard, id, record);
  }
  void Put(absl::string_view id, std::shared_ptr<const v1::Service> record) {
    Shard& shard = ShardOf(id);
    absl::MutexLock lock(&shard.mu);
    ++shard.generation;
    if (per_shard_ == 0) return;
    Insert(shard, id, std::move(record));
  }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<const v1::Service>> records
        ABSL_GUARDED_BY(mu);
    uint64_t generation ABSL_GUARDED_BY(mu) = 0;
  };

  Shard& ShardOf(absl::string_view id) {
    return shards_[absl::Hash<absl::string_view>()(id) % kShards];
  }
  void Insert(Shard& shard, absl::string_view id, std::shared_ptr<const v1::Service> record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu) {
    auto it = shard.records.find(id);
    if (it != shard.records.end()) {
      it->second = std::move(record);
      return;
    }
    // Full: drop an arbitrary record (the next read of it goes to RocksDB).
    if (shard.records.size() >= per_shard_) shard.records.erase(shard.records.begin());
    shard.records.emplace(std::string(id), std::move(record));
  }

  const size_t per_shard_;
  Shard shards_[kShards];
};

struct Store::PendingCommit {
  const Mutation* mutation = nullptr;
  CommitResult* result = nullptr;
  // Everything but the sealed parts: outputs, assessments, evaluations, decisions, indexes.
  rocksdb::WriteBatch batch;
  // The new service record (etag and last_event_sequence set) and its chain's last hash.
  v1::Service next;
  std::string prev_hash;
  std::vector<UnsealedEvent> prepared;
  std::vector<std::string> service_event_keys;
  // The global sequence of the first event, allocated when the commit is queued.
  uint64_t first_sequence = 0;
  // Under commit_mu_: set once the committer has sealed `batch`; `lead` and `done` are set by
  // the leaders, `status` by the leader that wrote the commit.
  bool sealed = false;
  absl::Status status;
  bool done = false;
  bool lead = false;
  absl::CondVar wake;
};

namespace internal {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kDefaultEventLimit = 100;
inline constexpr int kMaxEventLimit = 10000;
// Most entries one service may have in the portfolio index (a guard against a terms function
// gone wrong: 5 attributes with a few values each need about a hundred).
inline constexpr size_t kMaxIndexEntries = 4096;

inline rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
inline absl::string_view ToView(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

inline bool HasPrefix(const rocksdb::Slice& key, absl::string_view prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.data());
}

// A printable rendering of a key for error messages (NUL separators become '|').
inline std::string Printable(absl::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '\0') {
      out += '|';
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      out += absl::StrFormat("\\x%02x", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

template <typename Message>
absl::Status ParseValue(absl::string_view bytes, Message& out, absl::string_view what) {
  if (!out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat(what, ": stored value cannot be parsed"));
  }
  return absl::OkStatus();
}

// Collects every value under `prefix` of `cf`, parsed as `Message`.
template <typename Message>
absl::StatusOr<std::vector<Message>> ScanPrefix(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                                                const std::string& prefix, absl::string_view what,
                                                const rocksdb::ReadOptions& read_options = {}) {
  std::vector<Message> out;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(read_options, cf));
  for (it->Seek(ToSlice(prefix)); it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
    VARAV_RETURN_IF_ERROR(ParseValue(ToView(it->value()), out.emplace_back(),
                                     absl::StrCat(what, " ", Printable(ToView(it->key())))));
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), absl::StrCat("listing ", what)));
  return out;
}

// An index term as the composite index's key encoding takes it (layout.h).
using TermView = std::pair<absl::string_view, absl::string_view>;

// A fresh etag (store_write.cc).
std::string NewEtag();

// Options of every column family, sharing `cache` (store_options.cc).
rocksdb::ColumnFamilyOptions FamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache);
// `base` with the memtable insert runs of column family `name`, if it has any.
rocksdb::ColumnFamilyOptions WithInsertRuns(rocksdb::ColumnFamilyOptions base,
                                            absl::string_view name);

// The composite index entries of a service with `terms` (store_index.cc, layout.h).
absl::StatusOr<std::set<std::string>> CompositeKeys(std::vector<IndexTerm> terms,
                                                    absl::string_view service_id);

// Refusals of a malformed mutation (store_write.cc).
absl::Status ValidateMutation(const Mutation& m);

// Reads and parses the record of `service_id` in `cf` (the services family) as `read_options`
// sees the database. NotFound when there is none.
absl::Status ReadServiceRecord(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                               const rocksdb::ReadOptions& read_options,
                               absl::string_view service_id, v1::Service& out);

}  // namespace internal
}  // namespace varav::store
