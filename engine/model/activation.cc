#include "engine/model/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/common/status_macros.h"
#include "engine/model/bound_records.h"
#include "engine/model/pack.h"

namespace varav::model {
namespace {

using cel::ObjectField;
using cel::ObjectType;
using cel::Type;
using cel::Value;

constexpr absl::string_view kFieldsPrefix = "varav.fields.";
constexpr absl::string_view kOutputPrefix = "varav.output.";

// Declares the object types of `fields` (recursively) named under `prefix`.
absl::Status DeclareFieldObjects(cel::EnvBuilder& builder, absl::string_view prefix,
                                 const FieldSchemas& fields) {
  ObjectType object{std::string(prefix), {}};
  for (const v1::FieldSchema& f : fields) {
    object.fields.push_back(ObjectField{f.name(), FieldCelType(f, prefix)});
    // The object type of a field (or of its list's items, at any depth) is named after the field.
    const v1::FieldSchema* inner = &f;
    while (inner->type() == v1::FIELD_TYPE_LIST) inner = &inner->items();
    if (inner->type() == v1::FIELD_TYPE_OBJECT) {
      VARAV_RETURN_IF_ERROR(
          DeclareFieldObjects(builder, absl::StrCat(prefix, ".", f.name()), inner->fields()));
    }
  }
  return builder.AddObjectType(std::move(object));
}

Type FieldCelTypeNamed(const v1::FieldSchema& field, const std::string& object_name) {
  switch (field.type()) {
    case v1::FIELD_TYPE_STRING:
    case v1::FIELD_TYPE_ENUM:
      return Type::String();
    case v1::FIELD_TYPE_INT:
      return Type::Int();
    case v1::FIELD_TYPE_DOUBLE:
      return Type::Double();
    case v1::FIELD_TYPE_BOOL:
      return Type::Bool();
    case v1::FIELD_TYPE_TIMESTAMP:
      return Type::Timestamp();
    case v1::FIELD_TYPE_LIST:
      return Type::List(FieldCelTypeNamed(field.items(), object_name));
    case v1::FIELD_TYPE_OBJECT:
      return Type::Object(object_name);
    default:
      return Type::Dyn();
  }
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

Value Str(absl::string_view s) { return Value::String(std::string(s)); }

// Map keys and fixed words (field names, statuses, answers) come from a small set: each thread
// keeps one shared value per spelling instead of allocating a new string for every binding.
Value Interned(absl::string_view s) {
  constexpr size_t kMaxInterned = 4096;
  thread_local absl::flat_hash_map<std::string, Value> interned;
  auto it = interned.find(s);
  if (it != interned.end()) return it->second;
  if (interned.size() >= kMaxInterned) interned.clear();
  return interned.emplace(std::string(s), Str(s)).first->second;
}

using Entries = std::vector<std::pair<Value, Value>>;

void Put(Entries& entries, absl::string_view name, Value value) {
  entries.emplace_back(Interned(name), std::move(value));
}

Value Mismatch(absl::string_view what) {
  return Value::Error(absl::StatusCode::kInvalidArgument,
                      absl::StrCat("output field does not fit its schema: expected ", what));
}

const char* KindName(const google::protobuf::Value& v) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kNullValue:
      return "null";
    case google::protobuf::Value::kNumberValue:
      return "a number";
    case google::protobuf::Value::kStringValue:
      return "a string";
    case google::protobuf::Value::kBoolValue:
      return "a bool";
    case google::protobuf::Value::kStructValue:
      return "an object";
    case google::protobuf::Value::kListValue:
      return "a list";
    default:
      return "nothing";
  }
}

bool IsIntegral(double d) {
  return std::isfinite(d) && std::trunc(d) == d && d >= -9007199254740992.0 &&
         d <= 9007199254740992.0;
}

// Converts one value by its schema; `problems` (when not null) receives every mismatch.
Value ConvertValue(const v1::FieldSchema& schema, const google::protobuf::Value& v,
                   const std::string& path, std::vector<std::string>* problems);

// Paths only name problems: without a problem list they are not built at all.
Value ConvertObject(const FieldSchemas& schema, const google::protobuf::Struct& s,
                    const std::string& path, std::vector<std::string>* problems) {
  Entries entries;
  entries.reserve(schema.size());
  std::string sub;
  for (const v1::FieldSchema& f : schema) {
    if (problems != nullptr) sub = path.empty() ? f.name() : absl::StrCat(path, ".", f.name());
    auto it = s.fields().find(f.name());
    if (it == s.fields().end() || it->second.kind_case() == google::protobuf::Value::kNullValue) {
      if (f.required() && problems != nullptr) {
        problems->push_back(absl::StrCat(sub, ": required field is missing"));
      }
      continue;
    }
    Put(entries, f.name(), ConvertValue(f, it->second, sub, problems));
  }
  if (problems != nullptr) {
    absl::flat_hash_set<absl::string_view> declared;
    for (const v1::FieldSchema& f : schema) declared.insert(f.name());
    std::set<std::string> undeclared;  // sorted for deterministic reports
    for (const auto& [name, value] : s.fields()) {
      if (!declared.contains(name)) undeclared.insert(name);
    }
    for (const std::string& name : undeclared) {
      problems->push_back(absl::StrCat(path.empty() ? name : absl::StrCat(path, ".", name),
                                       ": field is not declared by the output's schema"));
    }
  }
  return Value::Map(std::move(entries));
}

Value ConvertValue(const v1::FieldSchema& schema, const google::protobuf::Value& v,
                   const std::string& path, std::vector<std::string>* problems) {
  auto mismatch = [&](absl::string_view expected) {
    if (problems != nullptr) {
      problems->push_back(absl::StrCat(path, ": expected ", expected, ", got ", KindName(v)));
    }
    return Mismatch(expected);
  };
  switch (schema.type()) {
    case v1::FIELD_TYPE_STRING:
      if (v.kind_case() != google::protobuf::Value::kStringValue) return mismatch("a string");
      return Str(v.string_value());
    case v1::FIELD_TYPE_ENUM: {
      if (v.kind_case() != google::protobuf::Value::kStringValue) return mismatch("a string");
      const auto& values = schema.values();
      if (std::find(values.begin(), values.end(), v.string_value()) == values.end()) {
        if (problems != nullptr) {
          problems->push_back(
              absl::StrCat(path, ": '", v.string_value(), "' is not one of the enum's values"));
        }
        return Value::Error(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("output field value '", v.string_value(),
                                         "' is not one of the enum's values"));
      }
      return Interned(v.string_value());
    }
    case v1::FIELD_TYPE_INT:
      if (v.kind_case() != google::protobuf::Value::kNumberValue || !IsIntegral(v.number_value())) {
        return mismatch("an integer");
      }
      return Value::Int(static_cast<int64_t>(v.number_value()));
    case v1::FIELD_TYPE_DOUBLE:
      if (v.kind_case() != google::protobuf::Value::kNumberValue) return mismatch("a number");
      return Value::Double(v.number_value());
    case v1::FIELD_TYPE_BOOL:
      if (v.kind_case() != google::protobuf::Value::kBoolValue) return mismatch("a bool");
      return Value::Bool(v.bool_value());
    case v1::FIELD_TYPE_TIMESTAMP: {
      absl::Time t;
      std::string err;
      if (v.kind_case() != google::protobuf::Value::kStringValue ||
          !absl::ParseTime(absl::RFC3339_full, v.string_value(), &t, &err)) {
        return mismatch("an RFC 3339 timestamp");
      }
      return Value::Timestamp(t);
    }
    case v1::FIELD_TYPE_LIST: {
      if (v.kind_case() != google::protobuf::Value::kListValue) return mismatch("a list");
      std::vector<Value> elements;
      elements.reserve(v.list_value().values_size());
      for (int i = 0; i < v.list_value().values_size(); ++i) {
        elements.push_back(
            ConvertValue(schema.items(), v.list_value().values(i),
                         problems != nullptr ? absl::StrCat(path, "[", i, "]") : path, problems));
      }
      return Value::List(std::move(elements));
    }
    case v1::FIELD_TYPE_OBJECT:
      if (v.kind_case() != google::protobuf::Value::kStructValue) return mismatch("an object");
      return ConvertObject(schema.fields(), v.struct_value(), path, problems);
    default:
      return Value::Error(absl::StatusCode::kInternal, "field without a type");
  }
}

Value DocumentValue(const v1::DocumentRef& d) {
  Entries e;
  Put(e, "system", Str(d.system()));
  Put(e, "id", Str(d.id()));
  Put(e, "version", Str(d.version()));
  Put(e, "uri", Str(d.uri()));
  Put(e, "sha256", Str(d.sha256()));
  return Value::Map(std::move(e));
}

absl::string_view OutputStatusWord(v1::OutputStatus status) {
  switch (status) {
    case v1::OUTPUT_STATUS_SUBMITTED:
      return "submitted";
    case v1::OUTPUT_STATUS_ACCEPTED:
      return "accepted";
    case v1::OUTPUT_STATUS_RETURNED:
      return "returned";
    default:
      return "unspecified";
  }
}

Value ServiceValue(const v1::GateInput::Service& s) {
  Entries e;
  Put(e, "id", Str(s.id()));
  Put(e, "name", Str(s.name()));
  Put(e, "agency", Str(s.agency()));
  Put(e, "owner", Str(s.owner()));
  Put(e, "stage", Interned(s.stage()));
  Put(e, "cycle", Value::Int(s.cycle()));
  Put(e, "status", Interned(s.status()));
  Put(e, "pack", Interned(s.pack()));
  if (s.has_entered_stage_at()) {
    Put(e, "entered_stage_at", Value::Timestamp(ToTime(s.entered_stage_at())));
  }
  return Value::Map(std::move(e));
}

Value ConditionValue(const v1::Condition& c) {
  Entries e;
  Put(e, "gate", Str(c.gate()));
  Put(e, "panel", Str(c.panel()));
  Put(e, "text", Str(c.text()));
  if (c.has_due()) Put(e, "due", Value::Timestamp(ToTime(c.due())));
  return Value::Map(std::move(e));
}

Value GateValue(const v1::Gate& gate) {
  Entries g;
  Put(g, "id", Interned(gate.id()));
  Put(g, "stage", Interned(gate.after_stage()));
  return Value::Map(std::move(g));
}

}  // namespace

