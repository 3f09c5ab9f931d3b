// The lifecycle state machine of one public service: a pure function from (service snapshot,
// command, compiled pack, clock) to a transition (new state, records and events) or a precise
// error.
//
// This is the functional core of Värav, and the one place where the standard's rules live. It
// does no I/O and reads no clock: the shell (services/governance) loads a `ServiceSnapshot`, calls
// `Apply`, and commits the resulting `Transition` in one atomic write. Because it is pure, every
// transition and every refusal is unit-tested without a database.
//
//   absl::StatusOr<Transition> t = Apply(snapshot, SubmitOutput{...}, Context{.pack = pack.get(),
//                                        .now = absl::Now(), .actor = {.principal = "ria:mari"}});
//
// Lifecycle rules (Service Standard 2.0, as encoded in the pinned pack):
// - A service is registered at any stage ("position your service on the lifecycle canvas").
// - AdvanceStage moves to the next stage inside the same diamond only; a gate is crossed only by
//   its outcome.
// - Every command that changes outputs, assessments, stage or pack re-evaluates the current gate
//   (the gate that closes the current stage's diamond) and records the evaluation; the first
//   evaluation in which every enforced must rule passes emits `gate_ready`.
// - RequestGateReview requires the service to be at the gate's stage and every enforced must rule
//   to pass; the service is then in review (a new, numbered review: `Service.review`) and the
//   gate's panels are awaited. Every review starts with no decisions.
// - RecordDecision: one panel's decision in the current review; a panel may supersede its own
//   decision until the outcome applies; the outcome applies once every required panel has decided
//   in this review: any stop -> stopped (at a
//   gate with new_cycle, i.e. gate E: retired); else any recycle -> the earliest stage asked; else
//   any hold -> on hold; else go -> the gate's go_to stage (gate E: a new cycle at envision).
//   Conditions stay open and are visible to later gates' rules.
// - A hold pauses the service: until ResumeFromHold it accepts no outputs, assessments, stage
//   moves or reviews (MigratePack, an administrative re-pin, stays possible).
// - While in review, the review rests on the evaluation that admitted it; when an output that one
//   of its passed rules read gets a new revision, that evaluation is marked stale.
//
// Error codes: InvalidArgument (malformed command; the message names the field), NotFound
// (unknown output type, principle, stage), FailedPrecondition (illegal in the current state; for a
// refused review it lists the failing rules), PermissionDenied (segregation of duties: a decider
// from the service's own agency), AlreadyExists (registering an existing service).
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/cel/cel.h"
#include "engine/cel/value.h"
#include "engine/model/activation.h"
#include "engine/model/bound_records.h"
#include "engine/model/pack.h"
#include "google/protobuf/struct.pb.h"
#include "varav/v1/evaluation.pb.h"
#include "varav/v1/resources.pb.h"

