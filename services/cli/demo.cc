// `varavctl demo`: a guided walk of a sample service through diamond 1 and gate A, so that a
// newcomer sees in a minute what Värav does. The sample is the proactive parental benefit
// e-service of the Social Insurance Board; its outputs and self-assessments are the complete
// fixture of rules/teenuse-standard-2.0/tests/gate_a.yaml, which passes every gate A rule.
//
// Every run registers a fresh service id (timestamp suffix) so the demo can be repeated against
// the same server. It acts with the caller's token throughout; panel decisions use the token of
// --panel-token PANEL=FILE when given (a panel member's), else the caller's (an admin may decide
// for any panel, provided it is not of the service's agency).
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/common/sha256.h"
#include "google/protobuf/util/json_util.h"
#include "services/cli/commands.h"

namespace varav::cli {
namespace {

using Stub = v1::LifecycleService::Stub;

constexpr char kAgency[] = "sotsiaalkindlustusamet";

struct DemoOutput {
  const char* type;
  const char* stage;  // the stage the team produces it in
  const char* doc_id;
  const char* title;
  const char* fields_json;
};

// The outputs of gate_a.yaml's `gate_a_complete` fixture, as JSON.
const DemoOutput kOutputs[] = {
    {"vision", "envision", "SKA/2025/VH-1", "Visioon",
     R"json({
  "statement": "Lapsevanem saab vanemahüvitise ilma taotlust esitamata: riik pakub hüvitist ennetavalt lapse sünni registreerimise põhjal ning vanem ainult kinnitab valikud.",
  "intended_impact": "Vanemate halduskoormus väheneb, hüvitis jõuab kõigi õigustatuteni õigel ajal ja Sotsiaalkindlustusameti käsitöö väheneb poole võrra.",
  "strategy_refs": ["Heaolu arengukava 2023–2030", "Eesti digiühiskonna arengukava 2030",
                    "Sotsiaalkindlustusameti arengukava 2025–2028"],
  "horizon_years": 5,
  "scope": "Vanemahüvitise ja sünnitushüvitise määramine ning vanemate vahel hüvitise jagamine.",
  "affected_services": ["Vanemahüvitis", "Sünnitoetus", "Lapsetoetus"]
})json"},
    {"goals_metrics", "plan", "SKA/2025/VH-2", "Eesmärgid ja mõõdikud",
     R"json({
  "goals": ["Vähemalt 90% vanemahüvitistest määratakse ennetavalt ilma taotluseta.",
            "Hüvitise määramise aeg lüheneb kümnelt tööpäevalt kahele.",
            "Teenusega rahulolu tõuseb vähemalt 85%-ni."],
  "kpis": [
    {"name": "Ennetavalt määratud hüvitiste osakaal", "baseline": 12.0, "target": 90.0, "unit": "%",
     "due": "2027-06-30T00:00:00Z", "data_source": "SKA sotsiaalkaitse infosüsteem (SKAIS2)"},
    {"name": "Määramise keskmine kestus", "baseline": 10.0, "target": 2.0, "unit": "tööpäeva",
     "due": "2027-06-30T00:00:00Z", "data_source": "SKAIS2 menetlusandmed"},
    {"name": "Kasutajate rahulolu", "baseline": 71.0, "target": 85.0, "unit": "%",
     "due": "2027-12-31T00:00:00Z", "data_source": "Rahuloluküsitlus eesti.ee-s"}],
  "evaluation_frequency": "quarterly",
  "expected_impact_5y": "Vanemate ajakulu väheneb kokku ligikaudu 20 000 tunni võrra aastas."
})json"},
    {"management_plan", "plan", "SKA/2025/VH-3", "Teenuse juhtimise plaan",
     R"json({
  "service_owner": {"name": "Mari Tamm", "role": "Perehüvitiste osakonna juhataja",
                    "appointed_at": "2025-01-06T00:00:00Z"},
  "management_roles": [{"role": "Tootejuht", "name": "Kristjan Kask"},
                       {"role": "Teenusejuht", "name": "Liis Mägi"}],
  "action_plan_uri": "https://dhs.sotsiaalkindlustusamet.ee/projektid/vanemahyvitis/tegevuskava",
  "budget_eur": 480000.0,
  "budget_source": "Riigieelarve ja taaste- ja vastupidavusrahastu",
  "decision_ref": "SKA peadirektori käskkiri nr 1.1-3/25/17",
  "decision_date": "2025-02-20T00:00:00Z",
  "project_end": "2026-12-31T00:00:00Z"
})json"},
    {"team", "plan", "SKA/2025/VH-4", "Meeskond",
     R"json({
  "roles": [
    {"role": "Tootejuht", "name": "Kristjan Kask", "competence": "äri", "allocation_percent": 100},
    {"role": "Teenusedisainer", "name": "Anu Saar", "competence": "kasutajauuringud",
     "allocation_percent": 80},
    {"role": "Ärianalüütik", "name": "Peeter Lepp", "competence": "protsessid ja andmed",
     "allocation_percent": 100},
    {"role": "Arhitekt", "name": "Tõnu Rebane", "competence": "IT", "allocation_percent": 50},
    {"role": "Jurist", "name": "Kadri Sepp", "competence": "õigus", "allocation_percent": 20}],
  "competence_needs": ["äri", "kasutajauuringud", "IT-arhitektuur", "õigus", "andmekaitse"],
  "competence_gaps": [{"competence": "andmekaitse",
                       "mitigation": "Kaasatakse Sotsiaalministeeriumi andmekaitsespetsialist."}],
  "stakeholders_mapped": true
})json"},
};

