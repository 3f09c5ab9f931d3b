// Governance: construction, the shared mutation pipeline and the eight mutations. Queries live in
// governance_queries.cc, the rules service in governance_rules.cc.
#include "services/core/governance.h"

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
#include "services/core/request_util.h"

namespace varav::core {

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

// Segregation of duties: nobody decides on (or lifts a hold of) a service of their own agency.
// The engine enforces it too; checking here gives every caller the same refusal up front.
absl::Status NotOwnAgency(const Principal& principal, const v1::Service& service) {
  if (!principal.agency.empty() && principal.agency == service.agency()) {
    return absl::PermissionDeniedError(absl::StrCat("segregation of duties: '", principal.id,
                                                    "' belongs to agency '", service.agency(),
                                                    "', which owns service '", service.id(), "'"));
  }
  return absl::OkStatus();
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

uint32_t MustTotal(const v1::GateEvaluation& e, uint32_t* passed) {
  uint32_t total = 0;
  *passed = 0;
  for (const v1::RuleResult& r : e.results()) {
    if (r.severity() != v1::RULE_SEVERITY_MUST || r.enforcement() != v1::RULE_ENFORCEMENT_ENFORCE) {
      continue;
    }
    ++total;
    if (r.outcome() == v1::RULE_OUTCOME_PASS) ++*passed;
  }
  return total;
}

// What the call's gate evaluation says, for the caller that just changed something.
v1::GateCheck GateCheckOf(const lifecycle::Transition& t) {
  v1::GateCheck check;
  if (!t.evaluation) return check;
  const v1::GateEvaluation& e = *t.evaluation;
  v1::GateSummary* s = check.mutable_summary();
  s->set_evaluation_id(t.evaluation_id);
  s->set_gate(e.gate_id());
  s->set_cycle(t.service.cycle());
  s->set_ready(e.ready());
  uint32_t passed = 0;
  s->set_must_total(MustTotal(e, &passed));
  s->set_must_passed(passed);
  s->set_should_score(e.should_score());
  *s->mutable_evaluated_at() = e.evaluated_at();
  *check.mutable_failing_rules() = e.failing_rules();
  check.set_became_ready(std::any_of(t.events.begin(), t.events.end(),
                                     [](const v1::Event& ev) { return ev.has_gate_ready(); }));
  return check;
}

// The combined outcome when the transition applied a gate's result.
v1::GateOutcome AppliedOutcome(const lifecycle::Transition& t) {
  for (const v1::Event& e : t.events) {
    if (e.has_gate_approved()) return e.gate_approved().result().outcome();
    if (e.has_gate_approved_with_conditions()) {
      return e.gate_approved_with_conditions().result().outcome();
    }
    if (e.has_recycled()) return e.recycled().result().outcome();
    if (e.has_held()) return e.held().result().outcome();
    if (e.has_stopped()) return e.stopped().result().outcome();
    if (e.has_retired()) return e.retired().result().outcome();
  }
  return v1::GATE_OUTCOME_UNSPECIFIED;
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
  // Authorisation against the stored service (roles and agency, which never change), run before
  // the idempotency lookup. Unused when registering (authorised by the caller beforehand).
  std::function<absl::Status(const v1::Service&)> authorize;
  // Checks against the current state, run after the replay lookup and the etag comparison, so a
  // retry of a request that changed the state still replays.
  std::function<absl::Status(const lifecycle::ServiceSnapshot&, const model::CompiledPack&)> check;
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

absl::StatusOr<lifecycle::ServiceSnapshot> Governance::LoadSnapshot(v1::Service service) const {
  lifecycle::ServiceSnapshot snapshot;
  snapshot.service = std::move(service);
  const v1::Service& s = snapshot.service;
  // One point read per output type: the service record knows the latest revision of each, so the
  // cost does not grow with the number of revisions.
  for (const auto& [type, revision] : s.output_revisions()) {
    VARAV_ASSIGN_OR_RETURN(v1::OutputRevision output, store_->GetOutput(s.id(), type, revision));
    snapshot.latest_outputs.emplace(type, lifecycle::LatestOutput(std::move(output)));
  }
  VARAV_ASSIGN_OR_RETURN(std::vector<v1::Assessment> assessments, store_->ListAssessments(s.id()));
  for (v1::Assessment& a : assessments) {
    std::string principle = a.principle();
    snapshot.assessments.emplace(std::move(principle), std::move(a));
  }
  if (!s.gate_under_review().empty()) {
    VARAV_ASSIGN_OR_RETURN(snapshot.gate_decisions,
                           store_->ListDecisions(s.id(), s.gate_under_review(), s.cycle()));
  }
  if (!s.latest_evaluation().evaluation_id().empty()) {
    VARAV_ASSIGN_OR_RETURN(std::string bytes,
                           store_->GetEvaluation(s.latest_evaluation().evaluation_id()));
    v1::GateEvaluation evaluation;
    if (!evaluation.ParseFromString(bytes)) {
      return absl::DataLossError(
          absl::StrCat("evaluation '", s.latest_evaluation().evaluation_id(), "' does not parse"));
    }
    snapshot.latest_evaluation = std::move(evaluation);
  }
  return snapshot;
}

namespace {

// What lifecycle::Apply reads, from the store's snapshot of the service.
absl::StatusOr<lifecycle::ServiceSnapshot> ToLifecycle(store::ServiceState state) {
  lifecycle::ServiceSnapshot snapshot;
  snapshot.service = std::move(state.service);
  snapshot.latest_outputs.reserve(state.latest_outputs.size());
  for (v1::OutputRevision& o : state.latest_outputs) {
    std::string type = o.output_type();
    snapshot.latest_outputs.emplace(std::move(type), lifecycle::LatestOutput(std::move(o)));
  }
  snapshot.assessments.reserve(state.assessments.size());
  for (v1::Assessment& a : state.assessments) {
    std::string principle = a.principle();
    snapshot.assessments.emplace(std::move(principle), std::move(a));
  }
  snapshot.gate_decisions = std::move(state.gate_decisions);
  // The engine reads the stored evaluation only while a review rests on it.
  if (snapshot.service.status() == v1::SERVICE_STATUS_IN_REVIEW &&
      !snapshot.service.latest_evaluation().evaluation_id().empty()) {
    v1::GateEvaluation& evaluation = snapshot.latest_evaluation.emplace();
    if (!evaluation.ParseFromString(state.latest_evaluation)) {
      return absl::DataLossError(absl::StrCat("evaluation '",
                                              snapshot.service.latest_evaluation().evaluation_id(),
                                              "' does not parse"));
    }
  }
  return snapshot;
}

}  // namespace

// Everything the store returns is durable (engine/store/store.h), and so is a snapshot from the
// cache (SnapshotCache): the state a commit at the request's etag made. A call that fails while
// working on one is answered by running it again from the store: every refusal then comes from the
// current stored state, exactly as without the cache (for instance ABORTED, and not a refusal of
// the command, when the etag went stale meanwhile).
template <typename Response>
absl::StatusOr<Response> Governance::Mutate(
    const MutationCall& call, const Principal& principal,
    const std::function<void(const lifecycle::Transition&, Response&)>& fill) const {
  auto attempt = [&](std::optional<lifecycle::ServiceSnapshot> cached) -> absl::StatusOr<Response> {
    std::optional<store::ServiceState> state;
    const v1::Service* current = nullptr;
    if (cached.has_value()) {
      current = &cached->service;
    } else if (!call.registering) {
      VARAV_ASSIGN_OR_RETURN(state, store_->LoadSnapshot(call.service_id));
      current = &state->service;
    }
    if (!call.registering) VARAV_RETURN_IF_ERROR(call.authorize(*current));

    const std::string hash = call.request_id.empty()
                                 ? std::string()
                                 : internal::RequestHash(call.method, principal, *call.request);
    if (!call.request_id.empty()) {
      // A found record is returned only once durable (LookupRequest waits).
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

    lifecycle::ServiceSnapshot snapshot;
    std::shared_ptr<const model::CompiledPack> pack = call.pack;
    std::shared_ptr<const model::CompiledPack> target;
    if (call.registering) {
      absl::StatusOr<store::ServiceState> existing = store_->LoadSnapshot(call.service_id);
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
        snapshot = *std::move(cached);
      } else {
        VARAV_ASSIGN_OR_RETURN(snapshot, ToLifecycle(*std::move(state)));
      }
      if (call.check) VARAV_RETURN_IF_ERROR(call.check(snapshot, *pack));
    }

    lifecycle::Context context{
        .pack = pack.get(),
        .target_pack = target.get(),
        .now = call.now,
        .actor = {.principal = principal.id, .agency = principal.agency},
        .request_id = std::string(call.request_id),
        .interrupt = call.interrupt,
    };
    VARAV_ASSIGN_OR_RETURN(lifecycle::Transition transition,
                           lifecycle::ApplyInPlace(snapshot, call.command, context));
    Response response;
    fill(transition, response);

    store::Mutation m;
    m.service_id = transition.service.id();
    m.expected_etag = call.registering ? "" : std::string(call.etag);
    m.service = std::move(transition.service);
    m.outputs = std::move(transition.outputs);
    m.assessments = std::move(transition.assessments);
    m.decisions = std::move(transition.decisions);
    if (transition.evaluation) {
      m.evaluations.push_back({.id = std::move(transition.evaluation_id),
                               .bytes = transition.evaluation->SerializeAsString()});
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
      // The snapshot now holds the state this commit made durable; the next command at the new
      // etag starts from it.
      snapshot.service = std::move(result.service);
      cache_.Put(std::move(snapshot));
      return response;
    }
    Response out;
    if (!out.ParseFromString(result.response)) {
      return absl::InternalError(
          absl::StrCat(call.method, ": the committed response does not parse"));
    }
    VARAV_RETURN_IF_ERROR(RestoreRecorded(*store_, out));
    return out;
  };

  if (!call.registering) {
    if (std::optional<lifecycle::ServiceSnapshot> cached =
            cache_.Take(call.service_id, call.etag)) {
      absl::StatusOr<Response> outcome = attempt(std::move(cached));
      if (outcome.ok()) return outcome;
    }
  }
  return attempt(std::nullopt);
}

// --- Mutations ---

absl::StatusOr<v1::RegisterServiceResponse> Governance::RegisterService(
    const v1::RegisterServiceRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
  VARAV_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  VARAV_RETURN_IF_ERROR(Required("name", request.name()));
  VARAV_RETURN_IF_ERROR(MaxLength("name", request.name(), internal::kMaxNameLength));
  VARAV_RETURN_IF_ERROR(ValidateServiceId("agency", request.agency()));
  VARAV_RETURN_IF_ERROR(Required("owner", request.owner()));
  VARAV_RETURN_IF_ERROR(MaxLength("owner", request.owner(), internal::kMaxNameLength));
  VARAV_RETURN_IF_ERROR(
      MaxLength("description", request.description(), internal::kMaxDescriptionLength));
  VARAV_RETURN_IF_ERROR(ValidateId("pack", request.pack(), false));
  VARAV_RETURN_IF_ERROR(ValidateId("stage", request.stage(), false));
  VARAV_RETURN_IF_ERROR(MayEdit(principal, request.agency(), "register services"));

  const std::string key = request.pack().empty() ? options_.default_pack : request.pack();
  if (key.empty()) {
    return absl::InvalidArgumentError("pack: required (this server has no default pack)");
  }
  std::shared_ptr<const model::CompiledPack> pack = registry_->Find(key);
  if (pack == nullptr) {
    return absl::NotFoundError(absl::StrCat("pack: rule pack ", key, " is not loaded"));
  }
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
      .pack = std::move(pack),
      .now = Now(),
      .interrupt = interrupt,
  };
  return Mutate<v1::RegisterServiceResponse>(
      call, principal, [](const lifecycle::Transition&, v1::RegisterServiceResponse&) {});
}

absl::StatusOr<v1::SubmitOutputResponse> Governance::SubmitOutput(
    const v1::SubmitOutputRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("output_type", request.output_type(), true));
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
                                         .borrowed_fields = &request.fields()},
      .now = Now(),
      .interrupt = interrupt,
  };
  return Mutate<v1::SubmitOutputResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::SubmitOutputResponse& r) {
        if (!t.outputs.empty()) *r.mutable_output() = *t.outputs.front();
        *r.mutable_gate_check() = GateCheckOf(t);
      });
}

