// varavd: the Värav gRPC server. Settings come from flags and an optional config file
// (--config=FILE, `key = value` lines named like the flags; see config.h); flags on the command
// line win. Logs are JSON lines on stderr. SIGTERM or SIGINT drains in-flight calls and exits 0.
//
//   varavd --listen=127.0.0.1:50051 --data_dir=var/data --rules_dir=rules
//          --principals_file=var/principals.yaml
//
// Exit codes: 0 after a clean shutdown, 1 when the server fails at runtime or startup, 2 for bad
// settings.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/common/logging.h"
#include "services/server/auth.h"
#include "services/server/config.h"
#include "services/server/server.h"

namespace {
const varav::server::ServerOptions kDefaults;
}  // namespace

ABSL_FLAG(std::string, config, "", "Optional config file of `key = value` lines named like flags");
ABSL_FLAG(std::string, listen, kDefaults.listen,
          "host:port to listen on; port 0 picks a free port");
ABSL_FLAG(std::string, port_file, "", "When set, the bound port is written to this file");
ABSL_FLAG(std::string, data_dir, kDefaults.data_dir, "RocksDB directory (created when missing)");
ABSL_FLAG(std::string, rules_dir, kDefaults.rules_dir, "Directory of rule packs");
ABSL_FLAG(std::string, default_pack, kDefaults.default_pack,
          "Pack (id@version) pinned by RegisterService when a request names none");
ABSL_FLAG(std::string, principals_file, "", "YAML principals file (see services/server/auth.h)");
ABSL_FLAG(bool, init_dev_principals, false,
          "Development: when --principals_file does not exist, create it with an admin whose "
          "fresh token is printed once and written to --dev_admin_token_file");
ABSL_FLAG(std::string, dev_admin_token_file, "./var/dev-admin-token",
          "Where --init_dev_principals writes the development admin token (mode 0600)");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate (enables TLS with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM server private key");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set, client certificates are required and verified (mTLS)");
ABSL_FLAG(bool, allow_insecure_remote, false,
          "Allow listening on a non-loopback address without TLS");
ABSL_FLAG(int, max_message_bytes, kDefaults.max_message_bytes, "Largest message in bytes");
ABSL_FLAG(int, max_concurrent_streams, kDefaults.max_concurrent_streams,
          "Concurrent streams per HTTP/2 connection");
