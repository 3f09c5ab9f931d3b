#include "services/cli/args.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace varav::cli {
namespace {

const FlagSpec* FindFlag(absl::string_view name, const std::vector<FlagSpec>& a,
                         const std::vector<FlagSpec>& b) {
  for (const auto* list : {&a, &b}) {
    for (const FlagSpec& f : *list) {
      if (f.name == name) return &f;
    }
  }
  return nullptr;
}

bool IsFlagToken(absl::string_view token) {
  // A lone "-" is a positional (stdin by convention); negative numbers are not used as values
  // of positionals here, so "-x" is treated as a flag and refused when unknown.
  return token.size() > 1 && token[0] == '-';
}

std::string FlagUsage(const FlagSpec& f) {
  std::string s = absl::StrCat("--", f.name);
  if (!f.value_name.empty()) absl::StrAppend(&s, " ", f.value_name);
  if (f.repeated) absl::StrAppend(&s, " ...");
  return s;
}

void AppendFlags(std::string* out, const std::vector<FlagSpec>& flags) {
  size_t width = 0;
  for (const FlagSpec& f : flags) width = std::max(width, FlagUsage(f).size());
  for (const FlagSpec& f : flags) {
    std::string usage = FlagUsage(f);
    absl::StrAppend(out, "  ", usage, std::string(width - usage.size() + 2, ' '), f.help, "\n");
  }
}

}  // namespace

bool ParsedArgs::Has(absl::string_view flag) const {
  return flags_.find(NormalizeFlagName(flag)) != flags_.end();
}

std::string ParsedArgs::Get(absl::string_view flag, absl::string_view fallback) const {
  auto it = flags_.find(NormalizeFlagName(flag));
  if (it == flags_.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> ParsedArgs::GetAll(absl::string_view flag) const {
  auto it = flags_.find(NormalizeFlagName(flag));
  return it == flags_.end() ? std::vector<std::string>{} : it->second;
}

bool ParsedArgs::GetBool(absl::string_view flag) const {
  auto it = flags_.find(NormalizeFlagName(flag));
  if (it == flags_.end()) return false;
  return it->second.empty() || it->second.back() != "false";
}

std::string NormalizeFlagName(absl::string_view name) {
  while (absl::ConsumePrefix(&name, "-")) {
  }
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

absl::StatusOr<size_t> FindCommand(const std::vector<CommandGrammar>& grammars,
                                   const std::vector<FlagSpec>& global,
                                   const std::vector<std::string>& tokens, int* words_used) {
  // The leading words, skipping global flags (and their values) given before the command.
  std::vector<std::string> words;
  for (size_t i = 0; i < tokens.size() && words.size() < 3; ++i) {
    absl::string_view t = tokens[i];
    if (t == "--") break;
    if (IsFlagToken(t)) {
      if (absl::StrContains(t, '=')) continue;
      const FlagSpec* f = FindFlag(NormalizeFlagName(t), global, {});
      if (f != nullptr && !f->value_name.empty()) ++i;
      continue;
    }
    words.push_back(std::string(t));
  }
  size_t best = grammars.size();
  int best_len = 0;
  for (size_t g = 0; g < grammars.size(); ++g) {
    std::vector<std::string> path = absl::StrSplit(grammars[g].path, ' ');
    if (path.size() > words.size() || static_cast<int>(path.size()) <= best_len) continue;
    if (std::equal(path.begin(), path.end(), words.begin())) {
      best = g;
      best_len = static_cast<int>(path.size());
    }
  }
  if (best == grammars.size()) {
    return absl::NotFoundError(
        words.empty()
            ? std::string("no command given")
            : absl::StrCat("unknown command '",
                           absl::StrJoin(words.begin(),
                                         words.begin() + std::min<size_t>(2, words.size()), " "),
                           "'"));
  }
  *words_used = best_len;
  return best;
}

absl::Status ParseArgs(const CommandGrammar& grammar, const std::vector<FlagSpec>& global,
                       const std::vector<std::string>& tokens, ParsedArgs* out) {
  *out = ParsedArgs();
  size_t command_words = std::count(grammar.path.begin(), grammar.path.end(), ' ') + 1;
  size_t words_seen = 0;
  bool flags_done = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    absl::string_view t = tokens[i];
    if (!flags_done && t == "--") {
      flags_done = true;
      continue;
    }
    if (flags_done || !IsFlagToken(t)) {
      if (words_seen < command_words) {
        ++words_seen;
      } else {
        out->positional_.push_back(std::string(t));
      }
      continue;
    }
    absl::string_view body = t;
    std::string value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      value = std::string(body.substr(eq + 1));
      body = body.substr(0, eq);
      has_value = true;
    }
    std::string name = NormalizeFlagName(body);
    const FlagSpec* spec = FindFlag(name, grammar.flags, global);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (spec->value_name.empty()) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " takes no value (or =true/=false)"));
      }
    } else if (!has_value) {
      if (i + 1 >= tokens.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value (", spec->value_name, ")"));
      }
      value = tokens[++i];
      has_value = true;
    }
    std::vector<std::string>& values = out->flags_[name];
    if (!values.empty() && !spec->repeated) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " given more than once"));
    }
    if (has_value) values.push_back(value);
  }
  int n = static_cast<int>(out->positional_.size());
  if (n < grammar.min_positional || n > grammar.max_positional) {
    return absl::InvalidArgumentError(
        n < grammar.min_positional
            ? absl::StrCat("missing arguments: usage: varavctl ", grammar.path, " ", grammar.usage)
            : absl::StrCat("unexpected argument '", out->positional_[grammar.max_positional],
                           "': usage: varavctl ", grammar.path, " ", grammar.usage));
  }
  return absl::OkStatus();
}

