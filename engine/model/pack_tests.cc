#include "engine/model/pack_tests.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/model/activation.h"
#include "engine/model/evaluation.h"
#include "engine/model/internal/yaml_util.h"

namespace varav::model {
namespace {

namespace fs = std::filesystem;

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  int64_t secs = absl::ToUnixSeconds(t);
  int64_t nanos = absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(secs));
  if (nanos < 0) {
    --secs;
    nanos += 1'000'000'000;
  }
  ts.set_seconds(secs);
  ts.set_nanos(static_cast<int32_t>(nanos));
  return ts;
}

// A deep merge of `patch` into `base` that never mutates either: new mappings are built where both
// sides are mappings, everything else is shared. A null in the patch deletes the key. (yaml-cpp's
// Node::operator= rewrites the node it held, which would corrupt shared fixtures; rebinding a
// handle uses reset().)
YAML::Node Merge(const YAML::Node& base, const YAML::Node& patch) {
  if (!base.IsMap() || !patch.IsMap()) return patch;
  YAML::Node out(YAML::NodeType::Map);
  std::set<std::string> patched;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it->first.IsScalar()) patched.insert(it->first.Scalar());
  }
  for (auto it = base.begin(); it != base.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string key = it->first.Scalar();
    if (!patched.contains(key)) {
      out[key] = it->second;
      continue;
    }
    YAML::Node p = patch[key];
    if (p.IsNull()) continue;
    out[key] = Merge(it->second, p);
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (!it->first.IsScalar() || it->second.IsNull()) continue;
    if (!base[it->first.Scalar()]) out[it->first.Scalar()] = it->second;
  }
  return out;
}

class TestFileRunner {
 public:
  TestFileRunner(const CompiledPack& pack, const Source& source, PackTestReport* report)
      : pack_(pack), y_(source, &report->diagnostics), report_(report) {}

  void Run() {
    YAML::Node root;
    if (!y_.Load(&root) || root.IsNull()) return;
    MapFields top;
    if (!y_.ReadMap(root, "test file", {"fixtures", "tests"}, {"tests"}, &top)) return;
    if (const Field* f = top.Get("fixtures"); f != nullptr && !f->value.IsNull()) {
      if (!f->value.IsMap()) {
        y_.Error(*f, "'fixtures' must be a mapping of names to fixtures");
      } else {
        for (auto it = f->value.begin(); it != f->value.end(); ++it) {
          if (!it->first.IsScalar()) continue;
          if (!fixtures_.emplace(it->first.Scalar(), it->second).second) {
            y_.Error(it->first, absl::StrCat("duplicate fixture '", it->first.Scalar(), "'"));
          }
        }
      }
    }
    const Field* tests = top.Get("tests");
    if (tests == nullptr || !y_.ExpectList(*tests)) return;
    std::set<std::string> names;
    for (const YAML::Node& t : tests->value) {
      RunTest(t, &names);
    }
  }

