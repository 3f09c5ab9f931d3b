// Governance: construction, the shared mutation pipeline and the eight mutations. Queries live in
// governance_queries.cc, the rules service in governance_rules.cc.
#include "services/governance/governance.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/lifecycle/portfolio.h"
#include "engine/store/event_chain.h"
#include "services/governance/request_util.h"
#include "services/governance/snapshot.h"

namespace varav::governance {

using internal::MaxLength;
using internal::Required;
using internal::ValidateId;
using internal::ValidateRequestId;
using internal::ValidateServiceId;

namespace {

absl::Status MayEdit(const Principal& principal, absl::string_view agency, absl::string_view what) {
  if (principal.MayEditAgency(agency)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("principal '", principal.id, "' may not ", what,
                                                  " of agency '", agency, "' (needs admin or ",
                                                  "agency_editor:", agency, ")"));
}

// The common fields of every mutation after RegisterService.
absl::Status ValidateMutation(absl::string_view request_id, absl::string_view etag,
                              absl::string_view service_id) {
  VARAV_RETURN_IF_ERROR(ValidateRequestId(request_id));
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", service_id));
  VARAV_RETURN_IF_ERROR(Required("etag", etag));
  return MaxLength("etag", etag, 256);
}

// The URI of a document, when given, must be absolute: a scheme, then ':' and something.
absl::Status ValidateDocument(absl::string_view field, const v1::DocumentRef& doc) {
  VARAV_RETURN_IF_ERROR(MaxLength(absl::StrCat(field, ".system"), doc.system(), 128));
  VARAV_RETURN_IF_ERROR(MaxLength(absl::StrCat(field, ".id"), doc.id(), 512));
  VARAV_RETURN_IF_ERROR(MaxLength(absl::StrCat(field, ".version"), doc.version(), 128));
  VARAV_RETURN_IF_ERROR(MaxLength(absl::StrCat(field, ".uri"), doc.uri(), 2048));
  if (!doc.uri().empty()) {
    const size_t colon = doc.uri().find(':');
    const absl::string_view scheme = absl::string_view(doc.uri()).substr(0, colon);
    const bool ok = colon != std::string::npos && colon > 0 && colon + 1 < doc.uri().size() &&
                    absl::ascii_isalpha(scheme.front()) &&
                    std::all_of(scheme.begin(), scheme.end(), [](char c) {
                      return absl::ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
                    });
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".uri: must be an absolute URI, e.g. https://..."));
    }
  }
  return absl::OkStatus();
}

// What the call's gate evaluation says, for the caller that just changed something.
v1::GateCheck GateCheckOf(const lifecycle::Transition& t) {
  v1::GateCheck check;
  if (!t.evaluation) return check;
  *check.mutable_summary() = t.summary;
  *check.mutable_failing_rules() = t.evaluation->failing_rules();
  check.set_became_ready(t.became_ready);
  return check;
}

// What is recorded for replaying a request: its response, except that a SubmitOutput response
// leaves out the output's fields. The stored output revision holds them already (and they are
// often the bulk of the command), so RestoreRecorded reads them back for a replay.
template <typename Response>
std::string RecordedResponse(Response& response) {
  return response.SerializeAsString();
}
std::string RecordedResponse(v1::SubmitOutputResponse& response) {
  if (!response.has_output()) return response.SerializeAsString();
  v1::OutputRevision* output = response.mutable_output();
  google::protobuf::Struct* fields = output->release_fields();
  std::string bytes = response.SerializeAsString();
  output->set_allocated_fields(fields);
  return bytes;
}

template <typename Response>
absl::Status RestoreRecorded(store::Store&, Response&) {
  return absl::OkStatus();
}
absl::Status RestoreRecorded(store::Store& store, v1::SubmitOutputResponse& response) {
  if (!response.has_output()) return absl::OkStatus();
  v1::OutputRevision* output = response.mutable_output();
  VARAV_ASSIGN_OR_RETURN(
      v1::OutputRevision stored,
      store.GetOutput(output->service_id(), output->output_type(), output->revision()));
  *output->mutable_fields() = std::move(*stored.mutable_fields());
  return absl::OkStatus();
}

}  // namespace

