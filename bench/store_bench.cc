// Benchmark of durable SubmitOutput through the lifecycle engine and the store, without gRPC.
//
// One measured command does what the server does for SubmitOutput: it loads the service snapshot
// from the Store (service, the latest revision of every submitted output, the assessments, the
// latest gate evaluation, the decisions at a gate under review), applies the command with
// lifecycle::Apply against the bundled pack (which re-evaluates the gate's CEL rules), turns the
// Transition into a store::Mutation and commits it with the WAL synced.
//
// Two experiments (bench/README-store.md explains them and how to read the numbers):
//   concurrency  1, 8 and 64 writers, each writing only its own services, next to a raw RocksDB
//                loop of synced Puts of the same size (the store's WAL bytes per command) from as
//                many threads on the same disk;
//   scale        the same command by 1 and by 8 writers with 1,000 and with 100,000 registered
//                services; the per-command cost at the large size should stay within 1.5x.
// The two sides of each comparison run alternately (A, B, B, A, --rounds times, each leg a
// fraction of the duration), so that a change in the machine's or the disk's speed during the
// run falls on both alike.
//
//   store_bench                          # both, 5 s per measurement, about a minute
//   store_bench --only=scale --duration_s=3 --dir=/var/tmp
//
// Preloading uses the same engine path with the store's WAL sync off (a registration that is
// lost to a power cut costs a benchmark nothing); measurements reopen the store with sync on.
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/machine.h"
#include "engine/common/sha256.h"
#include "engine/common/status_macros.h"
#include "engine/lifecycle/lifecycle.h"
#include "engine/model/loader.h"
#include "engine/store/store.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "services/governance/governance.h"
#include "services/governance/snapshot.h"

ABSL_FLAG(double, duration_s, 5, "Seconds per measurement.");
ABSL_FLAG(std::vector<std::string>, threads, std::vector<std::string>({"1", "8", "64"}),
          "Writer counts of the concurrency experiment.");
ABSL_FLAG(int, services_small, 1000, "Registered services in the small store.");
ABSL_FLAG(int, services_large, 100000, "Registered services in the large store.");
ABSL_FLAG(std::vector<std::string>, scale_threads, std::vector<std::string>({"1", "8"}),
          "Writer counts of the scale experiment.");
ABSL_FLAG(int, services_per_writer, 8,
          "Services each writer cycles through (its own; they carry a complete gate A dossier).");
ABSL_FLAG(int, rounds, 2,
          "Alternations per comparison: each runs A, B, B, A this many times, each leg lasting "
          "duration_s / (2 * rounds). More rounds resist a noisy machine better.");
ABSL_FLAG(int, lock_stripes, 4096,
          "StoreOptions.lock_stripes of the measured store (4096 is the store's default).");
ABSL_FLAG(int, preload_threads, 2, "Threads that register services before a measurement.");
ABSL_FLAG(std::string, dir, "",
          "Parent directory for the databases (a fresh subdirectory is made and removed at the "
          "end). Default: the system temp directory. Use it to pick the disk.");
ABSL_FLAG(std::string, only, "", "Run only one experiment: concurrency or scale.");
ABSL_FLAG(std::string, path, "governance",
          "What a measured command runs through. governance: governance::Governance::SubmitOutput, "
          "exactly what varavd runs per call (validation, authorisation, idempotency, the "
          "snapshot cache, the engine and the commit); engine: the bench's own load, "
          "lifecycle::Apply and Store::Commit, with a per-phase breakdown and --snapshot.");
ABSL_FLAG(std::string, snapshot, "store",
          "Where a command's snapshot comes from: store (as the server does) or memory (a "
          "per-writer cache of the last committed state; isolates the cost of the store reads).");
ABSL_FLAG(
    bool, idle_spinner, true,
    "Keep a SCHED_IDLE thread spinning on every CPU during measurements so that no CPU halts. On "
    "some virtual machines a halted vCPU takes an I/O completion only at the next timer "
    "tick (4 ms at HZ=250), which would penalize writers that block rather than spin; the "
    "spinner runs only when nothing else wants the CPU and its CPU time is not counted.");
ABSL_FLAG(std::string, pack_dir, VARAV_SOURCE_DIR "/rules/teenuse-standard-2.0",
          "The rule pack to pin services to.");
ABSL_FLAG(std::string, fixture, VARAV_SOURCE_DIR "/rules/teenuse-standard-2.0/tests/gate_a.yaml",
          "Rule-test file whose fixture `gate_a_complete` supplies outputs and assessments.");

namespace varav::bench {
namespace {

using Clock = std::chrono::steady_clock;
using lifecycle::ServiceSnapshot;
using lifecycle::Transition;

constexpr absl::string_view kFixtureName = "gate_a_complete";
constexpr absl::string_view kSha256 =
    "3f0a377ba0a4a460ecb616f6507ce0d8cfa3e704025d4fda3ed0c5ca05468728";

int64_t NanosSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
}

// CPU time of the calling thread, in nanoseconds.
int64_t ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// See --idle_spinner: one SCHED_IDLE thread pinned to each CPU (an I/O completion may be
// delivered to any of them). Runs from Start() to Stop(); the threads' CPU time is published so
// that it can be left out of the process's.
class IdleSpinner {
 public:
  static void Start() {
    if (instance_ == nullptr) instance_ = new IdleSpinner();
  }
  static void Stop() {
    delete instance_;
    instance_ = nullptr;
  }
  static double CpuSeconds() {
    if (instance_ == nullptr) return 0;
    int64_t total = 0;
    for (const Spinner& s : instance_->spinners_) total += s.cpu_ns.load(std::memory_order_relaxed);
    return total / 1e9;
  }

 private:
  struct Spinner {
    std::atomic<int64_t> cpu_ns{0};
    std::atomic<uint64_t> spins{0};  // work the optimizer cannot drop
    std::thread thread;
  };

