#include "engine/store/store.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/status_macros.h"
#include "engine/store/event_chain.h"
#include "engine/store/layout.h"
#include "engine/store/rocksdb_status.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/backup_engine.h"
#include "rocksdb/utilities/checkpoint.h"
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

namespace {

// Options of every column family. The command path makes point lookups of whole keys, and most of
// them miss: the request-id check (twice per command), the existence checks of a new output
// revision and evaluation. Without filters a miss searches the memtable and then every SST file
// that may hold the key, reading index and data blocks; a whole-key Bloom filter per SST file
// (about 1% false positives at 10 bits per key) and one on the memtable answer most misses from
// memory. Scans (events, indexes) are unaffected.
rocksdb::ColumnFamilyOptions FamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  // Filter and index blocks compete for the shared cache instead of staying pinned per table
  // reader, so memory stays within block_cache_bytes as the store grows; L0's, the most read,
  // are kept.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.memtable_prefix_bloom_size_ratio = 0.02;
  cf.memtable_whole_key_filtering = true;
  return cf;
}

// Where the keys of a column family arrive in runs that each grow at one end, the memtable
// keeps an insert position per run (RocksDB's memtable_insert_with_hint_prefix_extractor), so an
// insert starts next to the previous key of its run instead of searching the skip list from the
// top. That search, a cache miss per level, was the largest part of a group write, and the group
// write is the store's serial section. The runs (layout.h):
//   events       e/<seq> all commits append; s/<service_id>\0<seq> a service's events append;
//   outputs      <service_id>\0<output_type>\0 then the revision: a new revision appends;
//   evaluations  <service_id>/<cycle>/<gate>/ then the sequence of the evaluation;
//   services     the whole key: a commit writes a newer version of the same record.
// The memtable remembers one position per run it holds (a few hundred bytes each, from its own
// arena), at most one per key it holds.
class InsertRun final : public rocksdb::SliceTransform {
 public:
  enum class Kind { kEvents, kOutputs, kEvaluations, kWholeKey };
  explicit InsertRun(Kind kind) : kind_(kind) {}

  const char* Name() const override { return "varav.InsertRun"; }
  bool InDomain(const rocksdb::Slice& key) const override { return Length(key) > 0; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), Length(key));
  }

 private:
  // The run's prefix length; 0 when `key` belongs to no run.
  size_t Length(const rocksdb::Slice& key) const {
    const absl::string_view k(key.data(), key.size());
    switch (kind_) {
      case Kind::kEvents:
        if (absl::StartsWith(k, "e/")) return 2;
        if (absl::StartsWith(k, "s/")) {
          const size_t nul = k.find('\0', 2);
          return nul == absl::string_view::npos ? 0 : nul + 1;
        }
        return 0;
      case Kind::kOutputs:
        return k.size() > sizeof(uint32_t) ? k.size() - sizeof(uint32_t) : 0;
      case Kind::kEvaluations: {
        const size_t slash = k.rfind('/');
        return slash == absl::string_view::npos ? 0 : slash + 1;
      }
      case Kind::kWholeKey:
        return k.size();
    }
    return 0;
  }

  const Kind kind_;
};

// `base` with the insert runs of column family `name`, if it has any.
rocksdb::ColumnFamilyOptions WithInsertRuns(rocksdb::ColumnFamilyOptions base,
                                            absl::string_view name) {
  std::optional<InsertRun::Kind> kind;
  if (name == kEventsCf) kind = InsertRun::Kind::kEvents;
  if (name == kOutputsCf) kind = InsertRun::Kind::kOutputs;
  if (name == kEvaluationsCf) kind = InsertRun::Kind::kEvaluations;
  if (name == kServicesCf) kind = InsertRun::Kind::kWholeKey;
  if (kind.has_value()) {
    base.memtable_insert_with_hint_prefix_extractor = std::make_shared<const InsertRun>(*kind);
  }
  return base;
}

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr int kDefaultEventLimit = 100;
constexpr int kMaxEventLimit = 10000;
// Most entries one service may have in the portfolio index (a guard against a terms function
// gone wrong: 5 attributes with a few values each need about a hundred).
constexpr size_t kMaxIndexEntries = 4096;

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

bool HasPrefix(const rocksdb::Slice& key, absl::string_view prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.data());
}

// A printable rendering of a key for error messages (NUL separators become '|').
std::string Printable(absl::string_view key) {
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

std::string NewEtag() {
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

using TermView = std::pair<absl::string_view, absl::string_view>;

// The composite index entries of a service with `terms` (see layout.h): for every non-empty subset
// of its attributes and every choice of one value per attribute in it, the prefix of those terms
// followed by the service id.
absl::StatusOr<std::set<std::string>> CompositeKeys(std::vector<IndexTerm> terms,
                                                    absl::string_view service_id) {
  std::sort(terms.begin(), terms.end(), [](const IndexTerm& a, const IndexTerm& b) {
    return std::tie(a.attribute, a.value) < std::tie(b.attribute, b.value);
  });
  terms.erase(std::unique(terms.begin(), terms.end(),
                          [](const IndexTerm& a, const IndexTerm& b) {
                            return a.attribute == b.attribute && a.value == b.value;
                          }),
              terms.end());
  // The values of each attribute, attributes in order.
  std::vector<std::pair<absl::string_view, std::vector<absl::string_view>>> attributes;
  for (const IndexTerm& t : terms) {
    if (!IsValidIndexPart(t.attribute) || !IsValidIndexPart(t.value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("index term '", Printable(t.attribute), "' = '", Printable(t.value),
                       "' of service '", service_id, "' is empty or holds a byte below 0x03"));
    }
    if (attributes.empty() || attributes.back().first != t.attribute) {
      attributes.emplace_back(t.attribute, std::vector<absl::string_view>());
    }
    attributes.back().second.push_back(t.value);
  }
  if (attributes.size() > 12) {
    return absl::InvalidArgumentError(absl::StrCat(
        "service '", service_id, "' has ", attributes.size(), " index attributes; at most 12"));
  }
  std::set<std::string> keys;
  std::vector<TermView> chosen;
  // Depth-first over the attributes: leave each out, or take each of its values.
  std::function<absl::Status(size_t)> visit = [&](size_t i) -> absl::Status {
    if (i == attributes.size()) {
      if (chosen.empty()) return absl::OkStatus();
      if (keys.size() >= kMaxIndexEntries) {
        return absl::InvalidArgumentError(absl::StrCat("service '", service_id,
                                                       "' would need more than ", kMaxIndexEntries,
                                                       " index entries"));
      }
      keys.insert(absl::StrCat(IndexPrefix(chosen), service_id));
      return absl::OkStatus();
    }
    VARAV_RETURN_IF_ERROR(visit(i + 1));
    for (absl::string_view value : attributes[i].second) {
      chosen.emplace_back(attributes[i].first, value);
      VARAV_RETURN_IF_ERROR(visit(i + 1));
      chosen.pop_back();
    }
    return absl::OkStatus();
  };
  VARAV_RETURN_IF_ERROR(visit(0));
  return keys;
}

absl::Status CheckKeyPart(absl::string_view value, absl::string_view what) {
  if (!IsValidKeyPart(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be non-empty and contain no NUL byte"));
  }
  return absl::OkStatus();
}

absl::Status CheckOptionalKeyPart(absl::string_view value, absl::string_view what) {
  if (value.empty()) return absl::OkStatus();
  return CheckKeyPart(value, what);
}

absl::Status ValidateMutation(const Mutation& m) {
  VARAV_RETURN_IF_ERROR(CheckKeyPart(m.service_id, "mutation service_id"));
  const std::string& id = m.service_id;
  if (m.service.id() != id) {
    return absl::InvalidArgumentError(
        absl::StrCat("service.id '", m.service.id(), "' differs from service_id '", id, "'"));
  }
  if (m.service.status() == v1::SERVICE_STATUS_UNSPECIFIED ||
      !v1::ServiceStatus_IsValid(m.service.status())) {
    return absl::InvalidArgumentError(absl::StrCat("service '", id, "' has no valid status"));
  }
  VARAV_RETURN_IF_ERROR(CheckOptionalKeyPart(m.service.agency(), "service.agency"));
  VARAV_RETURN_IF_ERROR(CheckOptionalKeyPart(m.service.stage(), "service.stage"));
  for (const std::string& panel : m.service.awaiting_panels()) {
    VARAV_RETURN_IF_ERROR(CheckKeyPart(panel, "service.awaiting_panels entry"));
  }
  for (size_t i = 0; i < m.outputs.size(); ++i) {
    const std::string what = absl::StrCat("outputs[", i, "]");
    if (m.outputs[i] == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, " is null"));
    const v1::OutputRevision& o = *m.outputs[i];
    if (o.service_id() != id) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " belongs to service '", o.service_id(), "', not '", id, "'"));
    }
    VARAV_RETURN_IF_ERROR(CheckKeyPart(o.output_type(), absl::StrCat(what, ".output_type")));
    if (o.revision() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ".revision must be >= 1"));
    }
  }
  for (size_t i = 0; i < m.assessments.size(); ++i) {
    const v1::Assessment& a = m.assessments[i];
    const std::string what = absl::StrCat("assessments[", i, "]");
    if (a.service_id() != id) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " belongs to service '", a.service_id(), "', not '", id, "'"));
    }
    VARAV_RETURN_IF_ERROR(CheckKeyPart(a.principle(), absl::StrCat(what, ".principle")));
  }
  for (size_t i = 0; i < m.evaluations.size(); ++i) {
    VARAV_RETURN_IF_ERROR(
        CheckKeyPart(m.evaluations[i].id, absl::StrCat("evaluations[", i, "].id")));
  }
  for (size_t i = 0; i < m.decisions.size(); ++i) {
    const v1::Decision& d = m.decisions[i];
    const std::string what = absl::StrCat("decisions[", i, "]");
    if (d.service_id() != id) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " belongs to service '", d.service_id(), "', not '", id, "'"));
    }
    VARAV_RETURN_IF_ERROR(CheckKeyPart(d.gate(), absl::StrCat(what, ".gate")));
    if (d.number() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ".number must be >= 1"));
    }
  }
  for (size_t i = 0; i < m.events.size(); ++i) {
    const v1::Event& e = m.events[i];
    const std::string what = absl::StrCat("events[", i, "]");
    if (e.data_case() == v1::Event::DATA_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has no payload"));
    }
    if (!e.subject().empty() && e.subject() != id) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has subject '", e.subject(), "', not '", id, "'"));
    }
  }
  if (!m.request_id.empty() && m.request_hash.empty()) {
    return absl::InvalidArgumentError("a request_id needs a request_hash");
  }
  return absl::OkStatus();
}

