// Rule-pack commands: list, get, validate (a local pack directory) and eval (the CEL playground).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "services/cli/commands.h"

namespace varav::cli {
namespace {

using Stub = v1::RulesService::Stub;

int RulesList(CommandContext& ctx) {
  v1::ListRulePacksRequest request;
  v1::ListRulePacksResponse combined;
  do {
    auto r = ctx.Call(&Stub::ListRulePacks, request);
    if (!r.ok()) return ctx.Fail(r.status());
    for (const auto& p : r->rule_packs()) *combined.add_rule_packs() = p;
    request.set_page_token(r->next_page_token());
  } while (!request.page_token().empty());
  if (ctx.json()) {
    PrintJson(ctx.out(), combined);
    return kExitOk;
  }
  Table t({"PACK", "STAGES", "GATES", "OUTPUTS", "RULES", "EXTENDS", "DIGEST", "TITLE"});
  for (const v1::RulePackSummary& p : combined.rule_packs()) {
    t.AddRow({p.key(), absl::StrCat(p.stage_count()), absl::StrCat(p.gate_count()),
              absl::StrCat(p.output_count()), absl::StrCat(p.rule_count()),
              p.extends().empty() ? "-" : p.extends(), p.digest().substr(0, 12),
              Localized(p.title(), ctx.render())});
  }
  t.Print(ctx.out());
  return kExitOk;
}

int RulesGet(CommandContext& ctx) {
  v1::GetRulePackRequest request;
  request.set_pack(ctx.args().Positional(0));
  auto r = ctx.Call(&Stub::GetRulePack, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  const v1::RulePack& p = r->rule_pack();
  const RenderOptions& ro = ctx.render();
  std::ostream& out = ctx.out();
  out << p.id() << "@" << p.version() << " — " << Localized(p.title(), ro) << "\ndigest "
      << r->digest() << "\n";
  if (!p.extends().empty()) out << "extends " << p.extends() << "\n";
  out << "\nstages:\n";
  Table stages({"STAGE", "DIAMOND", "NAME"});
  for (const v1::Stage& s : p.stages()) {
    stages.AddRow({s.id(), absl::StrCat(s.diamond()), Localized(s.name(), ro)});
  }
  stages.Print(out);
  out << "\ngates:\n";
  Table gates({"GATE", "AFTER", "GO TO", "PANELS", "NAME"});
  for (const v1::Gate& g : p.gates()) {
    gates.AddRow({g.id(), g.after_stage(), g.go_to(), absl::StrJoin(g.panels(), ", "),
                  Localized(g.name(), ro)});
  }
  gates.Print(out);
  std::string only_gate = ctx.args().Get("gate");
  out << "\noutputs:\n";
  Table outputs({"OUTPUT", "GATE", "PRINCIPLES", "NAME"});
  for (const v1::OutputType& o : p.outputs()) {
    if (!only_gate.empty() && o.gate() != only_gate) continue;
    outputs.AddRow({o.id(), o.gate(), absl::StrJoin(o.principles(), ","), Localized(o.name(), ro)});
  }
  outputs.Print(out, 60);
  if (ctx.args().GetBool("rules")) {
    out << "\nrules:\n";
    Table rules({"RULE", "GATE", "SEVERITY", "WEIGHT", "EXPRESSION"});
    for (const v1::Rule& rule : p.rules()) {
      if (!only_gate.empty() && rule.gate() != only_gate) continue;
      rules.AddRow({rule.id(), rule.gate(), SeverityName(rule.severity()),
                    absl::StrFormat("%g", rule.weight()), rule.expr()});
    }
    rules.Print(out, 80);
  } else {
    out << "\n(" << p.rules_size() << " rules; --rules lists them)\n";
  }
  return kExitOk;
}

int RulesValidate(CommandContext& ctx) {
  namespace fs = std::filesystem;
  fs::path dir = ctx.args().Positional(0);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return ctx.Usage(absl::StrCat(dir.string(), " is not a directory"));
  }
  v1::ValidateRulePackRequest request;
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    // tests/ holds the pack's rule tests (fixtures and verdicts), which are not pack files.
    fs::path rel = fs::relative(it->path(), dir, ec);
    if (!rel.empty() && *rel.begin() == "tests") continue;
    std::string ext = it->path().extension().string();
    if (ext == ".yaml" || ext == ".yml") files.push_back(it->path());
  }
  if (ec) return ctx.Usage(absl::StrCat("cannot read ", dir.string(), ": ", ec.message()));
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    auto content = ReadFile(f.string());
    if (!content.ok()) return ctx.Usage(content.status().message());
    v1::RulePackFile* file = request.add_files();
    file->set_path(fs::relative(f, dir).generic_string());
    file->set_content(*content);
  }
  auto r = ctx.Call(&Stub::ValidateRulePack, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
  } else {
    for (const v1::RulePackDiagnostic& d : r->diagnostics()) {
      ctx.out() << (dir / d.file()).string() << ":" << d.line() << ":" << d.column() << ": "
                << d.message() << "\n";
      if (!d.detail().empty()) ctx.out() << d.detail() << "\n";
    }
    if (r->valid()) {
      const v1::RulePackSummary& p = r->rule_pack();
      ctx.out() << "valid: " << p.key() << " (" << p.stage_count() << " stages, " << p.gate_count()
                << " gates, " << p.output_count() << " outputs, " << p.rule_count()
                << " rules), digest " << p.digest() << "\n";
    } else {
      ctx.out() << "invalid: " << r->diagnostics_size() << " problem(s) in " << files.size()
                << " file(s)\n";
    }
  }
  return r->valid() ? kExitOk : kExitFailure;
}

