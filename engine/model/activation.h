// The CEL view of a gate: the environment rules are type-checked against, and the activation
// (variable bindings) a gate evaluation provides, both derived from the pack's schemas. What the
// variables and their types are is documented once, for rule authors, in rules/FORMAT.md ("What
// rules see"); every object is a CEL map keyed by field name at run time (engine/cel/value.h).
//
// Thread safety: pure functions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/cel/cel.h"
#include "engine/cel/value.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/struct.pb.h"
#include "varav/v1/evaluation.pb.h"
#include "varav/v1/resources.pb.h"
#include "varav/v1/rulepack.pb.h"

namespace varav::model {

class BoundRecords;
class CompiledPack;

using FieldSchemas = google::protobuf::RepeatedPtrField<v1::FieldSchema>;

// Declares the variables and object types above for `pack` (which must be valid: ids unique).
// Fails only when the pack's schemas cannot be declared (e.g. repeated field names), which the
// loader rules out beforehand.
absl::StatusOr<std::shared_ptr<const cel::Env>> BuildEnv(const v1::RulePack& pack);

// The CEL type of a schema field (object types named under `object_prefix`, e.g.
// "varav.fields.vision").
cel::Type FieldCelType(const v1::FieldSchema& field, absl::string_view object_prefix);

// The runtime value of an output's fields, typed by `schema` (see above).
cel::Value FieldsValue(const FieldSchemas& schema, const google::protobuf::Struct& fields);

// Problems of `fields` against `schema`, each as "path: problem" (e.g. "kpis[0].baseline: expected
// a number"): missing required fields, undeclared fields, values of the wrong type, enum values
// not listed, malformed timestamps.
std::vector<std::string> CheckOutputFields(const FieldSchemas& schema,
                                           const google::protobuf::Struct& fields);
// The same, also setting `*value` to FieldsValue(schema, fields) from the same pass over the
// fields, for a caller that binds what it has just checked.
std::vector<std::string> CheckOutputFields(const FieldSchemas& schema,
                                           const google::protobuf::Struct& fields,
                                           cel::Value* value);

// The value `outputs.<type>` has for one stored revision of an output of `type` (a
// varav.output.<o> object, see above).
cel::Value OutputValue(const v1::OutputType& type, const v1::OutputRevision& revision);
// The same with the revision's fields already bound: `fields` must be
// FieldsValue(type.fields(), revision.fields()).
cel::Value OutputValue(const v1::OutputRevision& revision, cel::Value fields);

// The value `assessments.<principle>` has for one stored assessment (a varav.Assessment object).
cel::Value AssessmentValue(const v1::Assessment& assessment);

// What a gate's rules see of a service: its records, shared with whoever holds them (a service
// snapshot's stored revisions and assessments, or the records of a rule test's fixture).
struct GateSubject {
  v1::GateInput::Service service;
  // The latest revision of each output type, ordered by type.
  std::vector<std::shared_ptr<const v1::OutputRevision>> outputs;
  // Every assessment, ordered by principle.
  std::vector<std::shared_ptr<const v1::Assessment>> assessments;
  // The open conditions.
  std::vector<v1::Condition> conditions;
  google::protobuf::Timestamp now;
};

// The subject a rule test fixture describes (v1::GateInput, evaluation.proto).
GateSubject SubjectOf(const v1::GateInput& input);

// Binds every variable above for an evaluation of `gate` of `pack`. Outputs and assessments whose
// ids the pack does not declare are not bound. `bound`, when given, provides and keeps the
// records' CEL values (bound_records.h).
cel::Activation BuildActivation(const CompiledPack& pack, const v1::Gate& gate,
                                const GateSubject& subject, BoundRecords* bound = nullptr);

// Scores `assessment` from its answers: yes = 1, partly = 0.5, no = 0, not applicable excluded;
// score = mean over the answers that are not n/a (0 when none); answered = their number; total =
// `total_questions`.
void ScoreAssessment(v1::Assessment& assessment, int64_t total_questions);

// The CEL spelling of an answer ("yes", "partly", "no", "na"; "" when unspecified).
absl::string_view AnswerName(v1::AnswerValue answer);

}  // namespace varav::model
