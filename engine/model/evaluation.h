// Gate evaluation: runs every rule of one gate of a compiled pack against a GateInput and records
// the result as a varav.v1.GateEvaluation (what the store persists).
//
//   absl::StatusOr<v1::GateEvaluation> e = EvaluateGate(*pack, "A", input);
//   if (e.ok() && e->ready()) { ... }
//
// Per rule: pass (true), fail (false) or error (an error value or a non-bool result, with the
// error's text). Failing and erring rules carry their message, static or computed by the rule's
// message_expr (a message expression that errs falls back to its error text). Each result lists
// the revisions of the outputs the rule reads (0 for an absent output), derived statically from the
// expression. `ready` is true when every must rule with enforcement ENFORCE passes; `should_score`
// is the weighted share of passing should rules whose enforcement is not AUDIT (1 when there are
// none). Evaluation is deterministic: equal inputs give equal results.
//
// Thread safety: a pure function of its arguments; the pack may be shared.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/activation.h"
#include "engine/model/pack.h"
#include "varav/v1/evaluation.pb.h"

namespace varav::model {

// NotFound when the pack has no gate `gate_id`.
absl::StatusOr<v1::GateEvaluation> EvaluateGate(const CompiledPack& pack, absl::string_view gate_id,
                                                const v1::GateInput& input);

// The same for a subject borrowed from stored records (see GateSubject in activation.h): equal
// results for the equivalent GateInput, without copying the outputs' fields.
absl::StatusOr<v1::GateEvaluation> EvaluateGate(const CompiledPack& pack, absl::string_view gate_id,
                                                const GateSubject& subject);
// The same, written into `*out` (cleared first), which may live on a protobuf arena. `interrupt`,
// when given, stops the evaluation at a deadline or cancellation: DeadlineExceeded or Cancelled
// then, and `*out` is unspecified (an interrupted rule has no result to record).
absl::Status EvaluateGate(const CompiledPack& pack, absl::string_view gate_id,
                          const GateSubject& subject, v1::GateEvaluation* out,
                          const cel::Interrupt* interrupt = nullptr);

}  // namespace varav::model