struct Governance::MutationCall {
  absl::string_view method;
  const google::protobuf::Message* request = nullptr;
  absl::string_view request_id;
  // The etag the caller read; ignored when registering.
  absl::string_view etag;
  absl::string_view service_id;
  bool registering = false;
  // The principal's roles against the stored service (its agency never changes), checked before
  // the idempotency lookup. Unused when registering (authorised by the caller beforehand).
  std::function<absl::Status(const v1::Service&)> authorize;
  lifecycle::Command command;
  // RegisterService: the pack to pin.
  std::shared_ptr<const model::CompiledPack> pack;
  // MigratePack: the key of the pack to re-pin to.
  std::string target_pack;
  absl::Time now;
  const cel::Interrupt* interrupt = nullptr;
};

std::vector<store::IndexTerm> PortfolioIndexTerms(const v1::Service& service) {
  std::vector<store::IndexTerm> terms;
  for (lifecycle::PortfolioTerm& t : lifecycle::PortfolioTerms(service)) {
    terms.push_back({.attribute = std::move(t.attribute), .value = std::move(t.value)});
  }
  return terms;
}

Governance::Governance(store::Store* store, const model::PackRegistry* registry,
                       GovernanceOptions options)
    : store_(store),
      registry_(registry),
      options_(std::move(options)),
      cache_({.capacity = options_.snapshot_cache_entries}),
      status_cache_({.capacity = options_.snapshot_cache_entries}) {}

absl::StatusOr<lifecycle::ServiceSnapshot> Governance::LoadSnapshot(
    absl::string_view service_id) const {
  VARAV_ASSIGN_OR_RETURN(store::ServiceState state, store_->LoadSnapshot(service_id));
  return ToSnapshot(std::move(state));
}

absl::StatusOr<std::shared_ptr<const model::CompiledPack>> Governance::PinnedPack(
    const v1::Service& service) const {
  const std::string key = absl::StrCat(service.pack_id(), "@", service.pack_version());
  std::shared_ptr<const model::CompiledPack> pack = registry_->Find(key);
  if (pack == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("service '", service.id(),
                                                      "' is pinned to rule pack ", key,
                                                      ", which this server has not loaded"));
  }
  return pack;
}

