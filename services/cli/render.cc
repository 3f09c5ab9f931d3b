#include "services/cli/render.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace varav::cli {
namespace {

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

}  // namespace

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out, size_t max_cell) const {
  std::vector<size_t> widths(headers_.size(), 0);
  auto cell_text = [&](const std::string& s) {
    std::string flat = absl::StrReplaceAll(s, {{"\n", " "}});
    return max_cell > 0 ? Truncate(flat, max_cell) : flat;
  };
  for (size_t c = 0; c < headers_.size(); ++c) widths[c] = DisplayWidth(headers_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(cell_text(row[c])));
    }
  }
  auto print_row = [&](const std::vector<std::string>& row, bool raw) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string text = raw ? row[c] : cell_text(row[c]);
      absl::StrAppend(&line, text);
      if (c + 1 < row.size()) {
        absl::StrAppend(&line, std::string(widths[c] - DisplayWidth(text) + 2, ' '));
      }
    }
    // Trailing blanks of empty last cells help nobody.
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << "\n";
  };
  print_row(headers_, true);
  for (const auto& row : rows_) print_row(row, false);
}

size_t DisplayWidth(absl::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Truncate(absl::string_view text, size_t width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  size_t points = 0;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (points == width - 1) break;
      ++points;
    }
  }
  return absl::StrCat(text.substr(0, i), "…");
}

void PrintJson(std::ostream& out, const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  // Printing a valid in-memory message cannot fail except on invalid UTF-8, which the server
  // never sends; fall back to the debug form rather than printing nothing.
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    json = message.DebugString();
  }
  out << json;
  if (json.empty() || json.back() != '\n') out << "\n";
}

std::string ShortEnumName(absl::string_view full_name, absl::string_view prefix) {
  absl::ConsumePrefix(&full_name, prefix);
  return absl::AsciiStrToLower(full_name);
}

std::string StatusName(v1::ServiceStatus status) {
  return ShortEnumName(v1::ServiceStatus_Name(status), "SERVICE_STATUS_");
}
std::string OutcomeName(v1::GateOutcome outcome) {
  return ShortEnumName(v1::GateOutcome_Name(outcome), "GATE_OUTCOME_");
}
std::string RuleOutcomeName(v1::RuleOutcome outcome) {
  return ShortEnumName(v1::RuleOutcome_Name(outcome), "RULE_OUTCOME_");
}
std::string SeverityName(v1::RuleSeverity severity) {
  return ShortEnumName(v1::RuleSeverity_Name(severity), "RULE_SEVERITY_");
}

absl::StatusOr<v1::GateOutcome> ParseOutcome(absl::string_view text) {
  std::string name =
      absl::StrCat("GATE_OUTCOME_", absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}})));
  v1::GateOutcome outcome;
  if (text.empty() || !v1::GateOutcome_Parse(name, &outcome) ||
      outcome == v1::GATE_OUTCOME_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--outcome: '", text, "' is not one of go, go_with_conditions, recycle, hold, stop"));
  }
  return outcome;
}

absl::StatusOr<v1::ServiceStatus> ParseStatus(absl::string_view text) {
  std::string name = absl::StrCat("SERVICE_STATUS_",
                                  absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}})));
  v1::ServiceStatus status;
  if (text.empty() || !v1::ServiceStatus_Parse(name, &status) ||
      status == v1::SERVICE_STATUS_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--status: '", text, "' is not one of active, in_review, on_hold, stopped, retired"));
  }
  return status;
}

absl::StatusOr<v1::AnswerValue> ParseAnswer(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "yes" || lower == "jah") return v1::ANSWER_VALUE_YES;
  if (lower == "partly" || lower == "osaliselt") return v1::ANSWER_VALUE_PARTLY;
  if (lower == "no" || lower == "ei") return v1::ANSWER_VALUE_NO;
  if (lower == "na" || lower == "n/a" || lower == "not_applicable" || lower == "not-applicable") {
    return v1::ANSWER_VALUE_NOT_APPLICABLE;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("answer '", text, "' is not one of yes, partly, no, na"));
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", ToTime(t), absl::UTCTimeZone());
}

absl::StatusOr<google::protobuf::Timestamp> ParseTime(absl::string_view text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error) &&
      !absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a date (2027-01-31) or an RFC 3339 time"));
  }
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

