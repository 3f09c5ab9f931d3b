// The hash chains and the full consistency check (the Store is divided by concern:
// engine/store/internal/store_internal.h).
#include "engine/store/store.h"

#include <set>
#include "engine/store/internal/store_internal.h"

namespace varav::store {

using namespace internal;

absl::Status Store::VerifyChain(absl::string_view service_id) const {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  absl::Status status = [&]() -> absl::Status {
    v1::Service service;
    VARAV_RETURN_IF_ERROR(
        ReadServiceRecord(*db_, cf_->services, read_options, service_id, service));
    return VerifyChainAt(read_options, service_id, service);
  }();
  db_->ReleaseSnapshot(snapshot);
  return status;
}

absl::Status Store::VerifyChainAt(const rocksdb::ReadOptions& read_options,
                                  absl::string_view service_id, const v1::Service& service) const {
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

absl::Status Store::CheckConsistency() const {
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

}  // namespace varav::store