 private:
  void RunTest(const YAML::Node& node, std::set<std::string>* names) {
    size_t errors_before = report_->diagnostics.size();
    MapFields m;
    if (!y_.ReadMap(node, "test", {"name", "gate", "fixture", "without_outputs", "patch", "expect"},
                    {"name", "gate", "expect"}, &m)) {
      return;
    }
    PackTestCase c;
    Loc loc = y_.LocOf(node);
    c.file = loc.file;
    c.line = loc.line;
    y_.set_fallback(loc);
    if (const Field* f = m.Get("name")) y_.ReadString(*f, &c.name);
    if (c.name.empty()) c.name = absl::StrCat(loc.file, ":", loc.line);
    if (!names->insert(c.name).second) {
      y_.ErrorAt(loc, absl::StrCat("duplicate test name '", c.name, "'"));
    }

    std::string gate_id;
    const v1::Gate* gate = nullptr;
    if (const Field* f = m.Get("gate"); f != nullptr && y_.ReadString(*f, &gate_id)) {
      gate = pack_.FindGate(gate_id);
      if (gate == nullptr) y_.Error(*f, absl::StrCat("unknown gate '", gate_id, "'"));
    }

    YAML::Node fixture(YAML::NodeType::Map);
    if (const Field* f = m.Get("fixture")) {
      std::string name;
      if (y_.ReadString(*f, &name)) {
        auto it = fixtures_.find(name);
        if (it == fixtures_.end()) {
          y_.Error(*f, absl::StrCat("unknown fixture '", name, "' (fixtures are per file)"));
        } else {
          fixture.reset(it->second);
        }
      }
    }
    if (const Field* f = m.Get("without_outputs")) fixture.reset(WithoutOutputs(fixture, *f));
    if (const Field* f = m.Get("patch"); f != nullptr && !f->value.IsNull()) {
      if (!f->value.IsMap()) {
        y_.Error(*f, "'patch' must be a mapping");
      } else {
        fixture.reset(Merge(fixture, f->value));
      }
    }

    bool has_ready = false;
    bool want_ready = false;
    std::set<std::string> want_failing;
    if (const Field* f = m.Get("expect"))
      ReadExpect(*f, gate, &has_ready, &want_ready, &want_failing);

    v1::GateInput input;
    BuildInput(fixture, &input);
    y_.set_fallback(Loc{});

    if (report_->diagnostics.size() != errors_before || gate == nullptr) {
      c.passed = false;
      c.mismatches.push_back(
          absl::StrCat("invalid test: ", report_->diagnostics.size() > errors_before
                                             ? report_->diagnostics[errors_before].message
                                             : std::string("see errors above")));
      report_->cases.push_back(std::move(c));
      return;
    }

    v1::GateEvaluation eval;
    if (absl::Status s = EvaluateGate(pack_, gate->id(), SubjectOf(input), &eval); !s.ok()) {
      c.mismatches.push_back(std::string(s.message()));
      report_->cases.push_back(std::move(c));
      return;
    }
    for (const v1::RuleResult& r : eval.results()) {
      const bool failing = r.outcome() != v1::RULE_OUTCOME_PASS;
      const bool expected = want_failing.contains(r.rule_id());
      if (failing == expected) continue;
      std::string got = r.outcome() == v1::RULE_OUTCOME_PASS   ? "pass"
                        : r.outcome() == v1::RULE_OUTCOME_FAIL ? "fail"
                                                               : "error (" + r.error() + ")";
      c.mismatches.push_back(absl::StrCat("rule ", r.rule_id(), " expected ",
                                          expected ? "fail" : "pass", ", got ", got));
    }
    if (has_ready && eval.ready() != want_ready) {
      c.mismatches.push_back(absl::StrCat("expected ready: ", want_ready ? "true" : "false",
                                          ", got ", eval.ready() ? "true" : "false"));
    }
    c.passed = c.mismatches.empty();
    report_->cases.push_back(std::move(c));
  }

  YAML::Node WithoutOutputs(const YAML::Node& fixture, const Field& f) {
    google::protobuf::RepeatedPtrField<std::string> ids;
    std::vector<YAML::Node> nodes;
    if (!y_.ReadStringList(f, &ids, &nodes)) return fixture;
    std::set<std::string> drop;
    for (int i = 0; i < ids.size(); ++i) {
      if (pack_.FindOutput(ids[i]) == nullptr) {
        y_.Error(nodes[i], absl::StrCat("unknown output '", ids[i], "'"));
      }
      drop.insert(ids[i]);
    }
    YAML::Node outputs = fixture.IsMap() ? fixture["outputs"] : YAML::Node();
    if (!outputs || !outputs.IsMap()) return fixture;
    YAML::Node patch(YAML::NodeType::Map);
    YAML::Node drops(YAML::NodeType::Map);
    for (const std::string& id : drop) drops[id] = YAML::Node(YAML::NodeType::Null);
    patch["outputs"] = drops;
    return Merge(fixture, patch);
  }

