#include "engine/lifecycle/lifecycle.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/cel/cel.h"
#include "engine/common/status_macros.h"
#include "engine/lifecycle/event_types.h"
#include "engine/model/activation.h"
#include "engine/model/evaluation.h"
#include "google/protobuf/arena.h"

namespace varav::lifecycle {
namespace {

using ::google::protobuf::Timestamp;

Timestamp ToProto(absl::Time t) {
  Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

std::string StatusWord(v1::ServiceStatus status) {
  switch (status) {
    case v1::SERVICE_STATUS_ACTIVE:
      return "active";
    case v1::SERVICE_STATUS_IN_REVIEW:
      return "in_review";
    case v1::SERVICE_STATUS_ON_HOLD:
      return "on_hold";
    case v1::SERVICE_STATUS_STOPPED:
      return "stopped";
    case v1::SERVICE_STATUS_RETIRED:
      return "retired";
    default:
      return "unspecified";
  }
}

std::string OutcomeWord(v1::GateOutcome outcome) {
  switch (outcome) {
    case v1::GATE_OUTCOME_GO:
      return "go";
    case v1::GATE_OUTCOME_GO_WITH_CONDITIONS:
      return "go_with_conditions";
    case v1::GATE_OUTCOME_RECYCLE:
      return "recycle";
    case v1::GATE_OUTCOME_HOLD:
      return "hold";
    case v1::GATE_OUTCOME_STOP:
      return "stop";
    default:
      return "unspecified";
  }
}

bool IsClosed(const v1::Service& s) {
  return s.status() == v1::SERVICE_STATUS_STOPPED || s.status() == v1::SERVICE_STATUS_RETIRED;
}

absl::Status RequireOpen(const v1::Service& s, absl::string_view command) {
  if (IsClosed(s)) {
    return absl::FailedPreconditionError(absl::StrCat(command, ": service '", s.id(), "' is ",
                                                      StatusWord(s.status()),
                                                      "; it accepts no more changes"));
  }
  return absl::OkStatus();
}

// A hold is the standard's pause: the team's work on the service (its outputs, assessments and
// stage) waits until a panel of the holding gate, or an administrator, resumes it.
absl::Status RequireNotPaused(const v1::Service& s, absl::string_view command) {
  VARAV_RETURN_IF_ERROR(RequireOpen(s, command));
  if (s.status() == v1::SERVICE_STATUS_ON_HOLD) {
    return absl::FailedPreconditionError(absl::StrCat(
        command, ": service '", s.id(), "' is on hold (", s.status_reason(),
        "); a hold pauses its development until a panel of that gate or an admin resumes it "
        "(ResumeFromHold)"));
  }
  return absl::OkStatus();
}

// Whether `d` is a decision of the review `s` is in (or last was in): decisions of earlier reviews
// of the same gate and cycle never count again.
bool OfCurrentReview(const v1::Service& s, const v1::Decision& d) {
  return d.review() == s.review() && d.gate() == s.gate_under_review() && d.cycle() == s.cycle();
}

bool IsLowerHex(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

const v1::Stage* FirstStage(const model::CompiledPack& pack) {
  const v1::Stage* first = nullptr;
  for (const v1::Stage& stage : pack.proto().stages()) {
    if (first == nullptr || stage.order() < first->order()) first = &stage;
  }
  return first;
}

const v1::Stage* StageAtOrder(const model::CompiledPack& pack, int32_t order) {
  for (const v1::Stage& stage : pack.proto().stages()) {
    if (stage.order() == order) return &stage;
  }
  return nullptr;
}

// Builds events with the attributes every event of one command shares.
class EventFactory {
 public:
  EventFactory(const Context& context, Transition& transition)
      : context_(context), transition_(transition) {}

  v1::Event& Add() {
    v1::Event& e = transition_.events.emplace_back();
    *e.mutable_time() = ToProto(context_.now);
    e.set_principal(context_.actor.principal);
    e.set_request_id(context_.request_id);
    return e;
  }

 private:
  const Context& context_;
  Transition& transition_;
};

v1::PackRef PackRefOf(const model::CompiledPack& pack) {
  v1::PackRef ref;
  ref.set_pack_id(pack.id());
  ref.set_pack_version(pack.version());
  ref.set_pack_digest(pack.digest());
  return ref;
}

// Moves the service to `stage` in `cycle`, closing the current stage-history entry.
void EnterStage(v1::Service& service, absl::string_view stage, uint32_t cycle, absl::Time now) {
  if (service.stage_history_size() > 0) {
    v1::StageEntry* last = service.mutable_stage_history(service.stage_history_size() - 1);
    if (!last->has_left_at()) *last->mutable_left_at() = ToProto(now);
  }
  service.set_stage(std::string(stage));
  service.set_cycle(cycle);
  v1::StageEntry* entry = service.add_stage_history();
  entry->set_stage(std::string(stage));
  entry->set_cycle(cycle);
  *entry->mutable_entered_at() = ToProto(now);
}

uint32_t MustPassed(const v1::GateEvaluation& e, uint32_t* total) {
  uint32_t passed = 0;
  *total = 0;
  for (const v1::RuleResult& r : e.results()) {
    if (r.severity() != v1::RULE_SEVERITY_MUST || r.enforcement() != v1::RULE_ENFORCEMENT_ENFORCE) {
      continue;
    }
    ++*total;
    if (r.outcome() == v1::RULE_OUTCOME_PASS) ++passed;
  }
  return passed;
}

v1::GateSummary Summarize(const v1::GateEvaluation& e, absl::string_view id, uint32_t cycle) {
  v1::GateSummary s;
  s.set_evaluation_id(std::string(id));
  s.set_gate(e.gate_id());
  s.set_cycle(cycle);
  s.set_ready(e.ready());
  uint32_t total = 0;
  s.set_must_passed(MustPassed(e, &total));
  s.set_must_total(total);
  s.set_should_score(e.should_score());
  *s.mutable_evaluated_at() = e.evaluated_at();
  return s;
}

v1::GateInput::Service ServiceInput(const v1::Service& s) {
  v1::GateInput::Service service;
  service.set_id(s.id());
  service.set_name(s.name());
  service.set_agency(s.agency());
  service.set_owner(s.owner());
  service.set_stage(s.stage());
  service.set_cycle(s.cycle());
  service.set_status(StatusWord(s.status()));
  service.set_pack(absl::StrCat(s.pack_id(), "@", s.pack_version()));
  if (s.stage_history_size() > 0) {
    *service.mutable_entered_stage_at() = s.stage_history(s.stage_history_size() - 1).entered_at();
  }
  return service;
}

// The mutable working copy of one command: the snapshot as the command changes it, plus the
// transition being built.
struct Work {
  ServiceSnapshot snapshot;
  Transition transition;
  const model::CompiledPack* pack;  // the pack in force after the command
  model::BoundRecords* bound;       // never null: the context's, or the command's own
};

// Re-evaluates the current gate of `work`, records the evaluation and its events. While in
// review the service's summary keeps pointing at the evaluation the review rests on.
absl::Status Reevaluate(Work& work, const Context& context, absl::string_view trigger) {
  v1::Service& service = work.snapshot.service;
  const v1::Gate* gate = GateForStage(*work.pack, service.stage());
  if (gate == nullptr) return absl::OkStatus();  // a pack without a gate for this stage
  const model::GateSubject subject = SubjectOf(work.snapshot, context.now);
  // The evaluation (a result per rule, each with strings) is built, serialized and dropped by
  // every command: on an arena it is freed in one step instead of message by message.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 8 << 10;
  auto arena = std::make_shared<google::protobuf::Arena>(arena_options);
  v1::GateEvaluation* built =
      google::protobuf::Arena::CreateMessage<v1::GateEvaluation>(arena.get());
  VARAV_RETURN_IF_ERROR(model::EvaluateGate(*work.pack, gate->id(), subject, built,
                                            {.interrupt = context.interrupt, .bound = work.bound}));
  const v1::GateEvaluation& evaluation = *built;

  Transition& t = work.transition;
  const uint64_t sequence = service.last_event_sequence() + t.events.size() + 1;
  const std::string id = EvaluationId(service.id(), service.cycle(), gate->id(), sequence);
  const v1::GateSummary summary = Summarize(evaluation, id, service.cycle());
  const v1::GateSummary& previous = service.latest_evaluation();
  const bool was_ready = previous.gate() == gate->id() && previous.cycle() == service.cycle() &&
                         previous.ready() && !previous.stale();

  EventFactory events(context, t);
  v1::GateEvaluated* evaluated = events.Add().mutable_gate_evaluated();
  evaluated->set_agency(service.agency());
  evaluated->set_gate(gate->id());
  evaluated->set_cycle(service.cycle());
  evaluated->set_evaluation_id(id);
  evaluated->set_ready(evaluation.ready());
  evaluated->set_must_passed(summary.must_passed());
  evaluated->set_must_total(summary.must_total());
  evaluated->set_should_score(evaluation.should_score());
  *evaluated->mutable_failing_rules() = evaluation.failing_rules();
  *evaluated->mutable_pack() = PackRefOf(*work.pack);
  evaluated->set_trigger(std::string(trigger));

  if (service.status() != v1::SERVICE_STATUS_IN_REVIEW) {
    if (evaluation.ready() && !was_ready) {
      v1::GateReady* ready = events.Add().mutable_gate_ready();
      ready->set_agency(service.agency());
      ready->set_gate(gate->id());
      ready->set_cycle(service.cycle());
      ready->set_evaluation_id(id);
      ready->set_should_score(evaluation.should_score());
      *ready->mutable_pack() = PackRefOf(*work.pack);
    }
    *service.mutable_latest_evaluation() = summary;
    // Every command re-evaluates last (RequestGateReview then reads transition.evaluation), so
    // the working snapshot's latest_evaluation is not read again: the transition carries it.
  }
  t.became_ready = !t.events.empty() && t.events.back().has_gate_ready();
  t.summary = summary;
  t.evaluation = std::shared_ptr<const v1::GateEvaluation>(std::move(arena), built);
  t.evaluation_id = id;
  return absl::OkStatus();
}

// --- Command handlers ---

absl::Status DoRegister(Work& work, const RegisterService& cmd, const Context& context) {
  if (!work.snapshot.service.id().empty()) {
    return absl::AlreadyExistsError(
        absl::StrCat("service '", work.snapshot.service.id(), "' is already registered"));
  }
  const v1::Stage* stage =
      cmd.stage.empty() ? FirstStage(*work.pack) : work.pack->FindStage(cmd.stage);
  if (stage == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("stage: pack ", work.pack->key(), " has no stage '", cmd.stage, "'"));
  }

  v1::Service& s = work.snapshot.service;
  s.set_id(cmd.service_id);
  s.set_name(cmd.name);
  s.set_agency(cmd.agency);
  s.set_owner(cmd.owner);
  s.set_description(cmd.description);
  s.set_pack_id(work.pack->id());
  s.set_pack_version(work.pack->version());
  s.set_pack_digest(work.pack->digest());
  s.set_status(v1::SERVICE_STATUS_ACTIVE);
  *s.mutable_create_time() = ToProto(context.now);
  EnterStage(s, stage->id(), 1, context.now);

  EventFactory events(context, work.transition);
  v1::ServiceRegistered* e = events.Add().mutable_service_registered();
  e->set_name(cmd.name);
  e->set_agency(cmd.agency);
  e->set_owner(cmd.owner);
  e->set_description(cmd.description);
  *e->mutable_pack() = PackRefOf(*work.pack);
  e->set_stage(stage->id());
  e->set_cycle(1);
  e->set_registered_by(context.actor.principal);
  return Reevaluate(work, context, "service registered");
}

absl::Status DoSubmitOutput(Work& work, const SubmitOutput& cmd, const Context& context) {
  v1::Service& s = work.snapshot.service;
  VARAV_RETURN_IF_ERROR(RequireNotPaused(s, "SubmitOutput"));
  const v1::OutputType* type = work.pack->FindOutput(cmd.output_type);
  if (type == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("output_type: pack ", work.pack->key(),
                                                   " declares no output type '", cmd.output_type,
                                                   "'"));
  }
  const v1::DocumentRef& doc = cmd.document;
  cel::Value fields_value;
  std::vector<std::string> problems =
      model::CheckOutputFields(type->fields(), cmd.fields, &fields_value);
  if (!problems.empty()) {
    for (std::string& p : problems) p = absl::StrCat("fields.", p);
    return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  }

  const uint32_t revision = (*s.mutable_output_revisions())[cmd.output_type] + 1;
  (*s.mutable_output_revisions())[cmd.output_type] = revision;
  v1::OutputRevision out;
  out.set_service_id(s.id());
  out.set_output_type(cmd.output_type);
  out.set_revision(revision);
  *out.mutable_document() = doc;
  *out.mutable_fields() = cmd.fields;
  out.set_status(v1::OUTPUT_STATUS_SUBMITTED);
  out.set_submitted_by(context.actor.principal);
  *out.mutable_submitted_at() = ToProto(context.now);
  out.set_request_id(context.request_id);
  out.set_stage(s.stage());
  out.set_cycle(s.cycle());
  // One record for the transition and the snapshot, bound from the pass that checked its fields,
  // so the gate evaluation below converts nothing.
  auto record = std::make_shared<const v1::OutputRevision>(std::move(out));
  work.transition.outputs.push_back(record);
  work.bound->KeepOutput(work.pack->digest(), record,
                         model::OutputValue(*record, std::move(fields_value)));
  work.snapshot.latest_outputs[cmd.output_type] = std::move(record);

  // The review rests on its evaluation: a passed rule that read an older revision of this output
  // no longer speaks for the current evidence.
  if (s.status() == v1::SERVICE_STATUS_IN_REVIEW && work.snapshot.latest_evaluation) {
    for (const v1::RuleResult& r : work.snapshot.latest_evaluation->results()) {
      if (r.outcome() != v1::RULE_OUTCOME_PASS) continue;
      for (const v1::OutputRevisionRef& read : r.read()) {
        if (read.output_id() == cmd.output_type && read.revision() < revision) {
          s.mutable_latest_evaluation()->set_stale(true);
        }
      }
    }
  }

  EventFactory events(context, work.transition);
  v1::OutputSubmitted* e = events.Add().mutable_output_submitted();
  e->set_agency(s.agency());
  e->set_output_type(cmd.output_type);
  e->set_revision(revision);
  *e->mutable_document() = doc;
  *e->mutable_fields() = cmd.fields;
  e->set_submitted_by(context.actor.principal);
  e->set_stage(s.stage());
  e->set_cycle(s.cycle());
  return Reevaluate(work, context, absl::StrCat("output ", cmd.output_type, " submitted"));
}

absl::Status DoRecordAssessment(Work& work, const RecordAssessment& cmd, const Context& context) {
  v1::Service& s = work.snapshot.service;
  VARAV_RETURN_IF_ERROR(RequireNotPaused(s, "RecordAssessment"));
  const v1::Principle* principle = work.pack->FindPrinciple(cmd.principle);
  if (principle == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("principle: pack ", work.pack->key(),
                                                   " has no principle '", cmd.principle, "'"));
  }
  absl::flat_hash_set<std::string> questions;
  for (const v1::Question& q : principle->questions()) questions.insert(q.id());
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < cmd.answers.size(); ++i) {
    const v1::AssessmentAnswer& a = cmd.answers[i];
    if (!questions.contains(a.question())) {
      return absl::InvalidArgumentError(absl::StrCat("answers[", i, "].question: '", a.question(),
                                                     "' is not a question of ", cmd.principle));
    }
    if (!seen.insert(a.question()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("answers[", i, "].question: '", a.question(), "' is answered twice"));
    }
  }

