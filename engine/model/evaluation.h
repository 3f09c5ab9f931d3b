// Gate evaluation: runs every rule of one gate of a compiled pack against a GateSubject and records
// the result as a varav.v1.GateEvaluation (what the store persists).
//
//   v1::GateEvaluation e;
//   VARAV_RETURN_IF_ERROR(EvaluateGate(*pack, "A", subject, &e));
//   if (e.ready()) { ... }
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
#include "engine/model/bound_records.h"
#include "engine/model/pack.h"
#include "varav/v1/evaluation.pb.h"

namespace varav::model {

struct EvaluationOptions {
  // Optional: stops the evaluation at a deadline or cancellation (DeadlineExceeded or Cancelled
  // then, and the output is unspecified: an interrupted rule has no result to record).
  const cel::Interrupt* interrupt = nullptr;
  // Optional: the records' CEL values, provided and kept (bound_records.h).
  BoundRecords* bound = nullptr;
};

// Evaluates every rule of `gate_id` against `subject` into `*out` (cleared first; it may live on
// a protobuf arena). NotFound when the pack has no gate `gate_id`.
absl::Status EvaluateGate(const CompiledPack& pack, absl::string_view gate_id,
                          const GateSubject& subject, v1::GateEvaluation* out,
                          const EvaluationOptions& options = {});

}  // namespace varav::model