// One pipeline for every mutation: the request's shape and the command's own checks first, then
// the service's current record and the principal's roles, a replay of a known request id, the
// etag, the pure lifecycle, and the commit. The snapshot comes from the cache when the cached etag
// is the store's current one (the store's record is read from its in-memory cache, so this costs
// no RocksDB read), else from one consistent RocksDB snapshot; either way the outcome is final.
template <typename Response>
absl::StatusOr<Response> Governance::Mutate(
    const MutationCall& call, const Principal& principal,
    const std::function<void(const lifecycle::Transition&, Response&)>& fill) {
  std::optional<CachedSnapshot> cached;
  std::shared_ptr<const v1::Service> current;
  if (!call.registering) {
    cached = cache_.Take(call.service_id, call.etag);
    VARAV_ASSIGN_OR_RETURN(current, store_->GetServiceShared(call.service_id));
    VARAV_RETURN_IF_ERROR(call.authorize(*current));
  }

  const std::string hash = call.request_id.empty()
                               ? std::string()
                               : internal::RequestHash(call.method, principal, *call.request);
  if (!call.request_id.empty()) {
    VARAV_ASSIGN_OR_RETURN(std::optional<std::string> recorded,
                           store_->LookupRequest(call.request_id, hash));
    if (recorded.has_value()) {
      Response replay;
      if (!replay.ParseFromString(*recorded)) {
        return absl::DataLossError(absl::StrCat("the recorded response of request_id '",
                                                call.request_id, "' does not parse"));
      }
      VARAV_RETURN_IF_ERROR(RestoreRecorded(*store_, replay));
      return replay;
    }
  }

  CachedSnapshot work;
  std::shared_ptr<const model::CompiledPack> pack = call.pack;
  std::shared_ptr<const model::CompiledPack> target;
  if (call.registering) {
    absl::StatusOr<std::shared_ptr<const v1::Service>> existing =
        store_->GetServiceShared(call.service_id);
    if (existing.ok()) {
      return absl::AlreadyExistsError(
          absl::StrCat("service_id: service '", call.service_id, "' already exists"));
    }
    if (!absl::IsNotFound(existing.status())) return existing.status();
  } else {
    if (current->etag() != call.etag) {
      return absl::AbortedError(absl::StrCat("etag: service '", current->id(),
                                             "' changed since it was read; re-read and retry"));
    }
    VARAV_ASSIGN_OR_RETURN(pack, PinnedPack(*current));
    if (!call.target_pack.empty()) {
      target = registry_->Find(call.target_pack);
      if (target == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("target_pack: rule pack ", call.target_pack, " is not loaded"));
      }
    }
    if (cached.has_value()) {
      work = *std::move(cached);
    } else {
      VARAV_ASSIGN_OR_RETURN(store::ServiceState state, store_->LoadSnapshot(call.service_id));
      VARAV_ASSIGN_OR_RETURN(work.snapshot, ToSnapshot(std::move(state)));
    }
  }

  lifecycle::Context context{
      .pack = pack.get(),
      .target_pack = target.get(),
      .now = call.now,
      .actor = {.principal = principal.id,
                .agency = principal.agency,
                .admin = principal.IsAdmin(),
                .panels = principal.Panels()},
      .request_id = std::string(call.request_id),
      .interrupt = call.interrupt,
      .bound = &work.bound,
      .event_source = options_.event_source,
  };
  // The next command's snapshot starts from this one's records and the commit's service record;
  // the rest moves into the lifecycle, which keeps its own working copy.
  lifecycle::ServiceSnapshot kept{.latest_outputs = work.snapshot.latest_outputs,
                                  .assessments = work.snapshot.assessments};
  VARAV_ASSIGN_OR_RETURN(lifecycle::Transition transition,
                         lifecycle::Apply(std::move(work.snapshot), call.command, context));
  Response response;
  fill(transition, response);

  store::Mutation m;
  m.service_id = transition.service.id();
  m.expected_etag = call.registering ? "" : std::string(call.etag);
  m.service = std::move(transition.service);
  m.outputs = transition.outputs;
  for (const std::shared_ptr<const v1::Assessment>& a : transition.assessments) {
    m.assessments.push_back(*a);
  }
  m.decisions = std::move(transition.decisions);
  if (transition.evaluation) {
    m.evaluations.push_back(
        {.id = transition.evaluation_id, .bytes = transition.evaluation->SerializeAsString()});
  }
  m.events = std::move(transition.events);
  m.request_id = std::string(call.request_id);
  m.request_hash = hash;
  // The response is completed inside the commit so it carries the new etag and is recorded for
  // replays in the same atomic write.
  m.make_response = [&response](const store::CommitResult& result) {
    *response.mutable_service() = result.service;
    return RecordedResponse(response);
  };
  VARAV_ASSIGN_OR_RETURN(store::CommitResult result, store_->Commit(std::move(m)));
  // A concurrent retry of the same request may have applied it first: answer with its response.
  if (!result.replayed) {
    // The next command at the new etag starts from the state this commit made durable.
    work.snapshot = AfterCommit(std::move(kept), transition, std::move(result.service));
    cache_.Put(std::move(work));
    return response;
  }
  Response out;
  if (!out.ParseFromString(result.response)) {
    return absl::InternalError(
        absl::StrCat(call.method, ": the committed response does not parse"));
  }
  VARAV_RETURN_IF_ERROR(RestoreRecorded(*store_, out));
  return out;
}

// --- Mutations ---
//
// Each checks the request's shape (lengths, the syntax of ids) and the command's own rules
// (lifecycle::ValidateCommand) before anything is read, then hands the command to Mutate. Every
// rule about the service's state lives in the lifecycle.

absl::StatusOr<v1::RegisterServiceResponse> Governance::RegisterService(
    const v1::RegisterServiceRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) {
  VARAV_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  VARAV_RETURN_IF_ERROR(MaxLength("name", request.name(), internal::kMaxNameLength));
  VARAV_RETURN_IF_ERROR(MaxLength("owner", request.owner(), internal::kMaxNameLength));
  VARAV_RETURN_IF_ERROR(
      MaxLength("description", request.description(), internal::kMaxDescriptionLength));
  VARAV_RETURN_IF_ERROR(ValidateId("pack", request.pack(), false));
  VARAV_RETURN_IF_ERROR(ValidateId("stage", request.stage(), false));
  MutationCall call{
      .method = "RegisterService",
      .request = &request,
      .request_id = request.request_id(),
      .service_id = request.service_id(),
      .registering = true,
      .command = lifecycle::RegisterService{.service_id = request.service_id(),
                                            .name = request.name(),
                                            .agency = request.agency(),
                                            .owner = request.owner(),
                                            .description = request.description(),
                                            .stage = request.stage()},
      .now = Now(),
      .interrupt = interrupt,
  };
  VARAV_RETURN_IF_ERROR(lifecycle::ValidateCommand(call.command, call.now));
  VARAV_RETURN_IF_ERROR(MayEdit(principal, request.agency(), "register services"));
  const std::string key = request.pack().empty() ? options_.default_pack : request.pack();
  if (key.empty()) {
    return absl::InvalidArgumentError("pack: required (this server has no default pack)");
  }
  call.pack = registry_->Find(key);
  if (call.pack == nullptr) {
    return absl::NotFoundError(absl::StrCat("pack: rule pack ", key, " is not loaded"));
  }
  return Mutate<v1::RegisterServiceResponse>(
      call, principal, [](const lifecycle::Transition&, v1::RegisterServiceResponse&) {});
}