// The fixture's self-assessments: answers to questions Q1, Q2, ... of each principle.
struct DemoAssessment {
  const char* principle;
  std::vector<const char*> answers;
};
const DemoAssessment kAssessments[] = {
    {"P1", {"yes", "yes", "yes", "partly", "yes", "partly"}},
    {"P2", {"yes", "yes", "yes", "partly", "partly", "yes"}},
    {"P3", {"yes", "partly", "partly", "na", "partly", "yes"}},
    {"P4", {"yes", "yes", "partly", "yes"}},
    {"P9", {"na", "yes", "na", "partly"}},
    {"P14", {"yes", "yes", "partly", "partly"}},
};

class Demo {
 public:
  explicit Demo(CommandContext& ctx) : ctx_(ctx), out_(ctx.out()) {}

  int Run() {
    const ParsedArgs& a = ctx_.args();
    service_id_ = a.Get(
        "service-id", absl::StrCat("vanemahyvitis-", absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(),
                                                                      absl::UTCTimeZone())));
    for (const std::string& spec : a.GetAll("panel-token")) {
      std::pair<std::string, std::string> kv = absl::StrSplit(spec, absl::MaxSplits('=', 1));
      if (kv.first.empty() || kv.second.empty()) {
        return ctx_.Usage(absl::StrCat("--panel-token: expected PANEL=FILE, got '", spec, "'"));
      }
      panel_tokens_.push_back(kv);
    }
    absl::StatusOr<Client*> client = ctx_.client();
    if (!client.ok()) return ctx_.Fail(client.status());
    client_ = *client;

    out_ << "Värav demo: the parental benefit e-service of the Social Insurance Board goes from\n"
            "envision through gate A (vision and plan feasibility), against "
         << client_->options().address << ".\n";

    Step("1. Register the service (it starts at the first stage, envision)");
    v1::RegisterServiceRequest reg;
    reg.set_request_id(RandomRequestId());
    reg.set_service_id(service_id_);
    reg.set_name("Vanemahüvitise e-teenus");
    reg.set_agency(kAgency);
    reg.set_owner("Mari Tamm");
    reg.set_description(
        "Proaktiivne vanemahüvitis: riik pakub hüvitist lapse sünni registreerimise põhjal.");
    Calling("RegisterService", absl::StrCat(service_id_, ", agency ", kAgency));
    auto registered = client_->Call(&Stub::RegisterService, reg);
    if (!registered.ok()) return ctx_.Fail(registered.status());
    etag_ = registered->service().etag();
    out_ << "   registered '" << registered->service().name() << "', pinned to "
         << registered->service().pack_id() << "@" << registered->service().pack_version()
         << ", stage " << registered->service().stage() << "\n";
    if (int rc = ShowGate(); rc != kExitOk) return rc;