template <typename Message>
absl::Status ParseValue(absl::string_view bytes, Message& out, absl::string_view what) {
  if (!out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat(what, ": stored value cannot be parsed"));
  }
  return absl::OkStatus();
}

}  // namespace

Store::Store(StoreOptions options, std::unique_ptr<rocksdb::DB> db,
             std::unique_ptr<Handles> handles)
    : options_(std::move(options)),
      db_(std::move(db)),
      cf_(std::move(handles)),
      stripes_(new absl::Mutex[options_.lock_stripes]),
      service_cache_(std::make_unique<ServiceCache>(options_.service_cache_entries)) {}

Store::~Store() {
  // A clean close leaves nothing in the write-ahead log to replay: the next Open reads only the
  // table files (RocksDB flushes on close only when the WAL is off). After a failed write nothing
  // more is written.
  if (!failed_.load()) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    db_->Flush(flush, cf_->all).PermitUncheckedError();
  }
  for (rocksdb::ColumnFamilyHandle* h : cf_->all) {
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("StoreOptions.path is empty");
  if (options.lock_stripes < 1) {
    return absl::InvalidArgumentError("StoreOptions.lock_stripes must be >= 1");
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  // Recovery keeps the longest intact WAL prefix; with writes appended in sequence order this is
  // what guarantees a gap-free event log after a crash.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Column families fill their write buffers at very different rates (events and evaluations
  // quickly, services and indexes slowly): without a bound, one slow family keeps every log file
  // alive and a restart replays all of them. Past this size the families holding the oldest log
  // are flushed (RocksDB's tuning guide for many column families).
  db_options.max_total_wal_size = options.max_total_wal_bytes;

  std::vector<std::string> existing;
  const bool fresh = !rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok();
  if (fresh && !options.create_if_missing) {
    return absl::NotFoundError(absl::StrCat("no store at '", options.path, "'"));
  }
  if (fresh) {
    // RocksDB creates only the last path component; a data directory may be nested.
    std::error_code error;
    std::filesystem::create_directories(options.path, error);
    if (error) {
      return absl::InternalError(
          absl::StrCat("creating store directory '", options.path, "': ", error.message()));
    }
  }

  const rocksdb::ColumnFamilyOptions family_options =
      FamilyOptions(rocksdb::NewLRUCache(options.block_cache_bytes));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (absl::string_view name : kColumnFamilies) {
    descriptors.emplace_back(std::string(name), WithInsertRuns(family_options, name));
  }
  // Column families this build does not know must still be opened (RocksDB refuses otherwise);
  // they are left alone.
  for (const std::string& name : existing) {
    if (name == rocksdb::kDefaultColumnFamilyName) continue;
    if (std::find(kColumnFamilies.begin(), kColumnFamilies.end(), name) == kColumnFamilies.end()) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> raw_handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, descriptors, &raw_handles, &raw_db);
  if (!s.ok()) {
    return FromRocksDb(s, absl::StrCat("opening store at '", options.path, "'"));
  }
  auto handles = std::make_unique<Handles>();
  handles->all = raw_handles;
  handles->services = raw_handles[1];
  handles->outputs = raw_handles[2];
  handles->assessments = raw_handles[3];
  handles->evaluations = raw_handles[4];
  handles->decisions = raw_handles[5];
  handles->events = raw_handles[6];
  handles->indexes = raw_handles[7];
  handles->idempotency = raw_handles[8];
  handles->metadata = raw_handles[9];

  std::unique_ptr<Store> store(
      new Store(std::move(options), std::unique_ptr<rocksdb::DB>(raw_db), std::move(handles)));
  VARAV_RETURN_IF_ERROR(store->Initialize(fresh));
  return store;
}

absl::Status Store::Initialize(bool fresh) {
  std::string version;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_->metadata, ToSlice(kFormatVersionKey), &version);
  if (s.IsNotFound()) {
    // A crash right after creation can leave a store without its version; accept it only while
    // it holds no data.
    bool empty = fresh;
    if (!empty) {
      std::unique_ptr<rocksdb::Iterator> services(
          db_->NewIterator(rocksdb::ReadOptions(), cf_->services));
      std::unique_ptr<rocksdb::Iterator> events(
          db_->NewIterator(rocksdb::ReadOptions(), cf_->events));
      services->SeekToFirst();
      events->SeekToFirst();
      empty = !services->Valid() && !events->Valid();
    }
    if (!empty) {
      return absl::FailedPreconditionError(absl::StrCat(
          "'", options_.path, "' holds data but no format version; not a Värav store"));
    }
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    VARAV_RETURN_IF_ERROR(
        FromRocksDb(db_->Put(write_options, cf_->metadata, ToSlice(kFormatVersionKey),
                             absl::StrCat(kFormatVersion)),
                    "writing the store format version"));
  } else if (!s.ok()) {
    return FromRocksDb(s, "reading the store format version");
  } else {
    int stored = 0;
    if (!absl::SimpleAtoi(version, &stored) ||
        (stored != kFormatVersion && stored != kSingleIndexFormatVersion)) {
      return absl::FailedPreconditionError(
          absl::StrCat("store at '", options_.path, "' has format version '", version,
                       "'; this build reads format versions ", kSingleIndexFormatVersion, " and ",
                       kFormatVersion));
    }
    // Version 1 differs only in its index: rebuilt here, once, before anything reads it.
    if (stored == kSingleIndexFormatVersion) VARAV_RETURN_IF_ERROR(RebuildIndex());
  }

  uint64_t last = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->events));
  it->SeekForPrev(ToSlice(GlobalEventKey(UINT64_MAX)));
  if (it->Valid()) {
    if (std::optional<uint64_t> seq = ParseGlobalEventKey(ToView(it->key()))) last = *seq;
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "finding the last event"));
  next_global_sequence_ = last + 1;
  absl::MutexLock lock(&sync_mu_);
  durable_global_sequence_.store(last, std::memory_order_release);
  return absl::OkStatus();
}

