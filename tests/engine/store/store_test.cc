#include "engine/store/store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/store/event_chain.h"
#include "engine/store/layout.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/store/test_util.h"
#include "tests/status_matchers.h"

namespace varav::store {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeService;
using testing::PortfolioTerms;
using testing::RawDb;
using testing::SharedOutput;
using ::testing::SizeIs;
using ::varav::testing::IsOk;
using ::varav::testing::StatusIs;

std::vector<std::string> Ids(const std::vector<v1::Service>& services) {
  std::vector<std::string> ids;
  for (const auto& s : services) ids.push_back(s.id());
  return ids;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("store_test_", ::testing::UnitTest::GetInstance()->random_seed(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_",
                        getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string DbPath() const { return (dir_ / "db").string(); }

  void Reopen(bool sync = true) {
    store_.reset();
    auto opened = Store::Open({.path = DbPath(), .index_terms = PortfolioTerms, .sync = sync});
    ASSERT_THAT(opened, IsOk());
    store_ = std::move(opened).value();
  }

  // Creates `s` and returns the stored state.
  v1::Service Create(const v1::Service& s) {
    auto result = store_->Commit(testing::CreateMutation(s));
    EXPECT_THAT(result, IsOk());
    return result.ok() ? result->service : v1::Service();
  }

  // A mutation updating `current` to `next` with one stage-advanced event.
  static Mutation Update(const v1::Service& current, v1::Service next) {
    Mutation m;
    m.service_id = current.id();
    m.expected_etag = current.etag();
    next.set_last_event_sequence(current.last_event_sequence());
    next.set_last_event_hash(current.last_event_hash());
    m.service = std::move(next);
    m.events.push_back(testing::StageAdvancedEvent(current.stage(), m.service.stage()));
    return m;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, RoundTripsEveryRecordKind) {
  v1::Service service = MakeService("svc-1");
  service.mutable_latest_evaluation()->set_evaluation_id("eval-1");
  service.mutable_latest_evaluation()->set_must_total(3);
  v1::Condition* condition = service.add_open_conditions();
  condition->set_id("A-1");
  condition->set_text("publish the budget");
  condition->mutable_due()->set_seconds(1800000000);
  (*service.mutable_output_revisions())["vision"] = 1;

  Mutation m = testing::CreateMutation(service);
  m.outputs.push_back(SharedOutput("svc-1", "vision", 1));
  v1::Assessment assessment;
  assessment.set_service_id("svc-1");
  assessment.set_principle("P1");
  assessment.set_score(0.75);
  v1::AssessmentAnswer* answer = assessment.add_answers();
  answer->set_question("P1.Q1");
  answer->set_answer(v1::ANSWER_VALUE_PARTLY);
  m.assessments.push_back(assessment);
  m.evaluations.push_back({.id = "eval-1", .bytes = std::string("\x0a\x03raw\x00bytes", 10)});
  v1::Decision decision;
  decision.set_service_id("svc-1");
  decision.set_gate("A");
  decision.set_cycle(1);
  decision.set_number(1);
  decision.set_panel("business_panel");
  decision.set_outcome(v1::GATE_OUTCOME_GO_WITH_CONDITIONS);
  *decision.add_conditions() = *condition;
  m.decisions.push_back(decision);
  ASSERT_THAT(store_->Commit(m), IsOk());

  Reopen();
  auto got = store_->GetService("svc-1");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->name(), "Service svc-1");
  EXPECT_EQ(got->open_conditions(0).text(), "publish the budget");
  EXPECT_EQ(got->output_revisions().at("vision"), 1u);
  EXPECT_FALSE(got->etag().empty());
  EXPECT_EQ(got->last_event_sequence(), 1u);

  auto output = store_->GetOutput("svc-1", "vision", 1);
  ASSERT_THAT(output, IsOk());
  EXPECT_EQ(output->fields().fields().at("statement").string_value(), "a clear vision");
  EXPECT_EQ(output->document().sha256(), std::string(64, 'a'));

  auto stored_assessment = store_->GetAssessment("svc-1", "P1");
  ASSERT_THAT(stored_assessment, IsOk());
  EXPECT_EQ(stored_assessment->answers(0).answer(), v1::ANSWER_VALUE_PARTLY);
  EXPECT_THAT(store_->ListAssessments("svc-1"), IsOk());

  auto evaluation = store_->GetEvaluation("eval-1");
  ASSERT_THAT(evaluation, IsOk());
  EXPECT_EQ(*evaluation, std::string("\x0a\x03raw\x00bytes", 10));

  auto decisions = store_->ListDecisions("svc-1", "A", 1);
  ASSERT_THAT(decisions, IsOk());
  ASSERT_THAT(*decisions, SizeIs(1));
  EXPECT_EQ((*decisions)[0].outcome(), v1::GATE_OUTCOME_GO_WITH_CONDITIONS);
  EXPECT_EQ((*decisions)[0].conditions(0).id(), "A-1");

  auto events = store_->ReadEvents(0, 10);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(1));
  const v1::Event& e = (*events)[0];
  EXPECT_EQ(e.spec_version(), "1.0");
  EXPECT_EQ(e.type(), "ee.varav.service.registered");
  EXPECT_EQ(e.subject(), "svc-1");
  EXPECT_EQ(e.source(), "/varav");
  EXPECT_EQ(e.id(), "svc-1/1");
  EXPECT_EQ(e.global_sequence(), 1u);
  EXPECT_EQ(e.service_sequence(), 1u);
  EXPECT_EQ(e.prev_hash(), "");
  EXPECT_EQ(e.hash(), ComputeEventHash(e));
  EXPECT_EQ(e.service_registered().agency(), "ria");

  EXPECT_THAT(store_->GetService("nope"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(store_->GetOutput("svc-1", "vision", 2), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(store_->GetEvaluation("eval-2"), StatusIs(absl::StatusCode::kNotFound, _));
}

TEST_F(StoreTest, KeepsEveryOutputRevisionAndFindsTheLatest) {
  v1::Service s = Create(MakeService("svc"));
  for (uint32_t rev = 1; rev <= 3; ++rev) {
    Mutation m = Update(s, s);
    m.outputs.push_back(SharedOutput("svc", "vision", rev));
    if (rev == 2) m.outputs.push_back(SharedOutput("svc", "budget", 1));
    auto r = store_->Commit(m);
    ASSERT_THAT(r, IsOk());
    s = r->service;
  }
  auto latest = store_->GetOutput("svc", "vision", 0);
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->revision(), 3u);
  auto budget = store_->GetOutput("svc", "budget", 0);
  ASSERT_THAT(budget, IsOk());
  EXPECT_EQ(budget->revision(), 1u);
  EXPECT_THAT(store_->GetOutput("svc", "missing", 0), StatusIs(absl::StatusCode::kNotFound, _));

  auto vision = store_->ListOutputRevisions("svc", "vision");
  ASSERT_THAT(vision, IsOk());
  std::vector<uint32_t> revisions;
  for (const auto& o : *vision) revisions.push_back(o.revision());
  EXPECT_THAT(revisions, ElementsAre(1, 2, 3));
  auto all = store_->ListOutputRevisions("svc", "");
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all, SizeIs(4));
}

TEST_F(StoreTest, ListsDecisionsByGateAndCycleInNumberOrder) {
  v1::Service s = Create(MakeService("svc"));
  Mutation m = Update(s, s);
  uint32_t number = 0;
  for (const auto& [gate, cycle] :
       std::vector<std::pair<std::string, uint32_t>>{{"A", 1}, {"A", 1}, {"B", 1}, {"A", 2}}) {
    v1::Decision d;
    d.set_service_id("svc");
    d.set_gate(gate);
    d.set_cycle(cycle);
    d.set_number(++number);
    d.set_panel("business_panel");
    d.set_outcome(v1::GATE_OUTCOME_GO);
    m.decisions.push_back(d);
  }
  ASSERT_THAT(store_->Commit(m), IsOk());
  auto numbers = [](const absl::StatusOr<std::vector<v1::Decision>>& ds) {
    std::vector<uint32_t> out;
    for (const auto& d : *ds) out.push_back(d.number());
    return out;
  };
  EXPECT_THAT(numbers(store_->ListDecisions("svc", "A", 1)), ElementsAre(1, 2));
  EXPECT_THAT(numbers(store_->ListDecisions("svc", "A", 0)), ElementsAre(1, 2, 4));
  EXPECT_THAT(numbers(store_->ListDecisions("svc", "", 0)), ElementsAre(1, 2, 4, 3));
  EXPECT_THAT(numbers(store_->ListDecisions("other", "", 0)), IsEmpty());
}

TEST_F(StoreTest, AssignsSequencesAndChainsHashesAcrossServices) {
  v1::Service a = Create(MakeService("a"));
  v1::Service b = Create(MakeService("b"));
  v1::Service next = a;
  next.set_stage("plan");
  Mutation m = Update(a, next);
  m.events.push_back(testing::StageAdvancedEvent("plan", "plan"));
  auto r = store_->Commit(m);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->first_global_sequence, 3u);
  EXPECT_EQ(r->last_global_sequence, 4u);
  EXPECT_EQ(r->service.last_event_sequence(), 3u);
  EXPECT_EQ(store_->LastGlobalSequence(), 4u);

  auto events = store_->ReadServiceEvents("a", 0, 10);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(3));
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].service_sequence(), i + 1);
    if (i > 0) {
      EXPECT_EQ((*events)[i].prev_hash(), (*events)[i - 1].hash());
    }
  }
  EXPECT_EQ((*events)[0].global_sequence(), 1u);
  EXPECT_EQ((*events)[1].global_sequence(), 3u);
  EXPECT_EQ(r->service.last_event_hash(), (*events)[2].hash());

  auto after = store_->ReadServiceEvents("a", 1, 1);
  ASSERT_THAT(after, IsOk());
  ASSERT_THAT(*after, SizeIs(1));
  EXPECT_EQ((*after)[0].service_sequence(), 2u);

  auto page = store_->ReadEvents(2, 1);
  ASSERT_THAT(page, IsOk());
  ASSERT_THAT(*page, SizeIs(1));
  EXPECT_EQ((*page)[0].global_sequence(), 3u);
  EXPECT_THAT(*store_->ReadEvents(4, 10), IsEmpty());

  EXPECT_THAT(store_->VerifyChain("a"), IsOk());
  EXPECT_THAT(store_->VerifyChain("b"), IsOk());
  EXPECT_THAT(store_->CheckConsistency(), IsOk());
}