namespace varav::lifecycle {

// Who issues a command. Whether the actor's roles allow the call at all is the API layer's
// question; the engine decides what the standard itself demands of the actor: segregation of
// duties at decisions and holds, and that only a panel of the holding gate (or an administrator)
// lifts a hold.
struct Actor {
  // The authenticated principal, recorded on every event.
  std::string principal;
  // The principal's agency, empty when it belongs to none.
  std::string agency;
  // True for an administrator.
  bool admin = false;
  // The panels the principal sits on.
  std::vector<std::string> panels;
};

// Everything the engine reads about one service; the shell loads it from the store. Records are
// shared and immutable: a snapshot is cheap to copy, and a shell may keep one across commands.
struct ServiceSnapshot {
  // The stored state; `id` empty when the service does not exist yet.
  v1::Service service;
  // The latest revision of every submitted output, keyed by its output type. Never null.
  absl::flat_hash_map<std::string, std::shared_ptr<const v1::OutputRevision>> latest_outputs;
  // The stored assessment of every assessed principle, keyed by its principle. Never null.
  absl::flat_hash_map<std::string, std::shared_ptr<const v1::Assessment>> assessments;
  // Decisions at `service.gate_under_review` in `service.cycle` (superseded ones included). Those
  // of earlier reviews of the same gate may be among them; only the current review's count.
  std::vector<v1::Decision> gate_decisions;
  // The evaluation `service.latest_evaluation` summarises, when one exists. Read only while the
  // service is in review (the review rests on it), so a shell may leave it unset otherwise.
  std::optional<v1::GateEvaluation> latest_evaluation;
};

// --- Commands ---

struct RegisterService {
  std::string service_id;
  std::string name;
  std::string agency;
  std::string owner;
  std::string description;
  // The stage it enters at; empty means the pack's first stage.
  std::string stage;
};

struct SubmitOutput {
  std::string output_type;
  v1::DocumentRef document;
  google::protobuf::Struct fields;
};

struct RecordAssessment {
  std::string principle;
  std::vector<v1::AssessmentAnswer> answers;
};

struct AdvanceStage {
  // The stage to move to; must be the next stage of the same diamond. Empty means "the next".
  std::string to_stage;
};

struct RequestGateReview {};

struct RecordDecision {
  // The gate decided at; must be the gate under review.
  std::string gate;
  std::string panel;
  v1::GateOutcome outcome = v1::GATE_OUTCOME_UNSPECIFIED;
  // For recycle: the stage to return to (at or before the current stage).
  std::string recycle_to_stage;
  std::string rationale;
  // For go with conditions: at least one, each with text and due date (check_expr optional).
  std::vector<v1::Condition> conditions;
};

struct ResumeFromHold {
  std::string reason;
};

// Re-pins the service to `Context::target_pack`: same pack id, a different version.
struct MigratePack {};

using Command = std::variant<RegisterService, SubmitOutput, RecordAssessment, AdvanceStage,
                             RequestGateReview, RecordDecision, ResumeFromHold, MigratePack>;

// The command's name as the API spells it ("SubmitOutput", ...), for logs and errors.
absl::string_view CommandName(const Command& command);

struct Context {
  // The pack the service is pinned to (for RegisterService: the pack to pin). Required.
  const model::CompiledPack* pack = nullptr;
  // MigratePack only: the pack to re-pin to.
  const model::CompiledPack* target_pack = nullptr;
  // The injected clock.
  absl::Time now;
  Actor actor;
  // The request id of the call, recorded on events.
  std::string request_id;
  // Optional: stops the command's gate evaluation at the call's deadline or cancellation; the
  // command then fails with DeadlineExceeded or Cancelled and changes nothing.
  const cel::Interrupt* interrupt = nullptr;
  // Optional: the CEL values of the snapshot's records, provided and kept (model::BoundRecords),
  // for a shell that keeps the snapshot across commands. Results never depend on it.
  model::BoundRecords* bound = nullptr;
  // The CloudEvents `source` of the command's events.
  std::string event_source = "/varav";
};

// What a command changes; the shell commits all of it atomically.
struct Transition {
  v1::Service service;
  // New output revisions and assessments (immutable, ready to share with a kept snapshot).
  std::vector<std::shared_ptr<const v1::OutputRevision>> outputs;
  std::vector<std::shared_ptr<const v1::Assessment>> assessments;
  // New decisions and, for a superseded one, its rewritten record (superseded = true).
  std::vector<v1::Decision> decisions;
  // The gate evaluation made by this command, with its id (see EvaluationId). Immutable; it lives
  // on its own protobuf arena, freed at once when the last holder lets go.
  std::shared_ptr<const v1::GateEvaluation> evaluation;
  std::string evaluation_id;
  // Events in order, without sequences or hashes (the store assigns them).
  std::vector<v1::Event> events;
  // The summary of `evaluation` (unset when the command evaluated no gate), and whether that
  // evaluation found the gate ready where the previous one did not.
  v1::GateSummary summary;
  bool became_ready = false;
  // The combined outcome when the command completed a review (GATE_OUTCOME_UNSPECIFIED else).
  v1::GateOutcome applied_outcome = v1::GATE_OUTCOME_UNSPECIFIED;
};

// A service or agency id: 1..63 of a-z, 0-9, '-', '_', '.', starting with a letter or digit (ids
// appear in store keys, URLs and event subjects). InvalidArgument naming `field`.
absl::Status ValidateServiceId(absl::string_view field, absl::string_view id);

// The checks of `command` that need no state: required fields, well-formed values, due dates after
// `now`. Apply makes them first; a shell may make them before loading anything, to refuse early
// with the same message. InvalidArgument naming the field.
absl::Status ValidateCommand(const Command& command, absl::Time now);

// Applies `command` to the service `snapshot` describes. The snapshot is taken by value: a caller
// that needs it afterwards passes a copy, one that does not moves it in and saves the copy.
absl::StatusOr<Transition> Apply(ServiceSnapshot snapshot, const Command& command,
                                 const Context& context);

// --- Queries shared with the API layer ---

// The gate that closes the diamond of `stage`; nullptr for an unknown stage.
const v1::Gate* GateForStage(const model::CompiledPack& pack, absl::string_view stage);

// What a gate's rules see of `snapshot` at `now` (its records shared, not copied);
// `extra_outputs` (hypothetical outputs for a dry run) replace the latest revisions of their types.
model::GateSubject SubjectOf(const ServiceSnapshot& snapshot, absl::Time now,
                             const std::vector<v1::OutputRevision>& extra_outputs = {});

// Dry run: evaluates `gate_id` (the current gate when empty) without changing anything.
// DeadlineExceeded or Cancelled when `interrupt` stops it.
absl::StatusOr<v1::GateEvaluation> CheckGate(const ServiceSnapshot& snapshot,
                                             const model::CompiledPack& pack,
                                             absl::string_view gate_id, absl::Time now,
                                             const std::vector<v1::OutputRevision>& extra_outputs,
                                             const cel::Interrupt* interrupt = nullptr);

// Panels still to decide at the gate under review: required panels without a live (not
// superseded) decision in the current review.
std::vector<std::string> AwaitingPanels(const model::CompiledPack& pack,
                                        const ServiceSnapshot& snapshot);

// Of `decisions` (the service's decisions, any gate and cycle), those of the latest review of
// `gate` in the service's current cycle, by number: the review under way when `gate` is under
// review (none yet when it has just been requested), else the last review that has decisions.
std::vector<v1::Decision> LatestReviewDecisions(const v1::Service& service, absl::string_view gate,
                                                std::vector<v1::Decision> decisions);

// Deterministic, unique evaluation id: "<service id>/<cycle>/<gate>/<n>" where n is the service
// event sequence the evaluation's `gate_evaluated` event will get.
std::string EvaluationId(absl::string_view service_id, uint32_t cycle, absl::string_view gate,
                         uint64_t event_sequence);

}  // namespace varav::lifecycle