int RulesEval(CommandContext& ctx) {
  v1::EvaluateExpressionRequest request;
  request.set_service_id(ctx.args().Positional(0));
  request.set_expression(ctx.args().Positional(1));
  request.set_gate(ctx.args().Get("gate"));
  auto r = ctx.Call(&Stub::EvaluateExpression, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
  } else if (!r->issues().empty()) {
    ctx.out() << r->formatted_issues();
    if (!r->formatted_issues().empty() && r->formatted_issues().back() != '\n') ctx.out() << "\n";
  } else if (!r->error().empty()) {
    ctx.out() << "error: " << r->error() << "  (type " << r->type() << ")\n";
  } else {
    ctx.out() << r->value_text() << "  (type " << r->type() << ")\n";
  }
  return r->issues().empty() && r->error().empty() ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterRulesCommands(std::vector<Command>* commands) {
  commands->push_back(
      {{.path = "rules list", .usage = "", .summary = "list the rule packs the server has loaded"},
       RulesList});
  commands->push_back({{.path = "rules get",
                        .usage = "ID@VERSION",
                        .summary = "show a rule pack: stages, gates, outputs (and rules)",
                        .flags = {{"rules", "", "list the rules with their expressions"},
                                  {"gate", "GATE", "only outputs and rules of this gate"}},
                        .min_positional = 1,
                        .max_positional = 1},
                       RulesGet});
  commands->push_back(
      {{.path = "rules validate",
        .usage = "DIR",
        .summary = "validate a local rule pack directory (exit 1 when invalid)",
        .details = "Uploads every .yaml file under DIR except tests/ (pack.yaml is the manifest) "
                   "and prints each "
                   "problem as FILE:LINE:COLUMN: message. Nothing is installed.",
        .min_positional = 1,
        .max_positional = 1},
       RulesValidate});
  commands->push_back(
      {{.path = "rules eval",
        .usage = "SERVICE EXPRESSION",
        .summary = "evaluate a CEL expression against a service's current gate input",
        .details = "Example: varavctl rules eval svc-x "
                   "'outputs.goals_metrics.fields.kpis.map(k, k.name)'",
        .flags = {{"gate", "GATE", "the gate bound to `gate` (default: the current one)"}},
        .min_positional = 2,
        .max_positional = 2},
       RulesEval});
}

}  // namespace varav::cli