Value AssessmentValue(const v1::Assessment& a) {
  Entries e;
  Put(e, "score", Value::Double(a.score()));
  Put(e, "answered", Value::Int(a.answered()));
  Put(e, "total", Value::Int(a.total()));
  std::vector<Value> answers;
  answers.reserve(a.answers_size());
  for (const v1::AssessmentAnswer& ans : a.answers()) {
    Entries ae;
    Put(ae, "question", Str(ans.question()));
    // The two enums share their numbering (yes 1, partly 2, no 3, not applicable 4).
    Put(ae, "answer", Interned(AnswerName(ans.answer())));
    Put(ae, "evidence", Str(ans.evidence()));
    Put(ae, "comment", Str(ans.comment()));
    answers.push_back(Value::Map(std::move(ae)));
  }
  Put(e, "answers", Value::List(std::move(answers)));
  return Value::Map(std::move(e));
}

Type FieldCelType(const v1::FieldSchema& field, absl::string_view object_prefix) {
  return FieldCelTypeNamed(field, absl::StrCat(object_prefix, ".", field.name()));
}

absl::StatusOr<std::shared_ptr<const cel::Env>> BuildEnv(const v1::RulePack& pack) {
  cel::EnvBuilder b;
  VARAV_RETURN_IF_ERROR(b.AddObjectType(ObjectType{"varav.Service",
                                                   {{"id", Type::String()},
                                                    {"name", Type::String()},
                                                    {"agency", Type::String()},
                                                    {"owner", Type::String()},
                                                    {"stage", Type::String()},
                                                    {"cycle", Type::Int()},
                                                    {"status", Type::String()},
                                                    {"pack", Type::String()},
                                                    {"entered_stage_at", Type::Timestamp()}}}));
  VARAV_RETURN_IF_ERROR(b.AddObjectType(ObjectType{"varav.Document",
                                                   {{"system", Type::String()},
                                                    {"id", Type::String()},
                                                    {"version", Type::String()},
                                                    {"uri", Type::String()},
                                                    {"sha256", Type::String()}}}));
  ObjectType outputs{"varav.Outputs", {}};
  for (const v1::OutputType& o : pack.outputs()) {
    std::string fields_name = absl::StrCat(kFieldsPrefix, o.id());
    std::string output_name = absl::StrCat(kOutputPrefix, o.id());
    VARAV_RETURN_IF_ERROR(DeclareFieldObjects(b, fields_name, o.fields()));
    VARAV_RETURN_IF_ERROR(b.AddObjectType(ObjectType{output_name,
                                                     {{"revision", Type::Int()},
                                                      {"status", Type::String()},
                                                      {"submitted_at", Type::Timestamp()},
                                                      {"submitted_by", Type::String()},
                                                      {"document", Type::Object("varav.Document")},
                                                      {"fields", Type::Object(fields_name)}}}));
    outputs.fields.push_back(ObjectField{o.id(), Type::Object(output_name)});
  }
  VARAV_RETURN_IF_ERROR(b.AddObjectType(std::move(outputs)));
  VARAV_RETURN_IF_ERROR(b.AddObjectType(ObjectType{"varav.Answer",
                                                   {{"question", Type::String()},
                                                    {"answer", Type::String()},
                                                    {"evidence", Type::String()},
                                                    {"comment", Type::String()}}}));
  VARAV_RETURN_IF_ERROR(
      b.AddObjectType(ObjectType{"varav.Assessment",
                                 {{"score", Type::Double()},
                                  {"answered", Type::Int()},
                                  {"total", Type::Int()},
                                  {"answers", Type::List(Type::Object("varav.Answer"))}}}));
  ObjectType assessments{"varav.Assessments", {}};
  for (const v1::Principle& p : pack.principles()) {
    assessments.fields.push_back(ObjectField{p.id(), Type::Object("varav.Assessment")});
  }
  VARAV_RETURN_IF_ERROR(b.AddObjectType(std::move(assessments)));
  VARAV_RETURN_IF_ERROR(b.AddObjectType(ObjectType{"varav.Condition",
                                                   {{"gate", Type::String()},
                                                    {"panel", Type::String()},
                                                    {"text", Type::String()},
                                                    {"due", Type::Timestamp()}}}));
  VARAV_RETURN_IF_ERROR(b.AddObjectType(
      ObjectType{"varav.Gate", {{"id", Type::String()}, {"stage", Type::String()}}}));

  VARAV_RETURN_IF_ERROR(b.AddVariable("service", Type::Object("varav.Service")));
  VARAV_RETURN_IF_ERROR(b.AddVariable("outputs", Type::Object("varav.Outputs")));
  VARAV_RETURN_IF_ERROR(b.AddVariable("assessments", Type::Object("varav.Assessments")));
  VARAV_RETURN_IF_ERROR(b.AddVariable("conditions", Type::List(Type::Object("varav.Condition"))));
  VARAV_RETURN_IF_ERROR(b.AddVariable("gate", Type::Object("varav.Gate")));
  VARAV_RETURN_IF_ERROR(b.AddVariable("now", Type::Timestamp()));
  return std::move(b).Build();
}

