// Settings of varavd: the options the server runs with, the optional `key = value` config file,
// and checks on the listen address.
//
// The config file holds one setting per line, named like the command-line flag without dashes:
//
//   # /etc/varav/varavd.conf
//   listen = 0.0.0.0:50051
//   data_dir = /var/lib/varav/data
//   tls_cert = /etc/varav/tls/server.crt   # a comment may follow a value
//
// Blank lines and lines starting with '#' are ignored; a value may be wrapped in double quotes
// (to keep a '#' or surrounding spaces). Flags given on the command line override the file.
//
// Thread safety: plain values and pure functions, except ApplyConfigToFlags (see there).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace varav::server {

struct ServerOptions {
  // Default "127.0.0.1:50051": host:port to listen on; port 0 picks a free port.
  std::string listen = "127.0.0.1:50051";
  // Default "./var/data": the RocksDB directory (created when missing).
  std::string data_dir = "./var/data";
  // Default "./rules": directory whose subdirectories are rule packs (each with pack.yaml).
  std::string rules_dir = "./rules";
  // Default "teenuse-standard@2.0.0": the pack RegisterService pins when a request names none;
  // must be loaded. Empty: requests must name a pack.
  std::string default_pack = "teenuse-standard@2.0.0";
  // Required: the principals file (format in auth.h).
  std::string principals_file;
  // Default "": PEM server certificate and key; both set enables TLS.
  std::string tls_cert;
  std::string tls_key;
  // Default "": PEM CA bundle; set (with TLS) to require and verify client certificates (mTLS).
  std::string tls_client_ca;
  // Default false: without TLS, refuse to listen on anything but loopback unless set.
  bool allow_insecure_remote = false;
  // Default 4 MiB: largest request or response message.
  int max_message_bytes = 4 << 20;
  // Default 256: concurrent HTTP/2 streams per connection (GRPC_ARG_MAX_CONCURRENT_STREAMS).
  int max_concurrent_streams = 256;
  // Default 1024: calls being handled at once across the server; more are RESOURCE_EXHAUSTED.
  int max_inflight = 1024;
  // Default 32: threads running the application layer (calls block on storage fsync, so this also
  // bounds how many commits can share one group sync).
  int worker_threads = 32;
  // Default 10 s: how long SIGTERM waits for in-flight calls before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Default true: acknowledge a mutation only after its write is fsynced.
  bool sync = true;
  // Default true: one log line per call.
  bool log_calls = true;
  // Default "": NATS server URL(s) of the JetStream event publisher (services/events); empty
  // disables publishing.
  std::string nats_url;
  // Default "VARAV_EVENTS": the JetStream stream events are published to (created when missing).
  std::string nats_stream = "VARAV_EVENTS";
  // Default 4096: services whose snapshot the command path keeps in memory after a commit
  // (services/governance/snapshot_cache.h); 0 turns the cache off.
  int snapshot_cache_entries = 4096;
};

// The `key = value` pairs of a config file's text, in order. InvalidArgument naming the line for
// a line without '=', an empty key or an unterminated quote.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseConfigText(
    absl::string_view text);

// Reads `path` and sets each named absl flag from it. InvalidArgument naming the line for an
// unknown flag or a value the flag rejects; NotFound when the file cannot be read. Call it before
// absl::ParseCommandLine so that command-line flags override the file. Not thread-safe (flags
// are process-global); call during startup only.
absl::Status ApplyConfigToFlags(absl::string_view path);

// The value of `--config=FILE` or `--config FILE` in argv, or "" when absent.
std::string FindConfigArg(int argc, char** argv);

// Whether the host of `listen` ("host:port", "[v6]:port", "unix:path") only accepts local
// connections: 127.0.0.0/8, ::1, localhost or a unix socket. InvalidArgument for an address
// without a port.
absl::StatusOr<bool> IsLoopbackListenAddress(absl::string_view listen);

// InvalidArgument naming the setting for an option out of range, or an insecure remote listen
// address (see ServerOptions::allow_insecure_remote).
absl::Status ValidateOptions(const ServerOptions& options);

}  // namespace varav::server
