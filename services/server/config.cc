#include "services/server/config.h"

#include <fstream>
#include <sstream>

#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace varav::server {

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseConfigText(
    absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("config line ", line_number, ": expected `key = value`"));
    }
    std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    absl::string_view rest = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("config line ", line_number, ": empty key"));
    }
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      const size_t close = rest.find('"', 1);
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("config line ", line_number, ": unterminated quote"));
      }
      value = std::string(rest.substr(1, close - 1));
    } else {
      // A '#' after the value starts a comment.
      const size_t hash = rest.find('#');
      if (hash != absl::string_view::npos) rest = rest.substr(0, hash);
      value = std::string(absl::StripAsciiWhitespace(rest));
    }
    pairs.emplace_back(std::move(key), std::move(value));
  }
  return pairs;
}

absl::Status ApplyConfigToFlags(absl::string_view path) {
  std::ifstream in{std::string(path)};
  if (!in) return absl::NotFoundError(absl::StrCat("config: cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto pairs = ParseConfigText(buffer.str());
  if (!pairs.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", pairs.status().message()));
  for (const auto& [key, value] : *pairs) {
    if (key == "config") {
      return absl::InvalidArgumentError(absl::StrCat(path, ": a config file cannot name another"));
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(key);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": unknown setting `", key, "`"));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", key, ": ", error));
    }
  }
  return absl::OkStatus();
}

std::string FindConfigArg(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    if (absl::ConsumePrefix(&arg, "config=")) return std::string(arg);
    if (arg == "config" && i + 1 < argc) return argv[i + 1];
  }
  return "";
}

absl::StatusOr<bool> IsLoopbackListenAddress(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:") || absl::StartsWith(listen, "unix-abstract:")) return true;
  absl::string_view host;
  if (absl::ConsumePrefix(&listen, "[")) {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos || listen.substr(close + 1, 1) != ":") {
      return absl::InvalidArgumentError("listen: expected [ipv6]:port");
    }
    host = listen.substr(0, close);
    listen.remove_prefix(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("listen: expected host:port");
    }
    host = listen.substr(0, colon);
    listen.remove_prefix(colon + 1);
  }
  int port = 0;
  if (!absl::SimpleAtoi(listen, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError("listen: port must be 0..65535");
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 is loopback as a whole.
  std::vector<absl::string_view> octets = absl::StrSplit(host, '.');
  if (octets.size() == 4 && octets[0] == "127") {
    for (absl::string_view octet : octets) {
      int n = 0;
      if (!absl::SimpleAtoi(octet, &n) || n < 0 || n > 255) return false;
    }
    return true;
  }
  return false;
}

absl::Status ValidateOptions(const ServerOptions& options) {
  if (options.listen.empty()) return absl::InvalidArgumentError("listen: required");
  auto loopback = IsLoopbackListenAddress(options.listen);
  if (!loopback.ok()) return loopback.status();
  const bool tls = !options.tls_cert.empty() || !options.tls_key.empty();
  if (tls && (options.tls_cert.empty() || options.tls_key.empty())) {
    return absl::InvalidArgumentError("tls_cert, tls_key: set both or neither");
  }
  if (!options.tls_client_ca.empty() && !tls) {
    return absl::InvalidArgumentError("tls_client_ca: needs tls_cert and tls_key");
  }
  if (!*loopback && !tls && !options.allow_insecure_remote) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen: ", options.listen,
        " is not a loopback address; refusing to serve without TLS (set tls_cert/tls_key, or "
        "allow_insecure_remote if a trusted proxy terminates TLS)"));
  }
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  if (options.rules_dir.empty()) return absl::InvalidArgumentError("rules_dir: required");
  if (options.principals_file.empty()) {
    return absl::InvalidArgumentError("principals_file: required");
  }
  if (options.max_message_bytes < 1024) {
    return absl::InvalidArgumentError("max_message_bytes: must be at least 1024");
  }
  if (options.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError("max_concurrent_streams: must be positive");
  }
  if (options.max_inflight < 1) return absl::InvalidArgumentError("max_inflight: must be positive");
  if (options.snapshot_cache_entries < 0 || options.snapshot_cache_entries > 10000000) {
    return absl::InvalidArgumentError("snapshot_cache_entries: must be 0..10000000");
  }
  if (options.worker_threads < 1 || options.worker_threads > 1024) {
    return absl::InvalidArgumentError("worker_threads: must be 1..1024");
  }
  if (options.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("shutdown_grace_s: must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace varav::server
