// Command-line parsing for varavctl: a table of subcommands ("services list", "gate check", ...),
// each with its own flags and positional arguments, plus the global flags every command accepts.
//
// Absl flags are process-global and cannot give each subcommand its own flag set and help text,
// so varavctl parses its arguments here. Accepted forms: `--name value`, `--name=value`, boolean
// `--name` (and `--name=true|false`), repeatable flags, and `--` to end flag parsing. Underscores
// and dashes in flag names are interchangeable (`--request-id` == `--request-id`).
//
//   ParsedArgs args;
//   absl::Status s = ParseArgs(spec, tokens, &args);  // InvalidArgument names the bad token
//   std::string etag = args.Get("etag");
//
// Thread safety: plain values and pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace varav::cli {

struct FlagSpec {
  // Canonical name with dashes, without the leading `--`.
  std::string name;
  // Shown in help (`--name VALUE`); empty for a boolean flag.
  std::string value_name;
  std::string help;
  bool repeated = false;
};

// One subcommand's grammar. `path` is its words ("gate check"); positional arguments follow them.
struct CommandGrammar {
  std::string path;
  // Positional arguments as shown in help, e.g. "SERVICE [EXPR]".
  std::string usage;
  std::string summary;
  // Longer explanation printed by --help; may be empty.
  std::string details;
  std::vector<FlagSpec> flags;
  int min_positional = 0;
  int max_positional = 0;
};

class ParsedArgs {
 public:
  bool Has(absl::string_view flag) const;
  // The flag's value (the last one when given several times); `fallback` when absent.
  std::string Get(absl::string_view flag, absl::string_view fallback = "") const;
  std::vector<std::string> GetAll(absl::string_view flag) const;
  // A boolean flag: true when given bare or as `=true`.
  bool GetBool(absl::string_view flag) const;

  const std::vector<std::string>& positional() const { return positional_; }
  std::string Positional(size_t i) const {
    return i < positional_.size() ? positional_[i] : std::string();
  }

 private:
  friend absl::Status ParseArgs(const CommandGrammar&, const std::vector<FlagSpec>&,
                                const std::vector<std::string>&, ParsedArgs*);
  std::map<std::string, std::vector<std::string>, std::less<>> flags_;
  std::vector<std::string> positional_;
};

// Normalises a flag name: strips leading dashes and turns `_` into `-`.
std::string NormalizeFlagName(absl::string_view name);

// Finds the command named by the leading non-flag words of `tokens` (the program name already
// removed), preferring the longest path. Flags in `global` that take a value are skipped together
// with their value. Returns the index into `grammars`, or NotFound when no path matches; sets
// `words_used` to the number of command words matched.
absl::StatusOr<size_t> FindCommand(const std::vector<CommandGrammar>& grammars,
                                   const std::vector<FlagSpec>& global,
                                   const std::vector<std::string>& tokens, int* words_used);

// Parses `tokens` (the program name removed, command words included) against `grammar` plus the
// `global` flags. InvalidArgument for an unknown flag, a missing value, a value given to a
// boolean flag, a flag repeated that may not be, or a wrong number of positional arguments.
absl::Status ParseArgs(const CommandGrammar& grammar, const std::vector<FlagSpec>& global,
                       const std::vector<std::string>& tokens, ParsedArgs* out);

// The help text of one command: usage line, summary, details and its flags.
std::string CommandHelp(const CommandGrammar& grammar, const std::vector<FlagSpec>& global);

// The overview printed by `varavctl --help`: every command with its summary.
std::string OverviewHelp(const std::vector<CommandGrammar>& grammars,
                         const std::vector<FlagSpec>& global);

}  // namespace varav::cli