  IdleSpinner() : spinners_(std::max(1u, std::thread::hardware_concurrency())) {
    for (size_t cpu = 0; cpu < spinners_.size(); ++cpu) {
      Spinner& s = spinners_[cpu];
      s.thread = std::thread([this, &s, cpu] {
        const sched_param param{.sched_priority = 0};
        pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        while (!stop_.load(std::memory_order_relaxed)) {
          for (int i = 0; i < 100000; ++i) s.spins.fetch_add(1, std::memory_order_relaxed);
          s.cpu_ns.store(ThreadCpuNanos(), std::memory_order_relaxed);
        }
      });
    }
  }
  ~IdleSpinner() {
    stop_.store(true);
    for (Spinner& s : spinners_) s.thread.join();
  }

  static inline IdleSpinner* instance_ = nullptr;
  std::atomic<bool> stop_{false};
  std::vector<Spinner> spinners_;
};

// CPU time (user + system) of the process without the idle spinner's, in seconds.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6 - IdleSpinner::CpuSeconds();
}

// --- The workload: the gate A dossier of the rule tests' complete fixture ---

// Plain YAML scalars that read as numbers or booleans become numbers or booleans; quoted ones
// stay strings. Timestamps stay strings, which is how output fields carry them.
google::protobuf::Value ToValue(const YAML::Node& node) {
  google::protobuf::Value v;
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      google::protobuf::Struct* s = v.mutable_struct_value();
      for (const auto& kv : node) {
        (*s->mutable_fields())[kv.first.as<std::string>()] = ToValue(kv.second);
      }
      break;
    }
    case YAML::NodeType::Sequence:
      v.mutable_list_value();  // an empty sequence is still a list
      for (const auto& item : node) *v.mutable_list_value()->add_values() = ToValue(item);
      break;
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      double number = 0;
      if (node.Tag() == "?" && absl::SimpleAtod(text, &number) && std::isfinite(number)) {
        v.set_number_value(number);
      } else if (node.Tag() == "?" && (text == "true" || text == "false")) {
        v.set_bool_value(text == "true");
      } else {
        v.set_string_value(text);
      }
      break;
    }
    default:
      v.set_null_value(google::protobuf::NULL_VALUE);
  }
  return v;
}

v1::AnswerValue ToAnswer(const std::string& word) {
  if (word == "yes") return v1::ANSWER_VALUE_YES;
  if (word == "partly") return v1::ANSWER_VALUE_PARTLY;
  if (word == "no") return v1::ANSWER_VALUE_NO;
  return v1::ANSWER_VALUE_NOT_APPLICABLE;
}

struct Dossier {
  // Output type and fields, in the order they are submitted.
  std::vector<std::pair<std::string, google::protobuf::Struct>> outputs;
  std::vector<lifecycle::RecordAssessment> assessments;
};