  v1::Assessment assessment;
  assessment.set_service_id(s.id());
  assessment.set_principle(cmd.principle);
  for (const v1::AssessmentAnswer& a : cmd.answers) *assessment.add_answers() = a;
  model::ScoreAssessment(assessment, principle->questions_size());
  assessment.set_recorded_by(context.actor.principal);
  *assessment.mutable_recorded_at() = ToProto(context.now);
  assessment.set_stage(s.stage());
  assessment.set_cycle(s.cycle());
  auto record = std::make_shared<const v1::Assessment>(std::move(assessment));
  work.snapshot.assessments[cmd.principle] = record;
  work.transition.assessments.push_back(record);
  const v1::Assessment& recorded = *record;

  EventFactory events(context, work.transition);
  v1::AssessmentRecorded* e = events.Add().mutable_assessment_recorded();
  e->set_agency(s.agency());
  e->set_principle(cmd.principle);
  e->set_score(recorded.score());
  e->set_answered(recorded.answered());
  e->set_total(recorded.total());
  *e->mutable_answers() = recorded.answers();
  e->set_recorded_by(context.actor.principal);
  return Reevaluate(work, context, absl::StrCat("assessment ", cmd.principle, " recorded"));
}

absl::Status DoAdvanceStage(Work& work, const AdvanceStage& cmd, const Context& context) {
  v1::Service& s = work.snapshot.service;
  if (s.status() != v1::SERVICE_STATUS_ACTIVE) {
    return absl::FailedPreconditionError(absl::StrCat("AdvanceStage: service '", s.id(), "' is ",
                                                      StatusWord(s.status()),
                                                      "; only an active service advances"));
  }
  const v1::Stage* current = work.pack->FindStage(s.stage());
  if (current == nullptr) {
    return absl::InternalError(
        absl::StrCat("service stage '", s.stage(), "' is not in pack ", work.pack->key()));
  }
  const v1::Stage* next = StageAtOrder(*work.pack, current->order() + 1);
  if (next == nullptr || next->diamond() != current->diamond()) {
    const v1::Gate* gate = GateForStage(*work.pack, current->id());
    return absl::FailedPreconditionError(
        absl::StrCat("AdvanceStage: stage '", current->id(), "' closes diamond ",
                     current->diamond(), "; the service crosses gate ", gate ? gate->id() : "?",
                     " only through its outcome "
                     "(request a gate review)"));
  }
  if (!cmd.to_stage.empty() && cmd.to_stage != next->id()) {
    if (work.pack->FindStage(cmd.to_stage) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("to_stage: pack ", work.pack->key(), " has no stage '", cmd.to_stage, "'"));
    }
    return absl::FailedPreconditionError(absl::StrCat("to_stage: from '", current->id(),
                                                      "' the service can only advance to '",
                                                      next->id(), "', not '", cmd.to_stage, "'"));
  }
  EnterStage(s, next->id(), s.cycle(), context.now);
  EventFactory events(context, work.transition);
  v1::StageAdvanced* e = events.Add().mutable_stage_advanced();
  e->set_agency(s.agency());
  e->set_from_stage(current->id());
  e->set_to_stage(next->id());
  e->set_cycle(s.cycle());
  e->set_advanced_by(context.actor.principal);
  return Reevaluate(work, context, absl::StrCat("stage advanced to ", next->id()));
}