absl::Mutex& Store::StripeFor(absl::string_view key) {
  return stripes_[absl::Hash<absl::string_view>()(key) %
                  static_cast<size_t>(options_.lock_stripes)];
}

absl::Status Store::ReadBarrier() {
  // Commits become visible only once their group write returned, and with `sync` on that write
  // was synced first (see the header): whatever a reader saw is durable already. What is left is
  // the latched failure, after which nothing more is acknowledged. Reads call this every time, so
  // the healthy case takes no lock.
  if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
  absl::MutexLock lock(&sync_mu_);
  return sync_error_;
}

absl::StatusOr<std::optional<v1::RequestRecord>> Store::ReadRequestRecord(
    absl::string_view request_id) {
  std::string bytes;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_->idempotency, ToSlice(request_id), &bytes);
  if (s.IsNotFound()) return std::nullopt;
  VARAV_RETURN_IF_ERROR(
      FromRocksDb(s, absl::StrCat("reading the record of request '", request_id, "'")));
  v1::RequestRecord record;
  VARAV_RETURN_IF_ERROR(
      ParseValue(bytes, record, absl::StrCat("record of request '", request_id, "'")));
  return record;
}

absl::StatusOr<CommitResult> Store::Commit(const Mutation& m) {
  VARAV_RETURN_IF_ERROR(ValidateMutation(m));
  return CommitTaking(m, m.service, m.events);
}

absl::StatusOr<CommitResult> Store::Commit(Mutation&& m) {
  VARAV_RETURN_IF_ERROR(ValidateMutation(m));
  v1::Service service = std::move(m.service);
  std::vector<v1::Event> events = std::move(m.events);
  return CommitTaking(m, std::move(service), std::move(events));
}

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

absl::StatusOr<CommitResult> Store::CommitTaking(const Mutation& m, v1::Service next,
                                                 std::vector<v1::Event> events) {
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  CommitResult result;
  PendingCommit pending;
  pending.mutation = &m;
  pending.result = &result;
  absl::Status status;
  {
    // The service stripe serializes writers of the service; the request stripe keeps two
    // concurrent retries of one request (even naming different services) from both applying.
    // Both are held until the write is visible (see the header on why).
    absl::Mutex* first = &StripeFor(absl::StrCat("s:", m.service_id));
    absl::Mutex* second =
        m.request_id.empty() ? nullptr : &StripeFor(absl::StrCat("r:", m.request_id));
    if (second == first) second = nullptr;
    if (second != nullptr && second < first) std::swap(first, second);
    absl::MutexLock first_lock(first);
    std::optional<absl::MutexLock> second_lock;
    if (second != nullptr) second_lock.emplace(second);
    bool write = false;
    status = CommitLocked(m, std::move(next), std::move(events), pending, write);
    if (status.ok() && write) {
      status = WriteInGroup(pending);
      if (status.ok()) {
        service_cache_->Put(m.service_id, std::make_shared<const v1::Service>(result.service));
      }
    }
  }
  VARAV_RETURN_IF_ERROR(status);
  return result;
}

absl::Status Store::WriteInGroup(PendingCommit& pending) {
  {
    // Global sequences are allocated in queue order, and groups are written in queue order, so
    // the WAL holds the events in sequence order.
    absl::MutexLock lock(&commit_mu_);
    pending.first_sequence = next_global_sequence_;
    next_global_sequence_ += pending.prepared.size();
    commit_queue_.push_back(&pending);
  }
  // Sealing needs only the commit's own sequences and its service's chain, whose stripe this
  // thread holds: committers seal in parallel, and the leader's serial part is the write alone.
  Seal(pending);

  commit_mu_.Lock();
  pending.sealed = true;
  if (!group_leader_active_) {
    group_leader_active_ = true;
    pending.lead = true;
  }
  while (!pending.done && !pending.lead) pending.wake.Wait(&commit_mu_);
  if (pending.done) {
    commit_mu_.Unlock();
    return pending.status;
  }
  // Lead: write groups until this commit's has been written. A group is every sealed commit at
  // the front of the queue; one still sealing and everything after it waits for the next group.
  auto front_sealed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_) {
    return !commit_queue_.empty() && commit_queue_.front()->sealed;
  };
  while (!pending.done) {
    commit_mu_.Await(absl::Condition(&front_sealed));
    std::vector<PendingCommit*> group;
    while (!commit_queue_.empty() && commit_queue_.front()->sealed) {
      group.push_back(commit_queue_.front());
      commit_queue_.pop_front();
    }
    commit_mu_.Unlock();

    WriteGroup(group);

    commit_mu_.Lock();
    for (PendingCommit* p : group) {
      p->done = true;
      if (p != &pending) p->wake.Signal();
    }
  }
  // Commits that queued meanwhile form the next group, led by the first of them (which finds
  // `lead` set once it has sealed, if it is still sealing now).
  if (commit_queue_.empty()) {
    group_leader_active_ = false;
  } else {
    commit_queue_.front()->lead = true;
    commit_queue_.front()->wake.Signal();
  }
  commit_mu_.Unlock();
  return pending.status;
}

namespace {

// A write batch's representation (rocksdb/db/write_batch.cc): an 8-byte sequence number and a
// 4-byte record count (both little-endian), then the records. Batches without per-key protection
// info (the default, and all this store makes) concatenate by adding their records and counts.
constexpr size_t kBatchHeader = 12;

// One batch holding the records of `batches` in order; nullopt when a batch's representation is
// not the plain one.
std::optional<rocksdb::WriteBatch> Concatenate(const std::vector<rocksdb::WriteBatch*>& batches) {
  size_t bytes = kBatchHeader;
  uint64_t count = 0;
  for (const rocksdb::WriteBatch* b : batches) {
    if (b->Data().size() < kBatchHeader) return std::nullopt;
    bytes += b->Data().size() - kBatchHeader;
    count += b->Count();
  }
  if (count > UINT32_MAX) return std::nullopt;
  std::string rep(kBatchHeader, '\0');
  rep.reserve(bytes);
  for (const rocksdb::WriteBatch* b : batches) rep.append(b->Data(), kBatchHeader);
  for (int i = 0; i < 4; ++i) rep[8 + i] = static_cast<char>((count >> (8 * i)) & 0xff);
  rocksdb::WriteBatch joined(rep);
  if (joined.Count() != count) return std::nullopt;
  return joined;
}

}  // namespace

