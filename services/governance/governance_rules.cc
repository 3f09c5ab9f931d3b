// Governance: the methods of RulesService (rule packs as data, pack validation, the CEL
// playground).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/cel/cel.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/model/activation.h"
#include "engine/model/loader.h"
#include "services/governance/governance.h"
#include "services/governance/request_util.h"

namespace varav::governance {

using internal::DecodePageToken;
using internal::EncodePageToken;
using internal::PageSize;
using internal::Required;
using internal::ValidateServiceId;

namespace {

constexpr int kMaxPackFiles = 200;
// Largest rendering of an EvaluateExpression value (each of its text and JSON forms).
constexpr size_t kMaxRenderedValueBytes = 1 << 20;
constexpr size_t kMaxPackBytes = 4 << 20;

absl::Status MayRead(const Principal& principal) {
  if (principal.MayRead()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("principal '", principal.id, "' holds no role and may not read"));
}

v1::RulePackSummary Summarize(const model::CompiledPack& pack) {
  v1::RulePackSummary s;
  s.set_id(pack.id());
  s.set_version(pack.version());
  s.set_key(pack.key());
  s.set_digest(pack.digest());
  *s.mutable_title() = pack.proto().title();
  s.set_extends(pack.proto().extends());
  s.set_stage_count(pack.proto().stages_size());
  s.set_gate_count(pack.proto().gates_size());
  s.set_output_count(pack.proto().outputs_size());
  s.set_rule_count(pack.proto().rules_size());
  return s;
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  AppendJsonEscaped(*out, s);
  out->push_back('"');
}

std::string ShortestDouble(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  return ec == std::errc() ? std::string(buf, end) : absl::StrCat(d);
}

// The JSON form of a CEL value, following the proto3 JSON mapping where CEL has one: timestamps
// as RFC 3339 strings, durations as "<seconds>s", bytes as base64, non-finite doubles as the
// strings "NaN", "Infinity" and "-Infinity", map keys as strings. False as soon as `out` has grown
// past `max_bytes` (a string is checked before it is copied).
bool AppendJson(const cel::Value& v, std::string* out, size_t max_bytes) {
  using Kind = cel::Value::Kind;
  if (out->size() > max_bytes) return false;
  switch (v.kind()) {
    case Kind::kNull:
      out->append("null");
      break;
    case Kind::kBool:
      out->append(v.bool_value() ? "true" : "false");
      break;
    case Kind::kInt:
      absl::StrAppend(out, v.int_value());
      break;
    case Kind::kUint:
      absl::StrAppend(out, v.uint_value());
      break;
    case Kind::kDouble: {
      const double d = v.double_value();
      if (std::isnan(d)) {
        out->append("\"NaN\"");
      } else if (std::isinf(d)) {
        out->append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
      } else {
        out->append(ShortestDouble(d));
      }
      break;
    }
    case Kind::kString:
      if (out->size() + v.string_value().size() + 2 > max_bytes) return false;
      AppendJsonString(v.string_value(), out);
      break;
    case Kind::kBytes:
      if (out->size() + v.string_value().size() / 3 * 4 + 6 > max_bytes) return false;
      AppendJsonString(absl::Base64Escape(v.string_value()), out);
      break;
    case Kind::kDuration:
      AppendJsonString(
          absl::StrCat(ShortestDouble(absl::FDivDuration(v.duration_value(), absl::Seconds(1))),
                       "s"),
          out);
      break;
    case Kind::kTimestamp:
      AppendJsonString(
          absl::FormatTime(absl::RFC3339_full, v.timestamp_value(), absl::UTCTimeZone()), out);
      break;
    case Kind::kList: {
      out->push_back('[');
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out->push_back(',');
        if (!AppendJson(v.element(i), out, max_bytes)) return false;
      }
      out->push_back(']');
      break;
    }
    case Kind::kMap: {
      out->push_back('{');
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out->push_back(',');
        const cel::Value& key = v.map_key(i);
        if (key.kind() == Kind::kString) {
          if (out->size() + key.string_value().size() + 2 > max_bytes) return false;
          AppendJsonString(key.string_value(), out);
        } else {
          AppendJsonString(key.DebugString(), out);
        }
        out->push_back(':');
        if (!AppendJson(v.map_value(i), out, max_bytes)) return false;
      }
      out->push_back('}');
      break;
    }
    case Kind::kType:
      AppendJsonString(v.type_name(), out);
      break;
    case Kind::kError:
      out->append("{\"error\":");
      AppendJsonString(v.error_message(), out);
      out->push_back('}');
      break;
  }
  return out->size() <= max_bytes;
}

}  // namespace

absl::StatusOr<v1::ListRulePacksResponse> Governance::ListRulePacks(
    const v1::ListRulePacksRequest& request, const Principal& principal) const {
  VARAV_ASSIGN_OR_RETURN(const int page_size, PageSize(request.page_size(), 50));
  VARAV_ASSIGN_OR_RETURN(const std::string after, DecodePageToken(request.page_token(), "packs"));
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  v1::ListRulePacksResponse response;
  for (const std::shared_ptr<const model::CompiledPack>& pack : registry_->List()) {  // by key
    if (!after.empty() && pack->key() <= after) continue;
    if (response.rule_packs_size() == page_size) {
      response.set_next_page_token(
          EncodePageToken("packs", response.rule_packs(page_size - 1).key()));
      break;
    }
    *response.add_rule_packs() = Summarize(*pack);
  }
  return response;
}