// The outputs the evaluation's rules read, with their documents: what a decision rests on.
std::vector<v1::EvidenceRef> EvidenceOf(const ServiceSnapshot& snapshot,
                                        const v1::GateEvaluation& evaluation) {
  absl::flat_hash_map<std::string, uint32_t> read;
  for (const v1::RuleResult& r : evaluation.results()) {
    for (const v1::OutputRevisionRef& ref : r.read()) {
      if (ref.revision() > 0) read[ref.output_id()] = static_cast<uint32_t>(ref.revision());
    }
  }
  std::vector<v1::EvidenceRef> out;
  for (const auto& [type, revision] : read) {
    v1::EvidenceRef& e = out.emplace_back();
    e.set_output_type(type);
    e.set_revision(revision);
    auto it = snapshot.latest_outputs.find(type);
    if (it != snapshot.latest_outputs.end() && it->second->revision() == revision) {
      *e.mutable_document() = it->second->document();
    }
  }
  std::sort(out.begin(), out.end(), [](const v1::EvidenceRef& a, const v1::EvidenceRef& b) {
    return a.output_type() < b.output_type();
  });
  return out;
}

absl::Status DoRequestGateReview(Work& work, const RequestGateReview&, const Context& context) {
  v1::Service& s = work.snapshot.service;
  if (s.status() != v1::SERVICE_STATUS_ACTIVE) {
    return absl::FailedPreconditionError(absl::StrCat("RequestGateReview: service '", s.id(),
                                                      "' is ", StatusWord(s.status()),
                                                      "; only an active service asks for review"));
  }
  const v1::Gate* gate = GateForStage(*work.pack, s.stage());
  if (gate == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("RequestGateReview: no gate closes stage '", s.stage(), "'"));
  }
  if (gate->after_stage() != s.stage()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "RequestGateReview: gate ", gate->id(), " is reviewed at stage '", gate->after_stage(),
        "'; the service is at '", s.stage(), "' (advance first)"));
  }
  VARAV_RETURN_IF_ERROR(Reevaluate(work, context, "review requested"));
  const v1::GateEvaluation& evaluation = *work.transition.evaluation;
  if (!evaluation.ready()) {
    std::vector<std::string> failing;
    for (const v1::RuleResult& r : evaluation.results()) {
      if (r.severity() == v1::RULE_SEVERITY_MUST &&
          r.enforcement() == v1::RULE_ENFORCEMENT_ENFORCE && r.outcome() != v1::RULE_OUTCOME_PASS) {
        failing.push_back(absl::StrCat(
            r.rule_id(), " (", r.message().en().empty() ? r.error() : r.message().en(), ")"));
      }
    }
    return absl::FailedPreconditionError(
        absl::StrCat("RequestGateReview: gate ", gate->id(),
                     " has failing must rules: ", absl::StrJoin(failing, "; ")));
  }
  s.set_status(v1::SERVICE_STATUS_IN_REVIEW);
  s.set_gate_under_review(gate->id());
  s.set_review(s.review() + 1);
  s.clear_awaiting_panels();
  for (const std::string& panel : gate->panels()) s.add_awaiting_panels(panel);

  EventFactory events(context, work.transition);
  v1::ReviewRequested* e = events.Add().mutable_review_requested();
  e->set_agency(s.agency());
  e->set_gate(gate->id());
  e->set_cycle(s.cycle());
  e->set_evaluation_id(work.transition.evaluation_id);
  *e->mutable_panels() = gate->panels();
  e->set_requested_by(context.actor.principal);
  for (v1::EvidenceRef& ref : EvidenceOf(work.snapshot, evaluation)) {
    *e->add_evidence() = std::move(ref);
  }
  e->set_review(s.review());
  return absl::OkStatus();
}

