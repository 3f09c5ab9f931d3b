// A store writer to be killed: several threads commit mutations to a shared pool of services,
// forever, and report on stdout
//
//   B <request_id>   before calling Commit
//   A <request_id>   after Commit returned OK (the request is acknowledged)
//
// Each line is one write(2) of less than PIPE_BUF bytes, so lines never interleave or tear even
// when the process is killed. crash_test.cc kills this process at random moments and checks the
// store it leaves behind.
//
// Every update writes all record kinds, so a partially applied command would be visible:
//   output "out" (next revision), assessment "P1", evaluation "<request_id>", decision at gate A
//   (next number), two events, and a new stage / status / awaiting panels / ready flag.
// The recorded response is "svc=<id>;rev=<n>;dec=<n>;first=<seq>;last=<seq>", see crash_test.cc.
//
// Usage: crash_writer <db_dir> <run_id> <threads> <services>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/store/store.h"
#include "tests/engine/store/test_util.h"
#include "varav/v1/resources.pb.h"

namespace varav::store {
namespace {

void Report(absl::string_view tag, absl::string_view request_id) {
  const std::string line = absl::StrCat(tag, " ", request_id, "\n");
  // A short write to a pipe is atomic; nothing useful can be done if it fails.
  if (write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
}

std::string ResponseFor(const CommitResult& r, uint32_t revision, uint32_t decision) {
  return absl::StrCat("svc=", r.service.id(), ";rev=", revision, ";dec=", decision,
                      ";first=", r.first_global_sequence, ";last=", r.last_global_sequence);
}

void Work(Store& store, const std::string& run, int thread, int services) {
  absl::BitGen gen;
  const std::vector<std::string> stages = {"envision", "plan", "understand", "define"};
  const std::vector<v1::ServiceStatus> statuses = {
      v1::SERVICE_STATUS_ACTIVE, v1::SERVICE_STATUS_IN_REVIEW, v1::SERVICE_STATUS_ON_HOLD};
  for (uint64_t n = 0;; ++n) {
    const std::string request_id = absl::StrCat(run, "-", thread, "-", n);
    const std::string service_id = absl::StrCat("svc-", absl::Uniform(gen, 0, services));
    Mutation m;
    m.service_id = service_id;
    m.request_id = request_id;
    m.request_hash = absl::StrCat("h:", request_id);
    absl::StatusOr<v1::Service> current = store.GetService(service_id);
    uint32_t revision = 0;
    uint32_t decision = 0;
    if (absl::IsNotFound(current.status())) {
      v1::Service& s = m.service;
      s.set_id(service_id);
      s.set_name(service_id);
      s.set_agency(absl::StrCat("agency-", absl::Uniform(gen, 0, 3)));
      s.set_stage("envision");
      s.set_cycle(1);
      s.set_status(v1::SERVICE_STATUS_ACTIVE);
      v1::Event& e = m.events.emplace_back();
      e.mutable_service_registered()->set_name(service_id);
      e.set_principal("crash_writer");
    } else if (current.ok()) {
      m.expected_etag = current->etag();
      v1::Service& s = m.service;
      s = *current;
      revision = s.output_revisions().contains("out") ? s.output_revisions().at("out") + 1 : 1;
      (*s.mutable_output_revisions())["out"] = revision;
      decision = s.decision_count() + 1;
      s.set_decision_count(decision);
      s.set_stage(stages[absl::Uniform(gen, 0u, stages.size())]);
      s.set_status(statuses[absl::Uniform(gen, 0u, statuses.size())]);
      s.clear_awaiting_panels();
      if (absl::Bernoulli(gen, 0.5)) s.add_awaiting_panels("business_panel");
      if (absl::Bernoulli(gen, 0.5)) s.add_awaiting_panels("it_funding_council");
      s.mutable_latest_evaluation()->set_evaluation_id(request_id);
      s.mutable_latest_evaluation()->set_ready(absl::Bernoulli(gen, 0.5));

      auto o = std::make_shared<v1::OutputRevision>();
      o->set_service_id(service_id);
      o->set_output_type("out");
      o->set_revision(revision);
      o->mutable_document()->set_sha256(std::string(64, 'b'));
      m.outputs.push_back(std::move(o));
      v1::Assessment& a = m.assessments.emplace_back();
      a.set_service_id(service_id);
      a.set_principle("P1");
      a.set_score(absl::Uniform(gen, 0.0, 1.0));
      m.evaluations.push_back({.id = request_id, .bytes = std::string(200, 'e')});
      v1::Decision& d = m.decisions.emplace_back();
      d.set_service_id(service_id);
      d.set_gate("A");
      d.set_cycle(1);
      d.set_number(decision);
      d.set_panel("business_panel");
      d.set_outcome(v1::GATE_OUTCOME_HOLD);
      v1::Event& submitted = m.events.emplace_back();
      submitted.mutable_output_submitted()->set_output_type("out");
      submitted.mutable_output_submitted()->set_revision(revision);
      v1::Event& evaluated = m.events.emplace_back();
      evaluated.mutable_gate_evaluated()->set_evaluation_id(request_id);
    } else {
      std::fprintf(stderr, "GetService: %s\n", current.status().ToString().c_str());
      std::_Exit(2);
    }
    m.make_response = [revision, decision](const CommitResult& r) {
      return ResponseFor(r, revision, decision);
    };
    Report("B", request_id);
    absl::StatusOr<CommitResult> result = store.Commit(m);
    if (result.ok()) {
      Report("A", request_id);
    } else if (!absl::IsAborted(result.status()) && !absl::IsAlreadyExists(result.status())) {
      std::fprintf(stderr, "Commit: %s\n", result.status().ToString().c_str());
      std::_Exit(2);
    }
  }
}

}  // namespace
}  // namespace varav::store

int main(int argc, char** argv) {
  int threads = 0;
  int services = 0;
  if (argc != 5 || !absl::SimpleAtoi(argv[3], &threads) || !absl::SimpleAtoi(argv[4], &services) ||
      threads < 1 || services < 1) {
    std::fprintf(stderr, "usage: crash_writer <db_dir> <run_id> <threads> <services>\n");
    return 1;
  }
  auto store = varav::store::Store::Open(
      {.path = argv[1], .index_terms = varav::store::testing::PortfolioTerms});
  if (!store.ok()) {
    std::fprintf(stderr, "Open: %s\n", store.status().ToString().c_str());
    return 2;
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back(varav::store::Work, std::ref(**store), std::string(argv[2]), t, services);
  }
  for (auto& w : workers) w.join();
  return 0;
}
