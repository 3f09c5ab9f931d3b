#include "engine/lifecycle/event_types.h"

#include "google/protobuf/descriptor.h"

namespace varav::lifecycle {

absl::string_view EventTypeFor(v1::Event::DataCase data_case) {
  switch (data_case) {
    case v1::Event::kServiceRegistered:
      return "ee.varav.service.registered";
    case v1::Event::kOutputSubmitted:
      return "ee.varav.output.submitted";
    case v1::Event::kAssessmentRecorded:
      return "ee.varav.assessment.recorded";
    case v1::Event::kStageAdvanced:
      return "ee.varav.stage.advanced";
    case v1::Event::kGateEvaluated:
      return "ee.varav.gate.evaluated";
    case v1::Event::kGateReady:
      return "ee.varav.gate.ready";
    case v1::Event::kReviewRequested:
      return "ee.varav.review.requested";
    case v1::Event::kDecisionRecorded:
      return "ee.varav.decision.recorded";
    case v1::Event::kGateApproved:
      return "ee.varav.gate.approved";
    case v1::Event::kGateApprovedWithConditions:
      return "ee.varav.gate.approved_with_conditions";
    case v1::Event::kRecycled:
      return "ee.varav.service.recycled";
    case v1::Event::kHeld:
      return "ee.varav.service.held";
    case v1::Event::kResumed:
      return "ee.varav.service.resumed";
    case v1::Event::kStopped:
      return "ee.varav.service.stopped";
    case v1::Event::kRetired:
      return "ee.varav.service.retired";
    case v1::Event::kPackMigrated:
      return "ee.varav.service.pack_migrated";
    case v1::Event::DATA_NOT_SET:
      break;
  }
  return "";
}

const std::vector<absl::string_view>& EventTypes() {
  static const auto* types = [] {
    auto* out = new std::vector<absl::string_view>();
    const google::protobuf::OneofDescriptor* data =
        v1::Event::descriptor()->FindOneofByName("data");
    for (int i = 0; i < data->field_count(); ++i) {
      out->push_back(EventTypeFor(static_cast<v1::Event::DataCase>(data->field(i)->number())));
    }
    return out;
  }();
  return *types;
}

}  // namespace varav::lifecycle