  void ReadExpect(const Field& f, const v1::Gate* gate, bool* has_ready, bool* want_ready,
                  std::set<std::string>* failing) {
    MapFields m;
    if (!y_.ReadMap(f.value, "expect", {"ready", "failing"}, {}, &m)) return;
    if (m.by_key.empty()) y_.Error(f.key, "'expect' needs 'ready' or 'failing'");
    if (const Field* r = m.Get("ready")) *has_ready = y_.ReadBool(*r, want_ready);
    if (const Field* r = m.Get("failing"); r != nullptr && !r->value.IsNull()) {
      google::protobuf::RepeatedPtrField<std::string> ids;
      std::vector<YAML::Node> nodes;
      y_.ReadStringList(*r, &ids, &nodes);
      for (int i = 0; i < ids.size(); ++i) {
        const CompiledPack::CompiledRule* rule = pack_.FindRule(ids[i]);
        if (rule == nullptr) {
          y_.Error(nodes[i], absl::StrCat("unknown rule '", ids[i], "'"));
        } else if (gate != nullptr && rule->rule->gate() != gate->id()) {
          y_.Error(nodes[i], absl::StrCat("rule '", ids[i], "' belongs to gate ",
                                          rule->rule->gate(), ", not ", gate->id()));
        }
        failing->insert(ids[i]);
      }
    }
  }

