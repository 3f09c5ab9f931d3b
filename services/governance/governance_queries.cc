// Governance: the read-only methods of LifecycleService.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/lifecycle/event_types.h"
#include "engine/lifecycle/portfolio.h"
#include "engine/model/activation.h"
#include "engine/store/event_chain.h"
#include "services/governance/governance.h"
#include "services/governance/request_util.h"

namespace varav::governance {

using internal::DecodePageToken;
using internal::EncodePageToken;
using internal::PageSize;
using internal::ValidateId;
using internal::ValidateServiceId;

namespace {

// The largest response a list method builds, in serialized bytes (a page holds at least one item
// however large): well inside the 4 MiB a gRPC message may have by default.
constexpr size_t kMaxPageBytes = 2 << 20;

absl::Status MayRead(const Principal& principal) {
  if (principal.MayRead()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("principal '", principal.id, "' holds no role and may not read"));
}

// Expected outputs of `gate` that are neither submitted nor among `also_present`, by id.
std::vector<v1::OutputType> MissingOutputs(const model::CompiledPack& pack, absl::string_view gate,
                                           const v1::Service& service,
                                           const absl::flat_hash_set<std::string>& also_present) {
  std::vector<v1::OutputType> missing;
  for (const v1::OutputType& type : pack.proto().outputs()) {  // ordered by id
    if (type.gate() != gate) continue;
    if (service.output_revisions().count(type.id()) > 0 || also_present.contains(type.id())) {
      continue;
    }
    // The field schemas, the bulk of an output type, are left out: GetRulePack has them.
    missing.push_back(type);
    missing.back().clear_fields();
  }
  return missing;
}

}  // namespace

absl::StatusOr<v1::GetServiceResponse> Governance::GetService(const v1::GetServiceRequest& request,
                                                              const Principal& principal) const {
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  v1::GetServiceResponse response;
  VARAV_ASSIGN_OR_RETURN(*response.mutable_service(), store_->GetService(request.service_id()));
  return response;
}

absl::StatusOr<v1::ListServicesResponse> Governance::ListServices(
    const v1::ListServicesRequest& request, const Principal& principal) const {
  VARAV_ASSIGN_OR_RETURN(const int page_size, PageSize(request.page_size(), 50));
  if (!request.agency().empty())
    VARAV_RETURN_IF_ERROR(ValidateServiceId("agency", request.agency()));
  VARAV_RETURN_IF_ERROR(ValidateId("stage", request.stage(), false));
  VARAV_RETURN_IF_ERROR(ValidateId("awaiting_panel", request.awaiting_panel(), false));
  if (!v1::ServiceStatus_IsValid(request.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat("status: ", request.status(), " is not a service status"));
  }
  const std::string scope =
      absl::StrCat("services|", request.agency(), "|", request.stage(), "|", request.status(), "|",
                   request.has_ready_for_review() ? (request.ready_for_review() ? "1" : "0") : "-",
                   "|", request.awaiting_panel());
  VARAV_ASSIGN_OR_RETURN(std::string cursor, DecodePageToken(request.page_token(), scope));
  VARAV_RETURN_IF_ERROR(MayRead(principal));

  // Every combination of filters is one scan of the composite index (see the header comment).
  std::vector<store::IndexTerm> filter;
  if (!request.agency().empty()) {
    filter.push_back({std::string(lifecycle::kTermAgency), request.agency()});
  }
  if (!request.stage().empty()) {
    filter.push_back({std::string(lifecycle::kTermStage), request.stage()});
  }
  if (request.status() != v1::SERVICE_STATUS_UNSPECIFIED) {
    filter.push_back(
        {std::string(lifecycle::kTermStatus), lifecycle::StatusTerm(request.status())});
  }
  if (request.has_ready_for_review()) {
    filter.push_back(
        {std::string(lifecycle::kTermReady), lifecycle::ReadyTerm(request.ready_for_review())});
  }
  if (!request.awaiting_panel().empty()) {
    filter.push_back({std::string(lifecycle::kTermAwaiting), request.awaiting_panel()});
  }
  VARAV_ASSIGN_OR_RETURN(store::ServicePage page,
                         store_->ListServicesBy(filter, page_size, cursor, kMaxPageBytes));
  v1::ListServicesResponse response;
  for (v1::Service& s : page.services) *response.add_services() = std::move(s);
  if (!page.next_page_token.empty()) {
    response.set_next_page_token(EncodePageToken(scope, page.next_page_token));
  }
  return response;
}

absl::StatusOr<v1::GetOutputResponse> Governance::GetOutput(const v1::GetOutputRequest& request,
                                                            const Principal& principal) const {
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("output_type", request.output_type(), true));
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  VARAV_RETURN_IF_ERROR(store_->GetService(request.service_id()).status());
  v1::GetOutputResponse response;
  VARAV_ASSIGN_OR_RETURN(
      *response.mutable_output(),
      store_->GetOutput(request.service_id(), request.output_type(), request.revision()));
  return response;
}

