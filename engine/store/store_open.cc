// Opening the store, its format version and migration, and closing it (the Store is divided by
// concern: engine/store/internal/store_internal.h).
#include "engine/store/store.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/numbers.h"
#include "engine/store/internal/store_internal.h"

namespace varav::store {

using namespace internal;

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

absl::Status Store::LatchedFailure() const {
  // Commits become visible only once their group write returned, and with `sync` on that write
  // was synced first (docs/store.md): whatever a reader saw is durable already. What is left is
  // the latched failure, after which nothing more is acknowledged. Reads call this every time, so
  // the healthy case takes no lock.
  if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
  absl::MutexLock lock(&sync_mu_);
  return sync_error_;
}

}  // namespace varav::store
