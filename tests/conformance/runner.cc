// Runs the CEL specification's conformance suite against Värav's CEL engine.
//
// Reads the suite exported by node/export.js, runs every test of the sections in kSections
// (parse, check unless disabled, evaluate) and compares the result with the test's matcher. Prints
// one line per section and a closing line:
//
//   basic: 40 passed, 0 failed, 3 skipped
//   ...
//   conformance: 1320 passed, 12 failed, 136 skipped
//
// A test is skipped only when skips.txt lists it (`section/suite/name  reason`); everything else
// that cannot run (a protobuf message, a wrapper type...) counts as failed. The run fails when the
// pass count falls below baseline.txt, when fewer than 98% of the tests that ran passed, when more
// than 10% were skipped, or when skips.txt names a test that does not exist.
//
// Flags:
//   --suite=FILE   --skips=FILE   --baseline=FILE   (defaults are compiled in)
//   --verbose      (or VARAV_CONFORMANCE_VERBOSE=1) list every failure with expression, expected
//                  and actual value
//   --filter=TEXT  run only tests whose id contains TEXT; gates are not applied
//   --run-skipped  also run the listed skips and report the ones that now pass
//   --write-skips-candidates=FILE  write a proposed skips.txt (out-of-scope tests that fail now,
//                  with an inferred reason; in-scope failures as comments) for review
//   --update-baseline  raise baseline.txt to the current pass count (never lowers it)
//   --no-isolate   run tests in this process (for debuggers); by default each test runs in a
//                  forked child so that a crash or a hang fails only that test
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "engine/cel/cel.h"
#include "tests/conformance/cel_json.h"
#include "tests/conformance/json.h"

#ifndef VARAV_CONFORMANCE_SUITE
#define VARAV_CONFORMANCE_SUITE "conformance_suite.json"
#endif
#ifndef VARAV_CONFORMANCE_SKIPS
#define VARAV_CONFORMANCE_SKIPS "skips.txt"
#endif
#ifndef VARAV_CONFORMANCE_BASELINE
#define VARAV_CONFORMANCE_BASELINE "baseline.txt"
#endif