absl::StatusOr<v1::ListOutputsResponse> Governance::ListOutputs(
    const v1::ListOutputsRequest& request, const Principal& principal) const {
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("output_type", request.output_type(), false));
  VARAV_ASSIGN_OR_RETURN(const int page_size, PageSize(request.page_size(), 50));
  const std::string scope =
      absl::StrCat("outputs|", request.service_id(), "|", request.output_type());
  VARAV_ASSIGN_OR_RETURN(const std::string position, DecodePageToken(request.page_token(), scope));
  // The position is "<type>" (continue after that type) or "<type>/<revision>" (continue that
  // type after the revision: a page ends inside a type when its revisions fill the byte bound).
  std::string after_type = position;
  uint32_t after_revision = 0;
  if (const size_t slash = position.find('/'); slash != std::string::npos) {
    after_type = position.substr(0, slash);
    if (!absl::SimpleAtoi(position.substr(slash + 1), &after_revision)) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
  }
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  VARAV_ASSIGN_OR_RETURN(v1::Service service, store_->GetService(request.service_id()));

  // The service record names every submitted type; read only the page's types.
  std::vector<std::pair<std::string, uint32_t>> types;  // type, latest revision
  for (const auto& [type, latest] : service.output_revisions()) {
    if (!request.output_type().empty() && type != request.output_type()) continue;
    if (!after_type.empty() && (type < after_type || (type == after_type && after_revision == 0))) {
      continue;
    }
    types.emplace_back(type, latest);
  }
  std::sort(types.begin(), types.end());
  v1::ListOutputsResponse response;
  size_t bytes = 0;
  for (const auto& [type, latest] : types) {
    if (response.outputs_size() == page_size || bytes >= kMaxPageBytes) {
      response.set_next_page_token(
          EncodePageToken(scope, response.outputs(response.outputs_size() - 1).output_type()));
      break;
    }
    const uint32_t after = type == after_type ? after_revision : 0;
    // The first revision of a page always comes, however large.
    const size_t budget = bytes == 0 ? kMaxPageBytes : kMaxPageBytes - bytes;
    VARAV_ASSIGN_OR_RETURN(std::vector<v1::OutputRevision> revisions,
                           store_->ListOutputRevisions(request.service_id(), type, after, budget));
    v1::OutputHistory* history = response.add_outputs();
    history->set_output_type(type);
    history->set_latest_revision(latest);
    for (v1::OutputRevision& r : revisions) {
      bytes += r.ByteSizeLong();
      *history->add_revisions() = std::move(r);
    }
    const uint32_t last = history->revisions_size() > 0
                              ? history->revisions(history->revisions_size() - 1).revision()
                              : latest;
    if (last < latest) {
      response.set_next_page_token(EncodePageToken(scope, absl::StrCat(type, "/", last)));
      break;
    }
  }
  return response;
}