TEST_F(StoreTest, WritesNothingWhenAnyPartIsInvalid) {
  v1::Service s = Create(MakeService("svc"));
  Mutation first = Update(s, s);
  first.outputs.push_back(SharedOutput("svc", "vision", 1));
  auto r = store_->Commit(first);
  ASSERT_THAT(r, IsOk());
  s = r->service;

  // Valid assessment, evaluation and events, but an output revision that already exists.
  v1::Service next = s;
  next.set_stage("plan");
  Mutation bad = Update(s, next);
  v1::Assessment a;
  a.set_service_id("svc");
  a.set_principle("P2");
  bad.assessments.push_back(a);
  bad.evaluations.push_back({.id = "eval-x", .bytes = "x"});
  bad.outputs.push_back(SharedOutput("svc", "budget", 1));
  bad.outputs.push_back(SharedOutput("svc", "vision", 1));
  bad.request_id = "req-bad";
  bad.request_hash = "h";
  EXPECT_THAT(store_->Commit(bad),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("'vision' revision 1")));

  // A malformed part (a decision of another service) is refused before anything is read.
  Mutation malformed = Update(s, next);
  v1::Decision d;
  d.set_service_id("other");
  d.set_gate("A");
  d.set_number(1);
  malformed.decisions.push_back(d);
  EXPECT_THAT(store_->Commit(malformed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decisions[0]")));

  auto stored = store_->GetService("svc");
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->etag(), s.etag());
  EXPECT_EQ(stored->stage(), "envision");
  EXPECT_EQ(store_->LastGlobalSequence(), 2u);
  EXPECT_THAT(store_->GetAssessment("svc", "P2"), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(store_->GetEvaluation("eval-x"), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(store_->GetOutput("svc", "budget", 1), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(store_->LookupRequest("req-bad", "h"), IsOk());
  EXPECT_FALSE(store_->LookupRequest("req-bad", "h")->has_value());
  auto planned = store_->ListServicesBy({{"stage", "plan"}}, 10, "");
  ASSERT_THAT(planned, IsOk());
  EXPECT_THAT(planned->services, IsEmpty());
  EXPECT_THAT(store_->CheckConsistency(), IsOk());
}

TEST_F(StoreTest, RejectsMalformedMutations) {
  v1::Service s = MakeService("svc");
  Mutation m = testing::CreateMutation(s);
  m.service.set_id("other");
  EXPECT_THAT(store_->Commit(m), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("other")));

  m = testing::CreateMutation(s);
  m.service.set_status(v1::SERVICE_STATUS_UNSPECIFIED);
  EXPECT_THAT(store_->Commit(m), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("status")));

  m = testing::CreateMutation(MakeService(std::string("s\0x", 3)));
  EXPECT_THAT(store_->Commit(m), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NUL")));

  m = testing::CreateMutation(s);
  m.events[0].clear_service_registered();
  EXPECT_THAT(store_->Commit(m),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no payload")));

  m = testing::CreateMutation(s);
  m.outputs.push_back(SharedOutput("svc", "vision", 0));
  EXPECT_THAT(store_->Commit(m),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("revision")));
  EXPECT_EQ(store_->LastGlobalSequence(), 0u);
}

TEST_F(StoreTest, RefusesStaleEtagWithAborted) {
  v1::Service s = Create(MakeService("svc"));
  auto first = store_->Commit(Update(s, s));
  ASSERT_THAT(first, IsOk());
  EXPECT_NE(first->service.etag(), s.etag());
  EXPECT_THAT(store_->Commit(Update(s, s)),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("re-read and retry")));
}

TEST_F(StoreTest, RefusesCreatingAnExistingServiceAndUpdatingAMissingOne) {
  Create(MakeService("svc"));
  EXPECT_THAT(store_->Commit(testing::CreateMutation(MakeService("svc"))),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("svc")));
  Mutation m = testing::CreateMutation(MakeService("ghost"));
  m.expected_etag = "whatever";
  EXPECT_THAT(store_->Commit(m), StatusIs(absl::StatusCode::kNotFound, HasSubstr("ghost")));
}