Value FieldsValue(const FieldSchemas& schema, const google::protobuf::Struct& fields) {
  return ConvertObject(schema, fields, "", nullptr);
}

std::vector<std::string> CheckOutputFields(const FieldSchemas& schema,
                                           const google::protobuf::Struct& fields) {
  std::vector<std::string> problems;
  ConvertObject(schema, fields, "", &problems);
  return problems;
}

std::vector<std::string> CheckOutputFields(const FieldSchemas& schema,
                                           const google::protobuf::Struct& fields,
                                           cel::Value* value) {
  std::vector<std::string> problems;
  *value = ConvertObject(schema, fields, "", &problems);
  return problems;
}

Value OutputValue(const v1::OutputType& type, const v1::OutputRevision& o) {
  return OutputValue(o, FieldsValue(type.fields(), o.fields()));
}

Value OutputValue(const v1::OutputRevision& o, Value fields) {
  Entries e;
  Put(e, "revision", Value::Int(o.revision()));
  Put(e, "status", Interned(OutputStatusWord(o.status())));
  if (o.has_submitted_at()) Put(e, "submitted_at", Value::Timestamp(ToTime(o.submitted_at())));
  Put(e, "submitted_by", Str(o.submitted_by()));
  if (o.has_document()) Put(e, "document", DocumentValue(o.document()));
  Put(e, "fields", std::move(fields));
  return Value::Map(std::move(e));
}

