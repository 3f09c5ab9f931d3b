// Load generator for varavd: drives RPCs from many concurrent clients over several channels with
// gRPC's callback API and reports throughput and p50/p99 latency per RPC.
//
// It runs up to four phases against the same server, each for --duration_s after a warm-up:
//   mix     the mixed workload of --mix (default SubmitOutput, GetGateStatus, ListServices alike);
//   empty   grpc.health.v1.Health/Check, an RPC with no authentication and a trivial handler: the
//           framework's limit on this machine;
//   status  GetGateStatus alone, to compare with `empty` (goal: >= 50% of its throughput);
//   submit  durable SubmitOutput alone (goal: >= 5,000/s with 64 concurrent clients).
// Each concurrent client keeps exactly one call in flight. Submissions never conflict: the
// preloaded services are dealt out to the clients, each submits only to its own services in turn,
// and it takes the next etag from the previous response.
//
//   varav_loadgen --varavd=build/services/server/varavd          # own server on port 0, temp dir
//   varav_loadgen --addr=127.0.0.1:50051 --token_file=var/dev-admin-token --phases=mix
//
// With --varavd it also reports the server's CPU use per phase (from /proc), which tells whether
// the server is CPU-bound or waiting for fsync.
//
// The clients share the machine with the server, so every microsecond they spend is taken from
// it: like the benchmarks, the load generator allocates with tcmalloc and turns off Abseil's mutex
// deadlock detection (gRPC's locks are Abseil mutexes). SubmitOutput and GetGateStatus take the
// same generic (bytes) call path as the empty RPC, so that the phases compare the server and not
// the client's parsing of 1.3 and 5.4 KB answers: a submission's request is its varying fields
// serialized and appended to the constant ones serialized once, its answer is scanned for the new
// etag (bench/wire_scan.h); a status answer is checked to be non-empty; and every 64th answer of
// either is parsed whole and checked to be about the service asked for (DATA_LOSS otherwise).
// --typed_client makes them with the typed stub, parsing every answer.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/machine.h"
#include "bench/wire_scan.h"
#include "engine/common/sha256.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "varav/v1/lifecycle_service.grpc.pb.h"

ABSL_FLAG(std::string, addr, "", "varavd address (default $VARAV_ADDR, else 127.0.0.1:50051)");
ABSL_FLAG(std::string, token_file, "",
          "bearer token file (default $VARAV_TOKEN, else ./var/dev-admin-token)");
ABSL_FLAG(std::string, varavd, "",
          "start this varavd binary on port 0 with a temporary data dir and principals file");
ABSL_FLAG(std::string, rules_dir, VARAV_SOURCE_DIR "/rules", "rules dir for --varavd");
ABSL_FLAG(std::string, data_parent, "", "parent of the temporary data dir (default $TMPDIR)");
ABSL_FLAG(std::string, varavd_args, "", "extra flags for --varavd, space separated");
ABSL_FLAG(int, concurrency, 64, "concurrent clients (calls in flight)");
ABSL_FLAG(int, channels, 8, "gRPC channels (connections) the clients share");
ABSL_FLAG(double, duration_s, 10, "measured seconds per phase");
ABSL_FLAG(double, warmup_s, 1, "unmeasured seconds before each phase");
ABSL_FLAG(std::string, mix, "submit=1,status=1,list=1",
          "weights of the mix phase: submit, status, list, empty");
ABSL_FLAG(std::string, phases, "mix,empty,status,submit", "phases to run, in order");
ABSL_FLAG(int, services, 200, "services to preload (at least --concurrency)");
ABSL_FLAG(
    bool, mutex_deadlock_detection, false,
    "keep Abseil's mutex deadlock detection on in the clients (Debian's Abseil enables it; it "
    "costs a global lock per mutex operation)");

ABSL_FLAG(bool, typed_client, false,
          "make SubmitOutput and GetGateStatus calls with the typed stub, parsing every answer, "
          "instead of generic calls that read what they need from the answer's bytes and parse "
          "every 64th whole");