  bool ReadTimestamp(const Field& f, google::protobuf::Timestamp* out) {
    std::string s;
    if (!y_.ReadString(f, &s)) return false;
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
      y_.Error(f, absl::StrCat("'", YamlReader::KeyName(f),
                               "' must be an RFC 3339 timestamp, e.g. ", "2026-03-01T12:00:00Z"));
      return false;
    }
    *out = ToProto(t);
    return true;
  }

  void BuildInput(const YAML::Node& fixture, v1::GateInput* in) {
    MapFields m;
    if (!y_.ReadMap(fixture, "fixture", {"service", "now", "outputs", "assessments", "conditions"},
                    {}, &m)) {
      return;
    }
    if (const Field* f = m.Get("now")) ReadTimestamp(*f, in->mutable_now());
    if (const Field* f = m.Get("service"); f != nullptr && !f->value.IsNull()) {
      ReadService(*f, in->mutable_service());
    }
    if (const Field* f = m.Get("outputs"); f != nullptr && !f->value.IsNull()) {
      ReadOutputs(*f, in);
    }
    if (const Field* f = m.Get("assessments"); f != nullptr && !f->value.IsNull()) {
      ReadAssessments(*f, in);
    }
    if (const Field* f = m.Get("conditions"); f != nullptr && !f->value.IsNull()) {
      if (y_.ExpectList(*f)) {
        for (const YAML::Node& c : f->value) ReadCondition(c, in->add_conditions());
      }
    }
  }

  void ReadService(const Field& f, v1::GateInput::Service* s) {
    MapFields m;
    if (!y_.ReadMap(f.value, "service",
                    {"id", "name", "agency", "owner", "stage", "cycle", "status", "pack",
                     "entered_stage_at"},
                    {}, &m)) {
      return;
    }
    std::pair<const char*, std::string*> strings[] = {
        {"id", s->mutable_id()},         {"name", s->mutable_name()},
        {"agency", s->mutable_agency()}, {"owner", s->mutable_owner()},
        {"stage", s->mutable_stage()},   {"status", s->mutable_status()},
        {"pack", s->mutable_pack()}};
    for (auto& [key, out] : strings) {
      if (const Field* x = m.Get(key)) y_.ReadString(*x, out);
    }
    int64_t cycle = 0;
    if (const Field* x = m.Get("cycle"); x != nullptr && y_.ReadInt(*x, &cycle))
      s->set_cycle(cycle);
    if (const Field* x = m.Get("entered_stage_at")) {
      ReadTimestamp(*x, s->mutable_entered_stage_at());
    }
  }

  void ReadOutputs(const Field& f, v1::GateInput* in) {
    if (!f.value.IsMap()) {
      y_.Error(f, "'outputs' must be a mapping of output ids");
      return;
    }
    for (auto it = f.value.begin(); it != f.value.end(); ++it) {
      std::string id = it->first.IsScalar() ? it->first.Scalar() : "";
      const v1::OutputType* type = pack_.FindOutput(id);
      if (type == nullptr) {
        y_.Error(it->first, absl::StrCat("unknown output '", id, "'"));
        continue;
      }
      v1::GateInput::Output* o = in->add_outputs();
      o->set_output_id(id);
      o->set_revision(1);
      o->set_status("submitted");
      *o->mutable_submitted_at() = in->now();
      o->set_submitted_by("fixture");
      v1::GateInput::Document* d = o->mutable_document();
      d->set_system("fixture");
      d->set_id(id);
      d->set_version("1");
      d->set_uri(absl::StrCat("https://example.invalid/", id));
      d->set_sha256(std::string(64, '0'));
      if (it->second.IsNull()) continue;
      MapFields m;
      if (!y_.ReadMap(it->second, absl::StrCat("output '", id, "'"),
                      {"revision", "status", "submitted_at", "submitted_by", "document", "fields"},
                      {}, &m)) {
        continue;
      }
      int64_t revision = 0;
      if (const Field* x = m.Get("revision"); x != nullptr && y_.ReadInt(*x, &revision)) {
        o->set_revision(revision);
      }
      if (const Field* x = m.Get("status")) y_.ReadString(*x, o->mutable_status());
      if (const Field* x = m.Get("submitted_by")) y_.ReadString(*x, o->mutable_submitted_by());
      if (const Field* x = m.Get("submitted_at")) ReadTimestamp(*x, o->mutable_submitted_at());
      if (const Field* x = m.Get("document")) {
        if (x->value.IsNull()) {
          o->clear_document();
        } else {
          MapFields dm;
          if (y_.ReadMap(x->value, "document", {"system", "id", "version", "uri", "sha256"}, {},
                         &dm)) {
            std::pair<const char*, std::string*> strings[] = {{"system", d->mutable_system()},
                                                              {"id", d->mutable_id()},
                                                              {"version", d->mutable_version()},
                                                              {"uri", d->mutable_uri()},
                                                              {"sha256", d->mutable_sha256()}};
            for (auto& [key, out] : strings) {
              if (const Field* y = dm.Get(key)) y_.ReadString(*y, out);
            }
          }
        }
      }
      if (const Field* x = m.Get("fields"); x != nullptr && !x->value.IsNull()) {
        ReadObject(type->fields(), *x, id, o->mutable_fields());
      }
    }
  }

  // Converts a mapping of fields, typed by `schema`, into a Struct.
  void ReadObject(const FieldSchemas& schema, const Field& f, const std::string& path,
                  google::protobuf::Struct* out) {
    if (!f.value.IsMap()) {
      y_.Error(f, absl::StrCat("'", path, "' must be a mapping of fields"));
      return;
    }
    for (auto it = f.value.begin(); it != f.value.end(); ++it) {
      std::string name = it->first.IsScalar() ? it->first.Scalar() : "";
      const v1::FieldSchema* field = nullptr;
      for (const v1::FieldSchema& s : schema) {
        if (s.name() == name) field = &s;
      }
      if (field == nullptr) {
        y_.Error(it->first, absl::StrCat("field '", name, "' is not declared by ", path));
        continue;
      }
      if (it->second.IsNull()) continue;  // an absent optional field
      google::protobuf::Value v;
      if (ReadValue(*field, Field{it->first, it->second}, absl::StrCat(path, ".", name), &v)) {
        (*out->mutable_fields())[name] = std::move(v);
      }
    }
  }

  bool ReadValue(const v1::FieldSchema& schema, const Field& f, const std::string& path,
                 google::protobuf::Value* out) {
    auto scalar = [&](absl::string_view what) {
      if (f.value.IsScalar()) return true;
      y_.Error(f, absl::StrCat("'", path, "' must be ", what));
      return false;
    };
    switch (schema.type()) {
      case v1::FIELD_TYPE_STRING:
        if (!scalar("a string")) return false;
        out->set_string_value(f.value.Scalar());
        return true;
      case v1::FIELD_TYPE_ENUM: {
        if (!scalar("a string")) return false;
        const std::string& s = f.value.Scalar();
        if (std::find(schema.values().begin(), schema.values().end(), s) == schema.values().end()) {
          y_.Error(f,
                   absl::StrCat("'", s, "' is not one of: ", absl::StrJoin(schema.values(), ", ")));
          return false;
        }
        out->set_string_value(s);
        return true;
      }
      case v1::FIELD_TYPE_INT: {
        int64_t i = 0;
        if (!scalar("an integer")) return false;
        if (!absl::SimpleAtoi(f.value.Scalar(), &i)) {
          y_.Error(f, absl::StrCat("'", path, "' must be an integer"));
          return false;
        }
        out->set_number_value(static_cast<double>(i));
        return true;
      }
      case v1::FIELD_TYPE_DOUBLE: {
        double d = 0;
        if (!scalar("a number")) return false;
        if (!absl::SimpleAtod(f.value.Scalar(), &d)) {
          y_.Error(f, absl::StrCat("'", path, "' must be a number"));
          return false;
        }
        out->set_number_value(d);
        return true;
      }
      case v1::FIELD_TYPE_BOOL: {
        bool b = false;
        if (!scalar("true or false") || !y_.ReadBool(f, &b)) return false;
        out->set_bool_value(b);
        return true;
      }
      case v1::FIELD_TYPE_TIMESTAMP: {
        google::protobuf::Timestamp ts;
        if (!ReadTimestamp(f, &ts)) return false;
        out->set_string_value(f.value.Scalar());
        return true;
      }
      case v1::FIELD_TYPE_LIST: {
        if (!f.value.IsSequence()) {
          y_.Error(f, absl::StrCat("'", path, "' must be a list"));
          return false;
        }
        google::protobuf::ListValue* list = out->mutable_list_value();
        int i = 0;
        for (const YAML::Node& item : f.value) {
          google::protobuf::Value v;
          if (ReadValue(schema.items(), Field{f.key, item}, absl::StrCat(path, "[", i++, "]"),
                        &v)) {
            *list->add_values() = std::move(v);
          }
        }
        return true;
      }
      case v1::FIELD_TYPE_OBJECT:
        ReadObject(schema.fields(), f, path, out->mutable_struct_value());
        return true;
      default:
        return false;
    }
  }

  void ReadAssessments(const Field& f, v1::GateInput* in) {
    if (!f.value.IsMap()) {
      y_.Error(f, "'assessments' must be a mapping of principle ids");
      return;
    }
    for (auto it = f.value.begin(); it != f.value.end(); ++it) {
      std::string id = it->first.IsScalar() ? it->first.Scalar() : "";
      const v1::Principle* principle = pack_.FindPrinciple(id);
      if (principle == nullptr) {
        y_.Error(it->first, absl::StrCat("unknown principle '", id, "'"));
        continue;
      }
      MapFields m;
      if (!y_.ReadMap(it->second, absl::StrCat("assessment '", id, "'"),
                      {"answers", "score", "answered", "total"}, {}, &m)) {
        continue;
      }
      // Scored as the engine scores a recorded assessment, unless the fixture says otherwise.
      v1::Assessment scored;
      v1::GateInput::Assessment assessment;
      assessment.set_principle_id(id);
      if (const Field* a = m.Get("answers"); a != nullptr && y_.ExpectList(*a)) {
        int i = 0;
        for (const YAML::Node& item : a->value) {
          v1::GateInput::Answer answer = ReadAnswer(*principle, i++, Field{a->key, item});
          scored.add_answers()->set_answer(answer.answer());
          *assessment.add_answers() = std::move(answer);
        }
      }
      ScoreAssessment(scored, principle->questions_size());
      assessment.set_score(scored.score());
      assessment.set_answered(scored.answered());
      assessment.set_total(scored.total());
      if (const Field* s = m.Get("score")) {
        double score = 0;
        if (y_.ReadDouble(*s, &score)) {
          if (score < 0 || score > 1) y_.Error(*s, "'score' must be between 0 and 1");
          assessment.set_score(score);
        }
      }
      int64_t n = 0;
      if (const Field* s = m.Get("answered"); s != nullptr && y_.ReadInt(*s, &n)) {
        assessment.set_answered(n);
      }
      if (const Field* s = m.Get("total"); s != nullptr && y_.ReadInt(*s, &n)) {
        assessment.set_total(n);
      }
      *in->add_assessments() = std::move(assessment);
    }
  }

  v1::GateInput::Answer ReadAnswer(const v1::Principle& principle, int index, const Field& f) {
    static const std::vector<std::pair<absl::string_view, int>> kAnswers = {
        {"yes", v1::ANSWER_VALUE_YES},
        {"partly", v1::ANSWER_VALUE_PARTLY},
        {"no", v1::ANSWER_VALUE_NO},
        {"na", v1::ANSWER_VALUE_NOT_APPLICABLE}};
    v1::GateInput::Answer a;
    int value = 0;
    if (f.value.IsScalar()) {
      if (index < principle.questions_size()) {
        a.set_question(principle.questions(index).id());
      } else {
        y_.Error(f, absl::StrCat("principle ", principle.id(), " has only ",
                                 principle.questions_size(), " questions"));
      }
      if (y_.LookupEnum(f.value, f.value.Scalar(), kAnswers, &value)) {
        a.set_answer(static_cast<v1::AnswerValue>(value));
      }
      return a;
    }
    MapFields m;
    if (!y_.ReadMap(f.value, "answer", {"question", "answer", "evidence", "comment"},
                    {"question", "answer"}, &m)) {
      return a;
    }
    if (const Field* x = m.Get("question");
        x != nullptr && y_.ReadString(*x, a.mutable_question())) {
      bool known = false;
      for (const v1::Question& q : principle.questions()) known |= q.id() == a.question();
      if (!known) {
        y_.Error(*x, absl::StrCat("principle ", principle.id(), " has no question '", a.question(),
                                  "'"));
      }
    }
    if (const Field* x = m.Get("answer"); x != nullptr && y_.ReadEnum(*x, kAnswers, &value)) {
      a.set_answer(static_cast<v1::AnswerValue>(value));
    }
    if (const Field* x = m.Get("evidence")) y_.ReadString(*x, a.mutable_evidence());
    if (const Field* x = m.Get("comment")) y_.ReadString(*x, a.mutable_comment());
    return a;
  }

  void ReadCondition(const YAML::Node& node, v1::GateInput::Condition* c) {
    MapFields m;
    if (!y_.ReadMap(node, "condition", {"gate", "panel", "text", "due"}, {}, &m)) return;
    if (const Field* x = m.Get("gate")) y_.ReadString(*x, c->mutable_gate());
    if (const Field* x = m.Get("panel")) y_.ReadString(*x, c->mutable_panel());
    if (const Field* x = m.Get("text")) y_.ReadString(*x, c->mutable_text());
    if (const Field* x = m.Get("due")) ReadTimestamp(*x, c->mutable_due());
  }

  const CompiledPack& pack_;
  YamlReader y_;
  PackTestReport* report_;
  std::map<std::string, YAML::Node> fixtures_;
};

}  // namespace