TEST_F(StoreTest, AppliesExactlyOneOfConcurrentConflictingCommits) {
  for (int round = 0; round < 5; ++round) {
    const std::string id = absl::StrCat("svc-", round);
    v1::Service s = Create(MakeService(id));
    constexpr int kThreads = 8;
    std::atomic<int> ok{0};
    std::atomic<int> aborted{0};
    std::atomic<int> other{0};
    absl::Notification go;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        v1::Service next = s;
        next.set_stage(absl::StrCat("stage-", t));
        Mutation m = Update(s, next);
        go.WaitForNotification();
        absl::Status status = store_->Commit(m).status();
        if (status.ok()) {
          ++ok;
        } else if (status.code() == absl::StatusCode::kAborted) {
          ++aborted;
        } else {
          ++other;
        }
      });
    }
    go.Notify();
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(aborted.load(), kThreads - 1);
    EXPECT_EQ(other.load(), 0);
    auto stored = store_->GetService(id);
    ASSERT_THAT(stored, IsOk());
    EXPECT_EQ(stored->last_event_sequence(), 2u);
  }
  EXPECT_THAT(store_->CheckConsistency(), IsOk());
}

// Many writers on different services share group syncs; the global log must still be 1..N.
class ConcurrentCommitTest : public StoreTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ConcurrentCommitTest, ProducesAGapFreeGlobalLog) {
  Reopen(/*sync=*/GetParam());
  constexpr int kThreads = 6;
  constexpr int kCommits = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string id = absl::StrCat("svc-", t);
      auto created = store_->Commit(testing::CreateMutation(MakeService(id)));
      if (!created.ok()) {
        ++failures;
        return;
      }
      v1::Service s = created->service;
      for (int i = 0; i < kCommits; ++i) {
        auto r = store_->Commit(Update(s, s));
        if (!r.ok()) {
          ++failures;
          return;
        }
        s = r->service;
      }
    });
  }
  // A concurrent reader must only ever see a gap-free prefix.
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      auto events = store_->ReadEvents(0, 10000);
      if (!events.ok()) {
        ++failures;
        return;
      }
      for (size_t i = 0; i < events->size(); ++i) {
        if ((*events)[i].global_sequence() != i + 1) ++failures;
      }
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  const uint64_t total = kThreads * (kCommits + 1);
  EXPECT_EQ(store_->LastGlobalSequence(), total);
  auto events = store_->ReadEvents(0, 10000);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), total);
  EXPECT_THAT(store_->CheckConsistency(), IsOk());
  EXPECT_EQ(store_->commits_written(), total);
  EXPECT_GE(store_->group_writes(), 1u);
  EXPECT_LE(store_->group_writes(), total);
  Reopen(GetParam());
  EXPECT_EQ(store_->LastGlobalSequence(), total);
}