// Segregation of duties: nobody decides on, or lifts the hold of, a service of their own agency.
absl::Status NotOwnAgency(const Actor& actor, const v1::Service& s, absl::string_view act) {
  if (!actor.agency.empty() && actor.agency == s.agency()) {
    return absl::PermissionDeniedError(
        absl::StrCat("segregation of duties: '", actor.principal, "' belongs to agency '",
                     s.agency(), "', which owns service '", s.id(), "', and may not ", act));
  }
  return absl::OkStatus();
}

// What a decision must satisfy at `gate` of the service under review (ValidateCommand has checked
// the rest).
absl::Status ValidateDecision(const Work& work, const RecordDecision& cmd, const v1::Gate& gate,
                              const Context& context) {
  const v1::Service& s = work.snapshot.service;
  if (cmd.gate != gate.id()) {
    return absl::FailedPreconditionError(absl::StrCat("gate: service '", s.id(), "' has gate ",
                                                      gate.id(), " under review, not ", cmd.gate));
  }
  if (std::find(gate.panels().begin(), gate.panels().end(), cmd.panel) == gate.panels().end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("panel: '", cmd.panel, "' does not decide at gate ", gate.id(),
                     " (required: ", absl::StrJoin(gate.panels(), ", "), ")"));
  }
  VARAV_RETURN_IF_ERROR(NotOwnAgency(context.actor, s, "decide on it"));
  if (std::find(gate.outcomes().begin(), gate.outcomes().end(), cmd.outcome) ==
      gate.outcomes().end()) {
    return absl::InvalidArgumentError(absl::StrCat("outcome: '", OutcomeWord(cmd.outcome),
                                                   "' is not allowed at gate ", gate.id()));
  }
  if (cmd.outcome == v1::GATE_OUTCOME_RECYCLE) {
    const v1::Stage* target = work.pack->FindStage(cmd.recycle_to_stage);
    const v1::Stage* current = work.pack->FindStage(s.stage());
    if (target == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("recycle_to_stage: pack ", work.pack->key(),
                                                     " has no stage '", cmd.recycle_to_stage, "'"));
    }
    if (current != nullptr && target->order() > current->order()) {
      return absl::InvalidArgumentError(absl::StrCat("recycle_to_stage: '", target->id(),
                                                     "' is not at or before the current stage '",
                                                     current->id(), "'"));
    }
  }
  cel::Compiler compiler(work.pack->env());
  for (size_t i = 0; i < cmd.conditions.size(); ++i) {
    const v1::Condition& c = cmd.conditions[i];
    if (c.check_expr().empty()) continue;
    cel::CompileResult compiled = compiler.Compile(c.check_expr());
    if (!compiled.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("conditions[", i, "].check_expr: ", compiled.FormattedIssues()));
    }
    if (compiled.program->result_type().kind() != cel::Type::Kind::kBool &&
        compiled.program->result_type().kind() != cel::Type::Kind::kDyn) {
      return absl::InvalidArgumentError(
          absl::StrCat("conditions[", i, "].check_expr: must be a bool expression, not ",
                       compiled.program->result_type().DebugString()));
    }
  }
  return absl::OkStatus();
}