std::string PackTestCase::Summary() const {
  if (passed) return absl::StrCat("PASS ", name);
  return absl::StrCat("FAIL ", name, ": ", absl::StrJoin(mismatches, "; "));
}

int PackTestReport::passed() const {
  return static_cast<int>(
      std::count_if(cases.begin(), cases.end(), [](const PackTestCase& c) { return c.passed; }));
}

int PackTestReport::failed() const { return static_cast<int>(cases.size()) - passed(); }

PackTestReport RunPackTests(const CompiledPack& pack, const std::vector<SourceFile>& files) {
  PackTestReport report;
  std::vector<Source> sources;
  sources.reserve(files.size());
  for (const SourceFile& f : files) sources.push_back(Source{f.path, f.content});
  for (const Source& s : sources) {
    try {
      TestFileRunner(pack, s, &report).Run();
    } catch (const std::exception& e) {
      // yaml-cpp may throw on malformed documents in places the readers do not guard.
      report.diagnostics.push_back(
          Diagnostic{s.path, 1, 1, absl::StrCat("cannot read test file: ", e.what()), ""});
    }
  }
  auto& d = report.diagnostics;
  std::stable_sort(d.begin(), d.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column, a.message) <
           std::tie(b.file, b.line, b.column, b.message);
  });
  d.erase(std::unique(d.begin(), d.end(),
                      [](const Diagnostic& a, const Diagnostic& b) {
                        return a.file == b.file && a.line == b.line && a.column == b.column &&
                               a.message == b.message;
                      }),
          d.end());
  return report;
}

PackTestReport RunPackTestDir(const CompiledPack& pack, absl::string_view tests_dir) {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(std::string(tests_dir), ec)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<SourceFile> files;
  PackTestReport unreadable;
  for (const fs::path& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      unreadable.diagnostics.push_back(Diagnostic{p.string(), 1, 1, "cannot be read", ""});
      continue;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    files.push_back(SourceFile{p.string(), ss.str()});
  }
  PackTestReport report = RunPackTests(pack, files);
  report.diagnostics.insert(report.diagnostics.begin(), unreadable.diagnostics.begin(),
                            unreadable.diagnostics.end());
  return report;
}

}  // namespace varav::model
