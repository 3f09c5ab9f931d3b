// How varavctl shows API messages to a person: aligned text tables, short enum names
// ("in_review", "go_with_conditions"), UTC times, localized texts in the chosen language, and
// the gate-centred views (a gate evaluation with its failing rules and missing outputs) shared by
// `gate check`, `gate status` and the demo. `--json` bypasses all of this and prints protobuf
// JSON (PrintJson).
//
// Column widths count Unicode code points, so Estonian names ("Vanemahüvitise e-teenus") line up.
//
// Thread safety: pure functions; Table is a plain value.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "varav/v1/evaluation.pb.h"
#include "varav/v1/lifecycle_service.pb.h"
#include "varav/v1/resources.pb.h"
#include "varav/v1/rulepack.pb.h"

namespace varav::cli {

// Display language of localized texts: "en" (default) or "et".
struct RenderOptions {
  std::string lang = "en";
  // Also list passing rules in gate views.
  bool all_rules = false;
};

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  // Prints the header and the rows, columns separated by two spaces; the last column is not
  // padded. A cell longer than `max_cell` code points (0: unlimited) is cut with an ellipsis.
  void Print(std::ostream& out, size_t max_cell = 0) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Number of Unicode code points in UTF-8 text.
size_t DisplayWidth(absl::string_view text);
// `text` cut to at most `width` code points, ending in "…" when cut.
std::string Truncate(absl::string_view text, size_t width);

// Protobuf JSON (camelCase names, indented), followed by a newline.
void PrintJson(std::ostream& out, const google::protobuf::Message& message);

// "SERVICE_STATUS_IN_REVIEW" -> "in_review" for any enum value name with the given prefix.
std::string ShortEnumName(absl::string_view full_name, absl::string_view prefix);
std::string StatusName(v1::ServiceStatus status);
std::string OutcomeName(v1::GateOutcome outcome);
std::string RuleOutcomeName(v1::RuleOutcome outcome);
std::string SeverityName(v1::RuleSeverity severity);
// Parses "go", "go_with_conditions" (or "go-with-conditions"), "recycle", "hold", "stop".
absl::StatusOr<v1::GateOutcome> ParseOutcome(absl::string_view text);
// Parses "active", "in_review", "on_hold", "stopped", "retired".
absl::StatusOr<v1::ServiceStatus> ParseStatus(absl::string_view text);
// Parses "yes", "partly", "no", "na" (or "not_applicable").
absl::StatusOr<v1::AnswerValue> ParseAnswer(absl::string_view text);

// "2026-11-25 14:26:19Z"; "-" when unset.
std::string FormatTime(const google::protobuf::Timestamp& t);
// Parses RFC 3339 ("2027-01-31T00:00:00Z") or a plain date ("2027-01-31", midnight UTC).
absl::StatusOr<google::protobuf::Timestamp> ParseTime(absl::string_view text);
std::string Localized(const v1::LocalizedText& text, const RenderOptions& options);

// Counts of enforced must rules: passed and total.
struct MustCount {
  int passed = 0;
  int total = 0;
};
MustCount CountMust(const v1::GateEvaluation& evaluation);

// One line: "ready: yes  must rules passing: 14/14  should score: 0.92".
std::string EvaluationHeadline(const v1::GateEvaluation& evaluation);

// The rules of an evaluation as a table (failing rules only unless options.all_rules) followed
// by the missing outputs.
void PrintEvaluation(std::ostream& out, const v1::GateEvaluation& evaluation,
                     const google::protobuf::RepeatedPtrField<v1::OutputType>& missing,
                     const RenderOptions& options);

// A service's identity, position in the lifecycle and latest evaluation, as "key: value" lines.
void PrintService(std::ostream& out, const v1::Service& service, const RenderOptions& options);

// The compact gate check returned by mutations: "gate A: 12/14 must rules pass, ...".
void PrintGateCheck(std::ostream& out, const v1::GateCheck& check);

// A one-line description of an event's payload (e.g. "A: business_panel decided go").
std::string EventSummary(const v1::Event& event);

}  // namespace varav::cli
