#include "tests/services/server/varavd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "engine/common/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "services/server/auth.h"

#ifndef VARAVD_PATH
#error "VARAVD_PATH must name the varavd binary"
#endif
#ifndef VARAV_SOURCE_DIR
#error "VARAV_SOURCE_DIR must name the source tree"
#endif

namespace varav::testing {
namespace {

using google::protobuf::internal::WireFormatLite;

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// Waits for the next completion; false when the operation failed.
bool Await(grpc::CompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  return cq.Next(&tag, &ok) && ok;
}

void ShutdownAndDrain(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

// The length-delimited values of field `number` in a serialized message.
std::vector<std::string> LengthDelimited(const std::string& bytes, int number) {
  std::vector<std::string> out;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == number &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::string value;
      if (!WireFormatLite::ReadString(&in, &value)) break;
      out.push_back(std::move(value));
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      break;
    }
  }
  return out;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr && *base ? base : "/tmp", "/varavd-it-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::map<std::string, TestPrincipal> TestPrincipals() {
  return {
      {"admin", {"jdm:admin", "jdm", {"admin"}, "tok-admin-5d1c0b9a", {"admin.jdm.test"}}},
      {"ska_editor",
       {"ska:editor",
        "sotsiaalkindlustusamet",
        {"agency_editor:sotsiaalkindlustusamet"},
        "tok-ska-editor-77e2",
        {"editor.ska.test"}}},
      {"tta_editor",
       {"tta:editor", "tootukassa", {"agency_editor:tootukassa"}, "tok-tta-editor-0af3", {}}},
      {"business",
       {"mkm:business", "mkm", {"panel_member:business_panel"}, "tok-mkm-business-19c4", {}}},
      {"funding",
       {"mkm:funding", "mkm", {"panel_member:it_funding_council"}, "tok-mkm-funding-a8b1", {}}},
      {"architecture",
       {"mkm:architecture",
        "mkm",
        {"panel_member:it_architecture_panel"},
        "tok-mkm-architecture-3e9d",
        {}}},
      {"ska_panel",
       {"ska:business",
        "sotsiaalkindlustusamet",
        {"panel_member:business_panel"},
        "tok-ska-panel-c5d2",
        {}}},
      {"reader", {"rk:reader", "riigikontroll", {"reader"}, "tok-reader-46f0", {}}},
  };
}

std::string PrincipalsYaml(const std::map<std::string, TestPrincipal>& principals) {
  std::string yaml = "principals:\n";
  for (const auto& [name, p] : principals) {
    absl::StrAppend(&yaml, "  - id: \"", p.id, "\"\n");
    if (!p.agency.empty()) absl::StrAppend(&yaml, "    agency: ", p.agency, "\n");
    absl::StrAppend(&yaml, "    roles: [\"", absl::StrJoin(p.roles, "\", \""), "\"]\n");
    if (!p.token.empty()) {
      absl::StrAppend(&yaml, "    token_sha256: ", varav::Sha256Hex(p.token), "\n");
    }
    if (!p.client_cert_names.empty()) {
      absl::StrAppend(&yaml, "    client_cert_names: [", absl::StrJoin(p.client_cert_names, ", "),
                      "]\n");
    }
  }
  return yaml;
}

void WriteFile(const std::string& path, absl::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) ADD_FAILURE() << "cannot write " << path;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string SourceDir() { return VARAV_SOURCE_DIR; }

VaravdProcess::VaravdProcess(std::string dir, std::map<std::string, TestPrincipal> principals)
    : dir_(std::move(dir)),
      data_dir_(dir_ + "/data"),
      principals_file_(dir_ + "/principals.yaml"),
      port_file_(dir_ + "/port"),
      log_file_(dir_ + "/varavd.log"),
      principals_(std::move(principals)) {
  WriteFile(principals_file_, PrincipalsYaml(principals_));
}

VaravdProcess::~VaravdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

absl::Status VaravdProcess::Spawn(const std::vector<std::string>& args) {
  std::vector<std::string> full = {VARAVD_PATH};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = log_file_;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  return absl::OkStatus();
}

absl::Status VaravdProcess::Start(std::vector<std::string> extra_args, bool wait_serving) {
  if (pid_ > 0) return absl::FailedPreconditionError("already running");
  std::filesystem::remove(port_file_);
  port_ = 0;
  channel_.reset();
  std::vector<std::string> args = {
      "--listen=127.0.0.1:0",
      "--port_file=" + port_file_,
      "--data_dir=" + data_dir_,
      "--rules_dir=" + SourceDir() + "/rules",
      "--principals_file=" + principals_file_,
      "--shutdown_grace_s=5",
      "--worker_threads=8",
  };
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  if (absl::Status s = Spawn(args); !s.ok()) return s;

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (port_ == 0) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat("varavd exited (status ", status, ") before listening:\n", Log()));
    }
    const std::string text(absl::StripAsciiWhitespace(ReadFileOrEmpty(port_file_)));
    if (!text.empty() && !absl::SimpleAtoi(text, &port_)) port_ = 0;
    if (port_ != 0) break;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("varavd wrote no port:\n", Log()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (!wait_serving) return absl::OkStatus();
  while (true) {
    absl::StatusOr<int> health = HealthCheck(Channel(), "", absl::Seconds(1));
    if (health.ok() && *health == 1) return absl::OkStatus();
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat("varavd exited (status ", status, ") before serving:\n", Log()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("varavd not SERVING in time:\n", Log()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::StatusOr<int> VaravdProcess::RunToExit(const std::vector<std::string>& args,
                                             absl::Duration timeout) {
  if (pid_ > 0) return absl::FailedPreconditionError("already running");
  if (absl::Status s = Spawn(args); !s.ok()) return s;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Stop(SIGKILL);
  return absl::DeadlineExceededError("varavd did not exit in time");
}

int VaravdProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (absl::Now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  pid_ = -1;
  channel_.reset();
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::shared_ptr<grpc::Channel> VaravdProcess::Channel() {
  if (channel_ == nullptr) {
    channel_ = grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials());
  }
  return channel_;
}

void VaravdProcess::Authorize(grpc::ClientContext& context, absl::string_view name) const {
  const auto it = principals_.find(std::string(name));
  if (it == principals_.end()) {
    ADD_FAILURE() << "unknown test principal " << name;
    return;
  }
  context.AddMetadata("authorization", "Bearer " + it->second.token);
}

std::string VaravdProcess::Log() const { return ReadFileOrEmpty(log_file_); }

absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                absl::string_view service, absl::Duration timeout) {
  // grpc.health.v1.HealthCheckRequest{service = 1}; HealthCheckResponse{status = 1 (enum)}.
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));
    request.append(service.data(), service.size());
  }
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  auto call =
      stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", ToBuffer(request), &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  Await(cq);
  ShutdownAndDrain(cq);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  const std::string bytes = ToString(response);
  if (bytes.size() == 2 && bytes[0] == 0x08) return static_cast<int>(bytes[1]);
  return 0;  // UNKNOWN (the default value is not serialized)
}

absl::StatusOr<std::vector<std::string>> ReflectionListServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = reinterpret_cast<void*>(1);
  call->StartCall(tag);
  if (!Await(cq)) return absl::UnavailableError("reflection: cannot start call");
  // ServerReflectionRequest{list_services = 7: ""}.
  call->Write(ToBuffer(std::string("\x3a\x00", 2)), tag);
  if (!Await(cq)) return absl::UnavailableError("reflection: write failed");
  call->WritesDone(tag);
  Await(cq);
  grpc::ByteBuffer response;
  call->Read(&response, tag);
  const bool read = Await(cq);
  grpc::Status status;
  call->Finish(&status, tag);
  Await(cq);
  ShutdownAndDrain(cq);
  if (!read || !status.ok()) {
    return absl::UnavailableError(absl::StrCat("reflection: ", status.error_message()));
  }
  // ServerReflectionResponse{list_services_response = 6: {service = 1: {name = 1}}}.
  std::vector<std::string> names;
  for (const std::string& list : LengthDelimited(ToString(response), 6)) {
    for (const std::string& service : LengthDelimited(list, 1)) {
      for (const std::string& name : LengthDelimited(service, 1)) names.push_back(name);
    }
  }
  return names;
}

}  // namespace varav::testing