absl::Status DoRecordDecision(Work& work, const RecordDecision& cmd, const Context& context) {
  v1::Service& s = work.snapshot.service;
  if (s.status() != v1::SERVICE_STATUS_IN_REVIEW) {
    return absl::FailedPreconditionError(absl::StrCat("RecordDecision: service '", s.id(), "' is ",
                                                      StatusWord(s.status()), ", not in review"));
  }
  const v1::Gate* gate = work.pack->FindGate(s.gate_under_review());
  if (gate == nullptr) {
    return absl::InternalError(absl::StrCat("gate under review '", s.gate_under_review(),
                                            "' is not in pack ", work.pack->key()));
  }
  VARAV_RETURN_IF_ERROR(ValidateDecision(work, cmd, *gate, context));

  // A panel's new decision supersedes its earlier one in this review.
  std::vector<v1::Decision>& decisions = work.snapshot.gate_decisions;
  for (v1::Decision& d : decisions) {
    if (OfCurrentReview(s, d) && d.panel() == cmd.panel && !d.superseded()) {
      d.set_superseded(true);
      work.transition.decisions.push_back(d);
    }
  }
  v1::Decision decision;
  decision.set_service_id(s.id());
  decision.set_gate(gate->id());
  decision.set_cycle(s.cycle());
  decision.set_number(s.decision_count() + 1);
  s.set_decision_count(s.decision_count() + 1);
  decision.set_panel(cmd.panel);
  decision.set_outcome(cmd.outcome);
  decision.set_recycle_to_stage(cmd.recycle_to_stage);
  decision.set_rationale(cmd.rationale);
  for (size_t i = 0; i < cmd.conditions.size(); ++i) {
    v1::Condition c = cmd.conditions[i];
    c.set_id(
        absl::StrCat(s.id(), "/", gate->id(), "/", s.cycle(), "/", decision.number(), "/", i + 1));
    c.set_gate(gate->id());
    c.set_cycle(s.cycle());
    c.set_panel(cmd.panel);
    c.set_status(v1::CONDITION_STATUS_OPEN);
    *decision.add_conditions() = std::move(c);
  }
  decision.set_decided_by(context.actor.principal);
  *decision.mutable_decided_at() = ToProto(context.now);
  decision.set_evaluation_id(s.latest_evaluation().evaluation_id());
  decision.set_request_id(context.request_id);
  decision.set_review(s.review());
  decisions.push_back(decision);
  work.transition.decisions.push_back(decision);

  std::vector<std::string> awaiting = AwaitingPanels(*work.pack, work.snapshot);
  s.clear_awaiting_panels();
  for (const std::string& p : awaiting) s.add_awaiting_panels(p);

  auto panel_decision = [&](const v1::Decision& d) {
    v1::PanelDecision pd;
    pd.set_panel(d.panel());
    pd.set_outcome(d.outcome());
    pd.set_rationale(d.rationale());
    pd.set_recycle_to_stage(d.recycle_to_stage());
    *pd.mutable_conditions() = d.conditions();
    pd.set_decided_by(d.decided_by());
    *pd.mutable_decided_at() = d.decided_at();
    pd.set_number(d.number());
    pd.set_review(d.review());
    return pd;
  };

  EventFactory events(context, work.transition);
  v1::DecisionRecorded* recorded = events.Add().mutable_decision_recorded();
  recorded->set_agency(s.agency());
  recorded->set_gate(gate->id());
  recorded->set_cycle(s.cycle());
  *recorded->mutable_decision() = panel_decision(decision);
  for (const std::string& p : awaiting) recorded->add_awaiting_panels(p);
  recorded->set_evaluation_id(s.latest_evaluation().evaluation_id());
  recorded->set_review(s.review());
  if (!awaiting.empty()) return absl::OkStatus();

  // Every required panel has decided: the gate's outcome applies.
  bool any_stop = false, any_hold = false, any_conditions = false;
  const v1::Stage* recycle_to = nullptr;
  v1::GateResult result;
  result.set_service_name(s.name());
  result.set_agency(s.agency());
  result.set_gate(gate->id());
  result.set_cycle(s.cycle());
  *result.mutable_pack() = PackRefOf(*work.pack);
  result.set_evaluation_id(s.latest_evaluation().evaluation_id());
  result.set_ready(s.latest_evaluation().ready());
  result.set_should_score(s.latest_evaluation().should_score());
  result.set_from_stage(s.stage());
  result.set_review(s.review());
  std::vector<const v1::Decision*> live;
  for (const v1::Decision& d : decisions) {
    if (d.superseded() || !OfCurrentReview(s, d)) continue;
    live.push_back(&d);
  }
  std::sort(live.begin(), live.end(),
            [](const v1::Decision* a, const v1::Decision* b) { return a->panel() < b->panel(); });
  for (const v1::Decision* d : live) {
    *result.add_panel_decisions() = panel_decision(*d);
    switch (d->outcome()) {
      case v1::GATE_OUTCOME_STOP:
        any_stop = true;
        break;
      case v1::GATE_OUTCOME_HOLD:
        any_hold = true;
        break;
      case v1::GATE_OUTCOME_RECYCLE: {
        const v1::Stage* target = work.pack->FindStage(d->recycle_to_stage());
        if (target != nullptr && (recycle_to == nullptr || target->order() < recycle_to->order())) {
          recycle_to = target;
        }
        break;
      }
      case v1::GATE_OUTCOME_GO_WITH_CONDITIONS:
        any_conditions = true;
        for (const v1::Condition& c : d->conditions()) *result.add_conditions() = c;
        break;
      default:
        break;
    }
  }
  if (work.snapshot.latest_evaluation) {
    for (v1::EvidenceRef& ref : EvidenceOf(work.snapshot, *work.snapshot.latest_evaluation)) {
      *result.add_evidence() = std::move(ref);
    }
  }

  s.set_gate_under_review("");
  s.clear_awaiting_panels();
  work.transition.applied_outcome = any_stop                ? v1::GATE_OUTCOME_STOP
                                    : recycle_to != nullptr ? v1::GATE_OUTCOME_RECYCLE
                                    : any_hold              ? v1::GATE_OUTCOME_HOLD
                                    : any_conditions        ? v1::GATE_OUTCOME_GO_WITH_CONDITIONS
                                                            : v1::GATE_OUTCOME_GO;
  if (any_stop) {
    const bool retire = gate->new_cycle();
    result.set_outcome(v1::GATE_OUTCOME_STOP);
    result.set_to_stage(s.stage());
    result.set_to_cycle(s.cycle());
    s.set_status(retire ? v1::SERVICE_STATUS_RETIRED : v1::SERVICE_STATUS_STOPPED);
    s.set_status_reason(absl::StrCat("stopped at gate ", gate->id()));
    if (retire) {
      v1::Retired* e = events.Add().mutable_retired();
      e->set_agency(s.agency());
      *e->mutable_result() = std::move(result);
      e->set_reason(cmd.rationale);
      e->set_retired_by(context.actor.principal);
    } else {
      v1::Stopped* e = events.Add().mutable_stopped();
      *e->mutable_result() = std::move(result);
      e->set_reason(cmd.rationale);
      e->set_stopped_by(context.actor.principal);
    }
    return absl::OkStatus();
  }
  if (recycle_to != nullptr) {
    result.set_outcome(v1::GATE_OUTCOME_RECYCLE);
    result.set_to_stage(recycle_to->id());
    result.set_to_cycle(s.cycle());
    s.set_status(v1::SERVICE_STATUS_ACTIVE);
    s.set_status_reason("");
    EnterStage(s, recycle_to->id(), s.cycle(), context.now);
    *events.Add().mutable_recycled()->mutable_result() = std::move(result);
    return Reevaluate(work, context, absl::StrCat("recycled at gate ", gate->id()));
  }
  if (any_hold) {
    result.set_outcome(v1::GATE_OUTCOME_HOLD);
    result.set_to_stage(s.stage());
    result.set_to_cycle(s.cycle());
    s.set_status(v1::SERVICE_STATUS_ON_HOLD);
    s.set_status_reason(absl::StrCat("held at gate ", gate->id()));
    v1::Held* e = events.Add().mutable_held();
    *e->mutable_result() = std::move(result);
    e->set_reason(cmd.rationale);
    e->set_held_by(context.actor.principal);
    return absl::OkStatus();
  }
  const uint32_t cycle = gate->new_cycle() ? s.cycle() + 1 : s.cycle();
  result.set_outcome(any_conditions ? v1::GATE_OUTCOME_GO_WITH_CONDITIONS : v1::GATE_OUTCOME_GO);
  result.set_to_stage(gate->go_to());
  result.set_to_cycle(cycle);
  for (const v1::Condition& c : result.conditions()) *s.add_open_conditions() = c;
  s.set_status(v1::SERVICE_STATUS_ACTIVE);
  s.set_status_reason("");
  EnterStage(s, gate->go_to(), cycle, context.now);
  if (any_conditions) {
    *events.Add().mutable_gate_approved_with_conditions()->mutable_result() = std::move(result);
  } else {
    *events.Add().mutable_gate_approved()->mutable_result() = std::move(result);
  }
  return Reevaluate(work, context, absl::StrCat("gate ", gate->id(), " approved"));
}