    int step = 2;
    std::string stage = "envision";
    for (const DemoOutput& o : kOutputs) {
      if (o.stage != stage) {
        Step(absl::StrCat(step++, ". Advance to the next stage of diamond 1 (", o.stage, ")"));
        v1::AdvanceStageRequest adv;
        adv.set_request_id(RandomRequestId());
        adv.set_etag(etag_);
        adv.set_service_id(service_id_);
        Calling("AdvanceStage", service_id_);
        auto advanced = client_->Call(&Stub::AdvanceStage, adv);
        if (!advanced.ok()) return ctx_.Fail(advanced.status());
        etag_ = advanced->service().etag();
        stage = advanced->service().stage();
        out_ << "   now at stage " << stage << "\n";
      }
      Step(absl::StrCat(step++, ". Submit the ", o.type, " (", o.title, ")"));
      if (int rc = Submit(o); rc != kExitOk) return rc;
    }

    Step(absl::StrCat(step++, ". Record the self-assessments of principles ",
                      "P1, P2, P3, P4, P9 and P14"));
    for (const DemoAssessment& as : kAssessments) {
      if (int rc = Assess(as); rc != kExitOk) return rc;
    }
    if (int rc = ShowGate(); rc != kExitOk) return rc;

    Step(absl::StrCat(step++, ". Dry-run gate A as a pipeline would (varavctl gate check ",
                      service_id_, ")"));
    v1::CheckGateRequest check;
    check.set_service_id(service_id_);
    Calling("CheckGate", service_id_);
    auto checked = client_->Call(&Stub::CheckGate, check);
    if (!checked.ok()) return ctx_.Fail(checked.status());
    out_ << "   " << EvaluationHeadline(checked->evaluation()) << "\n";
    if (!checked->evaluation().ready()) {
      ctx_.err() << "error: gate A is not ready although every output was submitted; failing: "
                 << absl::StrJoin(checked->evaluation().failing_rules(), ", ") << "\n";
      return kExitFailure;
    }

    Step(absl::StrCat(step++, ". Request the gate A review"));
    v1::RequestGateReviewRequest review;
    review.set_request_id(RandomRequestId());
    review.set_etag(etag_);
    review.set_service_id(service_id_);
    Calling("RequestGateReview", service_id_);
    auto reviewed = client_->Call(&Stub::RequestGateReview, review);
    if (!reviewed.ok()) return ctx_.Fail(reviewed.status());
    etag_ = reviewed->service().etag();
    out_ << "   in review at gate " << reviewed->service().gate_under_review() << "; awaiting "
         << absl::StrJoin(reviewed->service().awaiting_panels(), " and ") << "\n";

    Step(absl::StrCat(step++, ". The business panel decides: go"));
    if (int rc = Decide("business_panel", v1::GATE_OUTCOME_GO,
                        "Visioon on strateegiaga kooskõlas ja mõõdikutel on lähtetase ning "
                        "sihttase; jätkata probleemi mõistmisega.",
                        {});
        rc != kExitOk) {
      return rc;
    }
    Step(absl::StrCat(step++, ". The IT funding council decides: go with a condition"));
    v1::ConditionSpec condition;
    condition.set_text(
        "Esitada eelarve jaotus etappide kaupa ja andmekaitsespetsialisti "
        "kaasamise kokkulepe.");
    absl::Time due = absl::Now() + absl::Hours(24 * 60);
    condition.mutable_due()->set_seconds(absl::ToUnixSeconds(due));
    if (int rc = Decide("it_funding_council", v1::GATE_OUTCOME_GO_WITH_CONDITIONS,
                        "Eelarve on realistlik ja rahastusallikas kinnitatud; tingimusel, et "
                        "eelarve jaotus etappide kaupa esitatakse kahe kuu jooksul.",
                        {condition});
        rc != kExitOk) {
      return rc;
    }

    Step(absl::StrCat(step++, ". The audit trail"));
    v1::ListEventsRequest events;
    events.set_service_id(service_id_);
    events.set_page_size(1000);
    Calling("ListEvents", service_id_);
    auto listed = client_->Call(&Stub::ListEvents, events);
    if (!listed.ok()) return ctx_.Fail(listed.status());
    Table t({"SEQ", "TYPE", "PRINCIPAL", "SUMMARY"});
    for (const v1::Event& e : listed->events()) {
      t.AddRow({absl::StrCat(e.service_sequence()), e.type(), e.principal(), EventSummary(e)});
    }
    std::ostringstream table;
    t.Print(table, 64);
    for (absl::string_view line : absl::StrSplit(table.str(), '\n', absl::SkipEmpty())) {
      out_ << "   " << line << "\n";
    }
    v1::VerifyAuditTrailRequest verify;
    verify.set_service_id(service_id_);
    Calling("VerifyAuditTrail", service_id_);
    auto verified = client_->Call(&Stub::VerifyAuditTrail, verify);
    if (!verified.ok()) return ctx_.Fail(verified.status());
    out_ << "   hash chain " << (verified->valid() ? "intact" : "BROKEN") << ": "
         << verified->event_count() << " events, head " << verified->head_hash().substr(0, 16)
         << "…\n";

