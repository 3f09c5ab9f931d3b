// The composite portfolio index (the Store is divided by concern:
// engine/store/internal/store_internal.h).
#include "engine/store/store.h"

#include <functional>
#include <tuple>
#include "engine/store/internal/store_internal.h"

namespace varav::store {

using namespace internal;

namespace internal {

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

}  // namespace internal

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

}  // namespace varav::store