std::string CommandHelp(const CommandGrammar& grammar, const std::vector<FlagSpec>& global) {
  std::string out = absl::StrCat("usage: varavctl ", grammar.path);
  if (!grammar.usage.empty()) absl::StrAppend(&out, " ", grammar.usage);
  if (!grammar.flags.empty()) absl::StrAppend(&out, " [flags]");
  absl::StrAppend(&out, "\n\n", grammar.summary, "\n");
  if (!grammar.details.empty()) absl::StrAppend(&out, "\n", grammar.details, "\n");
  if (!grammar.flags.empty()) {
    absl::StrAppend(&out, "\nflags:\n");
    AppendFlags(&out, grammar.flags);
  }
  absl::StrAppend(&out, "\nglobal flags:\n");
  AppendFlags(&out, global);
  return out;
}

std::string OverviewHelp(const std::vector<CommandGrammar>& grammars,
                         const std::vector<FlagSpec>& global) {
  std::string out =
      "varavctl: the command-line client of varavd (Värav, the Service Standard 2.0 gatekeeper)\n"
      "\nusage: varavctl COMMAND [arguments] [flags]\n\ncommands:\n";
  size_t width = 0;
  for (const CommandGrammar& g : grammars) width = std::max(width, g.path.size());
  for (const CommandGrammar& g : grammars) {
    absl::StrAppend(&out, "  ", g.path, std::string(width - g.path.size() + 2, ' '), g.summary,
                    "\n");
  }
  absl::StrAppend(&out, "\nglobal flags:\n");
  AppendFlags(&out, global);
  absl::StrAppend(&out,
                  "\nenvironment:\n"
                  "  VARAV_ADDR   server address (default 127.0.0.1:50051)\n"
                  "  VARAV_TOKEN  bearer token (default: the contents of ./var/dev-admin-token)\n"
                  "\nexit status: 0 success, 1 failure (or a gate/audit check that does not pass), "
                  "2 usage error\n"
                  "Run 'varavctl COMMAND --help' for a command's flags.\n");
  return out;
}

}  // namespace varav::cli