absl::StatusOr<Dossier> LoadDossier(const std::string& path) {
  Dossier dossier;
  try {
    const YAML::Node fixture = YAML::LoadFile(path)["fixtures"][std::string(kFixtureName)];
    if (!fixture) {
      return absl::NotFoundError(absl::StrCat(path, " has no fixture ", kFixtureName));
    }
    for (const auto& kv : fixture["outputs"]) {
      dossier.outputs.emplace_back(kv.first.as<std::string>(),
                                   ToValue(kv.second["fields"]).struct_value());
    }
    for (const auto& kv : fixture["assessments"]) {
      lifecycle::RecordAssessment& a = dossier.assessments.emplace_back();
      a.principle = kv.first.as<std::string>();
      int question = 0;
      for (const auto& answer : kv.second["answers"]) {
        v1::AssessmentAnswer& out = a.answers.emplace_back();
        out.set_question(absl::StrCat(a.principle, ".Q", ++question));
        out.set_answer(ToAnswer(answer.as<std::string>()));
        out.set_evidence("https://dhs.example.ee/evidence");
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  if (dossier.outputs.empty()) return absl::InvalidArgumentError(path + ": fixture has no outputs");
  return dossier;
}

std::string ServiceId(int index) { return absl::StrFormat("svc-%06d", index); }

// --- One command, the way the server runs it ---

// Time spent in each part of a command, summed over a writer's commands.
struct Phases {
  int64_t load_ns = 0;
  int64_t apply_ns = 0;
  int64_t commit_ns = 0;
  int64_t batch_bytes = 0;  // estimated size of the committed write batches
  int64_t wal_bytes = 0;    // growth of the store's write-ahead log, when measurable
  void Add(const Phases& o) {
    load_ns += o.load_ns;
    apply_ns += o.apply_ns;
    commit_ns += o.commit_ns;
    batch_bytes += o.batch_bytes;
    wal_bytes += o.wal_bytes;
  }
};

// Store::LoadSnapshot reads everything under one RocksDB snapshot without waiting for a WAL sync,
// as the server's command path does, through the same conversion (governance::ToSnapshot).
absl::StatusOr<ServiceSnapshot> LoadSnapshot(store::Store& store, const std::string& id) {
  absl::StatusOr<store::ServiceState> state = store.LoadSnapshot(id);
  if (absl::IsNotFound(state.status())) return ServiceSnapshot();  // registering
  VARAV_RETURN_IF_ERROR(state.status());
  return governance::ToSnapshot(*std::move(state));
}

// The request hash the API layer records for idempotency: SHA-256 of the command's content.
std::string RequestHash(const lifecycle::Command& command) {
  std::string bytes(lifecycle::CommandName(command));
  if (const auto* submit = std::get_if<lifecycle::SubmitOutput>(&command)) {
    absl::StrAppend(&bytes, "\n", submit->output_type, "\n");
    submit->document.AppendToString(&bytes);
    submit->fields.AppendToString(&bytes);
  } else if (const auto* reg = std::get_if<lifecycle::RegisterService>(&command)) {
    absl::StrAppend(&bytes, "\n", reg->service_id, "\n", reg->agency, "\n", reg->stage);
  } else if (const auto* assess = std::get_if<lifecycle::RecordAssessment>(&command)) {
    absl::StrAppend(&bytes, "\n", assess->principle);
    for (const v1::AssessmentAnswer& a : assess->answers) a.AppendToString(&bytes);
  }
  return Sha256Hex(bytes);
}

// The store's write batch holds these values plus keys, index entries and the chain fields
// (global and service sequence, prev_hash, hash) it adds to every event; the estimate counts
// those at their encoded sizes.
int64_t EstimateBatchBytes(const store::Mutation& m) {
  constexpr int64_t kEventChainBytes = 2 * 66 + 2 * 10 + 60;  // hashes, sequences, ids
  int64_t n = m.service.ByteSizeLong() + 2 * 34 + 2 * m.service_id.size() + 64;  // + etag, hash
  for (const auto& o : m.outputs) n += o->ByteSizeLong() + m.service_id.size() + 24;
  for (const v1::Assessment& a : m.assessments) n += a.ByteSizeLong() + m.service_id.size() + 8;
  for (const store::EvaluationBlob& e : m.evaluations) n += e.bytes.size() + e.id.size();
  for (const v1::Decision& d : m.decisions) n += d.ByteSizeLong() + m.service_id.size() + 16;
  for (const v1::Event& e : m.events) {
    n += e.ByteSizeLong() + kEventChainBytes + 9 + m.service_id.size() + 9 + 8;
  }
  n += m.request_id.size() * 2 + m.request_hash.size() + m.response.size() + 64;
  return n;
}

struct CommandResult {
  Transition transition;
  store::CommitResult commit;
};

// Loads (or takes `cached`), applies and durably commits one command.
absl::StatusOr<CommandResult> RunCommand(store::Store& store, const model::CompiledPack& pack,
                                         const std::string& service_id,
                                         const lifecycle::Command& command,
                                         const std::string& request_id,
                                         const ServiceSnapshot* cached, model::BoundRecords* bound,
                                         Phases& phases) {
  Clock::time_point t0 = Clock::now();
  std::optional<ServiceSnapshot> loaded;
  if (cached == nullptr) {
    VARAV_ASSIGN_OR_RETURN(loaded, LoadSnapshot(store, service_id));
    cached = &*loaded;
  }
  phases.load_ns += NanosSince(t0);

  t0 = Clock::now();
  lifecycle::Context context{.pack = &pack,
                             .target_pack = nullptr,
                             .now = absl::Now(),
                             .actor = {.principal = "ria:bench", .agency = "ria"},
                             .request_id = request_id,
                             .bound = bound};
  const std::string expected_etag = cached->service.etag();
  VARAV_ASSIGN_OR_RETURN(Transition t, lifecycle::Apply(*cached, command, context));
  store::Mutation m;
  m.service_id = service_id;
  m.expected_etag = expected_etag;
  m.service = t.service;
  m.outputs = t.outputs;
  for (const std::shared_ptr<const v1::Assessment>& a : t.assessments) m.assessments.push_back(*a);
  m.decisions = t.decisions;
  if (t.evaluation) {
    m.evaluations.push_back({.id = t.evaluation_id, .bytes = t.evaluation->SerializeAsString()});
  }
  m.events = t.events;
  m.request_id = request_id;
  m.request_hash = RequestHash(command);
  // The API answers SubmitOutput with the stored revision.
  if (!t.outputs.empty()) m.response = t.outputs.front()->SerializeAsString();
  phases.apply_ns += NanosSince(t0);
  phases.batch_bytes += EstimateBatchBytes(m);

  t0 = Clock::now();
  VARAV_ASSIGN_OR_RETURN(store::CommitResult committed, store.Commit(m));
  phases.commit_ns += NanosSince(t0);
  return CommandResult{.transition = std::move(t), .commit = std::move(committed)};
}

// Total size of the write-ahead log files (*.log) in a RocksDB directory.
int64_t WalBytes(const std::string& dir) {
  int64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".log" && entry.is_regular_file(error)) {
      total += static_cast<int64_t>(entry.file_size(error));
    }
  }
  return total;
}

// --- Preloading ---

// Flushes the store's memtables and waits until RocksDB has no compaction pending or running, so
// that a measurement does not pay for the bulk load's compaction debt (a store that grew to its
// size over months would carry none). Opens the closed store directory with RocksDB directly,
// every column family with default options, as the store does.
absl::Status Settle(const std::string& path) {
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  if (!s.ok()) return absl::InternalError(absl::StrCat("listing ", path, ": ", s.ToString()));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &handles, &raw);
  if (!s.ok()) return absl::InternalError(absl::StrCat("opening ", path, ": ", s.ToString()));
  std::unique_ptr<rocksdb::DB> db(raw);
  s = db->Flush(rocksdb::FlushOptions(), handles);
  const absl::Time deadline = absl::Now() + absl::Minutes(3);
  while (s.ok() && absl::Now() < deadline) {
    uint64_t pending = 0;
    uint64_t running = 0;
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      uint64_t v = 0;
      if (db->GetIntProperty(h, rocksdb::DB::Properties::kCompactionPending, &v)) pending += v;
    }
    db->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &running);
    if (pending == 0 && running == 0) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  for (rocksdb::ColumnFamilyHandle* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  const rocksdb::Status closed = db->Close();
  if (!s.ok()) return absl::InternalError(absl::StrCat("flushing ", path, ": ", s.ToString()));
  if (!closed.ok()) {
    return absl::InternalError(absl::StrCat("closing ", path, ": ", closed.ToString()));
  }
  return absl::OkStatus();
}

