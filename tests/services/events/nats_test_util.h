// A real `nats-server -js` on loopback for integration tests, and a JetStream reader that
// collects what a stream holds.
//
// Thread safety: one thread per object.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nats/nats.h"
#include "tests/free_port.h"

namespace varav::events::testing {

// A free TCP port on 127.0.0.1 (bound once, then released for the server to take).
using ::varav::testing::FreePort;

inline bool PortAcceptsConnections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// The nats-server binary, or "" when it is not installed.
inline std::string NatsServerBinary() {
  for (const char* candidate : {"/usr/sbin/nats-server", "/usr/bin/nats-server"}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return "";
}

// nats-server with JetStream, storing under `store_dir`, on a fixed port across restarts.
class NatsServer {
 public:
  NatsServer(std::string store_dir, int port) : store_dir_(std::move(store_dir)), port_(port) {}
  ~NatsServer() { Stop(); }

  // Starts the server and waits until it accepts connections. False on failure.
  bool Start() {
    const std::string binary = NatsServerBinary();
    if (binary.empty()) return false;
    const std::string port = std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      // Quiet child: the server logs to stderr, which would interleave with test output.
      freopen("/dev/null", "w", stdout);
      freopen("/dev/null", "w", stderr);
      execl(binary.c_str(), binary.c_str(), "-js", "-a", "127.0.0.1", "-p", port.c_str(), "-sd",
            store_dir_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid_ < 0) return false;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (PortAcceptsConnections(port_)) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // Stops the server (SIGTERM, as an operator would) and reaps it.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string url() const { return absl::StrCat("nats://127.0.0.1:", port_); }

 private:
  std::string store_dir_;
  int port_;
  pid_t pid_ = -1;
};

// What a JetStream stream holds, read back through a consumer.
struct StreamContents {
  // Message id (Nats-Msg-Id) -> how many messages carry it.
  std::map<std::string, int> ids;
  // Subjects and payloads in stream order.
  std::vector<std::string> subjects;
  std::vector<std::string> payloads;
  uint64_t stream_messages = 0;
  int64_t duplicate_window_ns = 0;
  std::string error;
};

// Reads every message of `stream` with an ephemeral push consumer from the start.
inline StreamContents ReadStream(const std::string& url, const std::string& stream,
                                 const std::string& subjects) {
  StreamContents out;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* subscription = nullptr;
  jsStreamInfo* info = nullptr;
  natsStatus s = natsConnection_ConnectTo(&connection, url.c_str());
  if (s == NATS_OK) s = natsConnection_JetStream(&js, connection, nullptr);
  if (s == NATS_OK) s = js_GetStreamInfo(&info, js, stream.c_str(), nullptr, nullptr);
  if (s == NATS_OK) {
    out.stream_messages = info->State.Msgs;
    out.duplicate_window_ns = info->Config->Duplicates;
    jsStreamInfo_Destroy(info);
    jsSubOptions options;
    jsSubOptions_Init(&options);
    options.Stream = stream.c_str();
    options.Config.DeliverPolicy = js_DeliverAll;
    options.Config.AckPolicy = js_AckNone;
    s = js_SubscribeSync(&subscription, js, subjects.c_str(), nullptr, &options, nullptr);
  }
  while (s == NATS_OK) {
    natsMsg* msg = nullptr;
    // Everything is stored already; a quiet second means the end.
    if (natsSubscription_NextMsg(&msg, subscription, 1000) != NATS_OK) break;
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK) ++out.ids[id];
    out.subjects.emplace_back(natsMsg_GetSubject(msg));
    out.payloads.emplace_back(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
  }
  if (s != NATS_OK) out.error = natsStatus_GetText(s);
  if (subscription != nullptr) natsSubscription_Destroy(subscription);
  if (js != nullptr) jsCtx_Destroy(js);
  if (connection != nullptr) natsConnection_Destroy(connection);
  return out;
}

}  // namespace varav::events::testing