cel::Activation BuildActivation(const CompiledPack& pack, const v1::Gate& gate,
                                const GateSubject& subject, BoundRecords* bound) {
  cel::Activation act;
  act.Bind("service", ServiceValue(subject.service));

  Entries outputs;
  outputs.reserve(subject.outputs.size());
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::shared_ptr<const v1::OutputRevision>& o : subject.outputs) {
    const v1::OutputType* type = pack.FindOutput(o->output_type());
    // Unknown outputs are not part of varav.Outputs; a repeated type keeps its first revision so
    // that the map stays well-formed.
    if (type == nullptr || !seen.insert(o->output_type()).second) continue;
    Put(outputs, o->output_type(),
        bound != nullptr ? bound->Output(*type, pack.digest(), o) : OutputValue(*type, *o));
  }
  act.Bind("outputs", Value::Map(std::move(outputs)));

  Entries assessments;
  assessments.reserve(subject.assessments.size());
  seen.clear();
  for (const std::shared_ptr<const v1::Assessment>& a : subject.assessments) {
    if (pack.FindPrinciple(a->principle()) == nullptr || !seen.insert(a->principle()).second) {
      continue;
    }
    Put(assessments, a->principle(), bound != nullptr ? bound->Assessment(a) : AssessmentValue(*a));
  }
  act.Bind("assessments", Value::Map(std::move(assessments)));

  std::vector<Value> conditions;
  conditions.reserve(subject.conditions.size());
  for (const v1::Condition& c : subject.conditions) conditions.push_back(ConditionValue(c));
  act.Bind("conditions", Value::List(std::move(conditions)));

  act.Bind("gate", GateValue(gate));
  act.Bind("now", Value::Timestamp(ToTime(subject.now)));
  return act;
}