absl::StatusOr<v1::GetRulePackResponse> Governance::GetRulePack(
    const v1::GetRulePackRequest& request, const Principal& principal) const {
  VARAV_RETURN_IF_ERROR(internal::ValidateId("pack", request.pack(), true));
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  std::shared_ptr<const model::CompiledPack> pack = registry_->Find(request.pack());
  if (pack == nullptr) {
    return absl::NotFoundError(absl::StrCat("pack: rule pack ", request.pack(), " is not loaded"));
  }
  v1::GetRulePackResponse response;
  *response.mutable_rule_pack() = pack->proto();
  response.set_digest(pack->digest());
  return response;
}

absl::StatusOr<v1::ValidateRulePackResponse> Governance::ValidateRulePack(
    const v1::ValidateRulePackRequest& request, const Principal& principal) const {
  if (request.files().empty()) return absl::InvalidArgumentError("files: at least one is required");
  if (request.files_size() > kMaxPackFiles) {
    return absl::InvalidArgumentError(absl::StrCat("files: at most ", kMaxPackFiles));
  }
  std::vector<model::SourceFile> files;
  absl::flat_hash_set<std::string> paths;
  size_t total = 0;
  bool manifest = false;
  for (int i = 0; i < request.files_size(); ++i) {
    const v1::RulePackFile& f = request.files(i);
    const std::string field = absl::StrCat("files[", i, "].path");
    VARAV_RETURN_IF_ERROR(Required(field, f.path()));
    VARAV_RETURN_IF_ERROR(internal::MaxLength(field, f.path(), 512));
    if (!paths.insert(f.path()).second) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": '", f.path(), "' is given twice"));
    }
    const absl::string_view path = f.path();
    const size_t slash = path.rfind('/');
    if ((slash == absl::string_view::npos ? path : path.substr(slash + 1)) == "pack.yaml") {
      manifest = true;
    }
    total += f.content().size();
    files.push_back({.path = f.path(), .content = f.content()});
  }
  if (total > kMaxPackBytes) return absl::InvalidArgumentError("files: larger than 4 MiB in all");
  if (!manifest) return absl::InvalidArgumentError("files: no pack.yaml among them");
  VARAV_RETURN_IF_ERROR(MayRead(principal));

  const model::LoadResult result = model::LoadPackFromSources(files, registry_);
  v1::ValidateRulePackResponse response;
  response.set_valid(result.ok());
  for (const model::Diagnostic& d : result.diagnostics) {
    v1::RulePackDiagnostic* out = response.add_diagnostics();
    out->set_file(d.file);
    out->set_line(d.line);
    out->set_column(d.column);
    out->set_message(d.message);
    out->set_detail(d.detail);
  }
  if (result.ok()) *response.mutable_rule_pack() = Summarize(*result.pack);
  return response;
}

absl::StatusOr<v1::EvaluateExpressionResponse> Governance::EvaluateExpression(
    const v1::EvaluateExpressionRequest& request, const Principal& principal,
    const cel::Interrupt* interrupt) const {
  VARAV_RETURN_IF_ERROR(ValidateServiceId("service_id", request.service_id()));
  VARAV_RETURN_IF_ERROR(Required("expression", request.expression()));
  VARAV_RETURN_IF_ERROR(
      internal::MaxLength("expression", request.expression(), internal::kMaxExpressionLength));
  VARAV_RETURN_IF_ERROR(internal::ValidateId("gate", request.gate(), false));
  VARAV_RETURN_IF_ERROR(MayRead(principal));
  VARAV_ASSIGN_OR_RETURN(v1::Service service, store_->GetService(request.service_id()));
  VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const model::CompiledPack> pack, PinnedPack(service));
  const v1::Gate* gate = request.gate().empty() ? lifecycle::GateForStage(*pack, service.stage())
                                                : pack->FindGate(request.gate());
  if (gate == nullptr) {
    if (!request.gate().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("gate: pack ", pack->key(), " has no gate '", request.gate(), "'"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("gate: no gate closes stage '", service.stage(), "'; name one"));
  }

  v1::EvaluateExpressionResponse response;
  const cel::Compiler compiler(pack->env());
  const cel::CompileResult compiled = compiler.Compile(request.expression());
  if (!compiled.ok()) {
    for (const cel::Issue& issue : compiled.issues) {
      v1::ExpressionIssue* out = response.add_issues();
      out->set_line(issue.line);
      out->set_column(issue.column);
      out->set_message(issue.message);
    }
    response.set_formatted_issues(compiled.FormattedIssues("<expression>"));
    return response;
  }
  VARAV_ASSIGN_OR_RETURN(lifecycle::ServiceSnapshot snapshot, LoadSnapshot(service.id()));
  const cel::Activation activation =
      model::BuildActivation(*pack, *gate, lifecycle::SubjectOf(snapshot, Now()));
  const cel::Value value = compiled.program->Evaluate(activation, nullptr, interrupt);
  if (cel::IsInterruption(value)) return absl::Status(value.error_code(), value.error_message());
  response.set_type(compiled.program->result_type().DebugString());
  if (value.IsError()) {
    response.set_error(std::string(value.error_message()));
    return response;
  }
  // The value is rendered twice (text and JSON) within a bound: a small expression can build a
  // value whose rendering is far larger than any response may be.
  std::string text;
  std::string json;
  if (!value.AppendDebugString(text, kMaxRenderedValueBytes) ||
      !AppendJson(value, &json, kMaxRenderedValueBytes)) {
    response.set_error(absl::StrCat("the value renders to more than ", kMaxRenderedValueBytes,
                                    " bytes, more than a response carries; select a part of it"));
    return response;
  }
  response.set_value_text(std::move(text));
  response.set_value_json(std::move(json));
  return response;
}

}  // namespace varav::governance