    out_ << "\nDone. The service passed gate A and is now in diamond 2. Look around with:\n"
         << "  varavctl services get " << service_id_ << "\n"
         << "  varavctl gate status " << service_id_ << " --gate A\n"
         << "  varavctl gate check " << service_id_ << "          # gate B: what is missing\n"
         << "  varavctl events list " << service_id_ << "\n";
    return verified->valid() ? kExitOk : kExitFailure;
  }

 private:
  void Step(absl::string_view title) { out_ << "\n" << title << "\n"; }
  void Calling(absl::string_view method, absl::string_view what) {
    out_ << "   -> " << method << "(" << what << ")\n";
  }

  // The gate status after a change: must rules passing x/y, should score, what is missing.
  int ShowGate() {
    v1::GetGateStatusRequest request;
    request.set_service_id(service_id_);
    auto r = client_->Call(&Stub::GetGateStatus, request);
    if (!r.ok()) return ctx_.Fail(r.status());
    MustCount must = CountMust(r->evaluation());
    out_ << absl::StrFormat("   gate %s: must rules passing %d/%d, should score %.2f, %s\n",
                            r->gate().id(), must.passed, must.total, r->evaluation().should_score(),
                            r->evaluation().ready() ? "READY for review" : "not ready");
    std::vector<std::string> missing;
    for (const v1::OutputType& o : r->missing_outputs()) missing.push_back(o.id());
    if (!missing.empty()) out_ << "   missing outputs: " << absl::StrJoin(missing, ", ") << "\n";
    std::vector<std::string> failing_must;
    for (const v1::RuleResult& rr : r->evaluation().results()) {
      if (rr.severity() == v1::RULE_SEVERITY_MUST && rr.outcome() != v1::RULE_OUTCOME_PASS &&
          !absl::EndsWith(rr.rule_id(), ".present")) {
        failing_must.push_back(rr.rule_id());
      }
    }
    if (!failing_must.empty()) {
      out_ << "   other failing must rules: " << absl::StrJoin(failing_must, ", ") << "\n";
    }
    return kExitOk;
  }

  int Submit(const DemoOutput& o) {
    v1::SubmitOutputRequest request;
    request.set_request_id(RandomRequestId());
    request.set_etag(etag_);
    request.set_service_id(service_id_);
    request.set_output_type(o.type);
    auto parsed =
        google::protobuf::util::JsonStringToMessage(o.fields_json, request.mutable_fields());
    if (!parsed.ok()) {
      return ctx_.Fail(absl::InternalError(
          absl::StrCat("demo data of ", o.type, ": ", std::string(parsed.message()))));
    }
    v1::DocumentRef* doc = request.mutable_document();
    doc->set_system("dhs");
    doc->set_id(o.doc_id);
    doc->set_version("1.0");
    doc->set_uri(absl::StrCat("https://dhs.sotsiaalkindlustusamet.ee/dokumendid/", o.doc_id));
    // Stands in for the hash of the document file: the same content always hashes the same.
    doc->set_sha256(Sha256Hex(o.fields_json));
    Calling("SubmitOutput", absl::StrCat(o.type, ", document dhs:", o.doc_id));
    auto r = client_->Call(&Stub::SubmitOutput, request);
    if (!r.ok()) return ctx_.Fail(r.status());
    etag_ = r->service().etag();
    out_ << "   " << o.type << " revision " << r->output().revision() << " stored\n";
    return ShowGate();
  }

  int Assess(const DemoAssessment& as) {
    v1::RecordAssessmentRequest request;
    request.set_request_id(RandomRequestId());
    request.set_etag(etag_);
    request.set_service_id(service_id_);
    request.set_principle(as.principle);
    std::vector<std::string> shown;
    for (size_t i = 0; i < as.answers.size(); ++i) {
      v1::AssessmentAnswer* answer = request.add_answers();
      answer->set_question(absl::StrCat(as.principle, ".Q", i + 1));
      answer->set_answer(*ParseAnswer(as.answers[i]));
      shown.push_back(as.answers[i]);
    }
    auto r = client_->Call(&Stub::RecordAssessment, request);
    if (!r.ok()) return ctx_.Fail(r.status());
    etag_ = r->service().etag();
    out_ << absl::StrFormat("   -> RecordAssessment(%s: %s) score %.2f\n", as.principle,
                            absl::StrJoin(shown, " "), r->assessment().score());
    return kExitOk;
  }

  int Decide(const std::string& panel, v1::GateOutcome outcome, const std::string& rationale,
             const std::vector<v1::ConditionSpec>& conditions) {
    Client* client = client_;
    std::unique_ptr<Client> panel_client;
    for (const auto& [p, file] : panel_tokens_) {
      if (p != panel) continue;
      auto token = ReadFile(file);
      if (!token.ok()) return ctx_.Fail(token.status());
      ClientOptions options = client_->options();
      options.token = std::string(absl::StripAsciiWhitespace(*token));
      auto connected = Client::Connect(options);
      if (!connected.ok()) return ctx_.Fail(connected.status());
      panel_client = std::move(*connected);
      client = panel_client.get();
    }
    v1::RecordDecisionRequest request;
    request.set_request_id(RandomRequestId());
    request.set_etag(etag_);
    request.set_service_id(service_id_);
    request.set_gate("A");
    request.set_panel(panel);
    request.set_outcome(outcome);
    request.set_rationale(rationale);
    for (const v1::ConditionSpec& c : conditions) *request.add_conditions() = c;
    Calling("RecordDecision", absl::StrCat("gate A, ", panel, ", ", OutcomeName(outcome)));
    auto r = client->Call(&Stub::RecordDecision, request);
    if (!r.ok()) {
      int rc = ctx_.Fail(r.status());
      if (absl::IsPermissionDenied(r.status())) {
        ctx_.err() << "(deciding needs an admin outside agency " << kAgency
                   << " or a member of panel " << panel << ": pass --panel-token " << panel
                   << "=FILE)\n";
      }
      return rc;
    }
    etag_ = r->service().etag();
    out_ << "   rationale: " << rationale << "\n";
    for (const v1::Condition& c : r->decision().conditions()) {
      out_ << "   condition " << c.id() << ": " << c.text() << " (due " << FormatTime(c.due())
           << ")\n";
    }
    if (r->applied_outcome() == v1::GATE_OUTCOME_UNSPECIFIED) {
      out_ << "   still awaiting " << absl::StrJoin(r->service().awaiting_panels(), ", ") << "\n";
    } else {
      out_ << "   every panel has decided: gate A outcome " << OutcomeName(r->applied_outcome())
           << "; the service is " << StatusName(r->service().status()) << " at stage "
           << r->service().stage() << " (diamond 2)\n";
    }
    return kExitOk;
  }

  CommandContext& ctx_;
  std::ostream& out_;
  Client* client_ = nullptr;
  std::string service_id_;
  std::string etag_;
  std::vector<std::pair<std::string, std::string>> panel_tokens_;
};

int RunDemo(CommandContext& ctx) { return Demo(ctx).Run(); }

}  // namespace

void RegisterDemoCommand(std::vector<Command>* commands) {
  commands->push_back(
      {{.path = "demo",
        .usage = "",
        .summary = "walk a sample service from envision through gate A's decision",
        .details =
            "Registers 'Vanemahüvitise e-teenus' of Sotsiaalkindlustusamet under a fresh id, "
            "submits its vision, goals and metrics, management plan and team, records its "
            "self-assessments, checks and requests the gate A review, and records the decisions "
            "of the business panel and the IT funding council, printing every call and the gate "
            "status as it changes. Needs an admin token (not of sotsiaalkindlustusamet), or "
            "--panel-token for the decisions.",
        .flags = {{"service-id", "ID", "the service id (default: vanemahyvitis-<timestamp>)"},
                  {"panel-token", "PANEL=FILE",
                   "decide as PANEL with the token in FILE (repeatable)", true}}},
       RunDemo});
}

}  // namespace varav::cli