std::string Localized(const v1::LocalizedText& text, const RenderOptions& options) {
  if (options.lang == "et" && !text.et().empty()) return text.et();
  return text.en().empty() ? text.et() : text.en();
}

MustCount CountMust(const v1::GateEvaluation& evaluation) {
  MustCount count;
  for (const v1::RuleResult& r : evaluation.results()) {
    if (r.severity() != v1::RULE_SEVERITY_MUST || r.enforcement() != v1::RULE_ENFORCEMENT_ENFORCE) {
      continue;
    }
    ++count.total;
    if (r.outcome() == v1::RULE_OUTCOME_PASS) ++count.passed;
  }
  return count;
}

std::string EvaluationHeadline(const v1::GateEvaluation& evaluation) {
  MustCount must = CountMust(evaluation);
  return absl::StrFormat("ready: %s  must rules passing: %d/%d  should score: %.2f",
                         YesNo(evaluation.ready()), must.passed, must.total,
                         evaluation.should_score());
}

void PrintEvaluation(std::ostream& out, const v1::GateEvaluation& evaluation,
                     const google::protobuf::RepeatedPtrField<v1::OutputType>& missing,
                     const RenderOptions& options) {
  out << EvaluationHeadline(evaluation) << "\n";
  Table table({"RULE", "SEVERITY", "RESULT", "PRINCIPLES", "WHAT TO DO"});
  int hidden = 0;
  for (const v1::RuleResult& r : evaluation.results()) {
    bool passed = r.outcome() == v1::RULE_OUTCOME_PASS;
    if (passed && !options.all_rules) {
      ++hidden;
      continue;
    }
    std::string severity = SeverityName(r.severity());
    if (r.enforcement() == v1::RULE_ENFORCEMENT_WARN) absl::StrAppend(&severity, " (warn)");
    if (r.enforcement() == v1::RULE_ENFORCEMENT_AUDIT) absl::StrAppend(&severity, " (audit)");
    std::string message = Localized(r.message(), options);
    if (!r.error().empty()) message = absl::StrCat("error: ", r.error());
    table.AddRow({r.rule_id(), severity, RuleOutcomeName(r.outcome()),
                  absl::StrJoin(r.principles(), ","), passed ? "" : message});
  }
  if (table.rows() > 0) {
    out << "\n";
    table.Print(out);
  }
  if (hidden > 0) out << "(" << hidden << " passing rules not shown; --all-rules shows them)\n";
  if (!missing.empty()) {
    out << "\nmissing outputs:\n";
    Table t({"OUTPUT", "NAME"});
    for (const v1::OutputType& o : missing) t.AddRow({o.id(), Localized(o.name(), options)});
    t.Print(out);
  }
}

void PrintService(std::ostream& out, const v1::Service& s, const RenderOptions& options) {
  Table t({"FIELD", "VALUE"});
  t.AddRow({"id", s.id()});
  t.AddRow({"name", s.name()});
  t.AddRow({"agency", s.agency()});
  t.AddRow({"owner", s.owner()});
  if (!s.description().empty()) t.AddRow({"description", s.description()});
  t.AddRow({"pack", absl::StrCat(s.pack_id(), "@", s.pack_version())});
  t.AddRow({"stage", absl::StrCat(s.stage(), " (cycle ", s.cycle(), ")")});
  std::string status = StatusName(s.status());
  if (!s.status_reason().empty()) absl::StrAppend(&status, " (", s.status_reason(), ")");
  t.AddRow({"status", status});
  if (!s.gate_under_review().empty()) {
    t.AddRow({"gate under review", s.gate_under_review()});
    t.AddRow({"awaiting panels", absl::StrJoin(s.awaiting_panels(), ", ")});
  }
  if (s.has_latest_evaluation()) {
    const v1::GateSummary& e = s.latest_evaluation();
    t.AddRow({"latest evaluation",
              absl::StrFormat("gate %s: ready %s, must %d/%d, should %.2f%s (%s)", e.gate(),
                              YesNo(e.ready()), e.must_passed(), e.must_total(), e.should_score(),
                              e.stale() ? ", stale" : "", FormatTime(e.evaluated_at()))});
  }
  std::vector<std::string> outputs;
  for (const auto& [type, revision] : s.output_revisions()) {
    outputs.push_back(absl::StrCat(type, "@", revision));
  }
  std::sort(outputs.begin(), outputs.end());
  t.AddRow({"outputs", outputs.empty() ? "-" : absl::StrJoin(outputs, ", ")});
  for (const v1::Condition& c : s.open_conditions()) {
    t.AddRow({"open condition",
              absl::StrCat(c.id(), ": ", c.text(), " (due ", FormatTime(c.due()), ", ",
                           ShortEnumName(v1::ConditionStatus_Name(c.status()), "CONDITION_STATUS_"),
                           ")")});
  }
  t.AddRow({"events", absl::StrCat(s.last_event_sequence())});
  t.AddRow({"updated", FormatTime(s.update_time())});
  t.AddRow({"etag", s.etag()});
  t.Print(out);
}