absl::StatusOr<v1::RecordAssessmentResponse> Governance::RecordAssessment(
    const v1::RecordAssessmentRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("principle", request.principle(), true));
  if (request.answers().empty()) {
    return absl::InvalidArgumentError("answers: at least one is required");
  }
  if (request.answers_size() > 100) {
    return absl::InvalidArgumentError("answers: at most 100");
  }
  for (int i = 0; i < request.answers_size(); ++i) {
    const v1::AssessmentAnswer& a = request.answers(i);
    const std::string field = absl::StrCat("answers[", i, "]");
    VARAV_RETURN_IF_ERROR(ValidateId(absl::StrCat(field, ".question"), a.question(), true));
    if (!v1::AnswerValue_IsValid(a.answer()) || a.answer() == v1::ANSWER_VALUE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".answer: must be yes, partly, no or not applicable"));
    }
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
  return Mutate<v1::RecordAssessmentResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::RecordAssessmentResponse& r) {
        if (!t.assessments.empty()) *r.mutable_assessment() = t.assessments.front();
        *r.mutable_gate_check() = GateCheckOf(t);
      });
}

absl::StatusOr<v1::AdvanceStageResponse> Governance::AdvanceStage(
    const v1::AdvanceStageRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
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
    const cel::Interrupt* interrupt) const {
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
    const cel::Interrupt* interrupt) const {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(ValidateId("gate", request.gate(), true));
  VARAV_RETURN_IF_ERROR(ValidateId("panel", request.panel(), true));
  if (request.outcome() == v1::GATE_OUTCOME_UNSPECIFIED) {
    return absl::InvalidArgumentError("outcome: required");
  }
  if (!v1::GateOutcome_IsValid(request.outcome())) {
    return absl::InvalidArgumentError(
        absl::StrCat("outcome: ", request.outcome(), " is not a gate outcome"));
  }
  VARAV_RETURN_IF_ERROR(ValidateId("recycle_to_stage", request.recycle_to_stage(), false));
  VARAV_RETURN_IF_ERROR(Required("rationale", request.rationale()));
  VARAV_RETURN_IF_ERROR(MaxLength("rationale", request.rationale(), internal::kMaxRationaleLength));
  if (request.conditions_size() > 50) {
    return absl::InvalidArgumentError("conditions: at most 50");
  }
  const absl::Time now = Now();
  std::vector<v1::Condition> conditions;
  for (int i = 0; i < request.conditions_size(); ++i) {
    const v1::ConditionSpec& spec = request.conditions(i);
    const std::string field = absl::StrCat("conditions[", i, "]");
    VARAV_RETURN_IF_ERROR(Required(absl::StrCat(field, ".text"), spec.text()));
    VARAV_RETURN_IF_ERROR(
        MaxLength(absl::StrCat(field, ".text"), spec.text(), internal::kMaxReasonLength));
    if (!spec.has_due()) return absl::InvalidArgumentError(absl::StrCat(field, ".due: required"));
    if (internal::FromProto(spec.due()) <= now) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".due: must lie in the future"));
    }
    VARAV_RETURN_IF_ERROR(MaxLength(absl::StrCat(field, ".check_expr"), spec.check_expr(),
                                    internal::kMaxReasonLength));
    v1::Condition& c = conditions.emplace_back();
    c.set_text(spec.text());
    *c.mutable_due() = spec.due();
    c.set_check_expr(spec.check_expr());
  }
  MutationCall call{
      .method = "RecordDecision",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      .authorize = [&](const v1::Service& s) -> absl::Status {
        if (!principal.IsAdmin() && !principal.SitsOnPanel(request.panel())) {
          return absl::PermissionDeniedError(
              absl::StrCat("principal '", principal.id, "' may not decide as panel '",
                           request.panel(), "' (needs panel_member:", request.panel(), ")"));
        }
        return NotOwnAgency(principal, s);
      },
      .check = [&](const lifecycle::ServiceSnapshot& snapshot,
                   const model::CompiledPack&) -> absl::Status {
        const v1::Service& s = snapshot.service;
        if (s.status() != v1::SERVICE_STATUS_IN_REVIEW) {
          return absl::FailedPreconditionError(
              absl::StrCat("RecordDecision: service '", s.id(), "' is not in review"));
        }
        if (s.gate_under_review() != request.gate()) {
          return absl::FailedPreconditionError(absl::StrCat("gate: service '", s.id(),
                                                            "' has gate ", s.gate_under_review(),
                                                            " under review, not ", request.gate()));
        }
        return absl::OkStatus();
      },
      .command = lifecycle::RecordDecision{.panel = request.panel(),
                                           .outcome = request.outcome(),
                                           .recycle_to_stage = request.recycle_to_stage(),
                                           .rationale = request.rationale(),
                                           .conditions = std::move(conditions)},
      .now = now,
      .interrupt = interrupt,
  };
  return Mutate<v1::RecordDecisionResponse>(
      call, principal, [](const lifecycle::Transition& t, v1::RecordDecisionResponse& r) {
        // The new decision is the last one; earlier entries are superseded rewrites.
        if (!t.decisions.empty()) *r.mutable_decision() = t.decisions.back();
        r.set_applied_outcome(AppliedOutcome(t));
      });
}

