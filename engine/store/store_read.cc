// Reads: records, snapshots, listings, events and cursors (the Store is divided by concern:
// engine/store/internal/store_internal.h).
#include "engine/store/store.h"

#include <utility>
#include "engine/store/internal/store_internal.h"

namespace varav::store {

using namespace internal;

absl::StatusOr<std::shared_ptr<const v1::Service>> Store::ReadService(
    absl::string_view service_id) const {
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
    absl::string_view service_id) const {
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const v1::Service> service, ReadService(service_id));
  if (service == nullptr) {
    return absl::NotFoundError(absl::StrCat("service '", service_id, "' does not exist"));
  }
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  return service;
}

absl::StatusOr<v1::Service> Store::GetService(absl::string_view service_id) const {
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const v1::Service> service, GetServiceShared(service_id));
  return *service;
}

absl::StatusOr<ServicePage> Store::ListServicesBy(const std::vector<IndexTerm>& filter,
                                                  int page_size, absl::string_view page_token,
                                                  size_t max_bytes) const {
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
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  return page;
}

absl::StatusOr<v1::OutputRevision> Store::GetOutput(absl::string_view service_id,
                                                    absl::string_view output_type,
                                                    uint32_t revision) const {
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
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  return output;
}

namespace internal {

absl::Status ReadServiceRecord(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                               const rocksdb::ReadOptions& read_options,
                               absl::string_view service_id, v1::Service& out) {
  std::string bytes;
  rocksdb::Status s = db.Get(read_options, cf, ToSlice(service_id), &bytes);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("service '", service_id, "' does not exist"));
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading service '", service_id, "'")));
  return ParseValue(bytes, out, absl::StrCat("service '", service_id, "'"));
}

}  // namespace internal

absl::StatusOr<ServiceState> Store::LoadSnapshot(absl::string_view service_id) const {
  rocksdb::ReadOptions read_options;
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  read_options.snapshot = snapshot;
  ServiceState state;
  absl::Status status = [&]() -> absl::Status {
    v1::Service& service = state.service;
    VARAV_RETURN_IF_ERROR(
        ReadServiceRecord(*db_, cf_->services, read_options, service_id, service));
    std::string bytes;
    rocksdb::Status s;

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
    size_t max_bytes) const {
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
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  return out;
}

absl::StatusOr<v1::Assessment> Store::GetAssessment(absl::string_view service_id,
                                                    absl::string_view principle) const {
  const std::string what =
      absl::StrCat("assessment of principle '", principle, "' of service '", service_id, "'");
  std::string bytes;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_->assessments,
                               ToSlice(AssessmentKey(service_id, principle)), &bytes);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, " does not exist"));
  VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading ", what)));
  v1::Assessment assessment;
  VARAV_RETURN_IF_ERROR(ParseValue(bytes, assessment, what));
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  return assessment;
}

absl::StatusOr<std::vector<v1::Assessment>> Store::ListAssessments(
    absl::string_view service_id) const {
  VARAV_ASSIGN_OR_RETURN(
      auto out, ScanPrefix<v1::Assessment>(*db_, cf_->assessments, AssessmentPrefix(service_id),
                                           "assessment"));
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  return out;
}

absl::StatusOr<std::string> Store::GetEvaluation(absl::string_view evaluation_id) const {
  std::string bytes;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_->evaluations, ToSlice(evaluation_id), &bytes);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("evaluation '", evaluation_id, "' does not exist"));
  }
  VARAV_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("reading evaluation '", evaluation_id, "'")));
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  return bytes;
}

absl::StatusOr<std::vector<v1::Decision>> Store::ListDecisions(absl::string_view service_id,
                                                               absl::string_view gate,
                                                               uint32_t cycle) const {
  VARAV_ASSIGN_OR_RETURN(
      auto out, ScanPrefix<v1::Decision>(*db_, cf_->decisions,
                                         DecisionPrefix(service_id, gate, cycle), "decision"));
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  return out;
}

absl::StatusOr<std::vector<v1::Event>> Store::ReadEvents(uint64_t after_global_sequence, int limit,
                                                         size_t max_bytes,
                                                         std::vector<std::string>* stored) const {
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

absl::StatusOr<std::vector<v1::Event>> Store::ReadServiceEvents(
    absl::string_view service_id, uint64_t after_service_sequence, int limit, size_t max_bytes,
    std::vector<std::string>* stored) const {
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

uint64_t Store::AwaitEventsAfter(uint64_t after, absl::Time deadline) const {
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

absl::StatusOr<uint64_t> Store::GetCursor(absl::string_view name) const {
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

}  // namespace varav::store