void Store::WriteGroup(const std::vector<PendingCommit*>& group) {
  if (absl::Status failed = ReadBarrier(); !failed.ok()) {
    for (PendingCommit* p : group) p->status = failed;
    return;
  }
  // Only the group's leader runs this, one group at a time, in queue order.
  std::vector<rocksdb::WriteBatch*> batches;
  batches.reserve(group.size());
  for (PendingCommit* p : group) batches.push_back(&p->batch);
  const uint64_t end_sequence = group.back()->first_sequence + group.back()->prepared.size();
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  std::optional<rocksdb::WriteBatch> joined;
  if (batches.size() > 1) {
    joined = Concatenate(batches);
    if (!joined.has_value()) {
      // Every batch here is made by CommitLocked without protection info, so this is a bug.
      // Nothing was written, but the sequences these commits were given are lost, so later
      // commits would leave a gap: refuse everything further, like a failed write.
      absl::MutexLock lock(&sync_mu_);
      sync_error_ = absl::InternalError(
          "a commit's write batch has an unexpected layout (store is now unusable)");
      failed_.store(true, std::memory_order_release);
      for (PendingCommit* p : group) p->status = sync_error_;
      return;
    }
  }
  const absl::Status written =
      FromRocksDb(db_->Write(write_options, joined.has_value() ? &*joined : batches[0]),
                  "committing a write group");
  absl::MutexLock lock(&sync_mu_);
  if (!written.ok()) {
    // The WAL's state on disk is unknown now; refuse to acknowledge anything further.
    sync_error_ =
        absl::Status(written.code(), absl::StrCat(written.message(), " (store is now unusable)"));
    failed_.store(true, std::memory_order_release);
    for (PendingCommit* p : group) {
      if (p->status.ok()) p->status = sync_error_;
    }
    return;
  }
  commits_written_.fetch_add(group.size(), std::memory_order_relaxed);
  batch_bytes_written_.fetch_add(
      joined.has_value() ? joined->GetDataSize() : batches[0]->GetDataSize(),
      std::memory_order_relaxed);
  group_writes_.fetch_add(1, std::memory_order_relaxed);
  // Waiters on new events (AwaitEventsAfter) are woken by this lock's release.
  durable_global_sequence_.store(end_sequence - 1, std::memory_order_release);
}

void Store::Seal(PendingCommit& p) {
  const uint64_t first_sequence = p.first_sequence;
  rocksdb::WriteBatch& batch = p.batch;
  const Mutation& m = *p.mutation;
  const std::string& id = m.service_id;
  CommitResult& result = *p.result;
  std::string prev_hash = std::move(p.prev_hash);
  std::string hash;
  for (size_t i = 0; i < p.prepared.size(); ++i) {
    const uint64_t global = first_sequence + i;
    batch.Put(cf_->events, ToSlice(GlobalEventKey(global)),
              SealEvent(p.prepared[i], global, prev_hash, hash));
    batch.Put(cf_->events, ToSlice(p.service_event_keys[i]), ToSlice(EncodeU64(global)));
    prev_hash = std::move(hash);
  }
  p.next.set_last_event_hash(std::move(prev_hash));
  batch.Put(cf_->services, ToSlice(id), p.next.SerializeAsString());
  if (!p.prepared.empty()) {
    result.first_global_sequence = first_sequence;
    result.last_global_sequence = first_sequence + p.prepared.size() - 1;
  }
  result.service = std::move(p.next);
  result.response = m.make_response ? m.make_response(result) : m.response;
  if (!m.request_id.empty()) {
    v1::RequestRecord record;
    record.set_request_id(m.request_id);
    record.set_request_hash(m.request_hash);
    record.set_response(result.response);
    record.set_service_id(id);
    record.set_first_global_sequence(result.first_global_sequence);
    record.set_last_global_sequence(result.last_global_sequence);
    record.set_etag(result.service.etag());
    batch.Put(cf_->idempotency, ToSlice(m.request_id), record.SerializeAsString());
  }
}