namespace varav::bench {
namespace {

using Clock = std::chrono::steady_clock;

enum Op { kSubmit = 0, kStatus, kList, kEmpty, kRefresh, kOpCount };
constexpr const char* kOpNames[] = {"SubmitOutput", "GetGateStatus", "ListServices",
                                    "Health/Check (empty)", "GetService (etag refresh)"};
constexpr char kVisionJson[] = R"json({
  "statement": "Lapsevanem saab vanemahüvitise ilma taotlust esitamata: riik pakub hüvitist ennetavalt lapse sünni registreerimise põhjal ning vanem ainult kinnitab valikud.",
  "intended_impact": "Vanemate halduskoormus väheneb ja hüvitis jõuab kõigi õigustatuteni õigel ajal.",
  "strategy_refs": ["Heaolu arengukava 2023–2030", "Eesti digiühiskonna arengukava 2030"],
  "horizon_years": 5,
  "scope": "Vanemahüvitise ja sünnitushüvitise määramine.",
  "affected_services": ["Vanemahüvitis", "Sünnitoetus"]
})json";
constexpr char kGoalsJson[] = R"json({
  "goals": ["Vähemalt 90% vanemahüvitistest määratakse ennetavalt ilma taotluseta."],
  "kpis": [{"name": "Ennetavalt määratud hüvitiste osakaal", "baseline": 12.0, "target": 90.0,
            "unit": "%", "due": "2030-06-30T00:00:00Z", "data_source": "SKAIS2"}],
  "evaluation_frequency": "quarterly",
  "expected_impact_5y": "Vanemate ajakulu väheneb."
})json";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// An empty message (HealthCheckRequest{}) serializes to zero bytes; a default ByteBuffer is not
// a message at all, so it holds one empty slice.
grpc::ByteBuffer EmptyMessage() {
  grpc::Slice empty;
  return grpc::ByteBuffer(&empty, 1);
}

// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
double ProcessCpuSeconds(pid_t pid) {
  std::string stat = ReadAll(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 2), ' ');
  // After the command: state is field 3 of the line, utime 14 and stime 15.
  double utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtod(f[11], &utime) || !absl::SimpleAtod(f[12], &stime)) {
    return 0;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A varavd started for the run: port 0, temporary data dir and principals file.
class OwnServer {
 public:
  static absl::StatusOr<std::unique_ptr<OwnServer>> Start(const std::string& binary) {
    auto server = std::unique_ptr<OwnServer>(new OwnServer());
    std::string parent = absl::GetFlag(FLAGS_data_parent);
    if (parent.empty()) parent = std::filesystem::temp_directory_path().string();
    std::string templ = parent + "/varav-loadgen-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) return absl::InternalError("mkdtemp failed");
    server->dir_ = templ;
    absl::BitGen gen;
    server->token_ =
        absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
    std::string principals = server->dir_ + "/principals.yaml";
    std::ofstream(principals) << "principals:\n  - id: loadgen\n    roles: [admin]\n"
                              << "    token_sha256: " << Sha256Hex(server->token_) << "\n";
    std::string port_file = server->dir_ + "/port";
    std::vector<std::string> args = {binary,
                                     "--listen=127.0.0.1:0",
                                     "--port_file=" + port_file,
                                     "--data_dir=" + server->dir_ + "/data",
                                     "--rules_dir=" + absl::GetFlag(FLAGS_rules_dir),
                                     "--principals_file=" + principals,
                                     "--log_calls=false"};
    for (absl::string_view extra :
         absl::StrSplit(absl::GetFlag(FLAGS_varavd_args), ' ', absl::SkipEmpty())) {
      args.push_back(std::string(extra));
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string log = server->dir_ + "/varavd.log";
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&server->pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return absl::InternalError(absl::StrCat("cannot start ", binary));
    for (int i = 0; i < 600; ++i) {
      std::string port(absl::StripAsciiWhitespace(ReadAll(port_file)));
      if (!port.empty()) {
        server->address_ = "127.0.0.1:" + port;
        return server;
      }
      int status = 0;
      if (waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
        server->pid_ = 0;
        return absl::InternalError(absl::StrCat("varavd exited early:\n", ReadAll(log)));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return absl::DeadlineExceededError("varavd wrote no port within 60 s");
  }

  ~OwnServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  const std::string& address() const { return address_; }
  const std::string& token() const { return token_; }
  pid_t pid() const { return pid_; }

 private:
  OwnServer() = default;
  std::string dir_;
  std::string address_;
  std::string token_;
  pid_t pid_ = 0;
};

struct OpStats {
  std::vector<int64_t> latency_ns;
  // Serialized size of the successful responses, summed.
  int64_t response_bytes = 0;
  int64_t errors = 0;
  std::map<int, int64_t> error_codes;
};

struct PhaseResult {
  std::string name;
  double seconds = 0;
  OpStats ops[kOpCount];
  double server_cpu = -1;  // CPU seconds per wall second (cores busy); -1 when unknown
  std::string steal;       // CPU steal during the phase (StealMeter::Text)
  double client_cpu = 0;
};

struct ServiceState {
  std::string id;
  std::string etag;
};

class Runner;

// One concurrent client: one call in flight at a time, the next issued from the completion.
struct Slot {
  Runner* runner = nullptr;
  int index = 0;
  v1::LifecycleService::Stub* stub = nullptr;
  grpc::GenericStub* generic = nullptr;
  std::unique_ptr<grpc::ClientContext> context;
  Op op = kSubmit;
  Clock::time_point started;
  std::vector<size_t> own_services;  // indices into the runner's services
  size_t next_own = 0;
  size_t current_service = 0;
  v1::SubmitOutputRequest submit_request;
  // Responses are parsed into messages on this arena, made afresh for every call and freed
  // together when the next call starts: cheaper for the client than clearing and refilling a
  // reused message, and the client shares the machine's cores with the server.
  google::protobuf::Arena arena;
  v1::SubmitOutputResponse* submit_response = nullptr;
  v1::GetGateStatusRequest status_request;
  v1::GetGateStatusResponse* status_response = nullptr;
  // The generic forms of the calls (unless --typed_client).
  grpc::ByteBuffer request_bytes;
  grpc::ByteBuffer response_bytes;
  std::vector<grpc::Slice> response_slices;
  std::string response_scratch;
  int64_t answers = 0;
  v1::ListServicesRequest list_request;
  v1::ListServicesResponse* list_response = nullptr;
  v1::GetServiceRequest get_request;
  v1::GetServiceResponse* get_response = nullptr;
  grpc::ByteBuffer empty_request;
  grpc::ByteBuffer empty_response;
  OpStats stats[kOpCount];
  absl::BitGen gen;
};

class Runner {
 public:
  Runner(std::vector<std::shared_ptr<grpc::Channel>> channels, std::string token,
         std::vector<ServiceState>* services)
      : channels_(std::move(channels)), token_(std::move(token)), services_(services) {
    for (auto& c : channels_) {
      stubs_.push_back(v1::LifecycleService::NewStub(c));
      generics_.push_back(std::make_unique<grpc::GenericStub>(c));
    }
    (void)google::protobuf::util::JsonStringToMessage(kVisionJson, &vision_fields_);
    v1::SubmitOutputRequest constant;
    constant.set_output_type("vision");
    *constant.mutable_fields() = vision_fields_;
    submit_constant_ = constant.SerializeAsString();
  }

  // Runs one phase with `weights` (per Op, kSubmit..kEmpty).
  PhaseResult Run(const std::string& name, const std::vector<double>& weights, int concurrency,
                  absl::Duration warmup, absl::Duration duration, pid_t server_pid) {
    weights_ = weights;
    double total = 0;
    for (double w : weights_) total += w;
    cumulative_.clear();
    double acc = 0;
    for (double w : weights_) cumulative_.push_back(acc += w / total);
    stop_ = false;
    measuring_ = false;
    outstanding_ = concurrency;
    std::vector<std::unique_ptr<Slot>> slots;
    for (int i = 0; i < concurrency; ++i) {
      auto slot = std::make_unique<Slot>();
      slot->runner = this;
      slot->index = i;
      slot->stub = stubs_[i % stubs_.size()].get();
      slot->generic = generics_[i % generics_.size()].get();
      for (size_t s = i; s < services_->size(); s += concurrency) slot->own_services.push_back(s);
      slot->empty_request = EmptyMessage();
      slots.push_back(std::move(slot));
    }
    for (auto& slot : slots) Issue(slot.get());
    absl::SleepFor(warmup);
    double server_cpu0 = server_pid > 0 ? ProcessCpuSeconds(server_pid) : 0;
    double client_cpu0 = SelfCpuSeconds();
    measure_start_ = Clock::now();
    measuring_ = true;
    absl::SleepFor(duration);
    measuring_ = false;
    Clock::time_point measure_end = Clock::now();
    double server_cpu1 = server_pid > 0 ? ProcessCpuSeconds(server_pid) : 0;
    double client_cpu1 = SelfCpuSeconds();
    stop_ = true;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](int* n) { return *n == 0; }, &outstanding_));
    }
    PhaseResult result;
    result.name = name;
    result.seconds = std::chrono::duration<double>(measure_end - measure_start_).count();
    if (server_pid > 0) result.server_cpu = (server_cpu1 - server_cpu0) / result.seconds;
    result.client_cpu = (client_cpu1 - client_cpu0) / result.seconds;
    for (auto& slot : slots) {
      for (int op = 0; op < kOpCount; ++op) {
        OpStats& to = result.ops[op];
        OpStats& from = slot->stats[op];
        to.latency_ns.insert(to.latency_ns.end(), from.latency_ns.begin(), from.latency_ns.end());
        to.errors += from.errors;
        to.response_bytes += from.response_bytes;
        for (auto [code, n] : from.error_codes) to.error_codes[code] += n;
      }
    }
    return result;
  }

 private:
  Op Pick(Slot* slot) {
    double r = absl::Uniform<double>(slot->gen, 0, 1);
    for (size_t op = 0; op < cumulative_.size(); ++op) {
      if (r < cumulative_[op] && weights_[op] > 0) return static_cast<Op>(op);
    }
    for (size_t op = weights_.size(); op-- > 0;) {
      if (weights_[op] > 0) return static_cast<Op>(op);
    }
    return kEmpty;
  }

  std::unique_ptr<grpc::ClientContext> NewContext(bool auth) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (auth) context->AddMetadata("authorization", "Bearer " + token_);
    return context;
  }

  void Issue(Slot* slot) {
    Op op = Pick(slot);
    if (op == kSubmit && slot->own_services.empty()) op = kStatus;
    if (op == kSubmit) {
      slot->current_service = slot->own_services[slot->next_own++ % slot->own_services.size()];
      if ((*services_)[slot->current_service].etag.empty()) op = kRefresh;
    }
    slot->op = op;
    slot->context = NewContext(op != kEmpty);
    slot->arena.Reset();
    slot->submit_response = nullptr;
    slot->status_response = nullptr;
    google::protobuf::Arena* arena = &slot->arena;
    slot->started = Clock::now();
    auto done = [slot](grpc::Status status) { slot->runner->Done(slot, status); };
    switch (op) {
      case kSubmit: {
        ServiceState& s = (*services_)[slot->current_service];
        v1::SubmitOutputRequest& r = slot->submit_request;
        r.Clear();
        r.set_etag(s.etag);
        r.set_service_id(s.id);
        v1::DocumentRef* doc = r.mutable_document();
        doc->set_system("dhs");
        doc->set_id("SKA/loadgen/vision");
        doc->set_version(absl::StrCat(slot->next_own));
        doc->set_sha256(kDocHash);
        if (typed_client_) {
          r.set_output_type("vision");
          *r.mutable_fields() = vision_fields_;
          slot->submit_response =
              google::protobuf::Arena::CreateMessage<v1::SubmitOutputResponse>(arena);
          slot->stub->async()->SubmitOutput(slot->context.get(), &r, slot->submit_response, done);
        } else {
          // Fields serialized one after another merge: the varying ones, then the constant ones.
          std::string bytes = r.SerializeAsString();
          bytes.append(submit_constant_);
          Call(slot, "/varav.v1.LifecycleService/SubmitOutput", std::move(bytes), done);
        }
        break;
      }
      case kStatus: {
        size_t i = absl::Uniform<size_t>(slot->gen, 0, services_->size());
        slot->status_request.set_service_id((*services_)[i].id);
        if (typed_client_) {
          slot->status_response =
              google::protobuf::Arena::CreateMessage<v1::GetGateStatusResponse>(arena);
          slot->stub->async()->GetGateStatus(slot->context.get(), &slot->status_request,
                                             slot->status_response, done);
        } else {
          Call(slot, "/varav.v1.LifecycleService/GetGateStatus",
               slot->status_request.SerializeAsString(), done);
        }
        break;
      }
      case kList:
        slot->list_request.set_page_size(50);
        slot->list_response =
            google::protobuf::Arena::CreateMessage<v1::ListServicesResponse>(arena);
        slot->stub->async()->ListServices(slot->context.get(), &slot->list_request,
                                          slot->list_response, done);
        break;
      case kEmpty:
        slot->generic->UnaryCall(slot->context.get(), "/grpc.health.v1.Health/Check", {},
                                 &slot->empty_request, &slot->empty_response, done);
        break;
      case kRefresh:
        slot->get_request.set_service_id((*services_)[slot->current_service].id);
        slot->get_response = google::protobuf::Arena::CreateMessage<v1::GetServiceResponse>(arena);
        slot->stub->async()->GetService(slot->context.get(), &slot->get_request, slot->get_response,
                                        done);
        break;
      case kOpCount:
        break;
    }
  }

  // A generic unary call of `method` with the serialized `request`; the answer's bytes go to
  // slot->response_bytes.
  static void Call(Slot* slot, const char* method, std::string request,
                   std::function<void(grpc::Status)> done) {
    grpc::Slice bytes(std::move(request));
    slot->request_bytes = grpc::ByteBuffer(&bytes, 1);
    slot->response_bytes.Clear();
    slot->generic->UnaryCall(slot->context.get(), method, {}, &slot->request_bytes,
                             &slot->response_bytes, std::move(done));
  }

  // The size of `slot`'s response as it crossed the wire.
  static int64_t ResponseBytes(const Slot& slot) {
    switch (slot.op) {
      case kSubmit:
        return slot.submit_response != nullptr
                   ? static_cast<int64_t>(slot.submit_response->ByteSizeLong())
                   : static_cast<int64_t>(slot.response_bytes.Length());
      case kStatus:
        return slot.status_response != nullptr
                   ? static_cast<int64_t>(slot.status_response->ByteSizeLong())
                   : static_cast<int64_t>(slot.response_bytes.Length());
      case kList:
        return static_cast<int64_t>(slot.list_response->ByteSizeLong());
      default:
        return 0;
    }
  }

  // Checks a generic call's answer and reads what the next call needs: a submission's new etag
  // (into `etag`); a status answer must not be empty. Every 64th answer is parsed whole and must
  // be about the service asked for. A failed check counts as a DATA_LOSS error.
  static grpc::Status CheckAnswer(Slot* slot, std::string* etag) {
    const absl::string_view bytes =
        Flatten(slot->response_bytes, slot->response_slices, slot->response_scratch);
    const bool whole = slot->answers++ % 64 == 0;
    if (slot->op == kSubmit) {
      // SubmitOutputResponse.service (2) .etag (16).
      std::optional<absl::string_view> found = FindBytes(bytes, {2, 16});
      if (!found.has_value() || found->empty()) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS, "SubmitOutput answer without an etag");
      }
      etag->assign(found->data(), found->size());
      if (!whole) return grpc::Status::OK;
      v1::SubmitOutputResponse parsed;
      if (!parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
          parsed.service().etag() != *etag || parsed.output().output_type() != "vision") {
        return grpc::Status(grpc::StatusCode::DATA_LOSS,
                            "SubmitOutput answer does not parse or is not the one asked for");
      }
      return grpc::Status::OK;
    }
    if (bytes.empty()) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS, "empty GetGateStatus answer");
    }
    if (!whole) return grpc::Status::OK;
    v1::GetGateStatusResponse parsed;
    if (!parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
        parsed.service().id() != slot->status_request.service_id()) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS,
                          "GetGateStatus answer does not parse or is about another service");
    }
    return grpc::Status::OK;
  }

  void Done(Slot* slot, const grpc::Status& call_status) {
    Clock::time_point now = Clock::now();
    grpc::Status status = call_status;
    std::string etag;
    if (!typed_client_ && (slot->op == kSubmit || slot->op == kStatus)) {
      if (status.ok()) status = CheckAnswer(slot, &etag);
    } else if (slot->op == kSubmit && status.ok()) {
      etag = slot->submit_response->service().etag();
    }
    if (measuring_ && slot->started >= measure_start_) {
      OpStats& stats = slot->stats[slot->op];
      if (status.ok()) {
        stats.latency_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot->started).count());
        stats.response_bytes += ResponseBytes(*slot);
      } else {
        ++stats.errors;
        ++stats.error_codes[status.error_code()];
      }
    }
    // Only this slot touches its own services, so the etag needs no lock.
    if (slot->op == kSubmit) {
      (*services_)[slot->current_service].etag = status.ok() ? std::move(etag) : "";
    } else if (slot->op == kRefresh && status.ok()) {
      (*services_)[slot->current_service].etag = slot->get_response->service().etag();
    }
    if (stop_) {
      absl::MutexLock lock(&mu_);
      --outstanding_;
      return;
    }
    Issue(slot);
  }

  static constexpr char kDocHash[] =
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::LifecycleService::Stub>> stubs_;
  std::vector<std::unique_ptr<grpc::GenericStub>> generics_;
  std::string token_;
  const bool typed_client_ = absl::GetFlag(FLAGS_typed_client);
  // SubmitOutputRequest's constant fields (output_type, fields), serialized once.
  std::string submit_constant_;
  std::vector<ServiceState>* services_;
  google::protobuf::Struct vision_fields_;
  std::vector<double> weights_;
  std::vector<double> cumulative_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> measuring_{false};
  Clock::time_point measure_start_;
  absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::StatusOr<std::vector<double>> ParseMix(absl::string_view text) {
  std::vector<double> weights(4, 0);
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    double w = 0;
    if (!absl::SimpleAtod(kv.second, &w) || w < 0) {
      return absl::InvalidArgumentError(absl::StrCat("--mix: bad weight in '", part, "'"));
    }
    if (kv.first == "submit") {
      weights[kSubmit] = w;
    } else if (kv.first == "status") {
      weights[kStatus] = w;
    } else if (kv.first == "list") {
      weights[kList] = w;
    } else if (kv.first == "empty") {
      weights[kEmpty] = w;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--mix: unknown RPC '", kv.first, "' (submit, status, list, empty)"));
    }
  }
  double total = 0;
  for (double w : weights) total += w;
  if (total <= 0) return absl::InvalidArgumentError("--mix: no positive weight");
  return weights;
}