// Registers services 0..n-1 at stage plan; those in `hot` then get the complete gate A dossier
// (every output and assessment of the fixture), so that the snapshot a measured command loads
// is a realistic one. Runs with the store's WAL sync off, then settles the store.
absl::Status Preload(const std::string& path, const model::CompiledPack& pack,
                     const Dossier& dossier, int n, const std::vector<int>& hot) {
  VARAV_ASSIGN_OR_RETURN(
      std::unique_ptr<store::Store> store,
      store::Store::Open(
          {.path = path, .index_terms = governance::PortfolioIndexTerms, .sync = false}));
  std::vector<bool> is_hot(n, false);
  for (int i : hot) is_hot[i] = true;
  const int threads = std::max(1, absl::GetFlag(FLAGS_preload_threads));
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  auto worker = [&] {
    Phases ignored;
    for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      const std::string id = ServiceId(i);
      std::vector<lifecycle::Command> commands;
      commands.push_back(lifecycle::RegisterService{.service_id = id,
                                                    .name = absl::StrCat("Service ", i),
                                                    .agency = absl::StrCat("agency-", i % 50),
                                                    .owner = "Mari Tamm",
                                                    .description = "",
                                                    .stage = "plan"});
      if (is_hot[i]) {
        for (const auto& [type, fields] : dossier.outputs) {
          v1::DocumentRef doc;
          doc.set_system("dhs");
          doc.set_id(absl::StrCat(id, "/", type));
          doc.set_version("1");
          doc.set_uri(absl::StrCat("https://dhs.example.ee/", id, "/", type));
          doc.set_sha256(std::string(kSha256));
          commands.push_back(lifecycle::SubmitOutput{type, doc, fields});
        }
        for (const lifecycle::RecordAssessment& a : dossier.assessments) commands.push_back(a);
      }
      for (size_t c = 0; c < commands.size(); ++c) {
        absl::StatusOr<CommandResult> r =
            RunCommand(*store, pack, id, commands[c], absl::StrCat("preload-", id, "-", c), nullptr,
                       nullptr, ignored);
        if (!r.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = r.status();
          return;
        }
      }
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(worker);
  for (std::thread& w : workers) w.join();
  store.reset();
  VARAV_RETURN_IF_ERROR(first_error);
  return Settle(path);
}

// `count` services spread evenly over 0..n-1, so that measured commands touch the whole key range.
std::vector<int> HotSet(int n, int count) {
  std::vector<int> hot;
  const double stride = static_cast<double>(n) / count;
  for (int j = 0; j < count; ++j) hot.push_back(static_cast<int>(j * stride));
  return hot;
}

// --- Measurement ---

struct Measurement {
  uint64_t ops = 0;
  double seconds = 0;
  std::vector<int64_t> latencies_ns;  // sorted
  Phases phases;
  uint64_t errors = 0;
  std::string first_error;
  double cpu_seconds = 0;         // process CPU time during the measurement
  double writer_cpu_seconds = 0;  // CPU time of the measuring threads alone (no RocksDB
                                  // background work such as compaction)

  double OpsPerSecond() const { return seconds > 0 ? ops / seconds : 0; }
  double PercentileMs(double p) const {
    if (latencies_ns.empty()) return 0;
    const size_t rank = static_cast<size_t>(std::ceil(p * latencies_ns.size()));
    return latencies_ns[std::clamp<size_t>(rank, 1, latencies_ns.size()) - 1] / 1e6;
  }
  // Adds another measurement of the same configuration (latencies, time, CPU, phases).
  void Merge(Measurement&& o) {
    latencies_ns.insert(latencies_ns.end(), o.latencies_ns.begin(), o.latencies_ns.end());
    std::sort(latencies_ns.begin(), latencies_ns.end());
    ops += o.ops;
    seconds += o.seconds;
    cpu_seconds += o.cpu_seconds;
    writer_cpu_seconds += o.writer_cpu_seconds;
    phases.Add(o.phases);
    errors += o.errors;
    if (first_error.empty()) first_error = std::move(o.first_error);
  }
  double CpuMsPerOp() const { return ops > 0 ? cpu_seconds * 1e3 / ops : 0; }
  double WriterCpuMsPerOp() const { return ops > 0 ? writer_cpu_seconds * 1e3 / ops : 0; }
  double MeanMs() const {
    if (latencies_ns.empty()) return 0;
    long double sum = 0;
    for (int64_t v : latencies_ns) sum += v;
    return static_cast<double>(sum / latencies_ns.size() / 1e6);
  }
};

// Runs `body(thread, op_index)` on `threads` threads from a common start until `duration`
// passes; `body` returns the outcome of one operation.
template <typename Body>
Measurement Measure(int threads, absl::Duration duration, Body body) {
  struct PerThread {
    std::vector<int64_t> latencies;
    uint64_t errors = 0;
    std::string first_error;
    int64_t cpu_ns = 0;
  };
  std::vector<PerThread> per(threads);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point start;
  const auto length = std::chrono::nanoseconds(absl::ToInt64Nanoseconds(duration));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      PerThread& mine = per[t];
      mine.latencies.reserve(1 << 16);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const Clock::time_point deadline = start + length;
      const int64_t cpu_start = ThreadCpuNanos();
      for (uint64_t i = 0; Clock::now() < deadline; ++i) {
        const Clock::time_point t0 = Clock::now();
        absl::Status s = body(t, i);
        if (s.ok()) {
          mine.latencies.push_back(NanosSince(t0));
        } else if (mine.errors++ == 0) {
          mine.first_error = s.ToString();
        }
      }
      mine.cpu_ns = ThreadCpuNanos() - cpu_start;
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const double cpu_start = ProcessCpuSeconds();
  start = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread& w : workers) w.join();
  Measurement m;
  m.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  m.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  for (PerThread& p : per) {
    m.latencies_ns.insert(m.latencies_ns.end(), p.latencies.begin(), p.latencies.end());
    m.errors += p.errors;
    m.writer_cpu_seconds += p.cpu_ns / 1e9;
    if (m.first_error.empty()) m.first_error = p.first_error;
  }
  m.ops = m.latencies_ns.size();
  std::sort(m.latencies_ns.begin(), m.latencies_ns.end());
  return m;
}

// Durable SubmitOutput by `threads` writers; writer w cycles through hot[w], hot[w + threads],
// ... (services_per_writer of them), submitting the dossier's outputs in turn.
// Opens a preloaded store for measurement, WAL sync on. It stays open across the legs of an
// experiment: reopening would flush a memtable each time and make compaction work a steadily
// running server does not have.
absl::StatusOr<std::unique_ptr<store::Store>> OpenForMeasurement(const std::string& path) {
  return store::Store::Open({.path = path,
                             .index_terms = governance::PortfolioIndexTerms,
                             .sync = true,
                             .create_if_missing = false,
                             .lock_stripes = absl::GetFlag(FLAGS_lock_stripes)});
}

