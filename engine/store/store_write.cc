// Mutations: their validation and the group commit (the Store is divided by concern:
// engine/store/internal/store_internal.h).
#include "engine/store/store.h"

#include <optional>
#include <set>
#include <utility>

#include "absl/random/random.h"
#include "engine/store/internal/store_internal.h"

namespace varav::store {

using namespace internal;

namespace internal {

std::string NewEtag() {
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

namespace {

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

}  // namespace

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
  // Every record a mutation writes is the mutated service's own.
  const auto owned = [&id](absl::string_view what, absl::string_view owner) -> absl::Status {
    if (owner == id) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(what, " belongs to service '", owner, "', not '", id, "'"));
  };
  for (size_t i = 0; i < m.outputs.size(); ++i) {
    const std::string what = absl::StrCat("outputs[", i, "]");
    if (m.outputs[i] == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, " is null"));
    const v1::OutputRevision& o = *m.outputs[i];
    VARAV_RETURN_IF_ERROR(owned(what, o.service_id()));
    VARAV_RETURN_IF_ERROR(CheckKeyPart(o.output_type(), absl::StrCat(what, ".output_type")));
    if (o.revision() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ".revision must be >= 1"));
    }
  }
  for (size_t i = 0; i < m.assessments.size(); ++i) {
    const v1::Assessment& a = m.assessments[i];
    const std::string what = absl::StrCat("assessments[", i, "]");
    VARAV_RETURN_IF_ERROR(owned(what, a.service_id()));
    VARAV_RETURN_IF_ERROR(CheckKeyPart(a.principle(), absl::StrCat(what, ".principle")));
  }
  for (size_t i = 0; i < m.evaluations.size(); ++i) {
    VARAV_RETURN_IF_ERROR(
        CheckKeyPart(m.evaluations[i].id, absl::StrCat("evaluations[", i, "].id")));
  }
  for (size_t i = 0; i < m.decisions.size(); ++i) {
    const v1::Decision& d = m.decisions[i];
    const std::string what = absl::StrCat("decisions[", i, "]");
    VARAV_RETURN_IF_ERROR(owned(what, d.service_id()));
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

}  // namespace internal

absl::StatusOr<std::optional<storage::v1::RequestRecord>> Store::ReadRequestRecord(
    absl::string_view request_id) const {
  std::string bytes;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_->idempotency, ToSlice(request_id), &bytes);
  if (s.IsNotFound()) return std::nullopt;
  VARAV_RETURN_IF_ERROR(
      FromRocksDb(s, absl::StrCat("reading the record of request '", request_id, "'")));
  storage::v1::RequestRecord record;
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

absl::StatusOr<CommitResult> Store::CommitTaking(const Mutation& m, v1::Service next,
                                                 std::vector<v1::Event> events) {
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  CommitResult result;
  PendingCommit pending;
  pending.mutation = &m;
  pending.result = &result;
  absl::Status status;
  {
    // The service stripe serializes writers of the service; the request stripe keeps two
    // concurrent retries of one request (even naming different services) from both applying.
    // Both are held until the write is visible (docs/store.md, "Concurrency control").
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
  if (absl::Status failed = LatchedFailure(); !failed.ok()) {
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
    storage::v1::RequestRecord record;
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
    VARAV_ASSIGN_OR_RETURN(std::optional<storage::v1::RequestRecord> record,
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

absl::StatusOr<std::optional<std::string>> Store::LookupRequest(
    absl::string_view request_id, absl::string_view request_hash) const {
  VARAV_ASSIGN_OR_RETURN(std::optional<storage::v1::RequestRecord> record,
                         ReadRequestRecord(request_id));
  if (!record.has_value()) return std::nullopt;
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  if (record->request_hash() != request_hash) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id '", request_id, "' was already used for a different request"));
  }
  return std::optional<std::string>(record->response());
}

}  // namespace varav::store