absl::StatusOr<v1::SubmitOutputResponse> Governance::SubmitOutput(
    const v1::SubmitOutputRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("output_type", request.output_type(), false));
  if (!request.has_document()) return absl::InvalidArgumentError("document: required");
  VARAV_RETURN_IF_ERROR(ValidateDocument("document", request.document()));
  if (request.fields().ByteSizeLong() > internal::kMaxFieldsBytes) {
    return absl::InvalidArgumentError("fields: larger than 1 MiB");
  }
  MutationCall call{
      .method = "SubmitOutput",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      .authorize =
          [&](const v1::Service& s) { return MayEdit(principal, s.agency(), "change services"); },
      .command = lifecycle::SubmitOutput{.output_type = request.output_type(),
                                         .document = request.document(),
                                         .fields = request.fields()},
      .now = Now(),
      .interrupt = interrupt,
  };
  VARAV_RETURN_IF_ERROR(lifecycle::ValidateCommand(call.command, call.now));
  return Mutate<v1::SubmitOutputResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::SubmitOutputResponse& r) {
        if (!t.outputs.empty()) *r.mutable_output() = *t.outputs.front();
        *r.mutable_gate_check() = GateCheckOf(t);
      });
}

absl::StatusOr<v1::RecordAssessmentResponse> Governance::RecordAssessment(
    const v1::RecordAssessmentRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("principle", request.principle(), false));
  if (request.answers_size() > 100) {
    return absl::InvalidArgumentError("answers: at most 100");
  }
  for (int i = 0; i < request.answers_size(); ++i) {
    const v1::AssessmentAnswer& a = request.answers(i);
    const std::string field = absl::StrCat("answers[", i, "]");
    VARAV_RETURN_IF_ERROR(ValidateId(absl::StrCat(field, ".question"), a.question(), false));
    VARAV_RETURN_IF_ERROR(
        MaxLength(absl::StrCat(field, ".evidence"), a.evidence(), internal::kMaxDescriptionLength));
    VARAV_RETURN_IF_ERROR(
        MaxLength(absl::StrCat(field, ".comment"), a.comment(), internal::kMaxDescriptionLength));
  }
  MutationCall call{
      .method = "RecordAssessment",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      .authorize =
          [&](const v1::Service& s) { return MayEdit(principal, s.agency(), "change services"); },
      .command = lifecycle::RecordAssessment{.principle = request.principle(),
                                             .answers = {request.answers().begin(),
                                                         request.answers().end()}},
      .now = Now(),
      .interrupt = interrupt,
  };
  VARAV_RETURN_IF_ERROR(lifecycle::ValidateCommand(call.command, call.now));
  return Mutate<v1::RecordAssessmentResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::RecordAssessmentResponse& r) {
        if (!t.assessments.empty()) *r.mutable_assessment() = *t.assessments.front();
        *r.mutable_gate_check() = GateCheckOf(t);
      });
}

absl::StatusOr<v1::AdvanceStageResponse> Governance::AdvanceStage(
    const v1::AdvanceStageRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("to_stage", request.to_stage(), false));
  MutationCall call{
      .method = "AdvanceStage",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      .authorize =
          [&](const v1::Service& s) { return MayEdit(principal, s.agency(), "change services"); },
      .command = lifecycle::AdvanceStage{.to_stage = request.to_stage()},
      .now = Now(),
      .interrupt = interrupt,
  };
  return Mutate<v1::AdvanceStageResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::AdvanceStageResponse& r) {
        *r.mutable_gate_check() = GateCheckOf(t);
      });
}

absl::StatusOr<v1::RequestGateReviewResponse> Governance::RequestGateReview(
    const v1::RequestGateReviewRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  MutationCall call{
      .method = "RequestGateReview",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      .authorize =
          [&](const v1::Service& s) {
            return MayEdit(principal, s.agency(), "request reviews of services");
          },
      .command = lifecycle::RequestGateReview{},
      .now = Now(),
      .interrupt = interrupt,
  };
  return Mutate<v1::RequestGateReviewResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::RequestGateReviewResponse& r) {
        *r.mutable_gate_check() = GateCheckOf(t);
      });
}

