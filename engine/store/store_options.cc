// Column family options (the Store is divided by concern: engine/store/internal/store_internal.h).
#include "engine/store/store.h"

#include <optional>

#include "absl/strings/match.h"
#include "engine/store/internal/store_internal.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"

namespace varav::store {

using namespace internal;

namespace internal {

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
namespace {

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

}  // namespace

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

}  // namespace internal

}  // namespace varav::store