// Registers the services and submits two gate A outputs to each, from 16 threads.
absl::Status Preload(v1::LifecycleService::Stub* stub, const std::string& token, int count,
                     std::vector<ServiceState>* services) {
  absl::BitGen gen;
  std::string run = absl::StrFormat("%06x", absl::Uniform<uint32_t>(gen, 0, 1u << 24));
  services->resize(count);
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status failure;
  auto context = [&] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("authorization", "Bearer " + token);
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return c;
  };
  google::protobuf::Struct vision, goals;
  (void)google::protobuf::util::JsonStringToMessage(kVisionJson, &vision);
  (void)google::protobuf::util::JsonStringToMessage(kGoalsJson, &goals);
  auto worker = [&] {
    for (int i = next++; i < count; i = next++) {
      ServiceState& s = (*services)[i];
      s.id = absl::StrFormat("lg-%s-%04d", run, i);
      v1::RegisterServiceRequest reg;
      reg.set_service_id(s.id);
      reg.set_name(absl::StrCat("Koormustesti teenus ", i));
      reg.set_agency(absl::StrCat("agency-", i % 10));
      reg.set_owner("Koormustest");
      reg.set_stage("plan");
      v1::RegisterServiceResponse reg_response;
      grpc::Status st = stub->RegisterService(context().get(), reg, &reg_response);
      std::string etag = reg_response.service().etag();
      for (const auto& [type, fields] : {std::pair{"vision", &vision}, {"goals_metrics", &goals}}) {
        if (!st.ok()) break;
        v1::SubmitOutputRequest submit;
        submit.set_etag(etag);
        submit.set_service_id(s.id);
        submit.set_output_type(type);
        submit.mutable_document()->set_system("dhs");
        submit.mutable_document()->set_id(absl::StrCat("SKA/", type));
        submit.mutable_document()->set_sha256(Sha256Hex(type));
        *submit.mutable_fields() = *fields;
        v1::SubmitOutputResponse response;
        st = stub->SubmitOutput(context().get(), submit, &response);
        etag = response.service().etag();
      }
      if (!st.ok()) {
        absl::MutexLock lock(&mu);
        failure = absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                               absl::StrCat("preloading ", s.id, ": ", st.error_message()));
        return;
      }
      s.etag = etag;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return failure;
}