absl::StatusOr<v1::RecordDecisionResponse> Governance::RecordDecision(
    const v1::RecordDecisionRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("gate", request.gate(), false));
  VARAV_RETURN_IF_ERROR(ValidateId("panel", request.panel(), false));
  VARAV_RETURN_IF_ERROR(ValidateId("recycle_to_stage", request.recycle_to_stage(), false));
  VARAV_RETURN_IF_ERROR(MaxLength("rationale", request.rationale(), internal::kMaxRationaleLength));
  if (request.conditions_size() > 50) {
    return absl::InvalidArgumentError("conditions: at most 50");
  }
  std::vector<v1::Condition> conditions;
  for (int i = 0; i < request.conditions_size(); ++i) {
    const v1::ConditionSpec& spec = request.conditions(i);
    const std::string field = absl::StrCat("conditions[", i, "]");
    VARAV_RETURN_IF_ERROR(
        MaxLength(absl::StrCat(field, ".text"), spec.text(), internal::kMaxReasonLength));
    VARAV_RETURN_IF_ERROR(MaxLength(absl::StrCat(field, ".check_expr"), spec.check_expr(),
                                    internal::kMaxReasonLength));
    v1::Condition& c = conditions.emplace_back();
    c.set_text(spec.text());
    if (spec.has_due()) *c.mutable_due() = spec.due();
    c.set_check_expr(spec.check_expr());
  }
  MutationCall call{
      .method = "RecordDecision",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      .authorize = [&](const v1::Service&) -> absl::Status {
        if (!principal.IsAdmin() && !principal.SitsOnPanel(request.panel())) {
          return absl::PermissionDeniedError(
              absl::StrCat("principal '", principal.id, "' may not decide as panel '",
                           request.panel(), "' (needs panel_member:", request.panel(), ")"));
        }
        return absl::OkStatus();
      },
      .command = lifecycle::RecordDecision{.gate = request.gate(),
                                           .panel = request.panel(),
                                           .outcome = request.outcome(),
                                           .recycle_to_stage = request.recycle_to_stage(),
                                           .rationale = request.rationale(),
                                           .conditions = std::move(conditions)},
      .now = Now(),
      .interrupt = interrupt,
  };
  VARAV_RETURN_IF_ERROR(lifecycle::ValidateCommand(call.command, call.now));
  return Mutate<v1::RecordDecisionResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::RecordDecisionResponse& r) {
        // The new decision is the last one; earlier entries are superseded rewrites.
        if (!t.decisions.empty()) *r.mutable_decision() = t.decisions.back();
        r.set_applied_outcome(t.applied_outcome);
      });
}

absl::StatusOr<v1::ResumeFromHoldResponse> Governance::ResumeFromHold(
    const v1::ResumeFromHoldRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(MaxLength("reason", request.reason(), internal::kMaxReasonLength));
  MutationCall call{
      .method = "ResumeFromHold",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      // Which panels may lift this hold is the lifecycle's rule; the role check is only that the
      // principal could be one of them.
      .authorize = [&](const v1::Service&) -> absl::Status {
        if (principal.IsAdmin() || principal.SitsOnAnyPanel()) return absl::OkStatus();
        return absl::PermissionDeniedError(
            absl::StrCat("principal '", principal.id,
                         "' may not resume services (needs admin or a panel of the gate "
                         "that holds it)"));
      },
      .command = lifecycle::ResumeFromHold{.reason = request.reason()},
      .now = Now(),
      .interrupt = interrupt,
  };
  VARAV_RETURN_IF_ERROR(lifecycle::ValidateCommand(call.command, call.now));
  return Mutate<v1::ResumeFromHoldResponse>(
      call, principal, [](const lifecycle::Transition&, v1::ResumeFromHoldResponse&) {});
}

absl::StatusOr<v1::MigratePackResponse> Governance::MigratePack(
    const v1::MigratePackRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("target_pack", request.target_pack(), true));
  if (request.target_pack().find('@') == std::string::npos) {
    return absl::InvalidArgumentError("target_pack: must be id@version");
  }
  MutationCall call{
      .method = "MigratePack",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      .authorize =
          [&](const v1::Service& s) { return MayEdit(principal, s.agency(), "migrate services"); },
      .command = lifecycle::MigratePack{},
      .target_pack = request.target_pack(),
      .now = Now(),
      .interrupt = interrupt,
  };
  return Mutate<v1::MigratePackResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::MigratePackResponse& r) {
        *r.mutable_gate_check() = GateCheckOf(t);
      });
}

}  // namespace varav::governance
