// The lifecycle state machine of one public service: a pure function from (service snapshot,
// command, compiled pack, clock) to a transition (new state, records and events) or a precise
// error.
//
// This is the functional core of Värav. It does no I/O and reads no clock: the shell (the gRPC
// handlers) loads a `ServiceSnapshot` from the store, calls `Apply`, and commits the resulting
// `Transition` in one atomic write. Because it is pure, every transition and every refusal is
// unit-tested without a database.
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
#include "engine/model/pack.h"
#include "google/protobuf/struct.pb.h"
#include "varav/v1/evaluation.pb.h"
#include "varav/v1/resources.pb.h"

namespace varav::lifecycle {

// Who issues a command. Authorisation (roles) is the API layer's; the engine enforces only what
// the standard itself demands (segregation of duties at decisions).
struct Actor {
  // The authenticated principal, recorded on every event.
  std::string principal;
  // The principal's agency, empty when it belongs to none.
  std::string agency;
};

// The latest revision of one output as the engine reads it: the stored record, immutable and
// shared, and its CEL binding (model::OutputValue), kept with it so that a snapshot held across
// commands (the shell's snapshot cache) converts each revision's fields once, not once per
// command.
struct LatestOutput {
  LatestOutput() = default;
  explicit LatestOutput(v1::OutputRevision revision)
      : record(std::make_shared<const v1::OutputRevision>(std::move(revision))) {}

  // Never null in a snapshot.
  std::shared_ptr<const v1::OutputRevision> record;
  // The binding of `record` under the pack whose digest is `bound_digest`; null until the engine
  // first evaluates a gate with it. Apply fills it in on the snapshot it works on.
  std::shared_ptr<const cel::Value> bound;
  std::string bound_digest;
};

// Everything the engine reads about one service; the shell loads it from the store.
struct ServiceSnapshot {
  // The stored state; `id` empty when the service does not exist yet.
  v1::Service service;
  // The latest revision of every submitted output, keyed by its output type.
  absl::flat_hash_map<std::string, LatestOutput> latest_outputs;
  // The stored assessment of every assessed principle, keyed by its principle.
  absl::flat_hash_map<std::string, v1::Assessment> assessments;
  // CEL bindings (model::AssessmentValue) of entries of `assessments`, by principle, kept so that
  // a snapshot held across commands binds each assessment once. Optional: a missing entry is
  // built when needed. Whoever replaces an assessment must drop its binding (Apply does).
  absl::flat_hash_map<std::string, std::shared_ptr<const cel::Value>> assessment_bindings;
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
  // When set, the fields submitted instead of `fields`, borrowed: they must stay alive and
  // unchanged until Apply returns. Lets the shell pass a request's fields without copying them.
  const google::protobuf::Struct* borrowed_fields = nullptr;

  // The fields submitted: `*borrowed_fields` when set, else `fields`.
  const google::protobuf::Struct& submitted_fields() const {
    return borrowed_fields != nullptr ? *borrowed_fields : fields;
  }
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
};

// What a command changes; the shell commits all of it atomically.
struct Transition {
  v1::Service service;
  // New output revisions; the same immutable records the snapshot's latest_outputs then hold.
  std::vector<std::shared_ptr<const v1::OutputRevision>> outputs;
  std::vector<v1::Assessment> assessments;
  // New decisions and, for a superseded one, its rewritten record (superseded = true).
  std::vector<v1::Decision> decisions;
  // The gate evaluation made by this command, with its id (see EvaluationId). Immutable; it lives
  // on its own protobuf arena, freed at once when the last holder lets go.
  std::shared_ptr<const v1::GateEvaluation> evaluation;
  std::string evaluation_id;
  // Events in order, without sequences or hashes (the store assigns them).
  std::vector<v1::Event> events;
};

absl::StatusOr<Transition> Apply(const ServiceSnapshot& snapshot, const Command& command,
                                 const Context& context);
// The same, working on `snapshot` in place instead of on a copy: for callers that do not need the
// snapshot afterwards (the shell's command path).
absl::StatusOr<Transition> Apply(ServiceSnapshot&& snapshot, const Command& command,
                                 const Context& context);
// The same, changing `snapshot` in place: on success its `latest_outputs` and `assessments` are
// those after the transition, as a fresh load from the store after the commit would give them,
// with the output bindings computed on the way kept; `service` is left empty (the shell takes
// the stored record, with its new etag, from the commit), and `gate_decisions` and
// `latest_evaluation` are not maintained (a shell that keeps the snapshot for later commands
// keeps it only while no gate is under review, when both are empty). On error `snapshot` is
// unspecified.
absl::StatusOr<Transition> ApplyInPlace(ServiceSnapshot& snapshot, const Command& command,
                                        const Context& context);

// --- Queries shared with the API layer ---

// The gate that closes the diamond of `stage`; nullptr for an unknown stage.
const v1::Gate* GateForStage(const model::CompiledPack& pack, absl::string_view stage);

// The input a gate's rules see for this snapshot at `now`; `extra_outputs` (hypothetical outputs
// for a dry run) replace the latest revisions of their types.
v1::GateInput BuildGateInput(const ServiceSnapshot& snapshot, absl::Time now,
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
