#include "services/cli/client.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace varav::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

bool FileExists(const std::string& path) {
  std::ifstream in(path);
  return in.good();
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path));
  return content.str();
}

absl::StatusOr<ClientOptions> ResolveClientOptions(const ParsedArgs& args) {
  ClientOptions options;
  options.address = args.Get("addr", Env("VARAV_ADDR"));
  if (options.address.empty()) options.address = kDefaultAddress;

  std::string token_file = args.Get("token-file");
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFile(token_file);
    if (!token.ok())
      return absl::InvalidArgumentError(absl::StrCat("--token-file: ", token.status().message()));
    options.token = std::string(absl::StripAsciiWhitespace(*token));
  } else if (std::string env = Env("VARAV_TOKEN"); !env.empty()) {
    options.token = std::string(absl::StripAsciiWhitespace(env));
  } else if (FileExists(kDevTokenFile)) {
    absl::StatusOr<std::string> token = ReadFile(kDevTokenFile);
    if (token.ok()) options.token = std::string(absl::StripAsciiWhitespace(*token));
  }

  options.tls_ca = args.Get("tls-ca");
  options.tls_cert = args.Get("tls-cert");
  options.tls_key = args.Get("tls-key");
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!options.tls_cert.empty() && options.tls_ca.empty()) {
    return absl::InvalidArgumentError("--tls-cert needs --tls-ca (the server's CA)");
  }
  if (args.Has("timeout-s")) {
    double seconds = 0;
    if (!absl::SimpleAtod(args.Get("timeout-s"), &seconds) || seconds <= 0) {
      return absl::InvalidArgumentError("--timeout-s: expected a positive number of seconds");
    }
    options.timeout = absl::Seconds(seconds);
  }
  return options;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> ca = ReadFile(options.tls_ca);
    if (!ca.ok())
      return absl::InvalidArgumentError(absl::StrCat("--tls-ca: ", ca.status().message()));
    ssl.pem_root_certs = *ca;
    if (!options.tls_cert.empty()) {
      absl::StatusOr<std::string> cert = ReadFile(options.tls_cert);
      if (!cert.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--tls-cert: ", cert.status().message()));
      }
      absl::StatusOr<std::string> key = ReadFile(options.tls_key);
      if (!key.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", key.status().message()));
      }
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  }
  std::unique_ptr<Client> client(new Client(options));
  client->channel_ = grpc::CreateChannel(options.address, credentials);
  client->lifecycle_ = v1::LifecycleService::NewStub(client->channel_);
  client->rules_ = v1::RulesService::NewStub(client->channel_);
  return client;
}

std::unique_ptr<grpc::ClientContext> Client::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
  return context;
}

}  // namespace varav::cli
