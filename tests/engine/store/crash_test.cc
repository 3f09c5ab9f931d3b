// Kills crash_writer with SIGKILL at random moments, at least 50 times, and checks after each kill
// that the store it leaves behind is whole: every acknowledged request survives with all of its
// parts, no request is partially visible, indexes agree with service records, every service
// chain verifies and the global log has no gaps.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/store/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/store/test_util.h"
#include "tests/status_matchers.h"

#ifndef VARAV_CRASH_WRITER
#error "VARAV_CRASH_WRITER must name the crash_writer binary"
#endif

namespace varav::store {
namespace {

using testing::PortfolioTerms;
using ::varav::testing::IsOk;

constexpr int kMinKills = 50;
constexpr int kMaxKills = 60;
// Stop adding kills beyond kMinKills once this much time has passed.
constexpr absl::Duration kSoftBudget = absl::Seconds(40);

struct RunOutput {
  std::vector<std::string> begun;
  std::vector<std::string> acknowledged;
};

// Starts the writer, kills it with SIGKILL `delay` after it starts (or, when `after_first_commit`,
// `delay` after it begins its first commit) and returns what it reported.
RunOutput RunAndKill(const std::string& db, const std::string& run_id, absl::Duration delay,
                     bool after_first_commit) {
  RunOutput out;
  int fds[2];
  if (pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return out;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(VARAV_CRASH_WRITER, VARAV_CRASH_WRITER, db.c_str(), run_id.c_str(), "4", "12",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::string buffer;
  char chunk[65536];
  // Keep draining the pipe while the writer runs so it never blocks on a full pipe.
  // Opening a store takes a while; never wait more than a few seconds for the first commit.
  absl::Time kill_at = absl::Now() + (after_first_commit ? absl::Seconds(5) : delay);
  bool started = false;
  for (absl::Time now = absl::Now(); now < kill_at; now = absl::Now()) {
    pollfd p{.fd = fds[0], .events = POLLIN, .revents = 0};
    poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kill_at - now)) + 1);
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof(chunk))) > 0) buffer.append(chunk, n);
    if (after_first_commit && !started && !buffer.empty()) {
      started = true;
      kill_at = absl::Now() + delay;
    }
    if (n == 0) break;  // the writer exited on its own: reported below
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  fcntl(fds[0], F_SETFL, 0);
  ssize_t n;
  while ((n = read(fds[0], chunk, sizeof(chunk))) > 0) buffer.append(chunk, n);
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "crash_writer ended by itself with status " << status;

  for (absl::string_view line : absl::StrSplit(buffer, '\n', absl::SkipEmpty())) {
    if (line.size() < 3) continue;
    (line[0] == 'A' ? out.acknowledged : out.begun).emplace_back(line.substr(2));
  }
  return out;
}

struct Response {
  std::string service;
  uint32_t revision = 0;
  uint32_t decision = 0;
  uint64_t first = 0;
  uint64_t last = 0;
};

bool ParseResponse(absl::string_view text, Response& r) {
  std::map<std::string, std::string> kv;
  for (absl::string_view part : absl::StrSplit(text, ';')) {
    std::pair<std::string, std::string> p = absl::StrSplit(part, absl::MaxSplits('=', 1));
    kv[p.first] = p.second;
  }
  r.service = kv["svc"];
  return !r.service.empty() && absl::SimpleAtoi(kv["rev"], &r.revision) &&
         absl::SimpleAtoi(kv["dec"], &r.decision) && absl::SimpleAtoi(kv["first"], &r.first) &&
         absl::SimpleAtoi(kv["last"], &r.last);
}