absl::StatusOr<v1::ResumeFromHoldResponse> Governance::ResumeFromHold(
    const v1::ResumeFromHoldRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
  VARAV_RETURN_IF_ERROR(
      ValidateMutation(request.request_id(), request.etag(), request.service_id()));
  VARAV_RETURN_IF_ERROR(Required("reason", request.reason()));
  VARAV_RETURN_IF_ERROR(MaxLength("reason", request.reason(), internal::kMaxReasonLength));
  MutationCall call{
      .method = "ResumeFromHold",
      .request = &request,
      .request_id = request.request_id(),
      .etag = request.etag(),
      .service_id = request.service_id(),
      .authorize = [&](const v1::Service& s) -> absl::Status {
        if (principal.IsAdmin()) return absl::OkStatus();
        if (!principal.SitsOnAnyPanel()) {
          return absl::PermissionDeniedError(
              absl::StrCat("principal '", principal.id,
                           "' may not resume services (needs admin or a panel of the gate "
                           "that holds it)"));
        }
        return NotOwnAgency(principal, s);
      },
      // A hold is a panel's decision: only the panels of the holding gate may lift it.
      .check = [&](const lifecycle::ServiceSnapshot& snapshot,
                   const model::CompiledPack& pack) -> absl::Status {
        if (principal.IsAdmin()) return absl::OkStatus();
        const v1::Gate* gate = lifecycle::GateForStage(pack, snapshot.service.stage());
        if (gate != nullptr &&
            std::any_of(gate->panels().begin(), gate->panels().end(),
                        [&](const std::string& p) { return principal.SitsOnPanel(p); })) {
          return absl::OkStatus();
        }
        return absl::PermissionDeniedError(absl::StrCat(
            "principal '", principal.id, "' sits on no panel of gate ", gate ? gate->id() : "?",
            ", which holds service '", snapshot.service.id(), "'"));
      },
      .command = lifecycle::ResumeFromHold{.reason = request.reason()},
      .now = Now(),
      .interrupt = interrupt,
  };
  return Mutate<v1::ResumeFromHoldResponse>(
      call, principal, [](const lifecycle::Transition&, v1::ResumeFromHoldResponse&) {});
}

absl::StatusOr<v1::MigratePackResponse> Governance::MigratePack(
    const v1::MigratePackRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
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

}  // namespace varav::core