void PrintGateCheck(std::ostream& out, const v1::GateCheck& check) {
  if (!check.has_summary()) return;
  const v1::GateSummary& s = check.summary();
  out << absl::StrFormat("gate %s: %d/%d must rules pass, should score %.2f, ready: %s%s\n",
                         s.gate(), s.must_passed(), s.must_total(), s.should_score(),
                         YesNo(s.ready()), check.became_ready() ? " (just became ready)" : "");
  if (!check.failing_rules().empty()) {
    out << "failing: " << absl::StrJoin(check.failing_rules(), ", ") << "\n";
  }
}

std::string EventSummary(const v1::Event& e) {
  switch (e.data_case()) {
    case v1::Event::kServiceRegistered:
      return absl::StrCat("registered '", e.service_registered().name(), "' at ",
                          e.service_registered().stage(), " (",
                          e.service_registered().pack().pack_id(), "@",
                          e.service_registered().pack().pack_version(), ")");
    case v1::Event::kOutputSubmitted:
      return absl::StrCat(e.output_submitted().output_type(), " revision ",
                          e.output_submitted().revision());
    case v1::Event::kAssessmentRecorded:
      return absl::StrFormat("%s score %.2f (%d/%d answered)", e.assessment_recorded().principle(),
                             e.assessment_recorded().score(), e.assessment_recorded().answered(),
                             e.assessment_recorded().total());
    case v1::Event::kStageAdvanced:
      return absl::StrCat("to ", e.stage_advanced().to_stage());
    case v1::Event::kGateEvaluated:
      return absl::StrFormat("%s: %d/%d must, should %.2f, ready %s (%s)",
                             e.gate_evaluated().gate(), e.gate_evaluated().must_passed(),
                             e.gate_evaluated().must_total(), e.gate_evaluated().should_score(),
                             YesNo(e.gate_evaluated().ready()), e.gate_evaluated().trigger());
    case v1::Event::kGateReady:
      return absl::StrCat(e.gate_ready().gate(), " ready");
    case v1::Event::kReviewRequested:
      return absl::StrCat(e.review_requested().gate(), " review, panels ",
                          absl::StrJoin(e.review_requested().panels(), ", "));
    case v1::Event::kDecisionRecorded:
      return absl::StrCat(e.decision_recorded().gate(), ": ",
                          e.decision_recorded().decision().panel(), " decided ",
                          OutcomeName(e.decision_recorded().decision().outcome()));
    case v1::Event::kGateApproved: {
      const v1::GateResult& r = e.gate_approved().result();
      return absl::StrCat(r.gate(), " approved: ", r.from_stage(), " -> ", r.to_stage());
    }
    case v1::Event::kGateApprovedWithConditions: {
      const v1::GateResult& r = e.gate_approved_with_conditions().result();
      return absl::StrCat(r.gate(), " approved with ", r.conditions_size(),
                          " condition(s): ", r.from_stage(), " -> ", r.to_stage());
    }
    case v1::Event::kRecycled:
      return absl::StrCat(e.recycled().result().gate(), " recycled to ",
                          e.recycled().result().to_stage());
    case v1::Event::kHeld:
      return absl::StrCat("on hold: ", e.held().reason());
    case v1::Event::kResumed:
      return absl::StrCat("resumed: ", e.resumed().reason());
    case v1::Event::kStopped:
      return absl::StrCat("stopped: ", e.stopped().reason());
    case v1::Event::kRetired:
      return absl::StrCat("retired: ", e.retired().reason());
    case v1::Event::kPackMigrated:
      return absl::StrCat(e.pack_migrated().from_pack().pack_version(), " -> ",
                          e.pack_migrated().to_pack().pack_version());
    case v1::Event::DATA_NOT_SET:
      break;
  }
  return "";
}

}  // namespace varav::cli
