// Commands on services and their evidence: services, outputs, assess, stage, hold, pack, events
// and audit.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "services/cli/commands.h"

namespace varav::cli {
namespace {

using Stub = v1::LifecycleService::Stub;

// `events watch` and its alias `events tail`.
const std::vector<FlagSpec> kWatchFlags = {
    {"after", "SEQ", "replay from after this global sequence"},
    {"service", "SERVICE", "only this service"},
    {"agency", "ID", "only this agency's services"},
    {"type", "TYPE", "only this event type, e.g. ee.varav.gate.approved", true}};

std::string ServiceRow(const v1::Service& s) { return s.id(); }

absl::StatusOr<int32_t> PageSize(const ParsedArgs& args) {
  if (!args.Has("page-size")) return 0;
  int32_t n = 0;
  if (!absl::SimpleAtoi(args.Get("page-size"), &n) || n < 0) {
    return absl::InvalidArgumentError("--page-size: expected a non-negative number");
  }
  return n;
}

void PrintServiceTable(std::ostream& out, const std::vector<v1::Service>& services) {
  Table table({"ID", "STAGE", "STATUS", "GATE", "MUST", "SHOULD", "AGENCY", "NAME"});
  for (const v1::Service& s : services) {
    std::string gate = "-", must = "-", should = "-";
    if (s.has_latest_evaluation()) {
      const v1::GateSummary& e = s.latest_evaluation();
      gate = absl::StrCat(e.gate(), e.ready() ? " ready" : "", e.stale() ? " (stale)" : "");
      must = absl::StrCat(e.must_passed(), "/", e.must_total());
      should = absl::StrFormat("%.2f", e.should_score());
    }
    std::string status = StatusName(s.status());
    if (!s.gate_under_review().empty()) absl::StrAppend(&status, " ", s.gate_under_review());
    table.AddRow({ServiceRow(s), absl::StrCat(s.stage(), "/", s.cycle()), status, gate, must,
                  should, s.agency(), s.name()});
  }
  table.Print(out, 48);
}

// --- services ---

int ServicesRegister(CommandContext& ctx) {
  const ParsedArgs& a = ctx.args();
  v1::RegisterServiceRequest request;
  request.set_request_id(ctx.RequestId());
  request.set_service_id(a.Positional(0));
  request.set_name(a.Get("name"));
  request.set_agency(a.Get("agency"));
  request.set_owner(a.Get("owner"));
  request.set_description(a.Get("description"));
  request.set_pack(a.Get("pack"));
  request.set_stage(a.Get("stage"));
  for (const char* required : {"name", "agency", "owner"}) {
    if (!a.Has(required)) return ctx.Usage(absl::StrCat("--", required, " is required"));
  }
  auto r = ctx.Call(&Stub::RegisterService, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
  } else {
    ctx.out() << "registered " << r->service().id() << "\n\n";
    PrintService(ctx.out(), r->service(), ctx.render());
  }
  return kExitOk;
}

int ServicesGet(CommandContext& ctx) {
  v1::GetServiceRequest request;
  request.set_service_id(ctx.args().Positional(0));
  auto r = ctx.Call(&Stub::GetService, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
  } else {
    PrintService(ctx.out(), r->service(), ctx.render());
  }
  return kExitOk;
}

int ServicesList(CommandContext& ctx) {
  const ParsedArgs& a = ctx.args();
  v1::ListServicesRequest request;
  auto page_size = PageSize(a);
  if (!page_size.ok()) return ctx.Usage(page_size.status().message());
  request.set_page_size(*page_size);
  request.set_page_token(a.Get("page-token"));
  request.set_agency(a.Get("agency"));
  request.set_stage(a.Get("stage"));
  request.set_awaiting_panel(a.Get("awaiting-panel"));
  if (a.Has("status")) {
    auto status = ParseStatus(a.Get("status"));
    if (!status.ok()) return ctx.Usage(status.status().message());
    request.set_status(*status);
  }
  if (a.Has("ready") && a.Has("not-ready"))
    return ctx.Usage("--ready and --not-ready exclude each other");
  if (a.Has("ready")) request.set_ready_for_review(a.GetBool("ready"));
  if (a.Has("not-ready")) request.set_ready_for_review(!a.GetBool("not-ready"));
  bool all = a.GetBool("all");
  std::vector<v1::Service> services;
  v1::ListServicesResponse last;
  do {
    auto r = ctx.Call(&Stub::ListServices, request);
    if (!r.ok()) return ctx.Fail(r.status());
    last = *r;
    services.insert(services.end(), r->services().begin(), r->services().end());
    request.set_page_token(r->next_page_token());
  } while (all && !request.page_token().empty());
  if (ctx.json()) {
    v1::ListServicesResponse combined;
    for (const v1::Service& s : services) *combined.add_services() = s;
    combined.set_next_page_token(all ? "" : last.next_page_token());
    PrintJson(ctx.out(), combined);
    return kExitOk;
  }
  PrintServiceTable(ctx.out(), services);
  if (!all && !last.next_page_token().empty()) {
    ctx.out() << "(more: --page-token " << last.next_page_token() << ", or --all)\n";
  }
  return kExitOk;
}

// --- outputs ---

int OutputsSubmit(CommandContext& ctx) {
  const ParsedArgs& a = ctx.args();
  v1::SubmitOutputRequest request;
  request.set_service_id(a.Positional(0));
  request.set_output_type(a.Get("type"));
  if (request.output_type().empty()) return ctx.Usage("--type is required");
  v1::DocumentRef* doc = request.mutable_document();
  doc->set_system(a.Get("doc-system"));
  doc->set_id(a.Get("doc-id"));
  doc->set_version(a.Get("doc-version"));
  doc->set_uri(a.Get("doc-uri"));
  if (a.Has("file") && a.Has("sha256")) return ctx.Usage("give --file or --sha256, not both");
  if (a.Has("file")) {
    auto hash = Sha256OfFile(a.Get("file"));
    if (!hash.ok()) return ctx.Usage(absl::StrCat("--file: ", hash.status().message()));
    doc->set_sha256(*hash);
    if (doc->id().empty()) doc->set_id(a.Get("file"));
  } else {
    doc->set_sha256(a.Get("sha256"));
  }
  if (a.Has("fields")) {
    auto fields = ParseFieldsArgument("--fields", a.Get("fields"));
    if (!fields.ok()) return ctx.Usage(fields.status().message());
    *request.mutable_fields() = *fields;
  }
  auto etag = ctx.Etag(request.service_id());
  if (!etag.ok()) return ctx.Fail(etag.status());
  request.set_etag(*etag);
  request.set_request_id(ctx.RequestId());
  auto r = ctx.Call(&Stub::SubmitOutput, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  ctx.out() << "submitted " << r->output().output_type() << " revision " << r->output().revision()
            << " of " << r->output().service_id() << "\n";
  PrintGateCheck(ctx.out(), r->gate_check());
  return kExitOk;
}

void PrintRevision(std::ostream& out, const v1::OutputRevision& o) {
  Table t({"FIELD", "VALUE"});
  t.AddRow({"service", o.service_id()});
  t.AddRow({"output", absl::StrCat(o.output_type(), " revision ", o.revision())});
  t.AddRow({"status", ShortEnumName(v1::OutputStatus_Name(o.status()), "OUTPUT_STATUS_")});
  t.AddRow({"document",
            absl::StrCat(o.document().system(), ":", o.document().id(),
                         o.document().version().empty() ? "" : " v", o.document().version())});
  if (!o.document().uri().empty()) t.AddRow({"uri", o.document().uri()});
  t.AddRow({"sha256", o.document().sha256()});
  t.AddRow({"submitted", absl::StrCat(FormatTime(o.submitted_at()), " by ", o.submitted_by(),
                                      " at stage ", o.stage(), "/", o.cycle())});
  t.Print(out);
  std::string fields;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  if (google::protobuf::util::MessageToJsonString(o.fields(), &fields, options).ok()) {
    out << "\nfields:\n" << fields;
  }
}

int OutputsGet(CommandContext& ctx) {
  v1::GetOutputRequest request;
  request.set_service_id(ctx.args().Positional(0));
  request.set_output_type(ctx.args().Positional(1));
  if (ctx.args().Has("revision")) {
    uint32_t revision = 0;
    if (!absl::SimpleAtoi(ctx.args().Get("revision"), &revision)) {
      return ctx.Usage("--revision: expected a number");
    }
    request.set_revision(revision);
  }
  auto r = ctx.Call(&Stub::GetOutput, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
  } else {
    PrintRevision(ctx.out(), r->output());
  }
  return kExitOk;
}

int OutputsList(CommandContext& ctx) {
  v1::ListOutputsRequest request;
  request.set_service_id(ctx.args().Positional(0));
  request.set_output_type(ctx.args().Get("type"));
  auto page_size = PageSize(ctx.args());
  if (!page_size.ok()) return ctx.Usage(page_size.status().message());
  request.set_page_size(*page_size);
  request.set_page_token(ctx.args().Get("page-token"));
  auto r = ctx.Call(&Stub::ListOutputs, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  Table t({"OUTPUT", "REV", "STATUS", "SUBMITTED", "BY", "DOCUMENT", "SHA256"});
  for (const v1::OutputHistory& h : r->outputs()) {
    for (const v1::OutputRevision& o : h.revisions()) {
      t.AddRow({h.output_type(), absl::StrCat(o.revision()),
                ShortEnumName(v1::OutputStatus_Name(o.status()), "OUTPUT_STATUS_"),
                FormatTime(o.submitted_at()), o.submitted_by(),
                absl::StrCat(o.document().system(), ":", o.document().id()),
                o.document().sha256().substr(0, 12)});
    }
  }
  t.Print(ctx.out(), 48);
  if (!r->next_page_token().empty()) {
    ctx.out() << "(more: --page-token " << r->next_page_token() << ")\n";
  }
  return kExitOk;
}

// --- assess ---

// "P1.Q1=yes" -> (question, value).
absl::StatusOr<std::pair<std::string, std::string>> SplitAssignment(absl::string_view flag,
                                                                    absl::string_view text) {
  std::pair<std::string, std::string> kv = absl::StrSplit(text, absl::MaxSplits('=', 1));
  if (kv.first.empty() || !absl::StrContains(text, '=')) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected QUESTION=VALUE, got '", text, "'"));
  }
  return kv;
}

int Assess(CommandContext& ctx) {
  const ParsedArgs& a = ctx.args();
  v1::RecordAssessmentRequest request;
  request.set_service_id(a.Positional(0));
  request.set_principle(a.Positional(1));
  std::vector<std::string> answers = a.GetAll("answer");
  if (answers.empty()) return ctx.Usage("at least one --answer QUESTION=yes|partly|no|na");
  for (const std::string& text : answers) {
    auto kv = SplitAssignment("--answer", text);
    if (!kv.ok()) return ctx.Usage(kv.status().message());
    auto value = ParseAnswer(kv->second);
    if (!value.ok())
      return ctx.Usage(absl::StrCat("--answer ", kv->first, ": ", value.status().message()));
    v1::AssessmentAnswer* answer = request.add_answers();
    answer->set_question(kv->first);
    answer->set_answer(*value);
  }
  for (const char* flag : {"evidence", "comment"}) {
    for (const std::string& text : a.GetAll(flag)) {
      auto kv = SplitAssignment(absl::StrCat("--", flag), text);
      if (!kv.ok()) return ctx.Usage(kv.status().message());
      bool found = false;
      for (v1::AssessmentAnswer& answer : *request.mutable_answers()) {
        if (answer.question() != kv->first) continue;
        found = true;
        if (std::string(flag) == "evidence") {
          answer.set_evidence(kv->second);
        } else {
          answer.set_comment(kv->second);
        }
      }
      if (!found) {
        return ctx.Usage(absl::StrCat("--", flag, " ", kv->first, ": no --answer for it"));
      }
    }
  }
  auto etag = ctx.Etag(request.service_id());
  if (!etag.ok()) return ctx.Fail(etag.status());
  request.set_etag(*etag);
  request.set_request_id(ctx.RequestId());
  auto r = ctx.Call(&Stub::RecordAssessment, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  ctx.out() << absl::StrFormat("recorded %s for %s: score %.2f (%d of %d questions answered)\n",
                               r->assessment().principle(), r->assessment().service_id(),
                               r->assessment().score(), r->assessment().answered(),
                               r->assessment().total());
  PrintGateCheck(ctx.out(), r->gate_check());
  return kExitOk;
}

// --- stage, hold, pack ---

int StageAdvance(CommandContext& ctx) {
  v1::AdvanceStageRequest request;
  request.set_service_id(ctx.args().Positional(0));
  request.set_to_stage(ctx.args().Get("to"));
  auto etag = ctx.Etag(request.service_id());
  if (!etag.ok()) return ctx.Fail(etag.status());
  request.set_etag(*etag);
  request.set_request_id(ctx.RequestId());
  auto r = ctx.Call(&Stub::AdvanceStage, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  ctx.out() << r->service().id() << " is now at stage " << r->service().stage() << " (cycle "
            << r->service().cycle() << ")\n";
  PrintGateCheck(ctx.out(), r->gate_check());
  return kExitOk;
}

int HoldResume(CommandContext& ctx) {
  v1::ResumeFromHoldRequest request;
  request.set_service_id(ctx.args().Positional(0));
  request.set_reason(ctx.args().Get("reason"));
  if (request.reason().empty()) return ctx.Usage("--reason is required");
  auto etag = ctx.Etag(request.service_id());
  if (!etag.ok()) return ctx.Fail(etag.status());
  request.set_etag(*etag);
  request.set_request_id(ctx.RequestId());
  auto r = ctx.Call(&Stub::ResumeFromHold, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
  } else {
    ctx.out() << r->service().id() << " resumed: " << StatusName(r->service().status())
              << " at stage " << r->service().stage() << "\n";
  }
  return kExitOk;
}

int PackMigrate(CommandContext& ctx) {
  v1::MigratePackRequest request;
  request.set_service_id(ctx.args().Positional(0));
  request.set_target_pack(ctx.args().Positional(1));
  auto etag = ctx.Etag(request.service_id());
  if (!etag.ok()) return ctx.Fail(etag.status());
  request.set_etag(*etag);
  request.set_request_id(ctx.RequestId());
  auto r = ctx.Call(&Stub::MigratePack, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
    return kExitOk;
  }
  ctx.out() << r->service().id() << " is now pinned to " << r->service().pack_id() << "@"
            << r->service().pack_version() << " (stage " << r->service().stage() << ")\n";
  PrintGateCheck(ctx.out(), r->gate_check());
  return kExitOk;
}

// --- events, audit ---

void AddEventRow(Table* t, const v1::Event& e, bool per_service) {
  t->AddRow({absl::StrCat(per_service ? e.service_sequence() : e.global_sequence()),
             FormatTime(e.time()), e.subject(), e.type(), e.principal(), EventSummary(e)});
}

int EventsList(CommandContext& ctx) {
  const ParsedArgs& a = ctx.args();
  v1::ListEventsRequest request;
  request.set_service_id(a.Positional(0));
  auto page_size = PageSize(a);
  if (!page_size.ok()) return ctx.Usage(page_size.status().message());
  request.set_page_size(*page_size);
  request.set_page_token(a.Get("page-token"));
  if (a.Has("after")) {
    uint64_t after = 0;
    if (!absl::SimpleAtoi(a.Get("after"), &after)) return ctx.Usage("--after: expected a number");
    request.set_after_sequence(after);
  }
  bool all = a.GetBool("all");
  v1::ListEventsResponse combined;
  do {
    auto r = ctx.Call(&Stub::ListEvents, request);
    if (!r.ok()) return ctx.Fail(r.status());
    for (const v1::Event& e : r->events()) *combined.add_events() = e;
    combined.set_next_page_token(r->next_page_token());
    request.set_page_token(r->next_page_token());
  } while (all && !request.page_token().empty());
  if (ctx.json()) {
    PrintJson(ctx.out(), combined);
    return kExitOk;
  }
  Table t({"SEQ", "TIME", "SERVICE", "TYPE", "PRINCIPAL", "SUMMARY"});
  for (const v1::Event& e : combined.events()) AddEventRow(&t, e, !request.service_id().empty());
  t.Print(ctx.out(), 72);
  if (!all && !combined.next_page_token().empty()) {
    ctx.out() << "(more: --page-token " << combined.next_page_token() << ", or --all)\n";
  }
  return kExitOk;
}

int EventsWatch(CommandContext& ctx) {
  const ParsedArgs& a = ctx.args();
  v1::WatchEventsRequest request;
  request.set_service_id(a.Get("service"));
  request.set_agency(a.Get("agency"));
  for (const std::string& t : a.GetAll("type")) request.add_types(t);
  if (a.Has("after")) {
    uint64_t after = 0;
    if (!absl::SimpleAtoi(a.Get("after"), &after)) return ctx.Usage("--after: expected a number");
    request.set_after_sequence(after);
  }
  auto client = ctx.client();
  if (!client.ok()) return ctx.Fail(client.status());
  // A stream has no overall deadline: it runs until the server ends it or the user interrupts.
  grpc::ClientContext context;
  if (!(*client)->options().token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", (*client)->options().token));
  }
  auto reader = (*client)->lifecycle().WatchEvents(&context, request);
  v1::WatchEventsResponse message;
  while (reader->Read(&message)) {
    if (!message.has_event()) continue;
    if (ctx.json()) {
      PrintJson(ctx.out(), message.event());
    } else {
      const v1::Event& e = message.event();
      ctx.out() << e.global_sequence() << "  " << FormatTime(e.time()) << "  " << e.subject()
                << "  " << e.type() << "  " << e.principal() << "  " << EventSummary(e) << "\n";
    }
    ctx.out().flush();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ctx.Fail(FromGrpcStatus(status));
  return kExitOk;
}

int AuditVerify(CommandContext& ctx) {
  v1::VerifyAuditTrailRequest request;
  request.set_service_id(ctx.args().Positional(0));
  auto r = ctx.Call(&Stub::VerifyAuditTrail, request);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    PrintJson(ctx.out(), *r);
  } else if (r->valid()) {
    ctx.out() << "audit trail of " << request.service_id() << " is intact: " << r->event_count()
              << " events, head " << r->head_hash() << "\n";
  } else {
    ctx.out() << "audit trail of " << request.service_id() << " is BROKEN: " << r->problem()
              << "\n";
  }
  return r->valid() ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterServiceCommands(std::vector<Command>* commands) {
  const FlagSpec page_size{"page-size", "N", "page size (0: the server's default)"};
  const FlagSpec page_token{"page-token", "TOKEN", "continue from a previous page"};
  commands->push_back(
      {{.path = "services register",
        .usage = "SERVICE_ID",
        .summary = "register a new service",
        .details = "Pins the service to --pack (default: the server's default pack) and places "
                   "it at --stage (default: the first stage, envision).",
        .flags = {{"name", "TEXT", "display name (required)"},
                  {"agency", "ID", "owning agency id, e.g. sotsiaalkindlustusamet (required)"},
                  {"owner", "TEXT", "accountable service owner (required)"},
                  {"description", "TEXT", "free-text description"},
                  {"pack", "ID@VERSION", "rule pack to pin, e.g. teenuse-standard@2.0.0"},
                  {"stage", "STAGE", "stage to enter at"},
                  kRequestIdFlag},
        .min_positional = 1,
        .max_positional = 1},
       ServicesRegister});
  commands->push_back({{.path = "services get",
                        .usage = "SERVICE",
                        .summary = "show one service",
                        .min_positional = 1,
                        .max_positional = 1},
                       ServicesGet});
  commands->push_back(
      {{.path = "services list",
        .usage = "",
        .summary = "list services (portfolio view)",
        .flags = {{"agency", "ID", "only this agency's services"},
                  {"stage", "STAGE", "only services at this stage"},
                  {"status", "STATUS", "only this status: active, in_review, on_hold, ..."},
                  {"ready", "", "only services whose gate is ready for review"},
                  {"not-ready", "", "only services whose gate is not ready"},
                  {"awaiting-panel", "PANEL", "only services in review awaiting this panel"},
                  page_size,
                  page_token,
                  {"all", "", "fetch every page"}}},
       ServicesList});
  commands->push_back(
      {{.path = "outputs submit",
        .usage = "SERVICE",
        .summary = "submit a new revision of an output (deliverable)",
        .details = "The document reference needs a system, an id and a SHA-256 of the content: "
                   "give --sha256, or --file to hash a local copy (its path becomes the id when "
                   "--doc-id is not given). --fields takes a JSON object inline or as @file.json "
                   "(@- reads stdin). Prints the gate check the submission triggered.",
        .flags = {{"type", "OUTPUT", "output type, e.g. vision (required)"},
                  {"doc-system", "SYSTEM", "document system, e.g. dhs"},
                  {"doc-id", "ID", "document id in that system"},
                  {"doc-version", "VERSION", "document version"},
                  {"doc-uri", "URI", "link to the document"},
                  {"sha256", "HEX", "SHA-256 of the document content"},
                  {"file", "PATH", "hash this local file instead of --sha256"},
                  {"fields", "JSON|@FILE", "the output's structured fields"},
                  kEtagFlag,
                  kRequestIdFlag},
        .min_positional = 1,
        .max_positional = 1},
       OutputsSubmit});
  commands->push_back({{.path = "outputs get",
                        .usage = "SERVICE OUTPUT",
                        .summary = "show one output revision (default: the latest)",
                        .flags = {{"revision", "N", "revision number"}},
                        .min_positional = 2,
                        .max_positional = 2},
                       OutputsGet});
  commands->push_back(
      {{.path = "outputs list",
        .usage = "SERVICE",
        .summary = "list a service's outputs with every revision",
        .flags = {{"type", "OUTPUT", "only this output type"}, page_size, page_token},
        .min_positional = 1,
        .max_positional = 1},
       OutputsList});
  commands->push_back(
      {{.path = "assess",
        .usage = "SERVICE PRINCIPLE",
        .summary = "record the self-assessment of one principle",
        .details = "Example: varavctl assess svc-x P1 --answer P1.Q1=yes --answer P1.Q2=partly "
                   "--evidence P1.Q1=https://dhs.example/vision.pdf",
        .flags = {{"answer", "Q=yes|partly|no|na", "an answer (repeatable)", true},
                  {"evidence", "Q=TEXT", "evidence of an answer (repeatable)", true},
                  {"comment", "Q=TEXT", "comment on an answer (repeatable)", true},
                  kEtagFlag,
                  kRequestIdFlag},
        .min_positional = 2,
        .max_positional = 2},
       Assess});
  commands->push_back({{.path = "stage advance",
                        .usage = "SERVICE",
                        .summary = "move a service to the next stage of its diamond",
                        .flags = {{"to", "STAGE", "the stage to move to (default: the next)"},
                                  kEtagFlag,
                                  kRequestIdFlag},
                        .min_positional = 1,
                        .max_positional = 1},
                       StageAdvance});
  commands->push_back(
      {{.path = "hold resume",
        .usage = "SERVICE",
        .summary = "resume a service that is on hold",
        .flags = {{"reason", "TEXT", "why the hold ends (required)"}, kEtagFlag, kRequestIdFlag},
        .min_positional = 1,
        .max_positional = 1},
       HoldResume});
  commands->push_back({{.path = "pack migrate",
                        .usage = "SERVICE ID@VERSION",
                        .summary = "re-pin a service to another version of its rule pack",
                        .flags = {kEtagFlag, kRequestIdFlag},
                        .min_positional = 2,
                        .max_positional = 2},
                       PackMigrate});
  commands->push_back({{.path = "events list",
                        .usage = "[SERVICE]",
                        .summary = "list events of one service, or the global log",
                        .flags = {{"after", "SEQ", "start after this sequence number"},
                                  page_size,
                                  page_token,
                                  {"all", "", "fetch every page"}},
                        .max_positional = 1},
                       EventsList});
  commands->push_back({{.path = "events watch",
                        .usage = "",
                        .summary = "follow events as they happen (until interrupted)",
                        .flags = kWatchFlags},
                       EventsWatch});
  // The name funding systems' operators know from `tail -f`: the same stream.
  commands->push_back(
      {{.path = "events tail",
        .usage = "",
        .summary = "replay events after --after, then follow new ones (same as events watch)",
        .flags = kWatchFlags},
       EventsWatch});
  commands->push_back(
      {{.path = "audit verify",
        .usage = "SERVICE",
        .summary = "verify a service's hash-chained audit trail (exit 1 when broken)",
        .min_positional = 1,
        .max_positional = 1},
       AuditVerify});
}

}  // namespace varav::cli
