// Gate commands: check (the pipeline-friendly dry run), review, status and decide.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/cli/commands.h"

namespace varav::cli {
namespace {

using Stub = v1::LifecycleService::Stub;

const FlagSpec kAllRulesFlag{"all-rules", "", "list passing rules too"};

int GateCheck(CommandContext& ctx) {
  const ParsedArgs& a = ctx.args();
  v1::CheckGateRequest request;
  request.set_service_id(a.Positional(0));
  request.set_gate(a.Get("gate"));
  for (const std::string& spec : a.GetAll("with")) {
    std::pair<std::string, std::string> kv = absl::StrSplit(spec, absl::MaxSplits('=', 1));
    if (kv.first.empty() || !absl::StrContains(spec, '=')) {
      return ctx.Usage(
          absl::StrCat("--with: expected OUTPUT=@fields.json or OUTPUT={...}, got '", spec, "'"));
    }
    auto fields = ParseFieldsArgument(absl::StrCat("--with ", kv.first), kv.second);
    if (!fields.ok()) return ctx.Usage(fields.status().message());
    v1::OutputDraft* draft = request.add_hypothetical_outputs();
    draft->set_output_type(kv.first);
    *draft->mutable_fields() = *fields;
  }
  auto r = ctx.Call(&Stub::CheckGate, request);
  if (!r.ok()) return ctx.Fail(r.status());
  bool ready = r->evaluation().ready();
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
  } else {
    ctx.out() << "gate " << r->evaluation().gate_id() << " of " << request.service_id()
              << (request.hypothetical_outputs().empty() ? "" : " (with hypothetical outputs)")
              << ": " << (ready ? "PASS" : "NOT READY") << "\n";
    PrintEvaluation(ctx.out(), r->evaluation(), r->missing_outputs(), ctx.render());
  }
  return ready ? kExitOk : kExitFailure;
}

int GateReview(CommandContext& ctx) {
  v1::RequestGateReviewRequest request;
  request.set_service_id(ctx.args().Positional(0));
  auto etag = ctx.Etag(request.service_id());
  if (!etag.ok()) return ctx.Fail(etag.status());
  request.set_etag(*etag);
  request.set_request_id(ctx.RequestId());
  auto r = ctx.Call(&Stub::RequestGateReview, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  ctx.out() << r->service().id() << " is in review at gate " << r->service().gate_under_review()
            << "; awaiting " << absl::StrJoin(r->service().awaiting_panels(), ", ") << "\n";
  PrintGateCheck(ctx.out(), r->gate_check());
  return kExitOk;
}

void PrintDecisions(std::ostream& out, const v1::GetGateStatusResponse& r) {
  if (r.decisions().empty()) return;
  out << "\ndecisions:\n";
  Table t({"#", "PANEL", "OUTCOME", "BY", "AT", "RATIONALE"});
  for (const v1::Decision& d : r.decisions()) {
    std::string outcome = OutcomeName(d.outcome());
    if (!d.recycle_to_stage().empty()) absl::StrAppend(&outcome, " -> ", d.recycle_to_stage());
    if (d.superseded()) absl::StrAppend(&outcome, " (superseded)");
    t.AddRow({absl::StrCat(d.number()), d.panel(), outcome, d.decided_by(),
              FormatTime(d.decided_at()), d.rationale()});
  }
  t.Print(out, 60);
}

int GateStatus(CommandContext& ctx) {
  v1::GetGateStatusRequest request;
  request.set_service_id(ctx.args().Positional(0));
  request.set_gate(ctx.args().Get("gate"));
  auto r = ctx.Call(&Stub::GetGateStatus, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  const v1::Service& s = r->service();
  std::ostream& out = ctx.out();
  out << "gate " << r->gate().id() << " — " << Localized(r->gate().name(), ctx.render()) << "\n";
  out << "service " << s.id() << " (" << s.name() << "): stage " << s.stage() << ", "
      << StatusName(s.status()) << "\n";
  out << "panels: " << absl::StrJoin(r->gate().panels(), ", ");
  if (!r->awaiting_panels().empty()) {
    out << "  (awaiting " << absl::StrJoin(r->awaiting_panels(), ", ") << ")";
  }
  out << "\n";
  if (r->dry_run()) out << "(evaluated now as a dry run; nothing stored)\n";
  if (r->stale()) out << "(the stored evaluation is stale: its inputs changed since)\n";
  PrintEvaluation(out, r->evaluation(), r->missing_outputs(), ctx.render());
  PrintDecisions(out, *r);
  if (!r->open_conditions().empty()) {
    out << "\nopen conditions:\n";
    Table t({"ID", "PANEL", "DUE", "STATUS", "TEXT"});
    for (const v1::Condition& c : r->open_conditions()) {
      t.AddRow({c.id(), c.panel(), FormatTime(c.due()),
                ShortEnumName(v1::ConditionStatus_Name(c.status()), "CONDITION_STATUS_"),
                c.text()});
    }
    t.Print(out, 60);
  }
  return kExitOk;
}

int GateDecide(CommandContext& ctx) {
  const ParsedArgs& a = ctx.args();
  v1::RecordDecisionRequest request;
  request.set_service_id(a.Positional(0));
  request.set_panel(a.Get("panel"));
  request.set_rationale(a.Get("rationale"));
  request.set_recycle_to_stage(a.Get("recycle-to"));
  if (request.panel().empty()) return ctx.Usage("--panel is required");
  if (request.rationale().empty()) return ctx.Usage("--rationale is required");
  auto outcome = ParseOutcome(a.Get("outcome"));
  if (!outcome.ok()) return ctx.Usage(outcome.status().message());
  request.set_outcome(*outcome);
  for (const std::string& spec : a.GetAll("condition")) {
    std::vector<std::string> parts = absl::StrSplit(spec, absl::MaxSplits(';', 2));
    if (parts.size() < 2) {
      return ctx.Usage(
          absl::StrCat("--condition: expected 'TEXT;DUE[;CHECK_EXPR]', got '", spec, "'"));
    }
    auto due = ParseTime(absl::StripAsciiWhitespace(parts[1]));
    if (!due.ok()) return ctx.Usage(absl::StrCat("--condition due: ", due.status().message()));
    v1::ConditionSpec* c = request.add_conditions();
    c->set_text(std::string(absl::StripAsciiWhitespace(parts[0])));
    *c->mutable_due() = *due;
    if (parts.size() > 2) c->set_check_expr(parts[2]);
  }
  // The gate must name the gate under review; read it together with the etag unless both given.
  if (a.Has("etag") && a.Has("gate")) {
    request.set_etag(a.Get("etag"));
    request.set_gate(a.Get("gate"));
  } else {
    v1::GetServiceRequest get;
    get.set_service_id(request.service_id());
    auto s = ctx.Call(&Stub::GetService, get);
    if (!s.ok()) return ctx.Fail(s.status());
    request.set_etag(a.Get("etag", s->service().etag()));
    request.set_gate(a.Get("gate", s->service().gate_under_review()));
    if (request.gate().empty()) {
      ctx.err() << "error: " << request.service_id() << " is not in review (status "
                << StatusName(s->service().status()) << "); request one with 'varavctl gate "
                << "review " << request.service_id() << "'\n";
      return kExitFailure;
    }
  }
  request.set_request_id(ctx.RequestId());
  auto r = ctx.Call(&Stub::RecordDecision, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  const v1::Service& s = r->service();
  ctx.out() << "recorded decision #" << r->decision().number() << ": " << r->decision().panel()
            << " says " << OutcomeName(r->decision().outcome()) << " at gate "
            << r->decision().gate() << "\n";
  if (r->applied_outcome() != v1::GATE_OUTCOME_UNSPECIFIED) {
    ctx.out() << "gate " << r->decision().gate()
              << " outcome: " << OutcomeName(r->applied_outcome()) << "; " << s.id() << " is now "
              << StatusName(s.status()) << " at stage " << s.stage() << " (cycle " << s.cycle()
              << ")\n";
  } else {
    ctx.out() << "awaiting " << absl::StrJoin(s.awaiting_panels(), ", ") << "\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterGateCommands(std::vector<Command>* commands) {
  commands->push_back(
      {{.path = "gate check",
        .usage = "SERVICE",
        .summary = "dry-run a gate; exit 0 when its must rules pass, 1 otherwise",
        .details =
            "Evaluates the gate closing the service's current diamond (or --gate) without "
            "changing anything and prints the failing rules and the missing outputs, so an agency "
            "pipeline can stop before requesting a review. --with OUTPUT=@fields.json adds a "
            "hypothetical output (replacing the latest revision of its type) for what-if checks.",
        .flags = {{"gate", "GATE", "the gate, e.g. A (default: the current diamond's gate)"},
                  {"with", "OUTPUT=@FILE|OUTPUT=JSON", "a hypothetical output (repeatable)", true},
                  kAllRulesFlag},
        .min_positional = 1,
        .max_positional = 1},
       GateCheck});
  commands->push_back(
      {{.path = "gate review",
        .usage = "SERVICE",
        .summary = "request the review of the current gate (refused while must rules fail)",
        .flags = {kEtagFlag, kRequestIdFlag},
        .min_positional = 1,
        .max_positional = 1},
       GateReview});
  commands->push_back(
      {{.path = "gate status",
        .usage = "SERVICE",
        .summary = "rule results, missing outputs, decisions and open conditions of a gate",
        .flags = {{"gate", "GATE", "the gate (default: under review, else the current one)"},
                  kAllRulesFlag},
        .min_positional = 1,
        .max_positional = 1},
       GateStatus});
  commands->push_back(
      {{.path = "gate decide",
        .usage = "SERVICE",
        .summary = "record a panel's decision at the gate under review",
        .details = "Example: varavctl gate decide svc-x --panel it_funding_council "
                   "--outcome go_with_conditions --rationale 'Budget sound.' "
                   "--condition 'Split the budget by stage;2027-01-31'",
        .flags = {{"panel", "PANEL", "the deciding panel (required)"},
                  {"outcome", "OUTCOME",
                   "go, go_with_conditions, recycle, hold or stop (required)"},
                  {"rationale", "TEXT", "why (required)"},
                  {"recycle-to", "STAGE", "for recycle: the stage to return to"},
                  {"condition", "'TEXT;DUE[;CHECK_EXPR]'",
                   "for go_with_conditions: a condition, DUE as 2027-01-31 (repeatable)", true},
                  {"gate", "GATE", "the gate (default: the gate under review)"},
                  kEtagFlag,
                  kRequestIdFlag},
        .min_positional = 1,
        .max_positional = 1},
       GateDecide});
}

}  // namespace varav::cli