GateSubject SubjectOf(const v1::GateInput& input) {
  GateSubject subject;
  subject.service = input.service();
  for (const v1::GateInput::Output& o : input.outputs()) {
    auto revision = std::make_shared<v1::OutputRevision>();
    revision->set_output_type(o.output_id());
    revision->set_revision(static_cast<uint32_t>(o.revision()));
    v1::OutputStatus status = v1::OUTPUT_STATUS_SUBMITTED;
    if (o.status() == "accepted") status = v1::OUTPUT_STATUS_ACCEPTED;
    if (o.status() == "returned") status = v1::OUTPUT_STATUS_RETURNED;
    revision->set_status(status);
    if (o.has_submitted_at()) *revision->mutable_submitted_at() = o.submitted_at();
    revision->set_submitted_by(o.submitted_by());
    if (o.has_document()) {
      v1::DocumentRef* d = revision->mutable_document();
      d->set_system(o.document().system());
      d->set_id(o.document().id());
      d->set_version(o.document().version());
      d->set_uri(o.document().uri());
      d->set_sha256(o.document().sha256());
    }
    *revision->mutable_fields() = o.fields();
    subject.outputs.push_back(std::move(revision));
  }
  for (const v1::GateInput::Assessment& a : input.assessments()) {
    auto assessment = std::make_shared<v1::Assessment>();
    assessment->set_principle(a.principle_id());
    assessment->set_score(a.score());
    assessment->set_answered(static_cast<uint32_t>(a.answered()));
    assessment->set_total(static_cast<uint32_t>(a.total()));
    for (const v1::GateInput::Answer& answer : a.answers()) {
      v1::AssessmentAnswer* to = assessment->add_answers();
      to->set_question(answer.question());
      to->set_answer(answer.answer());
      to->set_evidence(answer.evidence());
      to->set_comment(answer.comment());
    }
    subject.assessments.push_back(std::move(assessment));
  }
  for (const v1::GateInput::Condition& c : input.conditions()) {
    v1::Condition& to = subject.conditions.emplace_back();
    to.set_gate(c.gate());
    to.set_panel(c.panel());
    to.set_text(c.text());
    if (c.has_due()) *to.mutable_due() = c.due();
    to.set_status(v1::CONDITION_STATUS_OPEN);
  }
  subject.now = input.now();
  return subject;
}

absl::string_view AnswerName(v1::AnswerValue answer) {
  switch (answer) {
    case v1::ANSWER_VALUE_YES:
      return "yes";
    case v1::ANSWER_VALUE_PARTLY:
      return "partly";
    case v1::ANSWER_VALUE_NO:
      return "no";
    case v1::ANSWER_VALUE_NOT_APPLICABLE:
      return "na";
    default:
      return "";
  }
}

void ScoreAssessment(v1::Assessment& assessment, int64_t total_questions) {
  double sum = 0;
  uint32_t answered = 0;
  for (const v1::AssessmentAnswer& a : assessment.answers()) {
    switch (a.answer()) {
      case v1::ANSWER_VALUE_YES:
        sum += 1;
        ++answered;
        break;
      case v1::ANSWER_VALUE_PARTLY:
        sum += 0.5;
        ++answered;
        break;
      case v1::ANSWER_VALUE_NO:
        ++answered;
        break;
      default:
        break;
    }
  }
  assessment.set_answered(answered);
  assessment.set_total(static_cast<uint32_t>(total_questions));
  assessment.set_score(answered == 0 ? 0.0 : sum / answered);
}

}  // namespace varav::model