absl::Status DoResume(Work& work, const ResumeFromHold& cmd, const Context& context) {
  v1::Service& s = work.snapshot.service;
  if (s.status() != v1::SERVICE_STATUS_ON_HOLD) {
    return absl::FailedPreconditionError(absl::StrCat("ResumeFromHold: service '", s.id(), "' is ",
                                                      StatusWord(s.status()), ", not on hold"));
  }
  // A hold is a panel's decision: only a panel of the holding gate, or an administrator, lifts it.
  const Actor& actor = context.actor;
  if (!actor.admin) {
    const v1::Gate* gate = GateForStage(*work.pack, s.stage());
    const bool sits =
        gate != nullptr &&
        std::any_of(actor.panels.begin(), actor.panels.end(), [&](const std::string& p) {
          return std::find(gate->panels().begin(), gate->panels().end(), p) != gate->panels().end();
        });
    if (!sits) {
      return absl::PermissionDeniedError(absl::StrCat(
          "principal '", actor.principal, "' sits on no panel of gate ", gate ? gate->id() : "?",
          ", which holds service '", s.id(), "' (an admin or a member of its panels resumes it)"));
    }
    VARAV_RETURN_IF_ERROR(NotOwnAgency(actor, s, "resume it"));
  }
  s.set_status(v1::SERVICE_STATUS_ACTIVE);
  s.set_status_reason("");
  EventFactory events(context, work.transition);
  v1::Resumed* e = events.Add().mutable_resumed();
  e->set_agency(s.agency());
  e->set_stage(s.stage());
  e->set_cycle(s.cycle());
  e->set_status(v1::SERVICE_STATUS_ACTIVE);
  e->set_reason(cmd.reason);
  e->set_resumed_by(context.actor.principal);
  return absl::OkStatus();
}

absl::Status DoMigratePack(Work& work, const MigratePack&, const Context& context) {
  v1::Service& s = work.snapshot.service;
  VARAV_RETURN_IF_ERROR(RequireOpen(s, "MigratePack"));
  const model::CompiledPack* target = context.target_pack;
  if (target == nullptr)
    return absl::InvalidArgumentError("pack: the pack to migrate to is required");
  if (target->id() != s.pack_id()) {
    return absl::InvalidArgumentError(absl::StrCat("pack: service '", s.id(), "' follows pack '",
                                                   s.pack_id(), "'; it cannot migrate to '",
                                                   target->id(), "'"));
  }
  if (target->version() == s.pack_version()) {
    return absl::FailedPreconditionError(
        absl::StrCat("MigratePack: service '", s.id(), "' is already on ", target->key()));
  }
  if (s.status() == v1::SERVICE_STATUS_IN_REVIEW) {
    return absl::FailedPreconditionError(
        absl::StrCat("MigratePack: gate ", s.gate_under_review(),
                     " is under review against the current pack; decide or hold it first"));
  }
  if (target->FindStage(s.stage()) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("MigratePack: ", target->key(), " has no stage '", s.stage(), "'"));
  }
  v1::PackMigrated* e = EventFactory(context, work.transition).Add().mutable_pack_migrated();
  e->set_agency(s.agency());
  *e->mutable_from_pack() = PackRefOf(*work.pack);
  *e->mutable_to_pack() = PackRefOf(*target);
  e->set_stage(s.stage());
  e->set_migrated_by(context.actor.principal);
  s.set_pack_version(target->version());
  s.set_pack_digest(target->digest());
  work.pack = target;
  return Reevaluate(work, context, absl::StrCat("migrated to ", target->key()));
}

}  // namespace