INSTANTIATE_TEST_SUITE_P(SyncModes, ConcurrentCommitTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Sync" : "NoSync"; });

TEST_F(StoreTest, ReplaysARepeatedRequestWithoutWriting) {
  Mutation m = testing::CreateMutation(MakeService("svc"));
  m.request_id = "req-1";
  m.request_hash = "hash-1";
  m.make_response = [](const CommitResult& r) {
    return absl::StrCat("etag=", r.service.etag(), " seq=", r.last_global_sequence);
  };
  auto first = store_->Commit(m);
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->response, absl::StrCat("etag=", first->service.etag(), " seq=1"));

  auto again = store_->Commit(m);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->response, first->response);
  EXPECT_EQ(again->first_global_sequence, 1u);
  EXPECT_EQ(store_->LastGlobalSequence(), 1u);

  auto looked_up = store_->LookupRequest("req-1", "hash-1");
  ASSERT_THAT(looked_up, IsOk());
  EXPECT_EQ(looked_up->value_or(""), first->response);
  auto unknown = store_->LookupRequest("req-2", "hash-1");
  ASSERT_THAT(unknown, IsOk());
  EXPECT_FALSE(unknown->has_value());

  EXPECT_THAT(store_->LookupRequest("req-1", "hash-2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("req-1")));
  m.request_hash = "hash-2";
  EXPECT_THAT(store_->Commit(m),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("different request")));
  EXPECT_EQ(store_->LastGlobalSequence(), 1u);
}

TEST_F(StoreTest, AppliesConcurrentRetriesOfOneRequestOnce) {
  v1::Service s = Create(MakeService("svc"));
  Mutation m = Update(s, s);
  m.request_id = "retry";
  m.request_hash = "h";
  m.response = "done";
  constexpr int kThreads = 8;
  std::atomic<int> applied{0};
  std::atomic<int> replayed{0};
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      go.WaitForNotification();
      auto r = store_->Commit(m);
      if (r.ok() && r->response == "done") (r->replayed ? replayed : applied)++;
    });
  }
  go.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(replayed.load(), kThreads - 1);
  EXPECT_EQ(store_->LastGlobalSequence(), 2u);
}

TEST_F(StoreTest, AnswersIndexQueriesWithPaging) {
  struct Spec {
    std::string id, agency, stage;
    v1::ServiceStatus status;
    std::vector<std::string> awaiting;
    bool ready;
  };
  const std::vector<Spec> specs = {
      {"s1", "ria", "envision", v1::SERVICE_STATUS_ACTIVE, {}, false},
      {"s2",
       "ria",
       "plan",
       v1::SERVICE_STATUS_IN_REVIEW,
       {"business_panel", "it_funding_council"},
       true},
      {"s3", "emta", "plan", v1::SERVICE_STATUS_IN_REVIEW, {"it_funding_council"}, true},
      {"s4", "ria", "define", v1::SERVICE_STATUS_ON_HOLD, {}, false},
      {"s5", "ria", "envision", v1::SERVICE_STATUS_ACTIVE, {}, true},
      {"s6", "ria", "envision", v1::SERVICE_STATUS_ACTIVE, {}, false},
      {"s7", "emta", "envision", v1::SERVICE_STATUS_STOPPED, {}, false},
  };
  std::map<std::string, v1::Service> stored;
  for (const Spec& spec : specs) {
    v1::Service s = MakeService(spec.id, spec.agency, spec.stage, spec.status);
    for (const auto& p : spec.awaiting) s.add_awaiting_panels(p);
    s.mutable_latest_evaluation()->set_ready(spec.ready);
    stored[spec.id] = Create(s);
  }
  auto list = [&](const std::vector<IndexTerm>& filter) {
    auto page = store_->ListServicesBy(filter, 100, "");
    EXPECT_THAT(page, IsOk());
    return page.ok() ? Ids(page->services) : std::vector<std::string>{};
  };
  EXPECT_THAT(list({{"agency", "emta"}}), ElementsAre("s3", "s7"));
  EXPECT_THAT(list({{"stage", "plan"}}), ElementsAre("s2", "s3"));
  EXPECT_THAT(list({{"status", "SERVICE_STATUS_IN_REVIEW"}}), ElementsAre("s2", "s3"));
  EXPECT_THAT(list({{"awaiting", "it_funding_council"}}), ElementsAre("s2", "s3"));
  EXPECT_THAT(list({{"awaiting", "business_panel"}}), ElementsAre("s2"));
  EXPECT_THAT(list({{"ready", "1"}}), ElementsAre("s2", "s3", "s5"));
  EXPECT_THAT(list({{"agency", "nobody"}}), IsEmpty());
  // A prefix of another value must not match ("ri" vs "ria").
  EXPECT_THAT(list({{"agency", "ri"}}), IsEmpty());

  // Paging through agency "ria" (s1, s2, s4, s5, s6) two at a time.
  std::vector<std::vector<std::string>> pages;
  std::string token;
  do {
    auto page = store_->ListServicesBy({{"agency", "ria"}}, 2, token);
    ASSERT_THAT(page, IsOk());
    pages.push_back(Ids(page->services));
    token = page->next_page_token;
  } while (!token.empty() && pages.size() < 10);
  EXPECT_THAT(pages,
              ElementsAre(ElementsAre("s1", "s2"), ElementsAre("s4", "s5"), ElementsAre("s6")));
  auto all = store_->ListServicesBy({}, 4, "");
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(Ids(all->services), ElementsAre("s1", "s2", "s3", "s4"));
  auto rest = store_->ListServicesBy({}, 4, all->next_page_token);
  ASSERT_THAT(rest, IsOk());
  EXPECT_THAT(Ids(rest->services), ElementsAre("s5", "s6", "s7"));
  EXPECT_TRUE(rest->next_page_token.empty());

  // A panel decides, the gate is approved: s2 moves out of review and off the awaiting index.
  v1::Service next = stored["s2"];
  next.set_stage("understand");
  next.set_status(v1::SERVICE_STATUS_ACTIVE);
  next.clear_awaiting_panels();
  next.mutable_latest_evaluation()->set_stale(true);
  ASSERT_THAT(store_->Commit(Update(stored["s2"], next)), IsOk());
  EXPECT_THAT(list({{"stage", "plan"}}), ElementsAre("s3"));
  EXPECT_THAT(list({{"stage", "understand"}}), ElementsAre("s2"));
  EXPECT_THAT(list({{"status", "SERVICE_STATUS_IN_REVIEW"}}), ElementsAre("s3"));
  EXPECT_THAT(list({{"awaiting", "business_panel"}}), IsEmpty());
  EXPECT_THAT(list({{"ready", "1"}}), ElementsAre("s3", "s5"));
  EXPECT_THAT(list({{"ready", "0"}}), ElementsAre("s1", "s2", "s4", "s6", "s7"));
  EXPECT_THAT(store_->CheckConsistency(), IsOk());
}

