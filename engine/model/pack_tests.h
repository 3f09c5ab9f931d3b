// Pack tests: the fixtures and expected gate results in rules/<pack>/tests/*.yaml (format in
// rules/FORMAT.md), run against a compiled pack as `opa test` runs policy tests.
//
// Each test evaluates one gate against a fixture (optionally with outputs dropped and a deep-merge
// patch applied, where null deletes a key) and compares the set of rules whose outcome is fail or
// error with `expect.failing` exactly, and the gate's readiness with `expect.ready`.
//
// Fixture defaults, so that fixtures only state what a rule looks at:
//   now                    1970-01-01T00:00:00Z when absent
//   service                every field empty (cycle 0) unless given
//   outputs.<o>.revision   1
//   outputs.<o>.status     "submitted"
//   outputs.<o>.submitted_at  the fixture's `now`
//   outputs.<o>.submitted_by  "fixture"
//   outputs.<o>.document   {system: "fixture", id: "<o>", version: "1",
//                           uri: "https://example.invalid/<o>", sha256: 64 zeros}
//   outputs.<o>.fields     typed by the output's schema; undeclared fields and values of the wrong
//                          type are errors of the test file
//   assessments.<P>        {answers: [yes, partly, no, na, ...]} (the i-th answer is to the i-th
//                          question of the principle; or a map {question, answer, evidence,
//                          comment}), scored as in activation.h; or {score: 0.8} with optional
//                          answered and total (total defaults to the principle's question count)
//
//   PackTestReport report = RunPackTestDir(*pack, "rules/teenuse-standard-2.0/tests");
//   for (const PackTestCase& c : report.cases) std::cout << c.Summary() << "\n";
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/model/loader.h"
#include "engine/model/pack.h"

namespace varav::model {

struct PackTestCase {
  std::string file;
  int line = 0;
  std::string name;
  bool passed = false;
  // Why it failed, e.g. "rule a.vision.present expected fail, got pass".
  std::vector<std::string> mismatches;

  // "PASS name" or "FAIL name: mismatch; mismatch".
  std::string Summary() const;
};

struct PackTestReport {
  // Problems of the test files themselves (unknown keys, unknown rules, fixtures that do not fit
  // the pack's schemas), de-duplicated and ordered by position.
  std::vector<Diagnostic> diagnostics;
  std::vector<PackTestCase> cases;

  int passed() const;
  int failed() const;
  bool ok() const { return diagnostics.empty() && failed() == 0; }
};

// Runs the tests of `files` (YAML test files) against `pack`.
PackTestReport RunPackTests(const CompiledPack& pack, const std::vector<SourceFile>& files);

// Runs every `*.yaml` directly in `tests_dir`, in name order. A missing directory has no tests.
PackTestReport RunPackTestDir(const CompiledPack& pack, absl::string_view tests_dir);

}  // namespace varav::model
