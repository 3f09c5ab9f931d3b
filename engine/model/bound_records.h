// The CEL values of stored records, kept by whoever holds the records across gate evaluations:
// the value `outputs.<o>` has for an output revision under a pack, and the value
// `assessments.<P>` has for an assessment. Converting a revision's fields to CEL is the largest
// part of binding a gate's variables, and a record never changes once stored, so a holder of
// records (the shell's snapshot cache) converts each one once.
//
// A memo: evaluation results never depend on it. Entries are kept per output type and per
// principle, for the record instance they were built from (by identity of the shared record), so
// a newer record of the same type replaces its entry.
//
//   BoundRecords bound;
//   EvaluateGate(pack, "A", subject, &evaluation, {.bound = &bound});  // builds and keeps
//   EvaluateGate(pack, "A", subject, &evaluation, {.bound = &bound});  // reuses
//
// Thread safety: not thread-safe; one holder uses it at a time.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/cel/value.h"
#include "varav/v1/resources.pb.h"
#include "varav/v1/rulepack.pb.h"

namespace varav::model {

class BoundRecords {
 public:
  // The value of `revision` as an output of `type` of the pack whose digest is `pack_digest`.
  const cel::Value& Output(const v1::OutputType& type, absl::string_view pack_digest,
                           const std::shared_ptr<const v1::OutputRevision>& revision);
  // Keeps `value`, which must be OutputValue(type, *revision) under that pack, for a caller that
  // has just built it while checking the revision.
  void KeepOutput(absl::string_view pack_digest, std::shared_ptr<const v1::OutputRevision> revision,
                  cel::Value value);
  // The value of `assessment`.
  const cel::Value& Assessment(const std::shared_ptr<const v1::Assessment>& assessment);

 private:
  struct OutputEntry {
    std::shared_ptr<const v1::OutputRevision> record;
    std::string pack_digest;
    cel::Value value;
  };
  struct AssessmentEntry {
    std::shared_ptr<const v1::Assessment> record;
    cel::Value value;
  };
  absl::flat_hash_map<std::string, OutputEntry> outputs_;
  absl::flat_hash_map<std::string, AssessmentEntry> assessments_;
};

}  // namespace varav::model