// The output a writer with `services` services submits at its visit `i`: each service sees the
// dossier's outputs in turn, one revision per visit.
const std::pair<std::string, google::protobuf::Struct>& OutputAtVisit(const Dossier& dossier,
                                                                      size_t services, uint64_t i) {
  return dossier.outputs[(i / services) % dossier.outputs.size()];
}

// The document a measured command submits at visit `i`: a new version each time.
v1::DocumentRef MeasuredDocument(const std::string& id, const std::string& type, uint64_t i) {
  v1::DocumentRef doc;
  doc.set_system("dhs");
  doc.set_id(absl::StrCat(id, "/", type));
  doc.set_version(absl::StrCat(i + 2));
  doc.set_uri(absl::StrCat("https://dhs.example.ee/", id, "/", type));
  doc.set_sha256(std::string(kSha256));
  return doc;
}

// The server's application layer over a measured store, with the measured pack as the only
// one loaded. One per store, kept across legs like a running server's (so is its snapshot cache).
struct Governed {
  model::PackRegistry registry;
  std::unique_ptr<governance::Governance> governance;
};

absl::StatusOr<std::unique_ptr<Governed>> Govern(store::Store& store,
                                                 std::shared_ptr<const model::CompiledPack> pack) {
  auto g = std::make_unique<Governed>();
  const std::string key = pack->key();
  VARAV_RETURN_IF_ERROR(g->registry.Add(std::move(pack)));
  g->governance = std::make_unique<governance::Governance>(
      &store, &g->registry, governance::GovernanceOptions{.default_pack = key});
  return g;
}

bool ThroughGovernance() { return absl::GetFlag(FLAGS_path) == "governance"; }

// Durable SubmitOutput through governance::Governance, as varavd runs it for each call: writer w
// cycles through its services like MeasureEngine's writers, with the etag of its last response.
absl::StatusOr<Measurement> MeasureGovernance(store::Store& store,
                                              governance::Governance& governance,
                                              const std::string& path, const Dossier& dossier,
                                              const std::vector<int>& hot, int threads,
                                              absl::Duration duration, absl::string_view run) {
  const int per_writer = absl::GetFlag(FLAGS_services_per_writer);
  struct Writer {
    std::vector<std::string> services;
    std::vector<std::string> etags;
  };
  std::vector<Writer> writers(threads);
  for (int w = 0; w < threads; ++w) {
    for (int k = 0; k < per_writer; ++k) {
      const std::string id = ServiceId(hot[w + k * threads]);
      VARAV_ASSIGN_OR_RETURN(v1::Service service, store.GetService(id));
      writers[w].services.push_back(id);
      writers[w].etags.push_back(service.etag());
    }
  }
  const governance::Principal admin{.id = "bench-admin",
                                    .roles = {{.kind = governance::RoleKind::kAdmin}}};
  const uint64_t bytes_before = store.batch_bytes_written();
  Measurement m = Measure(threads, duration, [&](int t, uint64_t i) -> absl::Status {
    Writer& w = writers[t];
    const size_t slot = i % w.services.size();
    const std::string& id = w.services[slot];
    const auto& [type, fields] = OutputAtVisit(dossier, w.services.size(), i);
    v1::SubmitOutputRequest request;
    request.set_request_id(absl::StrCat(run, "-", t, "-", i));
    request.set_service_id(id);
    request.set_etag(w.etags[slot]);
    request.set_output_type(type);
    *request.mutable_document() = MeasuredDocument(id, type, i);
    *request.mutable_fields() = fields;
    VARAV_ASSIGN_OR_RETURN(v1::SubmitOutputResponse response,
                           governance.SubmitOutput(request, admin));
    w.etags[slot] = response.service().etag();
    return absl::OkStatus();
  });
  // The store counts the bytes of the batches it writes: exact even when a memtable flush
  // switches WAL files meanwhile, which a measurement of the log files is not.
  m.phases.wal_bytes = static_cast<int64_t>(store.batch_bytes_written() - bytes_before);
  return m;
}

absl::StatusOr<Measurement> MeasureEngine(store::Store& store, const std::string& path,
                                          const model::CompiledPack& pack, const Dossier& dossier,
                                          const std::vector<int>& hot, int threads,
                                          absl::Duration duration, absl::string_view run,
                                          governance::Governance* governance = nullptr) {
  const int per_writer = absl::GetFlag(FLAGS_services_per_writer);
  if (static_cast<int>(hot.size()) < threads * per_writer) {
    return absl::InvalidArgumentError("fewer prepared services than writers need");
  }
  if (governance != nullptr) {
    return MeasureGovernance(store, *governance, path, dossier, hot, threads, duration, run);
  }
  const bool from_memory = absl::GetFlag(FLAGS_snapshot) == "memory";
  struct Writer {
    std::vector<std::string> services;
    std::vector<ServiceSnapshot> cache;  // --snapshot=memory
    std::vector<model::BoundRecords> bound;
    Phases phases;
  };
  std::vector<Writer> writers(threads);
  for (int w = 0; w < threads; ++w) {
    for (int k = 0; k < per_writer; ++k) {
      writers[w].services.push_back(ServiceId(hot[w + k * threads]));
      if (from_memory) {
        VARAV_ASSIGN_OR_RETURN(writers[w].cache.emplace_back(),
                               LoadSnapshot(store, writers[w].services.back()));
        writers[w].bound.emplace_back();
      }
    }
  }
  const int64_t wal_before = WalBytes(path);
  Measurement m = Measure(threads, duration, [&](int t, uint64_t i) -> absl::Status {
    Writer& w = writers[t];
    const size_t slot = i % w.services.size();
    const std::string& id = w.services[slot];
    const auto& [type, fields] = OutputAtVisit(dossier, w.services.size(), i);
    const lifecycle::Command command =
        lifecycle::SubmitOutput{type, MeasuredDocument(id, type, i), fields};
    VARAV_ASSIGN_OR_RETURN(CommandResult r,
                           RunCommand(store, pack, id, command, absl::StrCat(run, "-", t, "-", i),
                                      from_memory ? &w.cache[slot] : nullptr,
                                      from_memory ? &w.bound[slot] : nullptr, w.phases));
    if (from_memory) {
      w.cache[slot] = governance::AfterCommit(std::move(w.cache[slot]), r.transition,
                                              std::move(r.commit.service));
    }
    return absl::OkStatus();
  });
  for (const Writer& w : writers) m.phases.Add(w.phases);
  // Exact unless a memtable flush switched to a new log file meanwhile (then the old one may be
  // gone and the difference is not the bytes written).
  const int64_t wal_growth = WalBytes(path) - wal_before;
  const bool wal_exact = m.ops > 0 && wal_growth >= static_cast<int64_t>(m.ops) * 512;
  m.phases.wal_bytes = wal_exact ? wal_growth : m.phases.batch_bytes;
  return m;
}