absl::Status Store::CommitLocked(const Mutation& m, v1::Service next, std::vector<v1::Event> events,
                                 PendingCommit& pending, bool& write) {
  const std::string& id = m.service_id;
  const rocksdb::ReadOptions read_options;
  CommitResult& result = *pending.result;
  write = false;

  if (!m.request_id.empty()) {
    VARAV_ASSIGN_OR_RETURN(std::optional<v1::RequestRecord> record,
                           ReadRequestRecord(m.request_id));
    if (record.has_value()) {
      if (record->request_hash() != m.request_hash) {
        return absl::InvalidArgumentError(absl::StrCat(
            "request_id '", m.request_id, "' was already used for a different request"));
      }
      VARAV_ASSIGN_OR_RETURN(result.service, GetService(record->service_id()));
      result.first_global_sequence = record->first_global_sequence();
      result.last_global_sequence = record->last_global_sequence();
      result.replayed = true;
      result.response = record->response();
      return absl::OkStatus();
    }
  }

  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const v1::Service> old, ReadService(id));
  if (m.expected_etag.empty()) {
    if (old != nullptr) {
      return absl::AlreadyExistsError(absl::StrCat("service '", id, "' already exists"));
    }
  } else {
    if (old == nullptr) {
      return absl::NotFoundError(absl::StrCat("service '", id, "' does not exist"));
    }
    if (old->etag() != m.expected_etag) {
      return absl::AbortedError(absl::StrCat("service '", id, "' was changed concurrently (etag '",
                                             m.expected_etag, "' is stale); re-read and retry"));
    }
  }

  rocksdb::WriteBatch& batch = pending.batch;
  std::set<std::string> seen;
  for (const std::shared_ptr<const v1::OutputRevision>& output : m.outputs) {
    const v1::OutputRevision& o = *output;
    const std::string key = OutputKey(id, o.output_type(), o.revision());
    std::string ignored;
    rocksdb::Status s = db_->Get(read_options, cf_->outputs, ToSlice(key), &ignored);
    if (s.ok() || !seen.insert(key).second) {
      return absl::AlreadyExistsError(absl::StrCat("output '", o.output_type(), "' revision ",
                                                   o.revision(), " of service '", id,
                                                   "' already exists"));
    }
    if (!s.IsNotFound()) return FromRocksDb(s, absl::StrCat("reading output ", Printable(key)));
    // Stored records need no canonical form: only hashed bytes (events) do.
    batch.Put(cf_->outputs, ToSlice(key), o.SerializeAsString());
  }
  for (const v1::Assessment& a : m.assessments) {
    batch.Put(cf_->assessments, ToSlice(AssessmentKey(id, a.principle())), a.SerializeAsString());
  }
  seen.clear();
  for (const EvaluationBlob& e : m.evaluations) {
    std::string ignored;
    rocksdb::Status s = db_->Get(read_options, cf_->evaluations, ToSlice(e.id), &ignored);
    if (s.ok() || !seen.insert(e.id).second) {
      return absl::AlreadyExistsError(absl::StrCat("evaluation '", e.id, "' already exists"));
    }
    if (!s.IsNotFound()) return FromRocksDb(s, absl::StrCat("reading evaluation '", e.id, "'"));
    batch.Put(cf_->evaluations, ToSlice(e.id), ToSlice(e.bytes));
  }
  for (const v1::Decision& d : m.decisions) {
    batch.Put(cf_->decisions, ToSlice(DecisionKey(id, d.gate(), d.cycle(), d.number())),
              d.SerializeAsString());
  }

  next.set_etag(NewEtag());
  if (options_.index_terms) {
    std::vector<IndexTerm> old_terms;
    if (old != nullptr) old_terms = options_.index_terms(*old);
    std::vector<IndexTerm> new_terms = options_.index_terms(next);
    auto same = [](const IndexTerm& a, const IndexTerm& b) {
      return a.attribute == b.attribute && a.value == b.value;
    };
    const bool unchanged = old != nullptr && old_terms.size() == new_terms.size() &&
                           std::equal(old_terms.begin(), old_terms.end(), new_terms.begin(), same);
    std::set<std::string> before;
    std::set<std::string> after;
    if (!unchanged) {
      if (old != nullptr) {
        VARAV_ASSIGN_OR_RETURN(before, CompositeKeys(std::move(old_terms), id));
      }
      VARAV_ASSIGN_OR_RETURN(after, CompositeKeys(std::move(new_terms), id));
    }
    for (const std::string& key : before) {
      if (!after.contains(key)) batch.Delete(cf_->indexes, ToSlice(key));
    }
    for (const std::string& key : after) {
      if (!before.contains(key)) batch.Put(cf_->indexes, ToSlice(key), rocksdb::Slice());
    }
  }

  // Everything that does not depend on the global sequence is prepared here, outside the
  // ordering critical section: each event is serialized once, and the same bytes are hashed and
  // stored.
  uint64_t service_sequence = old != nullptr ? old->last_event_sequence() : 0;
  std::vector<UnsealedEvent>& prepared = pending.prepared;
  prepared.reserve(events.size());
  for (v1::Event& e : events) {
    ++service_sequence;
    e.set_service_sequence(service_sequence);
    // An event belongs to the service it is stored under (verification reads this back).
    e.set_subject(id);
    if (e.request_id().empty()) e.set_request_id(m.request_id);
    e.clear_global_sequence();
    e.clear_prev_hash();
    e.clear_hash();
    VARAV_ASSIGN_OR_RETURN(prepared.emplace_back(), PrepareEvent(e));
  }
  events.clear();
  pending.service_event_keys.reserve(prepared.size());
  for (size_t i = 0; i < prepared.size(); ++i) {
    pending.service_event_keys.push_back(
        ServiceEventKey(id, service_sequence - prepared.size() + 1 + i));
  }
  next.set_last_event_sequence(service_sequence);
  pending.prev_hash = old != nullptr ? old->last_event_hash() : "";
  pending.next = std::move(next);
  write = true;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Store::LookupRequest(absl::string_view request_id,
                                                                absl::string_view request_hash) {
  VARAV_ASSIGN_OR_RETURN(std::optional<v1::RequestRecord> record, ReadRequestRecord(request_id));
  if (!record.has_value()) return std::nullopt;
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  if (record->request_hash() != request_hash) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id '", request_id, "' was already used for a different request"));
  }
  return std::optional<std::string>(record->response());
}

absl::StatusOr<std::shared_ptr<const v1::Service>> Store::ReadService(
    absl::string_view service_id) {
  uint64_t generation = 0;
  if (std::shared_ptr<const v1::Service> hit = service_cache_->Find(service_id, &generation)) {
    return hit;
  }
  std::string bytes;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_->services, ToSlice(service_id), &bytes);
  if (s.IsNotFound()) return nullptr;
  VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading service '", service_id, "'")));
  auto service = std::make_shared<v1::Service>();
  VARAV_RETURN_IF_ERROR(ParseValue(bytes, *service, absl::StrCat("service '", service_id, "'")));
  service_cache_->Fill(service_id, generation, service);
  return service;
}

absl::StatusOr<std::shared_ptr<const v1::Service>> Store::GetServiceShared(
    absl::string_view service_id) {
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const v1::Service> service, ReadService(service_id));
  if (service == nullptr) {
    return absl::NotFoundError(absl::StrCat("service '", service_id, "' does not exist"));
  }
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  return service;
}

absl::StatusOr<v1::Service> Store::GetService(absl::string_view service_id) {
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const v1::Service> service, GetServiceShared(service_id));
  return *service;
}

absl::Status Store::RebuildIndex() {
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  // Everything in the index family is index; the new entries follow in batches, and the version
  // is written last, so a crash on the way leaves a version-1 store that is rebuilt again.
  std::unique_ptr<rocksdb::Iterator> old(db_->NewIterator(rocksdb::ReadOptions(), cf_->indexes));
  old->SeekToFirst();
  if (old->Valid()) {
    const std::string first = old->key().ToString();
    old->SeekToLast();
    std::string end = old->key().ToString();
    end.push_back('\0');
    VARAV_RETURN_IF_ERROR(
        FromRocksDb(db_->DeleteRange(write_options, cf_->indexes, ToSlice(first), ToSlice(end)),
                    "clearing the old index"));
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(old->status(), "scanning the old index"));
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->services));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::Service service;
    VARAV_RETURN_IF_ERROR(ParseValue(ToView(it->value()), service,
                                     absl::StrCat("service '", ToView(it->key()), "'")));
    VARAV_ASSIGN_OR_RETURN(const std::set<std::string> keys, IndexKeysOf(service));
    for (const std::string& key : keys) batch.Put(cf_->indexes, ToSlice(key), rocksdb::Slice());
    if (batch.GetDataSize() > (4 << 20)) {
      VARAV_RETURN_IF_ERROR(FromRocksDb(db_->Write(write_options, &batch), "rebuilding the index"));
      batch.Clear();
    }
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "scanning services"));
  batch.Put(cf_->metadata, ToSlice(kFormatVersionKey), absl::StrCat(kFormatVersion));
  return FromRocksDb(db_->Write(write_options, &batch), "rebuilding the index");
}

absl::StatusOr<std::set<std::string>> Store::IndexKeysOf(const v1::Service& service) const {
  if (!options_.index_terms) return std::set<std::string>();
  return CompositeKeys(options_.index_terms(service), service.id());
}