class TamperTest : public StoreTest {
 protected:
  // Three events of service "svc" at global 1..3 (plus "other" at 4), then the store is closed.
  void WriteChainAndClose() {
    v1::Service s = Create(MakeService("svc"));
    for (int i = 0; i < 2; ++i) {
      auto r = store_->Commit(Update(s, s));
      ASSERT_THAT(r, IsOk());
      s = r->service;
    }
    Create(MakeService("other"));
    ASSERT_THAT(store_->VerifyChain("svc"), IsOk());
    store_.reset();
    raw_ = RawDb::Open(DbPath());
    ASSERT_NE(raw_, nullptr);
  }
  v1::Event ReadRaw(uint64_t global) {
    std::string bytes;
    EXPECT_TRUE(
        raw_->db()
            ->Get(rocksdb::ReadOptions(), raw_->cf(kEventsCf), GlobalEventKey(global), &bytes)
            .ok());
    v1::Event e;
    EXPECT_TRUE(e.ParseFromString(bytes));
    return e;
  }
  void WriteRaw(const v1::Event& e) {
    ASSERT_TRUE(raw_->db()
                    ->Put(rocksdb::WriteOptions(), raw_->cf(kEventsCf),
                          GlobalEventKey(e.global_sequence()), e.SerializeAsString())
                    .ok());
  }
  void CloseRawAndReopen() {
    raw_.reset();
    Reopen();
  }
  std::unique_ptr<RawDb> raw_;
};

TEST_F(TamperTest, DetectsAnEditedEventAndNamesItsSequence) {
  WriteChainAndClose();
  v1::Event e = ReadRaw(2);
  e.set_principal("someone else");
  WriteRaw(e);
  CloseRawAndReopen();
  EXPECT_THAT(store_->VerifyChain("svc"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("service_sequence 2"), HasSubstr("hash mismatch"))));
  EXPECT_THAT(store_->VerifyChain("other"), IsOk());
  EXPECT_THAT(store_->CheckConsistency(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("svc")));
}

TEST_F(TamperTest, DetectsARehashedEventThatBreaksThePrevLink) {
  WriteChainAndClose();
  v1::Event e = ReadRaw(2);
  e.set_principal("someone else");
  e.set_hash(ComputeEventHash(e));  // a consistent forgery of event 2 ...
  WriteRaw(e);
  CloseRawAndReopen();
  // ... no longer matches what event 3 links to.
  EXPECT_THAT(store_->VerifyChain("svc"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("service_sequence 3"), HasSubstr("broken prev link"))));
}

TEST_F(TamperTest, DetectsARemovedEvent) {
  WriteChainAndClose();
  ASSERT_TRUE(raw_->db()
                  ->Delete(rocksdb::WriteOptions(), raw_->cf(kEventsCf), ServiceEventKey("svc", 2))
                  .ok());
  CloseRawAndReopen();
  EXPECT_THAT(store_->VerifyChain("svc"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("service_sequence 2"), HasSubstr("gap"))));
}

TEST_F(TamperTest, DetectsATruncatedChainTail) {
  WriteChainAndClose();
  ASSERT_TRUE(raw_->db()
                  ->Delete(rocksdb::WriteOptions(), raw_->cf(kEventsCf), ServiceEventKey("svc", 3))
                  .ok());
  CloseRawAndReopen();
  EXPECT_THAT(store_->VerifyChain("svc"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("service_sequence 3"), HasSubstr("chain ends at 2"))));
}

// The service cache holds fewer records than there are services, so records are dropped and
// brought back by readers while writers commit. A read that starts after a commit was acknowledged
// must see that commit or a later one, never an older record a reader read before the commit.
TEST_F(StoreTest, ServiceCacheNeverServesARecordOlderThanAnAcknowledgedCommit) {
  store_.reset();
  auto opened = Store::Open(
      {.path = DbPath(), .index_terms = PortfolioTerms, .sync = false, .service_cache_entries = 2});
  ASSERT_THAT(opened, IsOk());
  store_ = std::move(opened).value();

  constexpr int kServices = 8;
  constexpr int kWriters = 4;
  constexpr int kUpdates = 400;
  std::vector<v1::Service> current;
  for (int i = 0; i < kServices; ++i) current.push_back(Create(MakeService(absl::StrCat("s", i))));
  std::atomic<uint64_t> acknowledged[kServices];
  for (int i = 0; i < kServices; ++i) acknowledged[i] = current[i].last_event_sequence();

  std::atomic<bool> done{false};
  std::atomic<int> stale{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      for (int n = r; !done.load(); ++n) {
        const int i = n % kServices;
        const uint64_t floor = acknowledged[i].load();
        absl::StatusOr<v1::Service> got = store_->GetService(absl::StrCat("s", i));
        if (!got.ok() || got->last_event_sequence() < floor) ++stale;
        ++reads;
      }
    });
  }
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int u = 0; u < kUpdates; ++u) {
        const int i = w + kWriters * (u % (kServices / kWriters));
        v1::Service next = current[i];
        next.set_description(absl::StrCat("update ", u));
        absl::StatusOr<CommitResult> result = store_->Commit(Update(current[i], next));
        if (!result.ok()) {
          ++failures;
          return;
        }
        current[i] = result->service;
        acknowledged[i].store(result->service.last_event_sequence());
      }
    });
  }
  for (std::thread& t : writers) t.join();
  done = true;
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(stale.load(), 0);
  for (int i = 0; i < kServices; ++i) {
    auto got = store_->GetService(absl::StrCat("s", i));
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->etag(), current[i].etag());
  }
}

