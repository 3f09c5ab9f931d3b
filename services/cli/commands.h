// The commands of varavctl and what they share: the parsed arguments, the lazily opened
// connection, output streams, rendering options, and the conventions every mutation follows
// (an etag read with GetService unless --etag is given; a random request id unless --request-id
// is given).
//
// Each commands_*.cc file contributes its commands through a Register* function; main.cc
// collects them, parses the command line and runs the chosen one.
//
// Exit codes: kExitOk (0) success; kExitFailure (1) a failed call, or a check that does not pass
// (`gate check`, `audit verify`, `rules validate`); kExitUsage (2) a malformed command line.
//
// Thread safety: a CommandContext belongs to one command run on one thread.
#pragma once

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "services/cli/args.h"
#include "services/cli/client.h"
#include "services/cli/render.h"

namespace varav::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class CommandContext {
 public:
  CommandContext(const ParsedArgs& args, std::ostream& out, std::ostream& err)
      : args_(args), out_(out), err_(err) {
    render_.lang = args.Get("lang", "en");
    render_.all_rules = args.GetBool("all-rules");
  }

  const ParsedArgs& args() const { return args_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  bool json() const { return args_.GetBool("json"); }
  const RenderOptions& render() const { return render_; }

  // The connection, opened on first use from the global flags and the environment.
  absl::StatusOr<Client*> client();

  // Calls one unary RPC through the connection.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                const Request& request) {
    absl::StatusOr<Client*> c = client();
    if (!c.ok()) return c.status();
    return (*c)->Call(method, request);
  }

  // The etag to send for a mutation of `service_id`: --etag when given, else the current one.
  absl::StatusOr<std::string> Etag(const std::string& service_id);
  // --request-id when given, else a fresh random id (32 hex digits).
  std::string RequestId() const;

  // Prints "error: CODE: message" and returns kExitFailure; an INVALID_ARGUMENT produced
  // locally (before any call) should go through Usage instead.
  int Fail(const absl::Status& status);
  // Prints "error: message" plus a pointer to --help and returns kExitUsage.
  int Usage(absl::string_view message);

 private:
  const ParsedArgs& args_;
  std::ostream& out_;
  std::ostream& err_;
  RenderOptions render_;
  std::unique_ptr<Client> client_;
  std::string command_path_;

  friend int RunCommandLine(const std::vector<std::string>&, std::ostream&, std::ostream&);
};

struct Command {
  CommandGrammar grammar;
  std::function<int(CommandContext&)> run;
};

// A random request id: 32 lower-case hex digits.
std::string RandomRequestId();

// The flags every mutation takes; CommandContext::Etag and CommandContext::RequestId read them.
extern const FlagSpec kEtagFlag;
extern const FlagSpec kRequestIdFlag;

// Parses a JSON object given inline or as `@path` (`@-` reads stdin). InvalidArgument naming
// `flag` when the text is not a JSON object or the file cannot be read.
absl::StatusOr<google::protobuf::Struct> ParseFieldsArgument(absl::string_view flag,
                                                             const std::string& value);

// Lower-case hex SHA-256 of a file's content.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

void RegisterServiceCommands(std::vector<Command>* commands);  // services, outputs, assess, stage,
                                                               // hold, pack, events, audit
void RegisterGateCommands(std::vector<Command>* commands);     // gate check|review|status|decide
void RegisterRulesCommands(std::vector<Command>* commands);    // rules list|get|validate|eval
void RegisterDemoCommand(std::vector<Command>* commands);      // demo

// The global flags every command accepts.
const std::vector<FlagSpec>& GlobalFlags();

// Runs varavctl with `argv` (program name removed): parses, prints help or runs the command.
// Returns the exit code.
int RunCommandLine(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace varav::cli