absl::StatusOr<ServicePage> Store::ListServicesBy(const std::vector<IndexTerm>& filter,
                                                  int page_size, absl::string_view page_token,
                                                  size_t max_bytes) {
  if (page_size <= 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  std::vector<TermView> terms;
  for (const IndexTerm& t : filter) {
    if (!IsValidIndexPart(t.attribute) || !IsValidIndexPart(t.value)) {
      return absl::InvalidArgumentError(
          "index filter: attributes and values must be non-empty, without bytes below 0x03");
    }
    terms.emplace_back(t.attribute, t.value);
  }
  std::sort(terms.begin(), terms.end());
  for (size_t i = 1; i < terms.size(); ++i) {
    if (terms[i].first == terms[i - 1].first) {
      return absl::InvalidArgumentError(
          absl::StrCat("index filter: attribute '", terms[i].first, "' is given more than once"));
    }
  }
  const bool all = terms.empty();
  const std::string prefix = all ? std::string() : IndexPrefix(terms);

  rocksdb::ReadOptions read_options;
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  read_options.snapshot = snapshot;
  ServicePage page;
  absl::Status status = [&]() -> absl::Status {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(read_options, all ? cf_->services : cf_->indexes));
    const std::string start = absl::StrCat(prefix, page_token);
    it->Seek(ToSlice(start));
    if (!page_token.empty() && it->Valid() && ToView(it->key()) == start) it->Next();
    size_t bytes = 0;
    std::string value;
    for (; it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
      const absl::string_view service_id = ToView(it->key()).substr(prefix.size());
      absl::string_view record;
      if (all) {
        record = ToView(it->value());
      } else {
        rocksdb::Status s = db_->Get(read_options, cf_->services, ToSlice(service_id), &value);
        if (s.IsNotFound()) {
          return absl::DataLossError(absl::StrCat("index entry ", Printable(ToView(it->key())),
                                                  " names a missing service"));
        }
        VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading service '", service_id, "'")));
        record = value;
      }
      const bool full = static_cast<int>(page.services.size()) == page_size ||
                        (!page.services.empty() && bytes + record.size() > max_bytes);
      if (full) {
        page.next_page_token = page.services.back().id();
        break;
      }
      bytes += record.size();
      VARAV_RETURN_IF_ERROR(ParseValue(record, page.services.emplace_back(),
                                       absl::StrCat("service '", service_id, "'")));
    }
    return FromRocksDb(it->status(), "listing services");
  }();
  db_->ReleaseSnapshot(snapshot);
  VARAV_RETURN_IF_ERROR(status);
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  return page;
}

absl::StatusOr<v1::OutputRevision> Store::GetOutput(absl::string_view service_id,
                                                    absl::string_view output_type,
                                                    uint32_t revision) {
  const std::string what = absl::StrCat("output '", output_type, "' revision ", revision,
                                        " of service '", service_id, "'");
  std::string bytes;
  if (revision != 0) {
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_->outputs,
                                 ToSlice(OutputKey(service_id, output_type, revision)), &bytes);
    if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, " does not exist"));
    VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading ", what)));
  } else {
    const std::string prefix = OutputPrefix(service_id, output_type);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->outputs));
    it->SeekForPrev(ToSlice(OutputKey(service_id, output_type, UINT32_MAX)));
    if (!it->Valid() || !HasPrefix(it->key(), prefix) || output_type.empty()) {
      VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), absl::StrCat("reading ", what)));
      return absl::NotFoundError(
          absl::StrCat("service '", service_id, "' has no output '", output_type, "'"));
    }
    bytes = it->value().ToString();
  }
  v1::OutputRevision output;
  VARAV_RETURN_IF_ERROR(ParseValue(bytes, output, what));
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  return output;
}

namespace {

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

}  // namespace

absl::StatusOr<ServiceState> Store::LoadSnapshot(absl::string_view service_id) {
  rocksdb::ReadOptions read_options;
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  read_options.snapshot = snapshot;
  ServiceState state;
  absl::Status status = [&]() -> absl::Status {
    std::string bytes;
    rocksdb::Status s = db_->Get(read_options, cf_->services, ToSlice(service_id), &bytes);
    if (s.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("service '", service_id, "' does not exist"));
    }
    VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading service '", service_id, "'")));
    v1::Service& service = state.service;
    VARAV_RETURN_IF_ERROR(ParseValue(bytes, service, absl::StrCat("service '", service_id, "'")));

    // One point read per output type: the service record names the latest revision of each, so
    // the cost does not grow with the number of revisions.
    std::vector<std::pair<absl::string_view, uint32_t>> latest(service.output_revisions().begin(),
                                                               service.output_revisions().end());
    std::sort(latest.begin(), latest.end());
    state.latest_outputs.reserve(latest.size());
    for (const auto& [type, revision] : latest) {
      const std::string key = OutputKey(service_id, type, revision);
      s = db_->Get(read_options, cf_->outputs, ToSlice(key), &bytes);
      if (s.IsNotFound()) {
        return absl::DataLossError(absl::StrCat("service '", service_id, "' names output '", type,
                                                "' revision ", revision, ", which is missing"));
      }
      VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading output ", Printable(key))));
      VARAV_RETURN_IF_ERROR(ParseValue(bytes, state.latest_outputs.emplace_back(),
                                       absl::StrCat("output ", Printable(key))));
    }
    VARAV_ASSIGN_OR_RETURN(
        state.assessments,
        ScanPrefix<v1::Assessment>(*db_, cf_->assessments, AssessmentPrefix(service_id),
                                   "assessment", read_options));
    if (!service.gate_under_review().empty()) {
      VARAV_ASSIGN_OR_RETURN(
          state.gate_decisions,
          ScanPrefix<v1::Decision>(
              *db_, cf_->decisions,
              DecisionPrefix(service_id, service.gate_under_review(), service.cycle()), "decision",
              read_options));
    }
    const std::string& evaluation_id = service.latest_evaluation().evaluation_id();
    if (!evaluation_id.empty()) {
      s = db_->Get(read_options, cf_->evaluations, ToSlice(evaluation_id),
                   &state.latest_evaluation);
      if (s.IsNotFound()) {
        return absl::DataLossError(absl::StrCat("service '", service_id, "' names evaluation '",
                                                evaluation_id, "', which is missing"));
      }
      VARAV_RETURN_IF_ERROR(
          FromRocksDb(s, absl::StrCat("reading evaluation '", evaluation_id, "'")));
    }
    return absl::OkStatus();
  }();
  db_->ReleaseSnapshot(snapshot);
  VARAV_RETURN_IF_ERROR(status);
  return state;
}

absl::StatusOr<std::vector<v1::OutputRevision>> Store::ListOutputRevisions(
    absl::string_view service_id, absl::string_view output_type, uint32_t after_revision,
    size_t max_bytes) {
  const std::string prefix = OutputPrefix(service_id, output_type);
  std::vector<v1::OutputRevision> out;
  size_t bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->outputs));
  it->Seek(ToSlice(after_revision > 0 && !output_type.empty()
                       ? OutputKey(service_id, output_type, after_revision + 1)
                       : prefix));
  for (; it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
    const absl::string_view value = ToView(it->value());
    if (!out.empty() && bytes + value.size() > max_bytes) break;
    bytes += value.size();
    VARAV_RETURN_IF_ERROR(ParseValue(value, out.emplace_back(),
                                     absl::StrCat("output ", Printable(ToView(it->key())))));
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "listing outputs"));
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  return out;
}

absl::StatusOr<v1::Assessment> Store::GetAssessment(absl::string_view service_id,
                                                    absl::string_view principle) {
  const std::string what =
      absl::StrCat("assessment of principle '", principle, "' of service '", service_id, "'");
  std::string bytes;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_->assessments,
                               ToSlice(AssessmentKey(service_id, principle)), &bytes);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, " does not exist"));
  VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading ", what)));
  v1::Assessment assessment;
  VARAV_RETURN_IF_ERROR(ParseValue(bytes, assessment, what));
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  return assessment;
}

absl::StatusOr<std::vector<v1::Assessment>> Store::ListAssessments(absl::string_view service_id) {
  VARAV_ASSIGN_OR_RETURN(
      auto out, ScanPrefix<v1::Assessment>(*db_, cf_->assessments, AssessmentPrefix(service_id),
                                           "assessment"));
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  return out;
}

absl::StatusOr<std::string> Store::GetEvaluation(absl::string_view evaluation_id) {
  std::string bytes;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_->evaluations, ToSlice(evaluation_id), &bytes);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("evaluation '", evaluation_id, "' does not exist"));
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading evaluation '", evaluation_id, "'")));
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  return bytes;
}

