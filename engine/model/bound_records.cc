#include "engine/model/bound_records.h"

#include <utility>

#include "engine/model/activation.h"

namespace varav::model {

const cel::Value& BoundRecords::Output(const v1::OutputType& type, absl::string_view pack_digest,
                                       const std::shared_ptr<const v1::OutputRevision>& revision) {
  OutputEntry& entry = outputs_[revision->output_type()];
  if (entry.record != revision || entry.pack_digest != pack_digest) {
    entry.record = revision;
    entry.pack_digest = std::string(pack_digest);
    entry.value = OutputValue(type, *revision);
  }
  return entry.value;
}

void BoundRecords::KeepOutput(absl::string_view pack_digest,
                              std::shared_ptr<const v1::OutputRevision> revision,
                              cel::Value value) {
  OutputEntry& entry = outputs_[revision->output_type()];
  entry.record = std::move(revision);
  entry.pack_digest = std::string(pack_digest);
  entry.value = std::move(value);
}

const cel::Value& BoundRecords::Assessment(
    const std::shared_ptr<const v1::Assessment>& assessment) {
  AssessmentEntry& entry = assessments_[assessment->principle()];
  if (entry.record != assessment) {
    entry.record = assessment;
    entry.value = AssessmentValue(*assessment);
  }
  return entry.value;
}

}  // namespace varav::model
