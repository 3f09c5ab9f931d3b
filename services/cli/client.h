// The connection varavctl makes to varavd: where (VARAV_ADDR or --addr), as whom (a bearer token
// from VARAV_TOKEN, --token-file or ./var/dev-admin-token), over plaintext or TLS (--tls-ca,
// optionally with a client certificate for mTLS), and the conversion of gRPC statuses into
// absl::Status so that commands print one kind of error.
//
//   absl::StatusOr<ClientOptions> options = ResolveClientOptions(args);
//   absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*options);
//   absl::StatusOr<v1::GetServiceResponse> r =
//       (*client)->Call(&v1::LifecycleService::Stub::GetService, request);
//
// Thread safety: a Client may be used from several threads (gRPC stubs are thread-safe).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "services/cli/args.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"
#include "varav/v1/rules_service.grpc.pb.h"

namespace varav::cli {

inline constexpr char kDefaultAddress[] = "127.0.0.1:50051";
// Written by `make run` on the first start of a development server.
inline constexpr char kDevTokenFile[] = "var/dev-admin-token";

struct ClientOptions {
  // host:port of varavd. Default: VARAV_ADDR, else kDefaultAddress.
  std::string address;
  // The bearer token; empty sends no authorization header (the server will refuse most calls).
  std::string token;
  // PEM file names; TLS is used when `tls_ca` is set. `tls_cert` and `tls_key` go together.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // Deadline of every unary call. Default 30 s.
  absl::Duration timeout = absl::Seconds(30);
};

// Resolves the options from the global flags and the environment: --addr over VARAV_ADDR over the
// default; --token-file over VARAV_TOKEN over ./var/dev-admin-token (when it exists). Reads no
// certificate yet. InvalidArgument for a bad --timeout-s or an unreadable token file.
absl::StatusOr<ClientOptions> ResolveClientOptions(const ParsedArgs& args);

// The status of a failed call, with the gRPC code carried over unchanged (the numeric codes of
// gRPC and Abseil coincide).
absl::Status FromGrpcStatus(const grpc::Status& status);

// Reads a whole file; NotFound / Internal on failure.
absl::StatusOr<std::string> ReadFile(const std::string& path);

class Client {
 public:
  // Builds the channel (lazily connected: a down server shows up as UNAVAILABLE on the first
  // call). InvalidArgument when a certificate file cannot be read.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  v1::LifecycleService::Stub& lifecycle() { return *lifecycle_; }
  v1::RulesService::Stub& rules() { return *rules_; }
  const ClientOptions& options() const { return options_; }

  // A context carrying the token and the deadline.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  // Calls one unary method of either stub.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                const Request& request) {
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    Response response;
    grpc::Status status = (StubFor<Stub>().*method)(context.get(), request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

 private:
  explicit Client(ClientOptions options) : options_(std::move(options)) {}

  template <typename Stub>
  Stub& StubFor() {
    if constexpr (std::is_same_v<Stub, v1::LifecycleService::Stub>) {
      return *lifecycle_;
    } else {
      return *rules_;
    }
  }

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LifecycleService::Stub> lifecycle_;
  std::unique_ptr<v1::RulesService::Stub> rules_;
};

}  // namespace varav::cli