absl::StatusOr<std::vector<v1::Decision>> Store::ListDecisions(absl::string_view service_id,
                                                               absl::string_view gate,
                                                               uint32_t cycle) {
  VARAV_ASSIGN_OR_RETURN(
      auto out, ScanPrefix<v1::Decision>(*db_, cf_->decisions,
                                         DecisionPrefix(service_id, gate, cycle), "decision"));
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  return out;
}

absl::StatusOr<std::vector<v1::Event>> Store::ReadEvents(uint64_t after_global_sequence, int limit,
                                                         size_t max_bytes,
                                                         std::vector<std::string>* stored) {
  if (limit <= 0) limit = kDefaultEventLimit;
  limit = std::min(limit, kMaxEventLimit);
  const uint64_t durable = LastGlobalSequence();
  std::vector<v1::Event> out;
  if (after_global_sequence >= durable) return out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->events));
  uint64_t expected = after_global_sequence + 1;
  size_t bytes = 0;
  bool full = false;
  for (it->Seek(ToSlice(GlobalEventKey(expected)));
       it->Valid() && expected <= durable && static_cast<int>(out.size()) < limit;
       it->Next(), ++expected) {
    std::optional<uint64_t> seq = ParseGlobalEventKey(ToView(it->key()));
    if (seq != expected) {
      return absl::DataLossError(
          absl::StrCat("global event log has a gap: event ", expected, " is missing"));
    }
    const absl::string_view value = ToView(it->value());
    if (!out.empty() && bytes + value.size() > max_bytes) {
      full = true;
      break;
    }
    bytes += value.size();
    VARAV_RETURN_IF_ERROR(ParseValue(value, out.emplace_back(), absl::StrCat("event ", expected)));
    if (stored != nullptr) stored->emplace_back(value);
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "reading events"));
  if (!full && static_cast<int>(out.size()) < limit && expected <= durable) {
    return absl::DataLossError(
        absl::StrCat("global event log has a gap: event ", expected, " is missing"));
  }
  return out;
}

absl::StatusOr<std::vector<v1::Event>> Store::ReadServiceEvents(absl::string_view service_id,
                                                                uint64_t after_service_sequence,
                                                                int limit, size_t max_bytes,
                                                                std::vector<std::string>* stored) {
  if (limit <= 0) limit = kDefaultEventLimit;
  limit = std::min(limit, kMaxEventLimit);
  const uint64_t durable = LastGlobalSequence();
  const std::string prefix = ServiceEventPrefix(service_id);
  std::vector<v1::Event> out;
  size_t total = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->events));
  for (it->Seek(ToSlice(ServiceEventKey(service_id, after_service_sequence + 1)));
       it->Valid() && HasPrefix(it->key(), prefix) && static_cast<int>(out.size()) < limit;
       it->Next()) {
    std::optional<uint64_t> global = DecodeU64(ToView(it->value()));
    if (!global.has_value()) {
      return absl::DataLossError(
          absl::StrCat("per-service event entry ", Printable(ToView(it->key())), " is malformed"));
    }
    // Per-service order follows global order, so everything after this is newer still.
    if (*global > durable) break;
    std::string bytes;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf_->events, ToSlice(GlobalEventKey(*global)), &bytes);
    if (s.IsNotFound()) {
      return absl::DataLossError(
          absl::StrCat("event ", *global, " of service '", service_id, "' is missing"));
    }
    VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading event ", *global)));
    if (!out.empty() && total + bytes.size() > max_bytes) break;
    total += bytes.size();
    VARAV_RETURN_IF_ERROR(ParseValue(bytes, out.emplace_back(), absl::StrCat("event ", *global)));
    if (stored != nullptr) stored->push_back(std::move(bytes));
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "reading service events"));
  return out;
}

uint64_t Store::LastGlobalSequence() const {
  return durable_global_sequence_.load(std::memory_order_acquire);
}

uint64_t Store::AwaitEventsAfter(uint64_t after, absl::Time deadline) {
  struct Wait {
    const Store* store;
    uint64_t after;
  } wait{this, after};
  const absl::Condition has_new(
      +[](Wait* w) { return w->store->LastGlobalSequence() > w->after; }, &wait);
  sync_mu_.LockWhenWithDeadline(has_new, deadline);
  sync_mu_.Unlock();
  return LastGlobalSequence();
}

absl::Status Store::VerifyChain(absl::string_view service_id) {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  absl::Status status = [&]() -> absl::Status {
    std::string bytes;
    rocksdb::Status s = db_->Get(read_options, cf_->services, ToSlice(service_id), &bytes);
    if (s.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("service '", service_id, "' does not exist"));
    }
    VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading service '", service_id, "'")));
    v1::Service service;
    VARAV_RETURN_IF_ERROR(ParseValue(bytes, service, absl::StrCat("service '", service_id, "'")));
    return VerifyChainAt(read_options, service_id, service);
  }();
  db_->ReleaseSnapshot(snapshot);
  return status;
}

absl::Status Store::VerifyChainAt(const rocksdb::ReadOptions& read_options,
                                  absl::string_view service_id, const v1::Service& service) {
  const std::string prefix = ServiceEventPrefix(service_id);
  const auto fail = [&](uint64_t sequence, absl::string_view why) {
    return absl::DataLossError(
        absl::StrCat("service '", service_id, "': event service_sequence ", sequence, ": ", why));
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_->events));
  uint64_t expected = 1;
  std::string prev_hash;
  for (it->Seek(ToSlice(prefix)); it->Valid() && HasPrefix(it->key(), prefix);
       it->Next(), ++expected) {
    std::optional<uint64_t> sequence = DecodeU64(ToView(it->key()).substr(prefix.size()));
    if (!sequence.has_value()) return fail(expected, "malformed per-service key");
    if (*sequence != expected) {
      return fail(expected,
                  absl::StrCat("gap: the next stored event is service_sequence ", *sequence));
    }
    std::optional<uint64_t> global = DecodeU64(ToView(it->value()));
    if (!global.has_value()) return fail(expected, "malformed global sequence reference");
    std::string bytes;
    rocksdb::Status s =
        db_->Get(read_options, cf_->events, ToSlice(GlobalEventKey(*global)), &bytes);
    if (s.IsNotFound()) {
      return fail(expected, absl::StrCat("gap: global event ", *global, " is missing"));
    }
    VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading event ", *global)));
    v1::Event event;
    if (!event.ParseFromString(bytes)) {
      return fail(expected, absl::StrCat("global event ", *global, " cannot be parsed"));
    }
    if (event.subject() != service_id || event.service_sequence() != expected ||
        event.global_sequence() != *global) {
      return fail(expected, absl::StrCat("global event ", *global, " is service_sequence ",
                                         event.service_sequence(), " of '", event.subject(),
                                         "' at global sequence ", event.global_sequence()));
    }
    if (event.prev_hash() != prev_hash) {
      return fail(expected, absl::StrCat("broken prev link: prev_hash '", event.prev_hash(),
                                         "' but the previous event's hash is '", prev_hash, "'"));
    }
    const std::string computed = ComputeEventHash(event);
    if (computed != event.hash()) {
      return fail(expected, absl::StrCat("hash mismatch: stored '", event.hash(), "', computed '",
                                         computed, "'"));
    }
    prev_hash = event.hash();
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "reading service events"));
  const uint64_t last = expected - 1;
  if (service.last_event_sequence() != last) {
    return fail(last + 1,
                absl::StrCat("gap: the service record names last_event_sequence ",
                             service.last_event_sequence(), " but the chain ends at ", last));
  }
  if (service.last_event_hash() != prev_hash) {
    return fail(
        last, absl::StrCat("the service record names last_event_hash '", service.last_event_hash(),
                           "' but the last event's hash is '", prev_hash, "'"));
  }
  return absl::OkStatus();
}