double Percentile(std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[i] / 1e6;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

int Main() {
  int concurrency = absl::GetFlag(FLAGS_concurrency);
  if (concurrency < 1) {
    std::fprintf(stderr, "--concurrency must be positive\n");
    return 2;
  }
  auto mix = ParseMix(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) {
    std::fprintf(stderr, "%s\n", std::string(mix.status().message()).c_str());
    return 2;
  }
  std::vector<std::pair<std::string, std::vector<double>>> phases;
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_phases), ',', absl::SkipEmpty())) {
    if (name == "mix") {
      phases.push_back({"mix", *mix});
    } else if (name == "empty") {
      phases.push_back({"empty", {0, 0, 0, 1}});
    } else if (name == "status") {
      phases.push_back({"status", {0, 1, 0, 0}});
    } else if (name == "submit") {
      phases.push_back({"submit", {1, 0, 0, 0}});
    } else {
      std::fprintf(stderr, "--phases: unknown phase '%s' (mix, empty, status, submit)\n",
                   std::string(name).c_str());
      return 2;
    }
  }

  std::unique_ptr<OwnServer> own;
  std::string address, token;
  pid_t server_pid = 0;
  if (!absl::GetFlag(FLAGS_varavd).empty()) {
    auto started = OwnServer::Start(absl::GetFlag(FLAGS_varavd));
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      return 1;
    }
    own = std::move(*started);
    address = own->address();
    token = own->token();
    server_pid = own->pid();
  } else {
    address = absl::GetFlag(FLAGS_addr);
    if (address.empty()) address = Env("VARAV_ADDR");
    if (address.empty()) address = "127.0.0.1:50051";
    std::string token_file = absl::GetFlag(FLAGS_token_file);
    token = token_file.empty() ? Env("VARAV_TOKEN") : ReadAll(token_file);
    if (token.empty()) token = ReadAll("var/dev-admin-token");
    token = std::string(absl::StripAsciiWhitespace(token));
  }

  int channel_count = std::max(1, absl::GetFlag(FLAGS_channels));
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < channel_count; ++i) {
    grpc::ChannelArguments args;
    // Distinct arguments keep gRPC from sharing one connection between the channels.
    args.SetInt("varav.loadgen.channel", i);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  for (auto& c : channels) {
    if (!c->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
      std::fprintf(stderr, "cannot connect to %s\n", address.c_str());
      return 1;
    }
  }

  // The port is published before the store is open and the packs are loaded; wait for SERVING.
  {
    grpc::GenericStub health(channels[0]);
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (true) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      grpc::ByteBuffer request = EmptyMessage(), response;
      absl::Notification done;
      grpc::Status status;
      health.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &request, &response,
                       [&](grpc::Status s) {
                         status = std::move(s);
                         done.Notify();
                       });
      done.WaitForNotification();
      std::vector<grpc::Slice> slices;
      std::string body;
      if (status.ok() && response.Dump(&slices).ok()) {
        for (const grpc::Slice& slice : slices) {
          body.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
        }
      }
      if (body == std::string("\x08\x01", 2)) break;  // HealthCheckResponse{status: SERVING}
      if (absl::Now() > deadline) {
        std::fprintf(stderr, "%s is not SERVING after 60 s\n", address.c_str());
        return 1;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  int service_count = std::max(absl::GetFlag(FLAGS_services), concurrency);
  std::vector<ServiceState> services;
  auto preload_stub = v1::LifecycleService::NewStub(channels[0]);
  absl::Time t0 = absl::Now();
  if (absl::Status s = Preload(preload_stub.get(), token, service_count, &services); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf(
      "varav_loadgen: %s, %d clients on %d channels, %d services preloaded in %.1f s, "
      "%.0f s per phase (+%.0f s warm-up), %s\n",
      own ? absl::StrCat("own varavd at ", address).c_str() : address.c_str(), concurrency,
      channel_count, service_count, absl::ToDoubleSeconds(absl::Now() - t0),
      absl::GetFlag(FLAGS_duration_s), absl::GetFlag(FLAGS_warmup_s), MachineSummary().c_str());
  std::fflush(stdout);

  Runner runner(channels, token, &services);
  std::vector<PhaseResult> results;
  for (const auto& [name, weights] : phases) {
    const StealMeter steal;
    results.push_back(runner.Run(name, weights, concurrency,
                                 absl::Seconds(absl::GetFlag(FLAGS_warmup_s)),
                                 absl::Seconds(absl::GetFlag(FLAGS_duration_s)), server_pid));
    results.back().steal = steal.Text();
  }

  std::printf("\n%-7s %-26s %9s %7s %10s %8s %8s %8s %11s %11s %6s\n", "phase", "rpc", "calls",
              "errors", "rate/s", "p50 ms", "p99 ms", "resp B", "server cpu", "client cpu",
              "steal");
  double empty_rate = 0, status_rate = 0, submit_rate = 0;
  for (PhaseResult& r : results) {
    bool first = true;
    for (int op = 0; op < kOpCount; ++op) {
      OpStats& s = r.ops[op];
      if (s.latency_ns.empty() && s.errors == 0) continue;
      std::sort(s.latency_ns.begin(), s.latency_ns.end());
      double rate = s.latency_ns.size() / r.seconds;
      std::string errors = absl::StrCat(s.errors);
      std::printf(
          "%-7s %-26s %9zu %7s %10.0f %8.2f %8.2f %8.0f %11s %11s %6s\n", r.name.c_str(),
          kOpNames[op], s.latency_ns.size(), errors.c_str(), rate, Percentile(s.latency_ns, 0.50),
          Percentile(s.latency_ns, 0.99),
          s.latency_ns.empty() ? 0.0 : static_cast<double>(s.response_bytes) / s.latency_ns.size(),
          first && r.server_cpu >= 0 ? absl::StrFormat("%.2f cores", r.server_cpu).c_str() : "",
          first ? absl::StrFormat("%.2f cores", r.client_cpu).c_str() : "",
          first ? r.steal.c_str() : "");
      for (auto [code, n] : s.error_codes) {
        std::printf("        %s error code %d: %lld\n", kOpNames[op], code,
                    static_cast<long long>(n));
      }
      first = false;
      if (r.name == "empty" && op == kEmpty) empty_rate = rate;
      if (r.name == "status" && op == kStatus) status_rate = rate;
      if (r.name == "submit" && op == kSubmit) submit_rate = rate;
    }
  }
  std::printf("\ngoals:\n");
  if (empty_rate > 0 && status_rate > 0) {
    double share = status_rate / empty_rate;
    std::printf("  GetGateStatus %.0f/s = %.0f%% of the empty RPC's %.0f/s (goal >= 50%%): %s\n",
                status_rate, share * 100, empty_rate, share >= 0.5 ? "met" : "NOT met");
  } else {
    std::printf("  GetGateStatus vs empty RPC: needs the status and empty phases\n");
  }
  if (submit_rate > 0) {
    std::printf("  durable SubmitOutput %.0f/s with %d concurrent clients (goal >= 5000/s): %s\n",
                submit_rate, concurrency, submit_rate >= 5000 ? "met" : "NOT met");
  } else {
    std::printf("  SubmitOutput: needs the submit phase\n");
  }
  return 0;
}

}  // namespace
}  // namespace varav::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "varav_loadgen [--varavd=PATH | --addr=HOST:PORT --token_file=FILE] [--concurrency=64] "
      "[--duration_s=10] [--mix=submit=1,status=1,list=1] [--phases=mix,empty,status,submit]");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_mutex_deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  return varav::bench::Main();
}