absl::StatusOr<v1::CheckGateResponse> Governance::CheckGate(const v1::CheckGateRequest& request,
                                                            const Principal& principal,
                                                            const cel::Interrupt* interrupt) const {
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("gate", request.gate(), false));
  if (request.hypothetical_outputs_size() > 100) {
    return absl::InvalidArgumentError("hypothetical_outputs: at most 100");
  }
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  // One consistent read: the hypothetical revisions are numbered after the snapshot's.
  VARAV_ASSIGN_OR_RETURN(lifecycle::ServiceSnapshot snapshot, LoadSnapshot(request.service_id()));
  const v1::Service& service = snapshot.service;
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const model::CompiledPack> pack, PinnedPack(service));

  const absl::Time now = Now();
  std::vector<v1::OutputRevision> extras;
  absl::flat_hash_set<std::string> extra_types;
  for (int i = 0; i < request.hypothetical_outputs_size(); ++i) {
    const v1::OutputDraft& draft = request.hypothetical_outputs(i);
    const std::string field = absl::StrCat("hypothetical_outputs[", i, "]");
    VARAV_RETURN_IF_ERROR(
        ValidateId(absl::StrCat(field, ".output_type"), draft.output_type(), true));
    const v1::OutputType* type = pack->FindOutput(draft.output_type());
    if (type == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".output_type: pack ", pack->key(),
                                                     " declares no output type '",
                                                     draft.output_type(), "'"));
    }
    if (!extra_types.insert(draft.output_type()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".output_type: '", draft.output_type(), "' is given twice"));
    }
    std::vector<std::string> problems = model::CheckOutputFields(type->fields(), draft.fields());
    if (!problems.empty()) {
      for (std::string& p : problems) p = absl::StrCat(field, ".fields.", p);
      return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
    }
    v1::OutputRevision& r = extras.emplace_back();
    r.set_service_id(service.id());
    r.set_output_type(draft.output_type());
    const auto it = service.output_revisions().find(draft.output_type());
    r.set_revision((it == service.output_revisions().end() ? 0 : it->second) + 1);
    *r.mutable_document() = draft.document();
    *r.mutable_fields() = draft.fields();
    r.set_status(v1::OUTPUT_STATUS_SUBMITTED);
    r.set_submitted_by(principal.id);
    *r.mutable_submitted_at() = internal::ToProto(now);
    r.set_stage(service.stage());
    r.set_cycle(service.cycle());
  }
  v1::CheckGateResponse response;
  VARAV_ASSIGN_OR_RETURN(
      *response.mutable_evaluation(),
      lifecycle::CheckGate(snapshot, *pack, request.gate(), now, extras, interrupt));
  for (v1::OutputType& t :
       MissingOutputs(*pack, response.evaluation().gate_id(), snapshot.service, extra_types)) {
    *response.add_missing_outputs() = std::move(t);
  }
  return response;
}

absl::StatusOr<v1::GetGateStatusResponse> Governance::GetGateStatus(
    const v1::GetGateStatusRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const std::string> bytes,
                         GetGateStatusBytes(request, principal, interrupt));
  v1::GetGateStatusResponse response;
  if (!response.ParseFromString(*bytes)) {
    return absl::InternalError("the gate status answer does not parse");
  }
  return response;
}

absl::StatusOr<std::shared_ptr<const std::string>> Governance::GetGateStatusBytes(
    const v1::GetGateStatusRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("gate", request.gate(), false));
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const v1::Service> shared,
                         store_->GetServiceShared(request.service_id()));
  const v1::Service& service = *shared;
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const model::CompiledPack> pack, PinnedPack(service));

  const v1::Gate* gate = nullptr;
  if (!request.gate().empty()) {
    gate = pack->FindGate(request.gate());
    if (gate == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("gate: pack ", pack->key(), " has no gate '", request.gate(), "'"));
    }
  } else if (!service.gate_under_review().empty()) {
    gate = pack->FindGate(service.gate_under_review());
  } else {
    gate = lifecycle::GateForStage(*pack, service.stage());
  }
  if (gate == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("no gate closes stage '", service.stage(),
                                                      "' of service '", service.id(), "'"));
  }

  // Everything below but a dry run follows from the stored state at this etag.
  const std::string cache_key = absl::StrCat(service.id(), "\n", request.gate());
  if (std::optional<std::shared_ptr<const std::string>> hit =
          status_cache_.Find(cache_key, service.etag())) {
    return *std::move(hit);
  }

  v1::GetGateStatusResponse response;
  *response.mutable_gate() = *gate;
  const v1::GateSummary& latest = service.latest_evaluation();
  if (latest.gate() == gate->id() && latest.cycle() == service.cycle() &&
      !latest.evaluation_id().empty()) {
    VARAV_ASSIGN_OR_RETURN(std::string bytes, store_->GetEvaluation(latest.evaluation_id()));
    if (!response.mutable_evaluation()->ParseFromString(bytes)) {
      return absl::DataLossError(
          absl::StrCat("evaluation '", latest.evaluation_id(), "' does not parse"));
    }
    response.set_stale(latest.stale());
  } else {
    VARAV_ASSIGN_OR_RETURN(lifecycle::ServiceSnapshot snapshot, LoadSnapshot(service.id()));
    VARAV_ASSIGN_OR_RETURN(*response.mutable_evaluation(),
                           lifecycle::CheckGate(snapshot, *pack, gate->id(), Now(), {}, interrupt));
    response.set_dry_run(true);
  }
  response.set_should_score(response.evaluation().should_score());
  for (v1::OutputType& t : MissingOutputs(*pack, gate->id(), service, {})) {
    *response.add_missing_outputs() = std::move(t);
  }
  VARAV_ASSIGN_OR_RETURN(std::vector<v1::Decision> decisions,
                         store_->ListDecisions(service.id(), gate->id(), service.cycle()));
  for (v1::Decision& d :
       lifecycle::LatestReviewDecisions(service, gate->id(), std::move(decisions))) {
    *response.add_decisions() = std::move(d);
  }
  if (service.gate_under_review() == gate->id()) {
    *response.mutable_awaiting_panels() = service.awaiting_panels();
  }
  *response.mutable_open_conditions() = service.open_conditions();
  *response.mutable_service() = service;
  auto bytes = std::make_shared<const std::string>(response.SerializeAsString());
  // A dry run evaluates at the current time, so only stored evaluations are kept.
  if (!response.dry_run()) status_cache_.Put(cache_key, service.etag(), bytes);
  return bytes;
}