// The limit: RocksDB opened plainly, as a fresh database per writer count.
absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenRaw(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return absl::InternalError(absl::StrCat("opening ", path, ": ", s.ToString()));
  return std::unique_ptr<rocksdb::DB>(raw);
}

// `threads` threads doing synced Puts of `value_bytes` each; `leg` keeps keys of successive
// calls apart.
Measurement MeasureRaw(rocksdb::DB& db, int threads, int64_t value_bytes, absl::Duration duration,
                       int leg) {
  std::vector<std::string> values(threads);
  absl::BitGen gen;
  for (std::string& v : values) {
    v.resize(value_bytes);
    for (char& c : v) c = static_cast<char>(absl::Uniform<int>(gen, 0, 256));
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  return Measure(threads, duration, [&](int t, uint64_t i) -> absl::Status {
    const std::string key = absl::StrFormat("l%02d-w%03d-%012d", leg, t, i);
    rocksdb::Status st = db.Put(write_options, key, values[t]);
    if (!st.ok()) return absl::InternalError(st.ToString());
    return absl::OkStatus();
  });
}

void ReportErrors(absl::string_view what, const Measurement& m) {
  if (m.errors == 0) return;
  std::printf("  !! %s: %llu failed operations, first: %s\n", std::string(what).c_str(),
              static_cast<unsigned long long>(m.errors), m.first_error.c_str());
}

void PrintPhases(absl::string_view label, const Measurement& m) {
  if (m.ops == 0) return;
  const double n = static_cast<double>(m.ops);
  if (ThroughGovernance()) {
    // Governance is one call: no phases to tell apart (--path=engine has them).
    std::printf("  %-14s CPU/command: writers %.3f ms, process %.3f ms | batch %.0f B/command\n",
                std::string(label).c_str(), m.WriterCpuMsPerOp(), m.CpuMsPerOp(),
                m.phases.wal_bytes / n);
    return;
  }
  std::printf(
      "  %-14s load %7.3f  apply %6.3f  commit %7.3f ms | CPU/command: writers %.3f ms, process "
      "%.3f ms | WAL %.0f B/command (est. %.0f)\n",
      std::string(label).c_str(), m.phases.load_ns / n / 1e6, m.phases.apply_ns / n / 1e6,
      m.phases.commit_ns / n / 1e6, m.WriterCpuMsPerOp(), m.CpuMsPerOp(), m.phases.wal_bytes / n,
      m.phases.batch_bytes / n);
}

// --- Experiments ---

int Rounds() { return std::max(1, absl::GetFlag(FLAGS_rounds)); }

absl::Status RunConcurrency(const std::string& root,
                            std::shared_ptr<const model::CompiledPack> pack, const Dossier& dossier,
                            const std::vector<int>& thread_counts) {
  const int n = absl::GetFlag(FLAGS_services_small);
  const int per_writer = absl::GetFlag(FLAGS_services_per_writer);
  const int max_threads = *std::max_element(thread_counts.begin(), thread_counts.end());
  if (max_threads * per_writer > n) {
    return absl::InvalidArgumentError(absl::StrCat("--services_small=", n, " is less than ",
                                                   max_threads, " writers x ", per_writer,
                                                   " services each"));
  }
  const std::string path = root + "/concurrency";
  const std::vector<int> hot = HotSet(n, max_threads * per_writer);
  std::printf(
      "\n== Concurrency: durable SubmitOutput (engine + store) vs raw synced RocksDB Put\n");
  const Clock::time_point t0 = Clock::now();
  VARAV_RETURN_IF_ERROR(Preload(path, *pack, dossier, n, hot));
  std::printf("preloaded and settled %d services (%zu with a complete gate A dossier) in %.1f s\n",
              n, hot.size(), NanosSince(t0) / 1e9);

  struct Row {
    int threads;
    Measurement engine;
    Measurement raw;
    int64_t value_bytes;
  };
  std::vector<Row> rows;
  // Engine, raw, raw, engine (--rounds times), so that a change in the disk's or the machine's
  // speed during the experiment falls on both alike. The raw value size is the engine's WAL
  // bytes per command, measured in the first leg.
  const int legs = 4 * Rounds();
  const absl::Duration leg = absl::Seconds(absl::GetFlag(FLAGS_duration_s) * 4 / legs / 2);
  VARAV_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, OpenForMeasurement(path));
  VARAV_ASSIGN_OR_RETURN(std::unique_ptr<Governed> governed, Govern(*store, pack));
  governance::Governance* governance = ThroughGovernance() ? governed->governance.get() : nullptr;
  for (int threads : thread_counts) {
    Measurement engine;
    Measurement raw;
    int64_t value_bytes = 0;
    const uint64_t commits_before = store->commits_written();
    const uint64_t groups_before = store->group_writes();
    VARAV_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> raw_db,
                           OpenRaw(absl::StrCat(root, "/raw-", threads)));
    for (int l = 0; l < legs; ++l) {
      if (l % 4 == 0 || l % 4 == 3) {
        VARAV_ASSIGN_OR_RETURN(Measurement m,
                               MeasureEngine(*store, path, *pack, dossier, hot, threads, leg,
                                             absl::StrCat("c", threads, "-", l), governance));
        engine.Merge(std::move(m));
        if (l == 0) {
          value_bytes =
              engine.ops > 0 ? engine.phases.wal_bytes / static_cast<int64_t>(engine.ops) : 4096;
        }
      } else {
        raw.Merge(MeasureRaw(*raw_db, threads, value_bytes, leg, l));
      }
    }
    const rocksdb::Status closed = raw_db->Close();
    if (!closed.ok()) return absl::InternalError(closed.ToString());
    ReportErrors(absl::StrCat("engine, ", threads, " writers"), engine);
    ReportErrors(absl::StrCat("raw, ", threads, " writers"), raw);
    const uint64_t groups = store->group_writes() - groups_before;
    std::printf(
        "  measured %d writers: engine %.0f ops/s (%.3f CPU ms/op, %.1f commits per group "
        "write), raw %.0f ops/s (%.3f CPU ms/op)\n",
        threads, engine.OpsPerSecond(), engine.CpuMsPerOp(),
        groups > 0 ? static_cast<double>(store->commits_written() - commits_before) / groups : 0.0,
        raw.OpsPerSecond(), raw.CpuMsPerOp());
    std::fflush(stdout);
    rows.push_back({threads, std::move(engine), std::move(raw), value_bytes});
  }

  std::printf(
      "\nwriters |  engine ops/s   p50 ms   p99 ms |  raw ops/s   p50 ms   p99 ms | value B | "
      "engine/raw\n");
  std::printf(
      "--------+---------------------------------+-------------------------------+---------+"
      "-----------\n");
  for (const Row& r : rows) {
    std::printf(
        "%7d | %13.0f %8.3f %8.3f | %10.0f %8.3f %8.3f | %7lld | %9.1f%%\n", r.threads,
        r.engine.OpsPerSecond(), r.engine.PercentileMs(0.50), r.engine.PercentileMs(0.99),
        r.raw.OpsPerSecond(), r.raw.PercentileMs(0.50), r.raw.PercentileMs(0.99),
        static_cast<long long>(r.value_bytes),
        r.raw.OpsPerSecond() > 0 ? 100 * r.engine.OpsPerSecond() / r.raw.OpsPerSecond() : 0);
  }
  std::printf("\nmean time per command by phase (a phase's time includes waiting for syncs):\n");
  for (const Row& r : rows) PrintPhases(absl::StrCat(r.threads, " writers"), r.engine);
  const Row& top = rows.back();
  const double ratio =
      top.raw.OpsPerSecond() > 0 ? top.engine.OpsPerSecond() / top.raw.OpsPerSecond() : 0;
  std::printf("goal: engine >= 50%% of raw at %d writers: %.1f%% -> %s\n", top.threads, 100 * ratio,
              ratio >= 0.5 ? "met" : "MISSED");
  return absl::OkStatus();
}