TEST_F(StoreTest, WorksWithTheServiceCacheTurnedOff) {
  store_.reset();
  auto opened =
      Store::Open({.path = DbPath(), .index_terms = PortfolioTerms, .service_cache_entries = 0});
  ASSERT_THAT(opened, IsOk());
  store_ = std::move(opened).value();
  const v1::Service created = Create(MakeService("svc-1"));
  v1::Service next = created;
  next.set_description("changed");
  auto updated = store_->Commit(Update(created, next));
  ASSERT_THAT(updated, IsOk());
  auto got = store_->GetService("svc-1");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->etag(), updated->service.etag());
  EXPECT_EQ(got->description(), "changed");
  // A command carrying the first etag is refused: the store compared with the stored record.
  EXPECT_THAT(store_->Commit(Update(created, next)), StatusIs(absl::StatusCode::kAborted, _));
}

// Any combination of terms is one prefix of the composite index: every filter combination lists
// exactly the services that have all its terms, without scanning the others.
TEST_F(StoreTest, ListsByEveryCombinationOfTermsExactly) {
  const std::vector<std::string> agencies = {"ria", "emta", "ska"};
  const std::vector<std::string> stages = {"envision", "plan", "understand"};
  const std::vector<v1::ServiceStatus> statuses = {v1::SERVICE_STATUS_ACTIVE,
                                                   v1::SERVICE_STATUS_IN_REVIEW};
  std::vector<v1::Service> services;
  for (int i = 0; i < 60; ++i) {
    v1::Service s = MakeService(absl::StrCat("s", 100 + i), agencies[i % 3], stages[(i / 3) % 3],
                                statuses[(i / 9) % 2]);
    s.mutable_latest_evaluation()->set_ready(i % 4 == 0);
    if (s.status() == v1::SERVICE_STATUS_IN_REVIEW) {
      s.add_awaiting_panels("business_panel");
      if (i % 2 == 0) s.add_awaiting_panels("it_funding_council");
    }
    services.push_back(Create(s));
  }
  auto matches = [](const v1::Service& s, const std::vector<IndexTerm>& filter) {
    std::vector<IndexTerm> terms = PortfolioTerms(s);
    return std::all_of(filter.begin(), filter.end(), [&](const IndexTerm& f) {
      return std::any_of(terms.begin(), terms.end(), [&](const IndexTerm& t) {
        return t.attribute == f.attribute && t.value == f.value;
      });
    });
  };
  const std::vector<std::vector<IndexTerm>> filters = {
      {{"stage", "envision"}, {"status", "SERVICE_STATUS_IN_REVIEW"}},
      {{"agency", "ria"}, {"stage", "plan"}},
      {{"agency", "emta"}, {"ready", "1"}, {"status", "SERVICE_STATUS_ACTIVE"}},
      {{"awaiting", "it_funding_council"}, {"agency", "ska"}},
      {{"awaiting", "business_panel"}, {"ready", "0"}, {"stage", "understand"}},
      {{"agency", "ria"},
       {"awaiting", "business_panel"},
       {"ready", "1"},
       {"stage", "envision"},
       {"status", "SERVICE_STATUS_IN_REVIEW"}},
      {{"agency", "nobody"}, {"stage", "plan"}},
  };
  for (const std::vector<IndexTerm>& filter : filters) {
    std::vector<std::string> expected;
    for (const v1::Service& s : services) {
      if (matches(s, filter)) expected.push_back(s.id());
    }
    // Paged three at a time: the pages together are exactly the matching services.
    std::vector<std::string> listed;
    std::string token;
    do {
      auto page = store_->ListServicesBy(filter, 3, token);
      ASSERT_THAT(page, IsOk());
      EXPECT_LE(page->services.size(), 3u);
      for (const v1::Service& s : page->services) listed.push_back(s.id());
      token = page->next_page_token;
    } while (!token.empty());
    EXPECT_EQ(listed, expected) << filter.size() << " terms, first " << filter[0].attribute;
  }
  EXPECT_THAT(store_->ListServicesBy({{"stage", "plan"}, {"stage", "envision"}}, 10, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than once")));
  EXPECT_THAT(store_->ListServicesBy({{"stage", std::string("a\0b", 3)}}, 10, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("index filter")));
  // A page is bounded in bytes as well: the first service always comes.
  auto small = store_->ListServicesBy({{"agency", "ria"}}, 100, "", 1);
  ASSERT_THAT(small, IsOk());
  EXPECT_EQ(small->services.size(), 1u);
  EXPECT_FALSE(small->next_page_token.empty());
  EXPECT_THAT(store_->CheckConsistency(), IsOk());
}

// A store written by the format with one index per attribute opens with its index rebuilt.
TEST_F(StoreTest, RebuildsTheIndexOfAStoreOfTheSingleIndexFormat) {
  Create(MakeService("s1", "ria", "plan"));
  Create(MakeService("s2", "emta", "plan"));
  store_.reset();
  {
    auto raw = RawDb::Open(DbPath());
    ASSERT_NE(raw, nullptr);
    rocksdb::ColumnFamilyHandle* indexes = raw->cf(kIndexesCf);
    std::unique_ptr<rocksdb::Iterator> it(raw->db()->NewIterator({}, indexes));
    std::vector<std::string> keys;
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
    for (const std::string& k : keys) ASSERT_TRUE(raw->db()->Delete({}, indexes, k).ok());
    // What format 1 kept: agency/<agency>\0<id>, ...
    ASSERT_TRUE(
        raw->db()->Put({}, indexes, std::string("agency/ria\0s1", 13), rocksdb::Slice()).ok());
    ASSERT_TRUE(raw->db()->Put({}, raw->cf(kMetadataCf), "format_version", "1").ok());
  }
  Reopen();
  auto plan = store_->ListServicesBy({{"stage", "plan"}}, 10, "");
  ASSERT_THAT(plan, IsOk());
  EXPECT_THAT(Ids(plan->services), ElementsAre("s1", "s2"));
  EXPECT_THAT(store_->CheckConsistency(), IsOk());
  store_.reset();
  auto raw = RawDb::Open(DbPath());
  ASSERT_NE(raw, nullptr);
  std::string version;
  ASSERT_TRUE(raw->db()->Get({}, raw->cf(kMetadataCf), "format_version", &version).ok());
  EXPECT_EQ(version, absl::StrCat(kFormatVersion));
}

// A clean close flushes every column family: the next open replays no write-ahead log.
TEST_F(StoreTest, LeavesNoLogToReplayAfterACleanClose) {
  for (int i = 0; i < 50; ++i) Create(MakeService(absl::StrCat("s", i)));
  store_.reset();
  uint64_t log_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(DbPath())) {
    if (entry.path().extension() == ".log") log_bytes += entry.file_size();
  }
  EXPECT_EQ(log_bytes, 0u);
  Reopen();
  EXPECT_THAT(store_->GetService("s49"), IsOk());
}

TEST_F(StoreTest, RefusesAnotherFormatVersion) {
  Create(MakeService("svc"));
  store_.reset();
  {
    auto raw = RawDb::Open(DbPath());
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(raw->db()
                    ->Put(rocksdb::WriteOptions(), raw->cf(kMetadataCf), "format_version", "999")
                    .ok());
  }
  EXPECT_THAT(Store::Open({.path = DbPath(), .index_terms = PortfolioTerms}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("format version '999'")));
}

TEST_F(StoreTest, RefusesAMissingStoreUnlessAskedToCreate) {
  EXPECT_THAT(Store::Open({.path = (dir_ / "absent").string(), .create_if_missing = false}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent")));
  EXPECT_THAT(Store::Open({.path = ""}), StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST_F(StoreTest, RefusesASecondOpenOfTheSameDirectory) {
  EXPECT_THAT(Store::Open({.path = DbPath(), .index_terms = PortfolioTerms}),
              StatusIs(absl::StatusCode::kUnavailable, _));
}

TEST_F(StoreTest, RestoresFromACheckpointAndFromABackup) {
  v1::Service s = Create(MakeService("svc"));
  Mutation m = Update(s, s);
  m.outputs.push_back(SharedOutput("svc", "vision", 1));
  ASSERT_THAT(store_->Commit(m), IsOk());
  const std::string checkpoint = (dir_ / "checkpoint").string();
  const std::string backups = (dir_ / "backups").string();
  ASSERT_THAT(store_->CreateCheckpoint(checkpoint), IsOk());
  ASSERT_THAT(store_->CreateBackup(backups), IsOk());
  Create(MakeService("later"));  // not in either copy

  for (const std::string& copy : {checkpoint, (dir_ / "restored").string()}) {
    if (copy != checkpoint) {
      ASSERT_THAT(Store::RestoreLatestBackup(backups, copy), IsOk());
    }
    auto restored =
        Store::Open({.path = copy, .index_terms = PortfolioTerms, .create_if_missing = false});
    ASSERT_THAT(restored, IsOk()) << copy;
    EXPECT_THAT((*restored)->GetOutput("svc", "vision", 0), IsOk());
    EXPECT_THAT((*restored)->GetService("later"), StatusIs(absl::StatusCode::kNotFound, _));
    EXPECT_EQ((*restored)->LastGlobalSequence(), 2u);
    EXPECT_THAT((*restored)->VerifyChain("svc"), IsOk());
    EXPECT_THAT((*restored)->CheckConsistency(), IsOk());
  }
}

TEST_F(StoreTest, PersistsConsumerCursors) {
  auto unset = store_->GetCursor("nats");
  ASSERT_THAT(unset, IsOk());
  EXPECT_EQ(*unset, 0u);
  ASSERT_THAT(store_->SetCursor("nats", 42), IsOk());
  Reopen();
  auto cursor = store_->GetCursor("nats");
  ASSERT_THAT(cursor, IsOk());
  EXPECT_EQ(*cursor, 42u);
}

TEST_F(StoreTest, WakesEventWaitersOnCommit) {
  EXPECT_EQ(store_->AwaitEventsAfter(0, absl::Now() + absl::Milliseconds(10)), 0u);
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    Create(MakeService("svc"));
  });
  EXPECT_EQ(store_->AwaitEventsAfter(0, absl::Now() + absl::Seconds(10)), 1u);
  writer.join();
}

}  // namespace
}  // namespace varav::store

namespace varav::store {
namespace {

using ::testing::IsEmpty;
using testing::MakeService;
using testing::PortfolioTerms;
using testing::SharedOutput;
using ::testing::SizeIs;
using ::varav::testing::IsOk;
using ::varav::testing::StatusIs;

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("snapshot_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_",
                        getpid());
    std::filesystem::remove_all(dir_);
    auto opened = Store::Open({.path = (dir_ / "db").string(), .index_terms = PortfolioTerms});
    ASSERT_THAT(opened, IsOk());
    store_ = std::move(opened).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SnapshotTest, LoadSnapshotReturnsWhatTheIndividualGettersReturn) {
  v1::Service service = MakeService("svc-1", "ria", "envision", v1::SERVICE_STATUS_IN_REVIEW);
  service.set_gate_under_review("A");
  service.mutable_latest_evaluation()->set_evaluation_id("eval-1");
  (*service.mutable_output_revisions())["vision"] = 2;
  (*service.mutable_output_revisions())["budget"] = 1;
  Mutation m = testing::CreateMutation(service);
  m.outputs.push_back(SharedOutput("svc-1", "vision", 1));
  m.outputs.push_back(SharedOutput("svc-1", "vision", 2));
  m.outputs.push_back(SharedOutput("svc-1", "budget", 1));
  for (const char* principle : {"P2", "P1"}) {
    v1::Assessment& a = m.assessments.emplace_back();
    a.set_service_id("svc-1");
    a.set_principle(principle);
    a.set_score(0.5);
  }
  m.evaluations.push_back({.id = "eval-1", .bytes = "evaluation bytes"});
  for (uint32_t cycle : {1u, 2u}) {
    v1::Decision& d = m.decisions.emplace_back();
    d.set_service_id("svc-1");
    d.set_gate("A");
    d.set_cycle(cycle);
    d.set_number(1);
    d.set_panel("business_panel");
  }
  ASSERT_THAT(store_->Commit(m), IsOk());

  absl::StatusOr<ServiceState> state = store_->LoadSnapshot("svc-1");
  ASSERT_THAT(state, IsOk());
  auto service_read = store_->GetService("svc-1");
  ASSERT_THAT(service_read, IsOk());
  EXPECT_EQ(SerializeDeterministic(state->service), SerializeDeterministic(*service_read));

  ASSERT_THAT(state->latest_outputs, SizeIs(2));
  EXPECT_EQ(SerializeDeterministic(state->latest_outputs[0]),
            SerializeDeterministic(*store_->GetOutput("svc-1", "budget", 0)));
  EXPECT_EQ(SerializeDeterministic(state->latest_outputs[1]),
            SerializeDeterministic(*store_->GetOutput("svc-1", "vision", 0)));
  EXPECT_EQ(state->latest_outputs[1].revision(), 2u);

  auto assessments = store_->ListAssessments("svc-1");
  ASSERT_THAT(assessments, IsOk());
  ASSERT_THAT(state->assessments, SizeIs(2));
  for (size_t i = 0; i < assessments->size(); ++i) {
    EXPECT_EQ(SerializeDeterministic(state->assessments[i]),
              SerializeDeterministic((*assessments)[i]));
  }
  EXPECT_EQ(state->assessments[0].principle(), "P1");

  auto decisions = store_->ListDecisions("svc-1", "A", 1);
  ASSERT_THAT(decisions, IsOk());
  ASSERT_THAT(state->gate_decisions, SizeIs(1));
  EXPECT_EQ(SerializeDeterministic(state->gate_decisions[0]),
            SerializeDeterministic((*decisions)[0]));

  EXPECT_EQ(state->latest_evaluation, *store_->GetEvaluation("eval-1"));
}

TEST_F(SnapshotTest, LoadSnapshotLeavesOutWhatTheServiceDoesNotName) {
  ASSERT_THAT(store_->Commit(testing::CreateMutation(MakeService("svc"))), IsOk());
  absl::StatusOr<ServiceState> state = store_->LoadSnapshot("svc");
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(state->latest_outputs, IsEmpty());
  EXPECT_THAT(state->assessments, IsEmpty());
  EXPECT_THAT(state->gate_decisions, IsEmpty());
  EXPECT_THAT(state->latest_evaluation, IsEmpty());
}

TEST_F(SnapshotTest, LoadSnapshotOfAnUnknownServiceIsNotFound) {
  EXPECT_THAT(store_->LoadSnapshot("nope"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("nope")));
}

TEST_F(SnapshotTest, LoadSnapshotReportsANamedOutputThatIsMissingAsDataLoss) {
  v1::Service service = MakeService("svc");
  (*service.mutable_output_revisions())["vision"] = 1;
  ASSERT_THAT(store_->Commit(testing::CreateMutation(service)), IsOk());
  EXPECT_THAT(store_->LoadSnapshot("svc"),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("vision")));
}

// A refusal inside Commit, or by a caller after LoadSnapshot, rests only on durable writes: a
// commit becomes visible only once its group write is synced.
TEST_F(SnapshotTest, ARefusedCommitAnswersOnlyAfterWhatItSawIsDurable) {
  v1::Service created = store_->Commit(testing::CreateMutation(MakeService("svc")))->service;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    v1::Service current = created;
    while (!stop.load()) {
      Mutation m;
      m.service_id = "svc";
      m.expected_etag = current.etag();
      m.service = current;
      m.events.push_back(testing::StageAdvancedEvent("envision", "envision"));
      auto r = store_->Commit(std::move(m));
      if (!r.ok()) break;
      current = r->service;
    }
  });
  int refusals = 0;
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<ServiceState> seen = store_->LoadSnapshot("svc");
    ASSERT_THAT(seen, IsOk());
    Mutation stale;
    stale.service_id = "svc";
    stale.expected_etag = "stale";
    stale.service = seen->service;
    stale.events.push_back(testing::StageAdvancedEvent("envision", "envision"));
    ASSERT_THAT(store_->Commit(stale), StatusIs(absl::StatusCode::kAborted, ::testing::_));
    ++refusals;
    // The only service writes one event per commit, so its service sequence is the global one.
    EXPECT_GE(store_->LastGlobalSequence(), seen->service.last_event_sequence());
  }
  stop = true;
  writer.join();
  EXPECT_EQ(refusals, 200);
  EXPECT_THAT(store_->VerifyChain("svc"), IsOk());
  EXPECT_THAT(store_->CheckConsistency(), IsOk());
}