// Checks one request that the writer began: present with every part, or absent with no trace.
void CheckRequest(Store& store, const std::string& id, bool acknowledged,
                  const std::map<std::string, int>& events_per_request) {
  auto response = store.LookupRequest(id, absl::StrCat("h:", id));
  ASSERT_THAT(response, IsOk());
  const auto counted = events_per_request.find(id);
  const int events = counted == events_per_request.end() ? 0 : counted->second;
  if (!response->has_value()) {
    EXPECT_FALSE(acknowledged) << "acknowledged request " << id << " was lost";
    EXPECT_EQ(events, 0) << "request " << id << " is absent but wrote events";
    EXPECT_TRUE(absl::IsNotFound(store.GetEvaluation(id).status()))
        << "request " << id << " is absent but wrote its evaluation";
    return;
  }
  Response r;
  ASSERT_TRUE(ParseResponse(**response, r)) << **response;
  EXPECT_THAT(store.GetService(r.service), IsOk());
  const bool create = r.revision == 0;
  EXPECT_EQ(events, create ? 1 : 2) << id;
  EXPECT_EQ(r.last - r.first + 1, create ? 1u : 2u) << id;
  auto written = store.ReadEvents(r.first - 1, static_cast<int>(r.last - r.first + 1));
  ASSERT_THAT(written, IsOk());
  for (const v1::Event& e : *written) {
    EXPECT_EQ(e.request_id(), id);
    EXPECT_EQ(e.subject(), r.service);
  }
  if (create) return;
  EXPECT_THAT(store.GetOutput(r.service, "out", r.revision), IsOk()) << id;
  EXPECT_THAT(store.GetEvaluation(id), IsOk()) << id;
  auto decisions = store.ListDecisions(r.service, "A", 1);
  ASSERT_THAT(decisions, IsOk());
  bool found = false;
  for (const v1::Decision& d : *decisions) found |= d.number() == r.decision;
  EXPECT_TRUE(found) << "decision " << r.decision << " of request " << id << " is missing";
}

TEST(StoreCrashTest, KeepsEveryAcknowledgedCommitWholeAcrossRandomKills) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / absl::StrCat("store_crash_", getpid());
  std::filesystem::remove_all(dir);
  const std::string db = (dir / "db").string();
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::uniform_int_distribution<int> delay_ms(0, 150);
  // Most kills land while commits are in flight; the rest may also hit opening and recovery.
  std::bernoulli_distribution after_first_commit(0.8);

  std::set<std::string> acknowledged;
  const absl::Time start = absl::Now();
  int kills = 0;
  size_t begun_total = 0;
  while (kills < kMaxKills && (kills < kMinKills || absl::Now() - start < kSoftBudget)) {
    RunOutput run = RunAndKill(db, absl::StrCat("r", kills), absl::Milliseconds(delay_ms(rng)),
                               after_first_commit(rng));
    ++kills;
    fprintf(stderr, "run %d: begun %zu acked %zu\n", kills, run.begun.size(),
            run.acknowledged.size());
    begun_total += run.begun.size();
    acknowledged.insert(run.acknowledged.begin(), run.acknowledged.end());
    if (::testing::Test::HasFailure()) break;

    auto opened =
        Store::Open({.path = db, .index_terms = PortfolioTerms, .create_if_missing = false});
    if (!opened.ok() && absl::IsNotFound(opened.status())) continue;  // killed before creating
    ASSERT_THAT(opened, IsOk());
    Store& store = **opened;
    ASSERT_THAT(store.CheckConsistency(), IsOk()) << "after kill " << kills;

    std::map<std::string, int> events_per_request;
    uint64_t after = 0;
    while (true) {
      auto events = store.ReadEvents(after, 10000);
      ASSERT_THAT(events, IsOk());
      if (events->empty()) break;
      for (const v1::Event& e : *events) ++events_per_request[e.request_id()];
      after = events->back().global_sequence();
    }
    EXPECT_EQ(after, store.LastGlobalSequence());

    const std::set<std::string> acked_now(run.acknowledged.begin(), run.acknowledged.end());
    for (const std::string& id : run.begun) {
      CheckRequest(store, id, acked_now.contains(id), events_per_request);
    }
    // Requests acknowledged in earlier runs must survive later crashes too.
    for (const std::string& id : acknowledged) {
      auto response = store.LookupRequest(id, absl::StrCat("h:", id));
      ASSERT_THAT(response, IsOk());
      ASSERT_TRUE(response->has_value()) << "acknowledged request " << id << " was lost";
    }
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GE(kills, kMinKills);
  EXPECT_GT(acknowledged.size(), 0u);
  std::printf("kills=%d begun=%zu acknowledged=%zu elapsed=%s\n", kills, begun_total,
              acknowledged.size(), absl::FormatDuration(absl::Now() - start).c_str());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace varav::store
