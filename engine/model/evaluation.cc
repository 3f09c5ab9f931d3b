#include "engine/model/evaluation.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/model/activation.h"

namespace varav::model {
namespace {

// The call's failure when an interruption stopped rule `rule_id`.
absl::Status Interrupted(const cel::Value& v, absl::string_view rule_id) {
  return absl::Status(v.error_code(), absl::StrCat("gate evaluation stopped at rule ", rule_id,
                                                   ": ", v.error_message()));
}

// The message of a failing rule in one language.
absl::StatusOr<std::string> MessageText(const cel::Program* program, const std::string& fallback,
                                        const cel::Activation& activation,
                                        const cel::Interrupt* interrupt,
                                        absl::string_view rule_id) {
  if (program == nullptr) return fallback;
  cel::Value v = program->Evaluate(activation, nullptr, interrupt);
  if (cel::IsInterruption(v)) return Interrupted(v, rule_id);
  if (v.kind() == cel::Value::Kind::kString) return std::string(v.string_value());
  if (v.IsError()) return absl::StrCat("(message_expr failed: ", v.error_message(), ")");
  return v.DebugString();
}

// Runs every rule of `gate` against `activation`; `revisions` names the revision of each output
// the input holds.
absl::Status Evaluate(const CompiledPack& pack, const v1::Gate* gate,
                      const cel::Activation& activation,
                      const absl::flat_hash_map<absl::string_view, int64_t>& revisions,
                      const google::protobuf::Timestamp& now, v1::GateEvaluation& out,
                      const cel::Interrupt* interrupt) {
  out.Clear();
  out.set_pack_id(pack.id());
  out.set_pack_version(pack.version());
  out.set_pack_digest(pack.digest());
  out.set_gate_id(gate->id());
  *out.mutable_evaluated_at() = now;

  bool ready = true;
  double should_total = 0;
  double should_passed = 0;
  for (const CompiledPack::CompiledRule* cr : pack.RulesForGate(gate->id())) {
    const v1::Rule& rule = *cr->rule;
    v1::RuleResult* r = out.add_results();
    r->set_rule_id(rule.id());
    *r->mutable_principles() = rule.principles();
    r->set_severity(rule.severity());
    r->set_enforcement(rule.enforcement());
    r->set_weight(rule.weight());
    for (const std::string& id : rule.reads_outputs()) {
      v1::OutputRevisionRef* ref = r->add_read();
      ref->set_output_id(id);
      auto it = revisions.find(id);
      ref->set_revision(it == revisions.end() ? 0 : it->second);
    }

    cel::Value v = cr->program->Evaluate(activation, nullptr, interrupt);
    if (cel::IsInterruption(v)) return Interrupted(v, rule.id());
    if (v.kind() == cel::Value::Kind::kBool) {
      r->set_outcome(v.bool_value() ? v1::RULE_OUTCOME_PASS : v1::RULE_OUTCOME_FAIL);
    } else {
      r->set_outcome(v1::RULE_OUTCOME_ERROR);
      r->set_error(v.IsError()
                       ? std::string(v.error_message())
                       : absl::StrCat("rule evaluated to ", v.DebugString(), ", not a bool"));
    }
    const bool passed = r->outcome() == v1::RULE_OUTCOME_PASS;
    if (!passed) {
      out.add_failing_rules(rule.id());
      VARAV_ASSIGN_OR_RETURN(
          *r->mutable_message()->mutable_et(),
          MessageText(cr->message_et.get(), rule.message().et(), activation, interrupt, rule.id()));
      VARAV_ASSIGN_OR_RETURN(
          *r->mutable_message()->mutable_en(),
          MessageText(cr->message_en.get(), rule.message().en(), activation, interrupt, rule.id()));
    }
    if (rule.severity() == v1::RULE_SEVERITY_MUST &&
        rule.enforcement() == v1::RULE_ENFORCEMENT_ENFORCE && !passed) {
      ready = false;
    }
    if (rule.severity() == v1::RULE_SEVERITY_SHOULD &&
        rule.enforcement() != v1::RULE_ENFORCEMENT_AUDIT) {
      should_total += rule.weight();
      if (passed) should_passed += rule.weight();
    }
  }
  out.set_ready(ready);
  out.set_should_score(should_total > 0 ? should_passed / should_total : 1.0);
  return absl::OkStatus();
}

}  // namespace

absl::Status EvaluateGate(const CompiledPack& pack, absl::string_view gate_id,
                          const GateSubject& subject, v1::GateEvaluation* out,
                          const EvaluationOptions& options) {
  const v1::Gate* gate = pack.FindGate(gate_id);
  if (gate == nullptr) {
    return absl::NotFoundError(absl::StrCat("pack ", pack.key(), " has no gate '", gate_id, "'"));
  }
  absl::flat_hash_map<absl::string_view, int64_t> revisions;
  for (const std::shared_ptr<const v1::OutputRevision>& o : subject.outputs) {
    revisions.emplace(o->output_type(), o->revision());
  }
  return Evaluate(pack, gate, BuildActivation(pack, *gate, subject, options.bound), revisions,
                  subject.now, *out, options.interrupt);
}

}  // namespace varav::model