absl::Status Store::CheckConsistency() {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  absl::Status status = [&]() -> absl::Status {
    // 1. The global log is 1..N and every event sits at its own sequence.
    uint64_t global_count = 0;
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_->events));
      for (it->Seek(ToSlice(kGlobalEventPrefix));
           it->Valid() && HasPrefix(it->key(), kGlobalEventPrefix); it->Next()) {
        const uint64_t expected = global_count + 1;
        std::optional<uint64_t> seq = ParseGlobalEventKey(ToView(it->key()));
        if (seq != expected) {
          return absl::DataLossError(
              absl::StrCat("global event log has a gap: event ", expected, " is missing"));
        }
        v1::Event event;
        VARAV_RETURN_IF_ERROR(
            ParseValue(ToView(it->value()), event, absl::StrCat("event ", expected)));
        if (event.global_sequence() != expected) {
          return absl::DataLossError(absl::StrCat(
              "event stored at ", expected, " names global_sequence ", event.global_sequence()));
        }
        ++global_count;
      }
      VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "scanning the global event log"));
    }
    // 2. Per-service entries map one-to-one onto global events (each names an event of its own
    // service and sequence; equal counts then make the mapping a bijection).
    uint64_t service_entry_count = 0;
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_->events));
      for (it->Seek(ToSlice(kServiceEventPrefix));
           it->Valid() && HasPrefix(it->key(), kServiceEventPrefix); it->Next()) {
        ++service_entry_count;
        const absl::string_view key = ToView(it->key());
        std::optional<uint64_t> global = DecodeU64(ToView(it->value()));
        if (key.size() < kServiceEventPrefix.size() + 9 || !global.has_value() || *global == 0 ||
            *global > global_count) {
          return absl::DataLossError(
              absl::StrCat("per-service event entry ", Printable(key), " is malformed"));
        }
        const absl::string_view service_id =
            key.substr(kServiceEventPrefix.size(), key.size() - kServiceEventPrefix.size() - 9);
        const uint64_t sequence = *DecodeU64(key.substr(key.size() - 8));
        std::string bytes;
        VARAV_RETURN_IF_ERROR(FromRocksDb(
            db_->Get(read_options, cf_->events, ToSlice(GlobalEventKey(*global)), &bytes),
            absl::StrCat("reading event ", *global)));
        v1::Event event;
        VARAV_RETURN_IF_ERROR(ParseValue(bytes, event, absl::StrCat("event ", *global)));
        if (event.subject() != service_id || event.service_sequence() != sequence) {
          return absl::DataLossError(absl::StrCat("per-service event entry ", Printable(key),
                                                  " points at event ", *global,
                                                  " of another service or sequence"));
        }
      }
      VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "scanning per-service event entries"));
    }
    if (service_entry_count != global_count) {
      return absl::DataLossError(absl::StrCat(global_count, " global events but ",
                                              service_entry_count, " per-service entries"));
    }
    // 3. Every chain verifies, and the indexes hold exactly what the services imply.
    std::set<std::string> expected_index;
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_->services));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const std::string service_id = it->key().ToString();
        v1::Service service;
        VARAV_RETURN_IF_ERROR(
            ParseValue(ToView(it->value()), service, absl::StrCat("service '", service_id, "'")));
        if (service.id() != service_id) {
          return absl::DataLossError(absl::StrCat("service stored under '", service_id,
                                                  "' names id '", service.id(), "'"));
        }
        VARAV_RETURN_IF_ERROR(VerifyChainAt(read_options, service_id, service));
        VARAV_ASSIGN_OR_RETURN(std::set<std::string> keys, IndexKeysOf(service));
        expected_index.merge(keys);
      }
      VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "scanning services"));
    }
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_->indexes));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const std::string key = it->key().ToString();
        if (expected_index.erase(key) == 0) {
          return absl::DataLossError(
              absl::StrCat("index entry ", Printable(key), " matches no service record"));
        }
      }
      VARAV_RETURN_IF_ERROR(FromRocksDb(it->status(), "scanning indexes"));
    }
    if (!expected_index.empty()) {
      return absl::DataLossError(
          absl::StrCat("index entry ", Printable(*expected_index.begin()), " is missing"));
    }
    return absl::OkStatus();
  }();
  db_->ReleaseSnapshot(snapshot);
  return status;
}

absl::StatusOr<uint64_t> Store::GetCursor(absl::string_view name) {
  std::string bytes;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_->metadata, ToSlice(CursorKey(name)), &bytes);
  if (s.IsNotFound()) return 0;
  VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading cursor '", name, "'")));
  std::optional<uint64_t> sequence = DecodeU64(bytes);
  if (!sequence.has_value()) {
    return absl::DataLossError(absl::StrCat("cursor '", name, "' is malformed"));
  }
  return *sequence;
}

absl::Status Store::SetCursor(absl::string_view name, uint64_t sequence) {
  if (!IsValidKeyPart(name)) {
    return absl::InvalidArgumentError("cursor name must be non-empty and contain no NUL byte");
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  return FromRocksDb(
      db_->Put(write_options, cf_->metadata, ToSlice(CursorKey(name)), EncodeU64(sequence)),
      absl::StrCat("writing cursor '", name, "'"));
}

absl::Status Store::CreateCheckpoint(absl::string_view dir) {
  // Make everything written so far durable first, so the checkpoint holds only acknowledged state
  // or state that would survive a crash anyway.
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  rocksdb::Checkpoint* raw = nullptr;
  VARAV_RETURN_IF_ERROR(
      FromRocksDb(rocksdb::Checkpoint::Create(db_.get(), &raw), "preparing a checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocksDb(checkpoint->CreateCheckpoint(std::string(dir)),
                     absl::StrCat("creating checkpoint '", dir, "'"));
}

absl::Status Store::CreateBackup(absl::string_view backup_dir) {
  VARAV_RETURN_IF_ERROR(ReadBarrier());
  rocksdb::BackupEngine* raw = nullptr;
  VARAV_RETURN_IF_ERROR(
      FromRocksDb(rocksdb::BackupEngine::Open(rocksdb::BackupEngineOptions(std::string(backup_dir)),
                                              rocksdb::Env::Default(), &raw),
                  absl::StrCat("opening backup directory '", backup_dir, "'")));
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  // Without a flush the backup carries the live WAL files, which keeps it consistent across
  // column families.
  return FromRocksDb(engine->CreateNewBackup(rocksdb::CreateBackupOptions(), db_.get()),
                     absl::StrCat("creating a backup in '", backup_dir, "'"));
}

absl::Status Store::RestoreLatestBackup(absl::string_view backup_dir, absl::string_view db_dir) {
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  VARAV_RETURN_IF_ERROR(FromRocksDb(
      rocksdb::BackupEngineReadOnly::Open(rocksdb::BackupEngineOptions(std::string(backup_dir)),
                                          rocksdb::Env::Default(), &raw),
      absl::StrCat("opening backup directory '", backup_dir, "'")));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  const std::string dir(db_dir);
  return FromRocksDb(
      engine->RestoreDBFromLatestBackup(rocksdb::RestoreOptions(), dir, dir),
      absl::StrCat("restoring the latest backup of '", backup_dir, "' into '", db_dir, "'"));
}

}  // namespace varav::store