absl::Status RunScale(const std::string& root, std::shared_ptr<const model::CompiledPack> pack,
                      const Dossier& dossier, const std::vector<int>& thread_counts) {
  const int per_writer = absl::GetFlag(FLAGS_services_per_writer);
  const int max_threads = *std::max_element(thread_counts.begin(), thread_counts.end());
  const std::vector<int> sizes = {absl::GetFlag(FLAGS_services_small),
                                  absl::GetFlag(FLAGS_services_large)};
  std::printf("\n== Scale: durable SubmitOutput with many registered services\n");
  std::vector<std::string> paths;
  std::vector<std::vector<int>> hot_sets;
  std::vector<double> preload_seconds;
  for (int n : sizes) {
    if (max_threads * per_writer > n) {
      return absl::InvalidArgumentError(absl::StrCat(n, " services are fewer than ", max_threads,
                                                     " writers x ", per_writer, " each"));
    }
    paths.push_back(absl::StrCat(root, "/scale-", n));
    hot_sets.push_back(HotSet(n, max_threads * per_writer));
    const Clock::time_point t0 = Clock::now();
    VARAV_RETURN_IF_ERROR(Preload(paths.back(), *pack, dossier, n, hot_sets.back()));
    preload_seconds.push_back(NanosSince(t0) / 1e9);
    std::printf("preloaded and settled %d services in %.1f s (%.0f registrations/s)\n", n,
                preload_seconds.back(), n / preload_seconds.back());
    std::fflush(stdout);
  }

  struct Row {
    int threads;
    Measurement m[2];  // by size
  };
  std::vector<Row> rows;
  std::unique_ptr<store::Store> stores[2];
  std::unique_ptr<Governed> governed[2];
  for (int i = 0; i < 2; ++i) {
    VARAV_ASSIGN_OR_RETURN(stores[i], OpenForMeasurement(paths[i]));
    VARAV_ASSIGN_OR_RETURN(governed[i], Govern(*stores[i], pack));
  }
  // Small, large, large, small (--rounds times): a drift of the machine's speed during the
  // experiment (other load, the disk) then falls on both sizes alike.
  const int legs = 4 * Rounds();
  const absl::Duration leg = absl::Seconds(absl::GetFlag(FLAGS_duration_s) * 4 / legs / 2);
  for (int threads : thread_counts) {
    Row& row = rows.emplace_back();
    row.threads = threads;
    const int order[] = {0, 1, 1, 0};
    for (int l = 0; l < legs; ++l) {
      const int size = order[l % 4];
      VARAV_ASSIGN_OR_RETURN(
          Measurement m,
          MeasureEngine(*stores[size], paths[size], *pack, dossier, hot_sets[size], threads, leg,
                        absl::StrCat("s", sizes[size], "-", threads, "-", l),
                        ThroughGovernance() ? governed[size]->governance.get() : nullptr));
      ReportErrors(absl::StrCat(sizes[size], " services, ", threads, " writers"), m);
      row.m[size].Merge(std::move(m));
    }
    std::printf("  measured %d writers: %.0f ops/s at %d, %.0f ops/s at %d\n", threads,
                row.m[0].OpsPerSecond(), sizes[0], row.m[1].OpsPerSecond(), sizes[1]);
    std::fflush(stdout);
  }

  std::printf(
      "\nwriters |  services |  ops/s   mean ms   p50 ms   p99 ms  CPU ms/cmd | cost ratio  p50 "
      "ratio  CPU ratio\n");
  std::printf(
      "--------+-----------+-----------------------------------------------+----------------"
      "----------------\n");
  bool met = true;
  bool cpu_met = true;
  for (const Row& r : rows) {
    // Per-command cost: writer time per command, writers / throughput (= mean latency).
    double cost[2];
    for (int i = 0; i < 2; ++i) {
      cost[i] = r.m[i].OpsPerSecond() > 0 ? r.threads / r.m[i].OpsPerSecond() : 0;
    }
    const double ratio = cost[0] > 0 ? cost[1] / cost[0] : 0;
    const double cpu_ratio =
        r.m[0].WriterCpuMsPerOp() > 0 ? r.m[1].WriterCpuMsPerOp() / r.m[0].WriterCpuMsPerOp() : 0;
    const double p50_ratio =
        r.m[0].PercentileMs(0.5) > 0 ? r.m[1].PercentileMs(0.5) / r.m[0].PercentileMs(0.5) : 0;
    met = met && ratio > 0 && ratio <= 1.5;
    cpu_met = cpu_met && cpu_ratio > 0 && cpu_ratio <= 1.5;
    for (int i = 0; i < 2; ++i) {
      const Measurement& m = r.m[i];
      std::printf("%7d | %9d | %6.0f %9.3f %8.3f %8.3f %11.3f | %s\n", r.threads, sizes[i],
                  m.OpsPerSecond(), m.MeanMs(), m.PercentileMs(0.50), m.PercentileMs(0.99),
                  m.WriterCpuMsPerOp(),
                  i == 1
                      ? absl::StrFormat("%9.2fx %9.2fx %9.2fx", ratio, p50_ratio, cpu_ratio).c_str()
                      : "");
    }
  }
  std::printf("\nmean time per command by phase:\n");
  for (const Row& r : rows) {
    for (int i = 0; i < 2; ++i) {
      PrintPhases(absl::StrCat(r.threads, "w ", sizes[i], " svc"), r.m[i]);
    }
  }
  std::printf(
      "goal: per-command cost at %d <= 1.5x that at %d at every concurrency -> %s (by the "
      "writers' CPU time per command: %s)\n",
      sizes[1], sizes[0], met ? "met" : "MISSED", cpu_met ? "met" : "MISSED");
  return absl::OkStatus();
}