namespace varav::conformance {
namespace {

using cel::Value;

// The sections Värav implements, as named in the suite. The rest (proto2, proto3, wrappers,
// enums, optionals, extensions beyond strings...) need features outside the engine's scope.
const std::set<std::string>& Sections() {
  static const auto* const kSections = new std::set<std::string>{
      "basic",      "comparisons", "conversions",     "fp_math", "integer_math", "lists",
      "logic",      "macros",      "macros2",         "parse",   "plumbing",     "string",
      "string_ext", "timestamps",  "type_deductions", "fields"};
  return *kSections;
}

constexpr double kMinPassRate = 0.98;
constexpr double kMaxSkipRate = 0.10;
// A child that has not answered by then is stuck; real tests take microseconds.
constexpr unsigned kTestTimeoutSeconds = 20;

struct Options {
  std::string suite = VARAV_CONFORMANCE_SUITE;
  std::string skips = VARAV_CONFORMANCE_SKIPS;
  std::string baseline = VARAV_CONFORMANCE_BASELINE;
  std::string filter;
  std::string candidates;
  bool verbose = false;
  bool run_skipped = false;
  bool update_baseline = false;
  bool isolate = true;
};

struct TestCase {
  std::string section;
  std::string id;  // section/suite/name
  const Json* json = nullptr;
};

struct Outcome {
  bool pass = false;
  std::string detail;  // why it failed: expected vs actual, compile issues...
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Describe(const absl::StatusOr<Value>& v, const Json* raw) {
  if (v.ok()) return v->DebugString();
  return absl::StrCat(raw != nullptr ? raw->Dump() : "?", " (", v.status().message(), ")");
}

// Runs one test in this process.
Outcome RunTest(const Json& t) {
  Outcome out;
  auto fail = [&](std::string detail) {
    out.pass = false;
    out.detail = std::move(detail);
    return out;
  };

  if (t.GetBool("disableMacros")) return fail("harness: disable_macros is not supported");

  cel::EnvBuilder builder;
  if (const Json* env = t.Find("typeEnv")) {
    for (const Json& decl : env->items()) {
      std::string name = decl.GetString("name");
      if (decl.Find("function") != nullptr) {
        return fail(absl::StrCat("harness: declares function '", name,
                                 "'; the engine has no user-defined functions"));
      }
      const Json* ident = decl.Find("ident");
      const Json* type_json = ident != nullptr ? ident->Find("type") : nullptr;
      if (type_json == nullptr) return fail(absl::StrCat("harness: malformed decl ", decl.Dump()));
      absl::StatusOr<cel::Type> type = TypeFromJson(*type_json);
      if (!type.ok()) {
        return fail(absl::StrCat("harness: variable '", name, "': ", type.status().message()));
      }
      absl::Status s = builder.AddVariable(name, *std::move(type));
      if (!s.ok()) return fail(absl::StrCat("harness: ", s.message()));
    }
  }
  absl::StatusOr<std::shared_ptr<const cel::Env>> env = std::move(builder).Build();
  if (!env.ok()) return fail(absl::StrCat("harness: ", env.status().message()));

  cel::CompileOptions options;
  options.type_check = !t.GetBool("disableCheck");
  options.container = t.GetString("container");
  cel::Compiler compiler(*env, options);
  cel::CompileResult compiled = compiler.Compile(t.GetString("expr"));
  if (!compiled.ok()) return fail(absl::StrCat("compile error:\n", compiled.FormattedIssues()));

  const Json* typed = t.Find("typedResult");
  const Json* expected_json = t.Find("value");
  if (typed != nullptr) {
    if (const Json* deduced = typed->Find("deducedType")) {
      absl::StatusOr<cel::Type> want = TypeFromJson(*deduced);
      if (!want.ok())
        return fail(absl::StrCat("harness: expected type: ", want.status().message()));
      const cel::Type& got = compiled.program->result_type();
      if (got != *want) {
        return fail(
            absl::StrCat("type: expected ", want->DebugString(), ", actual ", got.DebugString()));
      }
    }
    expected_json = typed->Find("result");
  }
  if (t.GetBool("checkOnly")) {
    out.pass = true;
    return out;
  }

  cel::Activation activation;
  if (const Json* bindings = t.Find("bindings")) {
    for (const auto& [name, expr_value] : bindings->members()) {
      const Json* v = expr_value.Find("value");
      if (v == nullptr) {
        return fail(absl::StrCat("harness: binding '", name, "' is not a plain value (",
                                 expr_value.Dump(), ")"));
      }
      absl::StatusOr<Value> value = ValueFromJson(*v);
      if (!value.ok()) {
        return fail(absl::StrCat("harness: binding '", name, "': ", value.status().message()));
      }
      activation.Bind(name, *std::move(value));
    }
  }

  if (t.Find("unknown") != nullptr || t.Find("anyUnknowns") != nullptr) {
    return fail("harness: unknown results are not supported by the engine");
  }
  const bool want_error = t.Find("evalError") != nullptr || t.Find("anyEvalErrors") != nullptr;

  Value result = compiled.program->Evaluate(activation);
  if (want_error) {
    if (result.IsError()) {
      out.pass = true;
      return out;
    }
    return fail(absl::StrCat("expected an error, actual ", result.DebugString()));
  }
  if (typed != nullptr && expected_json == nullptr) {
    out.pass = !result.IsError();
    if (!out.pass) out.detail = absl::StrCat("actual ", result.DebugString());
    return out;
  }

  // No matcher means the test expects `true`.
  absl::StatusOr<Value> expected = expected_json != nullptr
                                       ? ValueFromJson(*expected_json)
                                       : absl::StatusOr<Value>(Value::Bool(true));
  if (!expected.ok()) {
    return fail(absl::StrCat("harness: expected value ", Describe(expected, expected_json),
                             "; actual ", result.DebugString()));
  }
  if (ValuesMatch(*expected, result)) {
    out.pass = true;
    return out;
  }
  return fail(
      absl::StrCat("expected ", expected->DebugString(), ", actual ", result.DebugString()));
}

// Runs one test in a forked child so that a crash or a hang fails only this test. The child sends
// 'P' or 'F' followed by the detail through a pipe.
Outcome RunIsolated(const Json& t) {
  int fds[2];
  if (pipe(fds) != 0) return Outcome{false, absl::StrCat("harness: pipe: ", std::strerror(errno))};
  std::cout.flush();
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Outcome{false, absl::StrCat("harness: fork: ", std::strerror(errno))};
  }
  if (pid == 0) {
    close(fds[0]);
    alarm(kTestTimeoutSeconds);
    Outcome o = RunTest(t);
    std::string msg = absl::StrCat(o.pass ? "P" : "F", o.detail);
    size_t off = 0;
    while (off < msg.size()) {
      ssize_t n = write(fds[1], msg.data() + off, msg.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    _exit(0);  // no atexit handlers or stdio flushes in the child
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  while (true) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return Outcome{false,
                   sig == SIGALRM
                       ? absl::StrCat("timed out after ", kTestTimeoutSeconds, "s")
                       : absl::StrCat("crashed with signal ", sig, " (", strsignal(sig), ")")};
  }
  if (msg.empty()) return Outcome{false, "harness: the test process exited without a result"};
  return Outcome{msg[0] == 'P', msg.substr(1)};
}

// True when `name` occurs in `hay` as a whole dotted name (not followed by an identifier char).
bool MentionsName(absl::string_view hay, absl::string_view name) {
  for (size_t pos = hay.find(name); pos != absl::string_view::npos; pos = hay.find(name, pos + 1)) {
    size_t end = pos + name.size();
    if (end >= hay.size()) return true;
    char c = hay[end];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return true;
  }
  return false;
}

// For --write-skips-candidates: the out-of-scope feature a test needs, or "" when it needs none
// (such a test must pass, so a failure is the engine's to fix).
std::string OutOfScopeReason(const Json& t) {
  if (const Json* env = t.Find("typeEnv")) {
    for (const Json& decl : env->items()) {
      if (decl.Find("function") != nullptr) return "needs user-defined function declarations";
    }
  }
  const std::string all = t.Dump();
  const std::string expr = t.GetString("expr");
  if (absl::StrContains(all, "TestAllTypes") || absl::StrContains(all, "cel.expr.conformance.")) {
    return "needs protobuf message types";
  }
  for (absl::string_view w : {"BoolValue", "BytesValue", "DoubleValue", "FloatValue", "Int32Value",
                              "Int64Value", "StringValue", "UInt32Value", "UInt64Value"}) {
    if (MentionsName(all, absl::StrCat("google.protobuf.", w)))
      return "needs protobuf wrapper types";
  }
  if (absl::StrContains(all, "\"wrapper\":")) return "needs protobuf wrapper types";
  if (MentionsName(all, "google.protobuf.Any")) return "needs google.protobuf.Any";
  for (absl::string_view w : {"Value", "Struct", "ListValue", "NullValue"}) {
    if (MentionsName(all, absl::StrCat("google.protobuf.", w))) {
      return "needs google.protobuf.Struct/Value (JSON types)";
    }
  }
  if (absl::StrContains(expr, "optional.") || absl::StrContains(expr, ".?") ||
      absl::StrContains(expr, "[?") || absl::StrContains(all, "optional_type")) {
    return "needs optional types";
  }
  if (absl::StrContains(all, "enumValue")) return "needs protobuf enums";
  if (t.Find("unknown") != nullptr || t.Find("anyUnknowns") != nullptr) {
    return "needs unknown values";
  }
  return "";
}

struct SkipList {
  std::map<std::string, std::string> reasons;  // id -> reason
};

absl::StatusOr<SkipList> LoadSkips(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  SkipList list;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    // Test names contain single spaces, so the id ends at a tab or at two spaces.
    size_t tab = line.find('\t');
    size_t two = line.find("  ");
    size_t sep = std::min(tab, two);
    if (sep == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": expected 'section/suite/name  reason'"));
    }
    std::string id(absl::StripAsciiWhitespace(line.substr(0, sep)));
    std::string reason(absl::StripAsciiWhitespace(line.substr(sep)));
    if (reason.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": a skip needs a reason"));
    }
    if (!list.reasons.emplace(id, reason).second) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": duplicate ", id));
    }
  }
  return list;
}

