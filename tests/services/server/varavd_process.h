// Test support: runs the real varavd binary as a child process on port 0 with a temporary data
// directory and principals file, and talks to it through real gRPC channels.
//
//   TempDir dir;
//   VaravdProcess server(dir.path(), TestPrincipals());
//   ASSERT_TRUE(server.Start().ok()) << server.Log();   // waits for health SERVING
//   auto stub = v1::LifecycleService::NewStub(server.Channel());
//   grpc::ClientContext ctx; server.Authorize(ctx, "admin");
//   ...
//   EXPECT_EQ(server.Stop(SIGTERM), 0);
//
// The child gets PR_SET_PDEATHSIG so a crashed test never leaves a server behind; the destructor
// kills a server that is still running.
//
// Thread safety: a VaravdProcess is used by one test thread; channels and stubs are thread-safe.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace varav::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One principal of the generated principals file, with its clear-text token.
struct TestPrincipal {
  std::string id;
  std::string agency;
  std::vector<std::string> roles;
  std::string token;  // empty: certificate only
  std::vector<std::string> client_cert_names;
};

// The principals every integration test can act as, by short name:
//   admin        admin, agency "jdm"
//   ska_editor   agency_editor of "sotsiaalkindlustusamet"
//   tta_editor   agency_editor of "tootukassa"
//   business     panel_member:business_panel, agency "mkm"
//   funding      panel_member:it_funding_council, agency "mkm"
//   architecture panel_member:it_architecture_panel, agency "mkm"
//   ska_panel    panel_member:business_panel of the service's own agency "sotsiaalkindlustusamet"
//   reader       reader, agency "riigikontroll"
std::map<std::string, TestPrincipal> TestPrincipals();

// The YAML principals file for `principals` (token hashes only).
std::string PrincipalsYaml(const std::map<std::string, TestPrincipal>& principals);

// Writes `content` to `path`; fails the test on error.
void WriteFile(const std::string& path, absl::string_view content);
std::string ReadFileOrEmpty(const std::string& path);

// The repository root (for rules/ and fixtures).
std::string SourceDir();

class VaravdProcess {
 public:
  // `dir` holds data/, principals.yaml, port and the server's log; it must outlive this object.
  VaravdProcess(std::string dir, std::map<std::string, TestPrincipal> principals);
  ~VaravdProcess();
  VaravdProcess(const VaravdProcess&) = delete;
  VaravdProcess& operator=(const VaravdProcess&) = delete;

  // Starts varavd with the default test flags plus `extra_args` (later flags override earlier
  // ones) and waits until it reports SERVING (or `wait_serving` is false: until it wrote its port,
  // or exited). Error with the server's log when it exits or does not become ready in time.
  absl::Status Start(std::vector<std::string> extra_args = {}, bool wait_serving = true);
  // Runs varavd with `args` only (no defaults) until it exits; returns its exit code.
  absl::StatusOr<int> RunToExit(const std::vector<std::string>& args, absl::Duration timeout);

  // Sends `signal` and waits for the exit; returns the exit code, or 128 + the signal that killed
  // it, or -1 on timeout (then the process is killed).
  int Stop(int signal, absl::Duration timeout = absl::Seconds(30));
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  int port() const { return port_; }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }
  // An insecure channel to the server (cached per process start).
  std::shared_ptr<grpc::Channel> Channel();
  // Adds `authorization: Bearer <token>` for the principal `name`.
  void Authorize(grpc::ClientContext& context, absl::string_view name) const;

  // Everything the server wrote to stdout and stderr so far.
  std::string Log() const;
  const std::string& dir() const { return dir_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& principals_file() const { return principals_file_; }

 private:
  absl::Status Spawn(const std::vector<std::string>& args);

  std::string dir_;
  std::string data_dir_;
  std::string principals_file_;
  std::string port_file_;
  std::string log_file_;
  std::map<std::string, TestPrincipal> principals_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

// grpc.health.v1.Health/Check for `service` over `channel`: the ServingStatus number (1 SERVING,
// 2 NOT_SERVING) or the call's error.
absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                absl::string_view service,
                                absl::Duration timeout = absl::Seconds(5));

// The service names grpc.reflection.v1alpha.ServerReflection lists.
absl::StatusOr<std::vector<std::string>> ReflectionListServices(
    const std::shared_ptr<grpc::Channel>& channel);

}  // namespace varav::testing