absl::StatusOr<v1::ListEventsResponse> Governance::ListEvents(const v1::ListEventsRequest& request,
                                                              const Principal& principal) const {
  if (!request.service_id().empty()) {
    VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  }
  VARAV_ASSIGN_OR_RETURN(const int page_size, PageSize(request.page_size(), 100));
  const std::string scope = absl::StrCat("events|", request.service_id());
  VARAV_ASSIGN_OR_RETURN(const std::string position, DecodePageToken(request.page_token(), scope));
  uint64_t after = request.after_sequence();
  if (!position.empty() && !absl::SimpleAtoi(position, &after)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  if (!v1::EventView_IsValid(request.view())) {
    return absl::InvalidArgumentError(absl::StrCat("view: ", request.view(), " is not a view"));
  }
  VARAV_RETURN_IF_ERROR(MayRead(principal));

  // The audit view carries each event twice (structured and as its hashed bytes).
  const bool audit = request.view() == v1::EVENT_VIEW_AUDIT;
  const size_t max_bytes = audit ? kMaxPageBytes / 2 : kMaxPageBytes;
  std::vector<std::string> stored;
  std::vector<v1::Event> events;
  uint64_t head = 0;  // the newest durable event of the listing
  if (request.service_id().empty()) {
    head = store_->LastGlobalSequence();
    VARAV_ASSIGN_OR_RETURN(
        events, store_->ReadEvents(after, page_size, max_bytes, audit ? &stored : nullptr));
  } else {
    VARAV_ASSIGN_OR_RETURN(v1::Service service, store_->GetService(request.service_id()));
    head = service.last_event_sequence();
    VARAV_ASSIGN_OR_RETURN(events, store_->ReadServiceEvents(request.service_id(), after, page_size,
                                                             max_bytes, audit ? &stored : nullptr));
  }
  v1::ListEventsResponse response;
  for (size_t i = 0; i < events.size(); ++i) {
    v1::Event& e = *response.add_events();
    e = std::move(events[i]);
    if (audit) {
      VARAV_ASSIGN_OR_RETURN(*e.mutable_hashed_form(), store::HashedForm(stored[i]));
    }
  }
  if (!events.empty()) {
    const v1::Event& last = response.events(response.events_size() - 1);
    const uint64_t position =
        request.service_id().empty() ? last.global_sequence() : last.service_sequence();
    if (position < head) {
      response.set_next_page_token(EncodePageToken(scope, absl::StrCat(position)));
    }
  }
  return response;
}

absl::StatusOr<v1::VerifyAuditTrailResponse> Governance::VerifyAuditTrail(
    const v1::VerifyAuditTrailRequest& request, const Principal& principal) const {
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  VARAV_ASSIGN_OR_RETURN(v1::Service service, store_->GetService(request.service_id()));
  v1::VerifyAuditTrailResponse response;
  response.set_event_count(service.last_event_sequence());
  response.set_head_hash(service.last_event_hash());
  const absl::Status verified = store_->VerifyChain(request.service_id());
  if (verified.ok()) {
    response.set_valid(true);
  } else if (absl::IsDataLoss(verified)) {
    // A broken chain is the finding, not a failure of the call.
    response.set_valid(false);
    response.set_problem(std::string(verified.message()));
  } else {
    return verified;
  }
  return response;
}

absl::Status Governance::ValidateWatchEvents(const v1::WatchEventsRequest& request,
                                             const Principal& principal) const {
  if (!request.service_id().empty()) {
    VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  }
  if (!request.agency().empty())
    VARAV_RETURN_IF_ERROR(ValidateServiceId("agency", request.agency()));
  const std::set<std::string> known(lifecycle::EventTypes().begin(), lifecycle::EventTypes().end());
  for (int i = 0; i < request.types_size(); ++i) {
    if (!known.contains(request.types(i))) {
      return absl::InvalidArgumentError(absl::StrCat("types[", i, "]: '", request.types(i),
                                                     "' is not an event type (e.g. ",
                                                     *known.begin(), ")"));
    }
  }
  return MayRead(principal);
}

}  // namespace varav::governance