TEST(SealEventTest, MatchesDeterministicSerializationAndTheChainHash) {
  v1::Event event = testing::StageAdvancedEvent("envision", "plan");
  event.set_id("svc/7");
  event.set_subject("svc");
  event.set_service_sequence(7);
  event.set_request_id("req-1");
  for (uint64_t global : {1ull, 127ull, 128ull, 300ull, 1ull << 40}) {
    for (const std::string& prev : {std::string(), std::string(64, 'c')}) {
      absl::StatusOr<UnsealedEvent> prepared = PrepareEvent(event);
      ASSERT_THAT(prepared, IsOk());
      std::string hash;
      const std::string sealed = SealEvent(*prepared, global, prev, hash);
      v1::Event expected = event;
      expected.set_global_sequence(global);
      expected.set_prev_hash(prev);
      EXPECT_EQ(hash, ComputeEventHash(expected));
      expected.set_hash(hash);
      EXPECT_EQ(sealed, SerializeDeterministic(expected)) << global << " " << prev;
    }
  }
}

TEST(SealEventTest, RefusesAnEventThatAlreadyCarriesChainFields) {
  v1::Event event = testing::StageAdvancedEvent("envision", "plan");
  event.set_hash("x");
  EXPECT_THAT(PrepareEvent(event), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

}  // namespace
}  // namespace varav::store
