// The command runner and the helpers every command shares.
#include "services/cli/commands.h"

#include <iterator>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/sha256.h"
#include "google/protobuf/util/json_util.h"

namespace varav::cli {

absl::StatusOr<Client*> CommandContext::client() {
  if (client_ == nullptr) {
    absl::StatusOr<ClientOptions> options = ResolveClientOptions(args_);
    if (!options.ok()) return options.status();
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*options);
    if (!client.ok()) return client.status();
    client_ = std::move(*client);
  }
  return client_.get();
}

absl::StatusOr<std::string> CommandContext::Etag(const std::string& service_id) {
  if (args_.Has("etag")) return args_.Get("etag");
  v1::GetServiceRequest request;
  request.set_service_id(service_id);
  absl::StatusOr<v1::GetServiceResponse> response =
      Call(&v1::LifecycleService::Stub::GetService, request);
  if (!response.ok()) return response.status();
  return response->service().etag();
}

std::string CommandContext::RequestId() const {
  return args_.Has("request-id") ? args_.Get("request-id") : RandomRequestId();
}

int CommandContext::Fail(const absl::Status& status) {
  if (absl::IsInvalidArgument(status) && client_ == nullptr) {
    // Nothing was sent: the command line (or a file it names) is at fault.
    return Usage(status.message());
  }
  err_ << "error: " << absl::StatusCodeToString(status.code()) << ": " << status.message() << "\n";
  if (absl::IsUnavailable(status) && client_ != nullptr) {
    err_ << "(is varavd running at " << client_->options().address
         << "? set VARAV_ADDR or --addr)\n";
  } else if (absl::IsUnauthenticated(status)) {
    err_ << "(set VARAV_TOKEN, or --token-file, to a token the server knows)\n";
  }
  return kExitFailure;
}

int CommandContext::Usage(absl::string_view message) {
  err_ << "error: " << message << "\n(see 'varavctl " << command_path_ << " --help')\n";
  return kExitUsage;
}

const FlagSpec kEtagFlag{"etag", "ETAG", "the service's etag (default: read it with GetService)"};
const FlagSpec kRequestIdFlag{"request-id", "ID",
                              "idempotency key (default: a random one; reuse it to retry safely)"};

std::string RandomRequestId() {
  static absl::BitGen* gen = new absl::BitGen();
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(*gen),
                         absl::Uniform<uint64_t>(*gen));
}

absl::StatusOr<google::protobuf::Struct> ParseFieldsArgument(absl::string_view flag,
                                                             const std::string& value) {
  std::string text = value;
  if (absl::StartsWith(value, "@")) {
    std::string path = value.substr(1);
    if (path == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      absl::StatusOr<std::string> content = ReadFile(path);
      if (!content.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": ", content.status().message()));
      }
      text = *content;
    }
  }
  google::protobuf::Struct fields;
  auto status = google::protobuf::util::JsonStringToMessage(text, &fields);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": not a JSON object: ", std::string(status.message())));
  }
  return fields;
}

absl::StatusOr<std::string> Sha256OfFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  return Sha256Hex(*content);
}

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"addr", "HOST:PORT", "server address (default: $VARAV_ADDR, else 127.0.0.1:50051)"},
      {"token-file", "PATH",
       "file holding the bearer token (default: $VARAV_TOKEN, else ./var/dev-admin-token)"},
      {"tls-ca", "PEM", "use TLS, trusting this CA for the server certificate"},
      {"tls-cert", "PEM", "client certificate for mutual TLS (with --tls-key)"},
      {"tls-key", "PEM", "client private key for mutual TLS"},
      {"timeout-s", "SECONDS", "deadline of each call (default 30)"},
      {"json", "", "print protobuf JSON instead of tables"},
      {"lang", "en|et", "language of pack texts (default en)"},
      {"help", "", "show help"},
  };
  return *flags;
}

namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> commands;
  RegisterServiceCommands(&commands);
  RegisterGateCommands(&commands);
  RegisterRulesCommands(&commands);
  RegisterDemoCommand(&commands);
  return commands;
}

}  // namespace

int RunCommandLine(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  std::vector<Command> commands = AllCommands();
  std::vector<CommandGrammar> grammars;
  for (const Command& c : commands) grammars.push_back(c.grammar);
  bool wants_help = false;
  for (const std::string& a : argv) {
    if (a == "--") break;
    if (a == "--help" || a == "-h" || a == "-help") wants_help = true;
  }
  int words = 0;
  absl::StatusOr<size_t> index = FindCommand(grammars, GlobalFlags(), argv, &words);
  if (!index.ok()) {
    if (wants_help || argv.empty() || argv[0] == "help") {
      out << OverviewHelp(grammars, GlobalFlags());
      return argv.empty() ? kExitUsage : kExitOk;
    }
    // Name the group's commands when only the group was given ("varavctl gate").
    std::string group = argv.empty() ? "" : argv[0];
    bool is_group = false;
    for (const CommandGrammar& g : grammars) {
      is_group = is_group || absl::StartsWith(g.path, absl::StrCat(group, " "));
    }
    if (is_group) {
      err << "error: '" << group << "' needs a subcommand\n";
    } else {
      err << "error: " << index.status().message() << "\n";
    }
    bool any = false;
    for (const CommandGrammar& g : grammars) {
      if (absl::StartsWith(g.path, absl::StrCat(group, " "))) {
        if (!any) err << "commands of '" << group << "':\n";
        any = true;
        err << "  varavctl " << g.path << " " << g.usage << "\n";
      }
    }
    if (!any) err << "(see 'varavctl --help')\n";
    return kExitUsage;
  }
  const Command& command = commands[*index];
  if (wants_help) {
    out << CommandHelp(command.grammar, GlobalFlags());
    return kExitOk;
  }
  ParsedArgs args;
  CommandContext context(args, out, err);
  context.command_path_ = command.grammar.path;
  if (absl::Status s = ParseArgs(command.grammar, GlobalFlags(), argv, &args); !s.ok()) {
    return context.Usage(s.message());
  }
  context.render_.lang = args.Get("lang", "en");
  context.render_.all_rules = args.GetBool("all-rules");
  if (context.render_.lang != "en" && context.render_.lang != "et") {
    return context.Usage("--lang: expected en or et");
  }
  return command.run(context);
}

}  // namespace varav::cli