ABSL_FLAG(int, max_inflight, kDefaults.max_inflight,
          "Calls handled at once; more are refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(int, worker_threads, kDefaults.worker_threads, "Threads running calls");
ABSL_FLAG(double, shutdown_grace_s, absl::ToDoubleSeconds(kDefaults.shutdown_grace),
          "Seconds SIGTERM waits for in-flight calls");
ABSL_FLAG(bool, sync, kDefaults.sync, "fsync every commit before acknowledging it");
ABSL_FLAG(bool, log_calls, kDefaults.log_calls, "Log one JSON line per call");
ABSL_FLAG(std::string, nats_url, kDefaults.nats_url,
          "NATS URL(s) to publish every event to JetStream (empty: no publishing)");
ABSL_FLAG(std::string, nats_stream, kDefaults.nats_stream,
          "JetStream stream for published events (created when missing)");
ABSL_FLAG(int, snapshot_cache_entries, kDefaults.snapshot_cache_entries,
          "Services whose snapshot is kept in memory after a commit (0: off); also the number of "
          "gate statuses kept");
ABSL_FLAG(bool, mutex_deadlock_detection, false,
          "Keep Abseil's mutex deadlock detection on (Debian's Abseil enables it by default; it "
          "takes a process-wide lock on every mutex operation)");

namespace {

using varav::LogLine;

int Fail(int code, absl::string_view msg, const absl::Status& status) {
  LogLine("error", msg)
      .Str("code", absl::StatusCodeToString(status.code()))
      .Str("error", status.message())
      .Emit();
  return code;
}

absl::Status WritePortFile(const std::string& path, int port) {
  // Written to a temporary name and renamed, so a reader never sees a partial number.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return absl::InternalError(absl::StrCat("port_file: cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("port_file: ", ec.message()));
  return absl::OkStatus();
}

void EnsureParentDir(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ignored;  // a real problem surfaces when the file is written
  if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Värav gRPC server.\n  varavd --principals_file=FILE [--listen=127.0.0.1:50051] "
      "[--data_dir=./var/data] [--rules_dir=./rules] [--config=FILE]");
  // The config file is applied first so that flags parsed afterwards override it.
  const std::string config = varav::server::FindConfigArg(argc, argv);
  if (!config.empty()) {
    if (absl::Status s = varav::server::ApplyConfigToFlags(config); !s.ok()) {
      return Fail(2, "bad config", s);
    }
  }
  absl::ParseCommandLine(argc, argv);

  // Signals are blocked in every thread (gRPC's included, which inherit the mask) and taken
  // synchronously by sigwait below: no async-signal-safety concerns.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  varav::server::ServerOptions options{
      .listen = absl::GetFlag(FLAGS_listen),
      .data_dir = absl::GetFlag(FLAGS_data_dir),
      .rules_dir = absl::GetFlag(FLAGS_rules_dir),
      .default_pack = absl::GetFlag(FLAGS_default_pack),
      .principals_file = absl::GetFlag(FLAGS_principals_file),
      .tls_cert = absl::GetFlag(FLAGS_tls_cert),
      .tls_key = absl::GetFlag(FLAGS_tls_key),
      .tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca),
      .allow_insecure_remote = absl::GetFlag(FLAGS_allow_insecure_remote),
      .max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes),
      .max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams),
      .max_inflight = absl::GetFlag(FLAGS_max_inflight),
      .worker_threads = absl::GetFlag(FLAGS_worker_threads),
      .shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s)),
      .sync = absl::GetFlag(FLAGS_sync),
      .log_calls = absl::GetFlag(FLAGS_log_calls),
      .nats_url = absl::GetFlag(FLAGS_nats_url),
      .nats_stream = absl::GetFlag(FLAGS_nats_stream),
      .snapshot_cache_entries = absl::GetFlag(FLAGS_snapshot_cache_entries),
  };
  if (!absl::GetFlag(FLAGS_mutex_deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  if (absl::Status s = varav::server::ValidateOptions(options); !s.ok()) {
    return Fail(2, "bad settings", s);
  }

  if (absl::GetFlag(FLAGS_init_dev_principals)) {
    const std::string token_file = absl::GetFlag(FLAGS_dev_admin_token_file);
    EnsureParentDir(options.principals_file);
    EnsureParentDir(token_file);
    auto token = varav::server::InitDevPrincipals(options.principals_file, token_file);
    if (!token.ok()) return Fail(1, "cannot create development principals", token.status());
    if (!token->empty()) {
      LogLine("info", "created development principals")
          .Str("principals_file", options.principals_file)
          .Str("token_file", token_file)
          .Emit();
      std::printf(
          "\nDevelopment admin token (shown once; also saved to %s, mode 0600):\n\n  %s\n\n"
          "  export VARAV_TOKEN=$(cat %s)\n\n",
          token_file.c_str(), token->c_str(), token_file.c_str());
      std::fflush(stdout);
    }
  }

  auto server = varav::server::VaravServer::Create(options);
  if (!server.ok()) {
    return Fail(server.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1,
                "cannot start", server.status());
  }
  LogLine("info", "listening")
      .Int("port", (*server)->port())
      .Str("address", options.listen)
      .Bool("tls", !options.tls_cert.empty())
      .Bool("mtls", !options.tls_client_ca.empty())
      .Int("pid", getpid())
      .Emit();
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    if (absl::Status s = WritePortFile(port_file, (*server)->port()); !s.ok()) {
      (*server)->Shutdown();
      return Fail(1, "cannot write port file", s);
    }
  }
  if (absl::Status s = (*server)->Initialize(); !s.ok()) {
    (*server)->Shutdown();
    return Fail(1, "cannot initialize", s);
  }

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) != 0) {
  }
  LogLine("info", "shutting down")
      .Str("signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM")
      .Emit();
  (*server)->Shutdown();
  LogLine("info", "stopped").Emit();
  return 0;
}