// A non-empty list of positive numbers from a list flag.
absl::StatusOr<std::vector<int>> ParseCounts(absl::string_view name,
                                             const absl::Flag<std::vector<std::string>>& flag) {
  std::vector<int> counts;
  for (const std::string& s : absl::GetFlag(flag)) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": '", s, "' is not a positive number"));
    }
    counts.push_back(n);
  }
  if (counts.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " is empty"));
  return counts;
}

int Main() {
  absl::StatusOr<std::vector<int>> thread_counts = ParseCounts("threads", FLAGS_threads);
  absl::StatusOr<std::vector<int>> scale_threads =
      ParseCounts("scale_threads", FLAGS_scale_threads);
  if (!thread_counts.ok() || !scale_threads.ok()) {
    std::fprintf(
        stderr, "%s\n",
        (thread_counts.ok() ? scale_threads.status() : thread_counts.status()).ToString().c_str());
    return 1;
  }
  const std::string only = absl::GetFlag(FLAGS_only);
  if (!only.empty() && only != "concurrency" && only != "scale") {
    std::fprintf(stderr, "--only must be concurrency or scale\n");
    return 1;
  }
  const std::string snapshot = absl::GetFlag(FLAGS_snapshot);
  if (snapshot != "store" && snapshot != "memory") {
    std::fprintf(stderr, "--snapshot must be store or memory\n");
    return 1;
  }
  const std::string through = absl::GetFlag(FLAGS_path);
  if (through != "governance" && through != "engine") {
    std::fprintf(stderr, "--path must be governance or engine\n");
    return 1;
  }

  absl::StatusOr<std::shared_ptr<const model::CompiledPack>> pack =
      model::LoadPack(absl::GetFlag(FLAGS_pack_dir), nullptr);
  if (!pack.ok()) {
    std::fprintf(stderr, "loading the pack: %s\n", pack.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<Dossier> dossier = LoadDossier(absl::GetFlag(FLAGS_fixture));
  if (!dossier.ok()) {
    std::fprintf(stderr, "loading the fixture: %s\n", dossier.status().ToString().c_str());
    return 1;
  }

  std::string parent = absl::GetFlag(FLAGS_dir);
  if (parent.empty()) parent = std::filesystem::temp_directory_path().string();
  std::string root = parent + "/store_bench.XXXXXX";
  if (mkdtemp(root.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a directory under %s\n", parent.c_str());
    return 1;
  }

  std::printf("store_bench: %s; databases under %s\n", MachineSummary().c_str(), root.c_str());
  std::printf(
      "pack %s; %.1f s per measurement; snapshot from %s; %d services per writer; idle spinner "
      "%s\n",
      (*pack)->key().c_str(), absl::GetFlag(FLAGS_duration_s), snapshot.c_str(),
      absl::GetFlag(FLAGS_services_per_writer), absl::GetFlag(FLAGS_idle_spinner) ? "on" : "off");
  std::fflush(stdout);

  if (absl::GetFlag(FLAGS_idle_spinner)) IdleSpinner::Start();
  absl::Status status;
  if (only.empty() || only == "concurrency") {
    const StealMeter steal;
    status = RunConcurrency(root, *pack, *dossier, *thread_counts);
    std::printf("CPU steal during the experiment: %s of the CPUs' time\n", steal.Text().c_str());
  }
  if (status.ok() && (only.empty() || only == "scale")) {
    const StealMeter steal;
    status = RunScale(root, *pack, *dossier, *scale_threads);
    std::printf("CPU steal during the experiment: %s of the CPUs' time\n", steal.Text().c_str());
  }
  IdleSpinner::Stop();
  std::error_code ignored;
  std::filesystem::remove_all(root, ignored);
  if (!status.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace varav::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Durable SubmitOutput through the lifecycle engine and the store, next to raw synced "
      "RocksDB writes; see bench/README-store.md.");
  absl::ParseCommandLine(argc, argv);
  // As varavd runs (its --mutex_deadlock_detection is off by default).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return varav::bench::Main();
}
