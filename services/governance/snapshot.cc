#include "services/governance/snapshot.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace varav::governance {

absl::StatusOr<lifecycle::ServiceSnapshot> ToSnapshot(store::ServiceState state) {
  lifecycle::ServiceSnapshot snapshot;
  snapshot.service = std::move(state.service);
  snapshot.latest_outputs.reserve(state.latest_outputs.size());
  for (v1::OutputRevision& o : state.latest_outputs) {
    std::string type = o.output_type();
    snapshot.latest_outputs.emplace(std::move(type),
                                    std::make_shared<const v1::OutputRevision>(std::move(o)));
  }
  snapshot.assessments.reserve(state.assessments.size());
  for (v1::Assessment& a : state.assessments) {
    std::string principle = a.principle();
    snapshot.assessments.emplace(std::move(principle),
                                 std::make_shared<const v1::Assessment>(std::move(a)));
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

lifecycle::ServiceSnapshot AfterCommit(lifecycle::ServiceSnapshot snapshot,
                                       const lifecycle::Transition& transition,
                                       v1::Service stored) {
  for (const std::shared_ptr<const v1::OutputRevision>& o : transition.outputs) {
    snapshot.latest_outputs[o->output_type()] = o;
  }
  for (const std::shared_ptr<const v1::Assessment>& a : transition.assessments) {
    snapshot.assessments[a->principle()] = a;
  }
  snapshot.service = std::move(stored);
  snapshot.gate_decisions.clear();
  snapshot.latest_evaluation.reset();
  return snapshot;
}

}  // namespace varav::governance