namespace {

absl::Status Validate(const RegisterService& cmd, absl::Time) {
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", cmd.service_id));
  if (cmd.name.empty()) return absl::InvalidArgumentError("name: required");
  VARAV_RETURN_IF_ERROR(ValidateServiceId("agency", cmd.agency));
  if (cmd.owner.empty()) return absl::InvalidArgumentError("owner: required");
  return absl::OkStatus();
}

absl::Status Validate(const SubmitOutput& cmd, absl::Time) {
  if (cmd.output_type.empty()) return absl::InvalidArgumentError("output_type: required");
  const v1::DocumentRef& doc = cmd.document;
  if (doc.system().empty()) return absl::InvalidArgumentError("document.system: required");
  if (doc.id().empty()) return absl::InvalidArgumentError("document.id: required");
  if (doc.sha256().size() != 64 || !IsLowerHex(doc.sha256())) {
    return absl::InvalidArgumentError(
        "document.sha256: must be the document's SHA-256 as 64 lower-case hex digits");
  }
  return absl::OkStatus();
}

absl::Status Validate(const RecordAssessment& cmd, absl::Time) {
  if (cmd.principle.empty()) return absl::InvalidArgumentError("principle: required");
  if (cmd.answers.empty()) return absl::InvalidArgumentError("answers: at least one is required");
  for (size_t i = 0; i < cmd.answers.size(); ++i) {
    switch (cmd.answers[i].answer()) {
      case v1::ANSWER_VALUE_YES:
      case v1::ANSWER_VALUE_PARTLY:
      case v1::ANSWER_VALUE_NO:
      case v1::ANSWER_VALUE_NOT_APPLICABLE:
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("answers[", i, "].answer: must be yes, partly, no or not applicable"));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const RecordDecision& cmd, absl::Time now) {
  if (cmd.gate.empty()) return absl::InvalidArgumentError("gate: required");
  if (cmd.panel.empty()) return absl::InvalidArgumentError("panel: required");
  if (cmd.outcome == v1::GATE_OUTCOME_UNSPECIFIED) {
    return absl::InvalidArgumentError("outcome: required");
  }
  if (!v1::GateOutcome_IsValid(cmd.outcome)) {
    return absl::InvalidArgumentError(
        absl::StrCat("outcome: ", cmd.outcome, " is not a gate outcome"));
  }
  if (cmd.rationale.empty()) return absl::InvalidArgumentError("rationale: required");
  if (cmd.outcome == v1::GATE_OUTCOME_RECYCLE) {
    if (cmd.recycle_to_stage.empty()) {
      return absl::InvalidArgumentError("recycle_to_stage: required for a recycle");
    }
  } else if (!cmd.recycle_to_stage.empty()) {
    return absl::InvalidArgumentError("recycle_to_stage: only a recycle names a stage");
  }
  if (cmd.outcome == v1::GATE_OUTCOME_GO_WITH_CONDITIONS) {
    if (cmd.conditions.empty()) {
      return absl::InvalidArgumentError("conditions: go with conditions needs at least one");
    }
  } else if (!cmd.conditions.empty()) {
    return absl::InvalidArgumentError("conditions: only go with conditions carries conditions");
  }
  for (size_t i = 0; i < cmd.conditions.size(); ++i) {
    const v1::Condition& c = cmd.conditions[i];
    if (c.text().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("conditions[", i, "].text: required"));
    }
    if (!c.has_due()) {
      return absl::InvalidArgumentError(absl::StrCat("conditions[", i, "].due: required"));
    }
    if (absl::FromUnixSeconds(c.due().seconds()) + absl::Nanoseconds(c.due().nanos()) <= now) {
      return absl::InvalidArgumentError(
          absl::StrCat("conditions[", i, "].due: must lie in the future"));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const ResumeFromHold& cmd, absl::Time) {
  if (cmd.reason.empty()) return absl::InvalidArgumentError("reason: required");
  return absl::OkStatus();
}

absl::Status Validate(const AdvanceStage&, absl::Time) { return absl::OkStatus(); }
absl::Status Validate(const RequestGateReview&, absl::Time) { return absl::OkStatus(); }
absl::Status Validate(const MigratePack&, absl::Time) { return absl::OkStatus(); }

}  // namespace

absl::Status ValidateServiceId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  const bool ok =
      id.size() <= 63 && absl::ascii_isalnum(id.front()) &&
      std::all_of(id.begin(), id.end(), [](char c) {
        return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' || c == '.';
      });
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": '", absl::CEscape(id.substr(0, 80)),
                     "' is not a valid id (1-63 characters: a-z, 0-9, '-', '_', '.', starting "
                     "with a letter or digit)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCommand(const Command& command, absl::Time now) {
  return std::visit([now](const auto& cmd) { return Validate(cmd, now); }, command);
}

absl::string_view CommandName(const Command& command) {
  static constexpr absl::string_view kNames[] = {
      "RegisterService",   "SubmitOutput",   "RecordAssessment", "AdvanceStage",
      "RequestGateReview", "RecordDecision", "ResumeFromHold",   "MigratePack"};
  return kNames[command.index()];
}

std::string EvaluationId(absl::string_view service_id, uint32_t cycle, absl::string_view gate,
                         uint64_t event_sequence) {
  return absl::StrCat(service_id, "/", cycle, "/", gate, "/", event_sequence);
}

const v1::Gate* GateForStage(const model::CompiledPack& pack, absl::string_view stage) {
  const v1::Stage* s = pack.FindStage(stage);
  if (s == nullptr) return nullptr;
  for (const v1::Gate& gate : pack.proto().gates()) {
    const v1::Stage* after = pack.FindStage(gate.after_stage());
    if (after != nullptr && after->diamond() == s->diamond()) return &gate;
  }
  return nullptr;
}

model::GateSubject SubjectOf(const ServiceSnapshot& snapshot, absl::Time now,
                             const std::vector<v1::OutputRevision>& extra_outputs) {
  model::GateSubject subject;
  subject.service = ServiceInput(snapshot.service);
  // By output type; a type given twice among the extras counts with its last revision.
  absl::flat_hash_map<std::string, std::shared_ptr<const v1::OutputRevision>> outputs =
      snapshot.latest_outputs;
  for (const v1::OutputRevision& extra : extra_outputs) {
    outputs[extra.output_type()] = std::make_shared<const v1::OutputRevision>(extra);
  }
  subject.outputs.reserve(outputs.size());
  for (auto& [type, revision] : outputs) subject.outputs.push_back(std::move(revision));
  std::sort(subject.outputs.begin(), subject.outputs.end(),
            [](const std::shared_ptr<const v1::OutputRevision>& a,
               const std::shared_ptr<const v1::OutputRevision>& b) {
              return a->output_type() < b->output_type();
            });
  subject.assessments.reserve(snapshot.assessments.size());
  for (const auto& [principle, assessment] : snapshot.assessments) {
    subject.assessments.push_back(assessment);
  }
  std::sort(subject.assessments.begin(), subject.assessments.end(),
            [](const std::shared_ptr<const v1::Assessment>& a,
               const std::shared_ptr<const v1::Assessment>& b) {
              return a->principle() < b->principle();
            });
  for (const v1::Condition& c : snapshot.service.open_conditions()) {
    if (c.status() == v1::CONDITION_STATUS_OPEN) subject.conditions.push_back(c);
  }
  subject.now = ToProto(now);
  return subject;
}

absl::StatusOr<v1::GateEvaluation> CheckGate(const ServiceSnapshot& snapshot,
                                             const model::CompiledPack& pack,
                                             absl::string_view gate_id, absl::Time now,
                                             const std::vector<v1::OutputRevision>& extra_outputs,
                                             const cel::Interrupt* interrupt) {
  std::string gate(gate_id);
  if (gate.empty()) {
    const v1::Gate* current = GateForStage(pack, snapshot.service.stage());
    if (current == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("no gate closes stage '", snapshot.service.stage(), "'"));
    }
    gate = current->id();
  } else if (pack.FindGate(gate) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("gate: pack ", pack.key(), " has no gate '", gate, "'"));
  }
  for (size_t i = 0; i < extra_outputs.size(); ++i) {
    const v1::OutputRevision& o = extra_outputs[i];
    const v1::OutputType* type = pack.FindOutput(o.output_type());
    if (type == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("outputs[", i, "].output_type: pack ",
                                                     pack.key(), " declares no output type '",
                                                     o.output_type(), "'"));
    }
    std::vector<std::string> problems = model::CheckOutputFields(type->fields(), o.fields());
    if (!problems.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("outputs[", i, "].fields.", absl::StrJoin(problems, "; ")));
    }
  }
  v1::GateEvaluation evaluation;
  VARAV_RETURN_IF_ERROR(model::EvaluateGate(pack, gate, SubjectOf(snapshot, now, extra_outputs),
                                            &evaluation, {.interrupt = interrupt}));
  return evaluation;
}