absl::StatusOr<int64_t> LoadBaseline(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    int64_t n = 0;
    if (!absl::SimpleAtoi(line, &n)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a number: ", line));
    }
    return n;
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": no pass count"));
}

absl::Status WriteBaseline(const std::string& path, int64_t passed) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  out << "# The CEL conformance run's recorded pass count; the run fails when it passes fewer.\n"
         "# Raise it (never lower it) after fixes land:\n"
         "#   build/tests/conformance/cel_conformance --update-baseline\n"
      << passed << "\n";
  return out ? absl::OkStatus() : absl::DataLossError(absl::StrCat("cannot write ", path));
}

struct Tally {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
};

int Main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--suite=")) {
      opt.suite = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--skips=")) {
      opt.skips = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--baseline=")) {
      opt.baseline = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--filter=")) {
      opt.filter = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--write-skips-candidates=")) {
      opt.candidates = std::string(a);
      opt.run_skipped = true;
    } else if (a == "--verbose" || a == "-v") {
      opt.verbose = true;
    } else if (a == "--run-skipped") {
      opt.run_skipped = true;
    } else if (a == "--update-baseline") {
      opt.update_baseline = true;
    } else if (a == "--no-isolate") {
      opt.isolate = false;
    } else {
      std::cerr << "unknown argument: " << a << "\n(see the comment at the top of runner.cc)\n";
      return 2;
    }
  }
  if (const char* v = std::getenv("VARAV_CONFORMANCE_VERBOSE");
      v != nullptr && *v != '\0' && std::string(v) != "0") {
    opt.verbose = true;
  }

  absl::StatusOr<std::string> text = ReadFile(opt.suite);
  if (!text.ok()) {
    std::cerr << text.status().message()
              << " (the conformance_export test exports it; run ctest -L conformance)\n";
    return 2;
  }
  absl::StatusOr<Json> doc = ParseJson(*text);
  if (!doc.ok()) {
    std::cerr << opt.suite << ": " << doc.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<SkipList> skips = LoadSkips(opt.skips);
  if (!skips.ok()) {
    std::cerr << skips.status().message() << "\n";
    return 2;
  }

  // Flatten the selected sections in suite order.
  std::vector<TestCase> tests;
  std::vector<std::string> section_order;
  std::set<std::string> ids;
  const Json* sections = doc->Find("sections");
  if (sections == nullptr) {
    std::cerr << opt.suite << ": no sections\n";
    return 2;
  }
  for (const Json& section : sections->items()) {
    std::string sname = section.GetString("name");
    if (!Sections().contains(sname)) continue;
    section_order.push_back(sname);
    const Json* suites = section.Find("suites");
    if (suites == nullptr) continue;
    for (const Json& suite : suites->items()) {
      const Json* suite_tests = suite.Find("tests");
      if (suite_tests == nullptr) continue;
      for (const Json& t : suite_tests->items()) {
        std::string id =
            absl::StrCat(sname, "/", suite.GetString("name"), "/", t.GetString("name"));
        // The suite repeats a few names within a suite; later ones get "#2", "#3"...
        if (ids.contains(id)) {
          int n = 2;
          while (ids.contains(absl::StrCat(id, "#", n))) ++n;
          absl::StrAppend(&id, "#", n);
        }
        ids.insert(id);
        tests.push_back(TestCase{sname, std::move(id), &t});
      }
    }
  }

  std::map<std::string, Tally> tally;
  Tally total;
  std::map<std::string, int> skip_reasons;
  std::vector<std::string> failures;
  std::vector<std::string> skipped_but_passing;
  std::ostringstream candidates;
  int candidate_count = 0;

  for (const TestCase& tc : tests) {
    if (!opt.filter.empty() && !absl::StrContains(tc.id, opt.filter)) continue;
    auto skip = skips->reasons.find(tc.id);
    const bool listed = skip != skips->reasons.end();
    Outcome o;
    if (!listed || opt.run_skipped) o = opt.isolate ? RunIsolated(*tc.json) : RunTest(*tc.json);

    Tally& s = tally[tc.section];
    if (listed) {
      ++s.skipped;
      ++total.skipped;
      ++skip_reasons[skip->second];
      if (opt.run_skipped && o.pass) skipped_but_passing.push_back(tc.id);
    } else if (o.pass) {
      ++s.passed;
      ++total.passed;
    } else {
      ++s.failed;
      ++total.failed;
      if (opt.verbose) {
        failures.push_back(absl::StrCat("FAIL ", tc.id, "\n  expr: ", tc.json->GetString("expr"),
                                        "\n  ", absl::StrReplaceAll(o.detail, {{"\n", "\n    "}})));
      }
    }
    if (!opt.candidates.empty() && (!o.pass || listed)) {
      std::string reason = OutOfScopeReason(*tc.json);
      if (!reason.empty() && !o.pass) {
        candidates << tc.id << "  " << reason << "\n";
        ++candidate_count;
      } else if (!o.pass) {
        std::string first_line = o.detail.substr(0, o.detail.find('\n'));
        candidates << "# in scope, fix the engine: " << tc.id << "  " << first_line << "\n";
      }
    }
  }

  for (const std::string& f : failures) std::cout << f << "\n";
  if (!skipped_but_passing.empty()) {
    std::cout << "listed in skips.txt but passing now (remove them there):\n";
    for (const std::string& id : skipped_but_passing) std::cout << "  " << id << "\n";
  }
  for (const auto& [reason, n] : skip_reasons) {
    std::cout << "skipped " << n << ": " << reason << "\n";
  }
  for (const std::string& sname : section_order) {
    auto it = tally.find(sname);
    if (it == tally.end()) continue;
    std::cout << sname << ": " << it->second.passed << " passed, " << it->second.failed
              << " failed, " << it->second.skipped << " skipped\n";
  }

  if (!opt.candidates.empty()) {
    std::ofstream out(opt.candidates, std::ios::trunc);
    out << "# Proposed skips (review before copying into skips.txt):\n" << candidates.str();
    std::cout << "wrote " << candidate_count << " skip candidates to " << opt.candidates << "\n";
  }

  // Gates apply to full runs only.
  bool ok = true;
  if (opt.filter.empty()) {
    for (const auto& [id, reason] : skips->reasons) {
      if (!ids.contains(id)) {
        std::cout << "gate: skips.txt lists '" << id << "', which is not a test of the suite\n";
        ok = false;
      }
    }
    const int ran = total.passed + total.failed;
    const int all = ran + total.skipped;
    if (ran == 0 || total.passed < kMinPassRate * ran) {
      std::cout << "gate: pass rate " << (ran ? 100.0 * total.passed / ran : 0.0)
                << "% of the tests that ran is below " << 100 * kMinPassRate << "%\n";
      ok = false;
    }
    if (total.skipped > kMaxSkipRate * all) {
      std::cout << "gate: " << total.skipped << " of " << all << " tests skipped, more than "
                << 100 * kMaxSkipRate << "%\n";
      ok = false;
    }
    absl::StatusOr<int64_t> baseline = LoadBaseline(opt.baseline);
    if (!baseline.ok()) {
      std::cout << "gate: " << baseline.status().message() << "\n";
      ok = false;
    } else if (total.passed < *baseline) {
      std::cout << "gate: " << total.passed << " passed, below the baseline of " << *baseline
                << " (" << opt.baseline << ")\n";
      ok = false;
    } else if (total.passed > *baseline) {
      if (opt.update_baseline) {
        absl::Status s = WriteBaseline(opt.baseline, total.passed);
        if (!s.ok()) {
          std::cout << "gate: " << s.message() << "\n";
          ok = false;
        } else {
          std::cout << "baseline raised from " << *baseline << " to " << total.passed << "\n";
        }
      } else {
        std::cout << "note: " << total.passed << " passed, above the baseline of " << *baseline
                  << "; raise it with --update-baseline\n";
      }
    }
  }

  std::cout << "conformance: " << total.passed << " passed, " << total.failed << " failed, "
            << total.skipped << " skipped" << std::endl;
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace varav::conformance

int main(int argc, char** argv) { return varav::conformance::Main(argc, argv); }