std::vector<std::string> AwaitingPanels(const model::CompiledPack& pack,
                                        const ServiceSnapshot& snapshot) {
  std::vector<std::string> awaiting;
  const v1::Gate* gate = pack.FindGate(snapshot.service.gate_under_review());
  if (gate == nullptr) return awaiting;
  for (const std::string& panel : gate->panels()) {
    const bool decided = std::any_of(
        snapshot.gate_decisions.begin(), snapshot.gate_decisions.end(), [&](const v1::Decision& d) {
          return d.panel() == panel && !d.superseded() && OfCurrentReview(snapshot.service, d);
        });
    if (!decided) awaiting.push_back(panel);
  }
  return awaiting;
}

std::vector<v1::Decision> LatestReviewDecisions(const v1::Service& service, absl::string_view gate,
                                                std::vector<v1::Decision> decisions) {
  uint32_t review = 0;
  if (service.gate_under_review() == gate) {
    review = service.review();
  } else {
    for (const v1::Decision& d : decisions) {
      if (d.gate() == gate && d.cycle() == service.cycle()) review = std::max(review, d.review());
    }
  }
  std::erase_if(decisions, [&](const v1::Decision& d) {
    return d.gate() != gate || d.cycle() != service.cycle() || d.review() != review;
  });
  std::sort(decisions.begin(), decisions.end(),
            [](const v1::Decision& a, const v1::Decision& b) { return a.number() < b.number(); });
  return decisions;
}

absl::StatusOr<Transition> Apply(ServiceSnapshot snapshot, const Command& command,
                                 const Context& context) {
  if (context.pack == nullptr) return absl::InvalidArgumentError("no rule pack given");
  VARAV_RETURN_IF_ERROR(ValidateCommand(command, context.now));
  const bool registering = std::holds_alternative<RegisterService>(command);
  if (!registering && snapshot.service.id().empty()) {
    return absl::NotFoundError("service is not registered");
  }
  if (!registering && context.pack->key() != absl::StrCat(snapshot.service.pack_id(), "@",
                                                          snapshot.service.pack_version())) {
    return absl::InternalError(absl::StrCat(
        "service '", snapshot.service.id(), "' is pinned to ", snapshot.service.pack_id(), "@",
        snapshot.service.pack_version(), ", not ", context.pack->key()));
  }
  // The command's events follow the last one stored (the store numbers them the same way).
  const uint64_t first = snapshot.service.last_event_sequence() + 1;
  model::BoundRecords own;
  Work work{.snapshot = std::move(snapshot),
            .transition = {},
            .pack = context.pack,
            .bound = context.bound != nullptr ? context.bound : &own};
  absl::Status status = std::visit(
      [&](const auto& cmd) -> absl::Status {
        using T = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<T, RegisterService>) return DoRegister(work, cmd, context);
        if constexpr (std::is_same_v<T, SubmitOutput>) return DoSubmitOutput(work, cmd, context);
        if constexpr (std::is_same_v<T, RecordAssessment>) {
          return DoRecordAssessment(work, cmd, context);
        }
        if constexpr (std::is_same_v<T, AdvanceStage>) return DoAdvanceStage(work, cmd, context);
        if constexpr (std::is_same_v<T, RequestGateReview>) {
          return DoRequestGateReview(work, cmd, context);
        }
        if constexpr (std::is_same_v<T, RecordDecision>) {
          return DoRecordDecision(work, cmd, context);
        }
        if constexpr (std::is_same_v<T, ResumeFromHold>) return DoResume(work, cmd, context);
        if constexpr (std::is_same_v<T, MigratePack>) return DoMigratePack(work, cmd, context);
      },
      command);
  if (!status.ok()) return status;
  *work.snapshot.service.mutable_update_time() = ToProto(context.now);
  // The CloudEvents attributes; the store numbers the events in the same order from the same
  // service sequence (it refuses a commit whose etag, and so whose sequence, is stale).
  const std::string& id = work.snapshot.service.id();
  for (size_t i = 0; i < work.transition.events.size(); ++i) {
    v1::Event& e = work.transition.events[i];
    e.set_id(absl::StrCat(id, "/", first + i));
    e.set_source(context.event_source);
    e.set_spec_version("1.0");
    e.set_type(std::string(EventTypeFor(e.data_case())));
    e.set_subject(id);
    e.set_data_content_type("application/protobuf");
  }
  work.transition.service = std::move(work.snapshot.service);
  return std::move(work.transition);
}

}  // namespace varav::lifecycle
