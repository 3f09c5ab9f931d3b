#include "engine/model/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/common/status_macros.h"
#include "engine/model/activation.h"
#include "engine/model/yaml_util.h"

namespace varav::model {
namespace {

namespace fs = std::filesystem;
using google::protobuf::RepeatedPtrField;

// ---------------------------------------------------------------------------------------------
// Parsed, not yet resolved entries with the positions later checks need.

struct EntryInfo {
  Loc loc;                                                   // the entry's mapping
  absl::flat_hash_map<std::string, Loc> key_locs;            // key -> position of the key
  absl::flat_hash_map<std::string, Loc> value_locs;          // key -> position of its value
  absl::flat_hash_map<std::string, std::vector<Loc>> items;  // list key -> each item's position
  absl::flat_hash_map<std::string, ScalarRef> scalars;       // CEL keys -> their scalar

  bool Has(absl::string_view key) const { return key_locs.contains(key); }
  Loc At(absl::string_view key) const {
    auto it = value_locs.find(key);
    return it == value_locs.end() ? loc : it->second;
  }
  Loc KeyAt(absl::string_view key) const {
    auto it = key_locs.find(key);
    return it == key_locs.end() ? loc : it->second;
  }
  Loc Item(absl::string_view key, int i) const {
    auto it = items.find(key);
    if (it == items.end() || i < 0 || i >= static_cast<int>(it->second.size())) return At(key);
    return it->second[i];
  }
};

template <typename T>
struct Parsed {
  T msg;
  EntryInfo info;
};

struct RawPack {
  bool has_manifest = false;
  v1::RulePack header;  // id, version, title, extends, source_notes
  EntryInfo header_info;
  std::vector<Parsed<v1::Stage>> stages;
  std::vector<Parsed<v1::Panel>> panels;
  std::vector<Parsed<v1::Gate>> gates;
  std::vector<Parsed<v1::Principle>> principles;
  std::vector<Parsed<v1::OutputType>> outputs;
  std::vector<Parsed<v1::Rule>> rules;
};

// ---------------------------------------------------------------------------------------------
// Enum spellings.

const std::vector<std::pair<absl::string_view, int>> kProvenance = {
    {"standard", v1::PROVENANCE_STANDARD}, {"derived", v1::PROVENANCE_DERIVED}};
const std::vector<std::pair<absl::string_view, int>> kOutcomes = {
    {"go", v1::GATE_OUTCOME_GO},
    {"go_with_conditions", v1::GATE_OUTCOME_GO_WITH_CONDITIONS},
    {"recycle", v1::GATE_OUTCOME_RECYCLE},
    {"hold", v1::GATE_OUTCOME_HOLD},
    {"stop", v1::GATE_OUTCOME_STOP}};
const std::vector<std::pair<absl::string_view, int>> kFieldTypes = {
    {"string", v1::FIELD_TYPE_STRING},       {"int", v1::FIELD_TYPE_INT},
    {"double", v1::FIELD_TYPE_DOUBLE},       {"bool", v1::FIELD_TYPE_BOOL},
    {"timestamp", v1::FIELD_TYPE_TIMESTAMP}, {"enum", v1::FIELD_TYPE_ENUM},
    {"list", v1::FIELD_TYPE_LIST},           {"object", v1::FIELD_TYPE_OBJECT}};
const std::vector<std::pair<absl::string_view, int>> kSeverities = {
    {"must", v1::RULE_SEVERITY_MUST}, {"should", v1::RULE_SEVERITY_SHOULD}};
const std::vector<std::pair<absl::string_view, int>> kEnforcements = {
    {"enforce", v1::RULE_ENFORCEMENT_ENFORCE},
    {"warn", v1::RULE_ENFORCEMENT_WARN},
    {"audit", v1::RULE_ENFORCEMENT_AUDIT}};

// ---------------------------------------------------------------------------------------------
// Id formats (rules/FORMAT.md).

bool IsLowerId(absl::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}
bool IsGateId(absl::string_view s) { return s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z'; }
bool IsPrincipleId(absl::string_view s) {
  if (s.size() < 2 || s[0] != 'P') return false;
  for (char c : s.substr(1)) {
    if (!(c >= '0' && c <= '9')) return false;
  }
  return true;
}
bool IsRuleId(absl::string_view s) {
  if (s.empty()) return false;
  for (absl::string_view part : absl::StrSplit(s, '.')) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
  }
  return s[0] >= 'a' && s[0] <= 'z';
}
bool IsPackId(absl::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}
bool IsSemver(absl::string_view s) {
  std::vector<absl::string_view> parts = absl::StrSplit(s, '.');
  if (parts.size() != 3) return false;
  for (absl::string_view p : parts) {
    if (p.empty()) return false;
    for (char c : p) {
      if (!(c >= '0' && c <= '9')) return false;
    }
  }
  return true;
}
// Names that CEL reserves cannot be selected as fields (`outputs.in` does not parse).
bool IsCelReserved(absl::string_view s) {
  static const absl::flat_hash_set<absl::string_view>* const kReserved =
      new absl::flat_hash_set<absl::string_view>{
          "true",     "false",   "null",      "in",       "as",  "break",  "const",
          "continue", "else",    "for",       "function", "if",  "import", "let",
          "loop",     "package", "namespace", "return",   "var", "void",   "while"};
  return kReserved->contains(s);
}

int PrincipleNumber(absl::string_view id) {
  int n = 0;
  return absl::SimpleAtoi(id.substr(1), &n) ? n : 0;
}

// ---------------------------------------------------------------------------------------------
// Per-file parsing.

class FileParser {
 public:
  FileParser(const Source& src, std::vector<Diagnostic>* diags) : y_(src, diags) {}

  void Parse(bool is_manifest, RawPack* raw) {
    YAML::Node root;
    if (!y_.Load(&root)) return;
    if (root.IsNull()) return;  // an empty file contributes nothing
    static const std::vector<absl::string_view> kListKeys = {"stages",     "panels",  "gates",
                                                             "principles", "outputs", "rules"};
    static const std::vector<absl::string_view> kManifestKeys = {"id", "version", "title",
                                                                 "extends", "source_notes"};
    std::vector<absl::string_view> allowed = kListKeys;
    allowed.insert(allowed.end(), kManifestKeys.begin(), kManifestKeys.end());
    std::vector<absl::string_view> required;
    if (is_manifest) required = {"id", "version", "title"};
    MapFields m;
    if (!y_.ReadMap(root, "pack file", allowed, required, &m)) return;
    if (!is_manifest) {
      for (absl::string_view k : kManifestKeys) {
        if (const Field* f = m.Get(k)) {
          y_.Error(f->key, absl::StrCat("'", k, "' belongs in pack.yaml"));
        }
      }
    } else {
      raw->has_manifest = true;
      raw->header_info = Info(m);
      if (const Field* f = m.Get("id")) {
        std::string id;
        if (y_.ReadString(*f, &id)) {
          if (!IsPackId(id)) {
            y_.Error(f->value, absl::StrCat("pack id '", id, "' must match [a-z][a-z0-9_-]*"));
          }
          raw->header.set_id(id);
        }
      }
      if (const Field* f = m.Get("version")) {
        std::string v;
        if (y_.ReadString(*f, &v)) {
          if (!IsSemver(v)) {
            y_.Error(f->value, absl::StrCat("version '", v, "' must be MAJOR.MINOR.PATCH"));
          }
          raw->header.set_version(v);
        }
      }
      if (const Field* f = m.Get("title")) y_.ReadText(*f, raw->header.mutable_title());
      if (const Field* f = m.Get("source_notes")) {
        y_.ReadText(*f, raw->header.mutable_source_notes());
      }
      if (const Field* f = m.Get("extends")) {
        std::string e;
        if (f->value.IsNull() || y_.ReadString(*f, &e)) raw->header.set_extends(e);
      }
    }
    ForEachItem(m, "stages", [&](const YAML::Node& n) { ParseStage(n, raw); });
    ForEachItem(m, "panels", [&](const YAML::Node& n) { ParsePanel(n, raw); });
    ForEachItem(m, "gates", [&](const YAML::Node& n) { ParseGate(n, raw); });
    ForEachItem(m, "principles", [&](const YAML::Node& n) { ParsePrinciple(n, raw); });
    ForEachItem(m, "outputs", [&](const YAML::Node& n) { ParseOutput(n, raw); });
    ForEachItem(m, "rules", [&](const YAML::Node& n) { ParseRule(n, raw); });
  }

 private:
  template <typename Fn>
  void ForEachItem(const MapFields& m, absl::string_view key, Fn fn) {
    const Field* f = m.Get(key);
    if (f == nullptr) return;
    if (f->value.IsNull()) return;  // `rules:` with nothing under it
    if (!f->value.IsSequence()) {
      y_.Error(f->value, absl::StrCat("'", key, "' must be a list"));
      return;
    }
    for (const YAML::Node& item : f->value) fn(item);
  }

  EntryInfo Info(const MapFields& m) {
    EntryInfo info;
    info.loc = m.loc;
    for (const auto& [key, field] : m.by_key) {
      info.key_locs[key] = y_.LocOf(field.key);
      info.value_locs[key] = field.value.IsNull() ? y_.LocOf(field.key) : y_.LocOf(field.value);
    }
    return info;
  }

  // Reads an id with its format check; false when absent or malformed (already reported).
  bool ReadId(const MapFields& m, bool (*valid)(absl::string_view), absl::string_view format,
              std::string* out) {
    const Field* f = m.Get("id");
    if (f == nullptr || !y_.ReadString(*f, out)) return false;
    if (!valid(*out)) {
      y_.Error(f->value, absl::StrCat("id '", *out, "' must match ", format));
      return false;
    }
    return true;
  }

  void ReadIdList(const MapFields& m, absl::string_view key, RepeatedPtrField<std::string>* out,
                  EntryInfo* info) {
    const Field* f = m.Get(key);
    if (f == nullptr) return;
    std::vector<YAML::Node> nodes;
    y_.ReadStringList(*f, out, &nodes);
    std::vector<Loc>& locs = info->items[std::string(key)];
    for (const YAML::Node& n : nodes) locs.push_back(y_.LocOf(n));
  }

  template <typename E>
  void ReadEnumKey(const MapFields& m, absl::string_view key,
                   const std::vector<std::pair<absl::string_view, int>>& table, E* out) {
    const Field* f = m.Get(key);
    int v = 0;
    if (f != nullptr && y_.ReadEnum(*f, table, &v)) *out = static_cast<E>(v);
  }

  void ParseStage(const YAML::Node& n, RawPack* raw) {
    MapFields m;
    if (!y_.ReadMap(n, "stage", {"id", "order", "diamond", "name", "description", "source"},
                    {"id", "order", "diamond", "name"}, &m)) {
      return;
    }
    Parsed<v1::Stage> p;
    p.info = Info(m);
    ReadId(m, IsLowerId, "[a-z][a-z0-9_]*", p.msg.mutable_id());
    int64_t v = 0;
    if (const Field* f = m.Get("order"); f && y_.ReadInt(*f, &v)) p.msg.set_order(v);
    if (const Field* f = m.Get("diamond"); f && y_.ReadInt(*f, &v)) {
      if (v < 1) y_.Error(f->value, "diamond must be 1 or more");
      p.msg.set_diamond(v);
    }
    if (const Field* f = m.Get("name")) y_.ReadText(*f, p.msg.mutable_name());
    if (const Field* f = m.Get("description")) y_.ReadText(*f, p.msg.mutable_description());
    v1::Provenance source = v1::PROVENANCE_UNSPECIFIED;
    ReadEnumKey(m, "source", kProvenance, &source);
    p.msg.set_source(source);
    raw->stages.push_back(std::move(p));
  }

  void ParsePanel(const YAML::Node& n, RawPack* raw) {
    MapFields m;
    if (!y_.ReadMap(n, "panel", {"id", "name"}, {"id", "name"}, &m)) return;
    Parsed<v1::Panel> p;
    p.info = Info(m);
    ReadId(m, IsLowerId, "[a-z][a-z0-9_]*", p.msg.mutable_id());
    if (const Field* f = m.Get("name")) y_.ReadText(*f, p.msg.mutable_name());
    raw->panels.push_back(std::move(p));
  }

  void ParseGate(const YAML::Node& n, RawPack* raw) {
    MapFields m;
    if (!y_.ReadMap(
            n, "gate",
            {"id", "name", "after_stage", "panels", "outcomes", "go_to", "new_cycle", "source"},
            {"id", "name", "after_stage", "panels", "outcomes", "go_to"}, &m)) {
      return;
    }
    Parsed<v1::Gate> p;
    p.info = Info(m);
    ReadId(m, IsGateId, "[A-Z]", p.msg.mutable_id());
    if (const Field* f = m.Get("name")) y_.ReadText(*f, p.msg.mutable_name());
    if (const Field* f = m.Get("after_stage")) y_.ReadString(*f, p.msg.mutable_after_stage());
    if (const Field* f = m.Get("go_to")) y_.ReadString(*f, p.msg.mutable_go_to());
    ReadIdList(m, "panels", p.msg.mutable_panels(), &p.info);
    if (const Field* f = m.Get("panels"); f && p.msg.panels().empty() && f->value.IsSequence()) {
      y_.Error(f->value, "a gate needs at least one panel");
    }
    if (const Field* f = m.Get("outcomes")) {
      RepeatedPtrField<std::string> words;
      std::vector<YAML::Node> nodes;
      y_.ReadStringList(*f, &words, &nodes);
      std::set<int> seen;
      for (int i = 0; i < words.size(); ++i) {
        int v = 0;
        if (!y_.LookupEnum(nodes[i], words[i], kOutcomes, &v)) continue;
        if (!seen.insert(v).second) {
          y_.Error(nodes[i], absl::StrCat("outcome '", words[i], "' is listed twice"));
        }
        p.msg.add_outcomes(static_cast<v1::GateOutcome>(v));
      }
      if (words.empty() && f->value.IsSequence()) {
        y_.Error(f->value, "a gate needs at least one outcome");
      }
    }
    if (const Field* f = m.Get("new_cycle")) {
      bool b = false;
      if (y_.ReadBool(*f, &b)) p.msg.set_new_cycle(b);
    }
    v1::Provenance source = v1::PROVENANCE_UNSPECIFIED;
    ReadEnumKey(m, "source", kProvenance, &source);
    p.msg.set_source(source);
    raw->gates.push_back(std::move(p));
  }

  void ParsePrinciple(const YAML::Node& n, RawPack* raw) {
    MapFields m;
    if (!y_.ReadMap(n, "principle",
                    {"id", "name", "goal", "guidelines", "questions", "stages", "source"},
                    {"id", "name", "stages"}, &m)) {
      return;
    }
    Parsed<v1::Principle> p;
    p.info = Info(m);
    ReadId(m, IsPrincipleId, "P[0-9]+", p.msg.mutable_id());
    if (const Field* f = m.Get("name")) y_.ReadText(*f, p.msg.mutable_name());
    if (const Field* f = m.Get("goal")) y_.ReadText(*f, p.msg.mutable_goal());
    if (const Field* f = m.Get("guidelines")) {
      if (y_.ExpectList(*f)) {
        for (const YAML::Node& g : f->value) {
          y_.ReadText(Field{f->key, g}, p.msg.add_guidelines());
        }
      }
    }
    if (const Field* f = m.Get("questions")) {
      if (y_.ExpectList(*f)) {
        std::vector<Loc>& locs = p.info.items["questions"];
        for (const YAML::Node& q : f->value) {
          MapFields qm;
          locs.push_back(y_.LocOf(q));
          v1::Question* question = p.msg.add_questions();
          if (!y_.ReadMap(q, "question", {"id", "text"}, {"id", "text"}, &qm)) continue;
          if (const Field* qf = qm.Get("id")) y_.ReadString(*qf, question->mutable_id());
          if (const Field* qf = qm.Get("text")) y_.ReadText(*qf, question->mutable_text());
        }
      }
    }
    ReadIdList(m, "stages", p.msg.mutable_stages(), &p.info);
    v1::Provenance source = v1::PROVENANCE_UNSPECIFIED;
    ReadEnumKey(m, "source", kProvenance, &source);
    p.msg.set_source(source);
    raw->principles.push_back(std::move(p));
  }

  // Parses one schema field. `is_items` for a list's element schema, which has no name.
  void ParseFieldSchema(const YAML::Node& n, bool is_items, int depth, v1::FieldSchema* out) {
    if (depth > 16) {
      y_.Error(n, "field schemas nest too deeply (more than 16 levels)");
      return;
    }
    MapFields m;
    std::vector<absl::string_view> allowed = {"type",  "required", "description",
                                              "items", "values",   "fields"};
    std::vector<absl::string_view> required = {"type"};
    if (!is_items) {
      allowed.push_back("name");
      required.push_back("name");
    }
    if (!y_.ReadMap(n, is_items ? "items" : "field", allowed, required, &m)) return;
    if (const Field* f = m.Get("name"); f && y_.ReadString(*f, out->mutable_name())) {
      if (!IsLowerId(out->name())) {
        y_.Error(f->value,
                 absl::StrCat("field name '", out->name(), "' must match [a-z][a-z0-9_]*"));
      } else if (IsCelReserved(out->name())) {
        y_.Error(f->value,
                 absl::StrCat("field name '", out->name(), "' is a reserved word in CEL"));
      }
    }
    int type = 0;
    if (const Field* f = m.Get("type")) {
      if (y_.ReadEnum(*f, kFieldTypes, &type)) out->set_type(static_cast<v1::FieldType>(type));
    }
    if (const Field* f = m.Get("required")) {
      bool b = false;
      if (y_.ReadBool(*f, &b)) out->set_required(b);
    }
    if (const Field* f = m.Get("description")) y_.ReadText(*f, out->mutable_description());
    const Field* items = m.Get("items");
    const Field* values = m.Get("values");
    const Field* fields = m.Get("fields");
    if (type == v1::FIELD_TYPE_LIST) {
      if (items == nullptr) {
        y_.ErrorAt(m.loc, "a list field needs 'items'");
      } else {
        ParseFieldSchema(items->value, /*is_items=*/true, depth + 1, out->mutable_items());
      }
    } else if (items != nullptr && type != 0) {
      y_.Error(items->key, "'items' is only for list fields");
    }
    if (type == v1::FIELD_TYPE_ENUM) {
      if (values == nullptr) {
        y_.ErrorAt(m.loc, "an enum field needs 'values'");
      } else {
        std::vector<YAML::Node> nodes;
        y_.ReadStringList(*values, out->mutable_values(), &nodes);
        std::set<std::string> seen;
        for (int i = 0; i < out->values_size(); ++i) {
          if (!seen.insert(out->values(i)).second) {
            y_.Error(nodes[i], absl::StrCat("enum value '", out->values(i), "' is listed twice"));
          }
        }
        if (out->values().empty() && values->value.IsSequence()) {
          y_.Error(values->value, "an enum field needs at least one value");
        }
      }
    } else if (values != nullptr && type != 0) {
      y_.Error(values->key, "'values' is only for enum fields");
    }
    if (type == v1::FIELD_TYPE_OBJECT) {
      if (fields == nullptr) {
        y_.ErrorAt(m.loc, "an object field needs 'fields'");
      } else {
        ParseFieldList(*fields, depth + 1, out->mutable_fields(), nullptr);
      }
    } else if (fields != nullptr && type != 0) {
      y_.Error(fields->key, "'fields' is only for object fields");
    }
  }

  void ParseFieldList(const Field& f, int depth, RepeatedPtrField<v1::FieldSchema>* out,
                      std::vector<Loc>* locs) {
    if (!y_.ExpectList(f)) return;
    absl::flat_hash_map<std::string, Loc> seen;
    for (const YAML::Node& item : f.value) {
      v1::FieldSchema* schema = out->Add();
      ParseFieldSchema(item, /*is_items=*/false, depth, schema);
      Loc loc = y_.LocOf(item);
      if (locs != nullptr) locs->push_back(loc);
      if (schema->name().empty()) continue;
      auto [it, inserted] = seen.emplace(schema->name(), loc);
      if (!inserted) {
        y_.ErrorAt(loc, absl::StrCat("duplicate field '", schema->name(), "' (first defined at ",
                                     it->second.ToString(), ")"));
      }
    }
  }

  void ParseOutput(const YAML::Node& n, RawPack* raw) {
    MapFields m;
    // Required keys are checked when resolving: an output that repeats a base output's id in a
    // derived pack carries only `fields`.
    if (!y_.ReadMap(n, "output",
                    {"id", "name", "description", "gate", "principles", "source", "fields"}, {"id"},
                    &m)) {
      return;
    }
    Parsed<v1::OutputType> p;
    p.info = Info(m);
    if (ReadId(m, IsLowerId, "[a-z][a-z0-9_]*", p.msg.mutable_id()) && IsCelReserved(p.msg.id())) {
      y_.Error(m.Get("id")->value,
               absl::StrCat("output id '", p.msg.id(), "' is a reserved word in CEL"));
    }
    if (const Field* f = m.Get("name")) y_.ReadText(*f, p.msg.mutable_name());
    if (const Field* f = m.Get("description")) y_.ReadText(*f, p.msg.mutable_description());
    if (const Field* f = m.Get("gate")) y_.ReadString(*f, p.msg.mutable_gate());
    ReadIdList(m, "principles", p.msg.mutable_principles(), &p.info);
    v1::Provenance source = v1::PROVENANCE_UNSPECIFIED;
    ReadEnumKey(m, "source", kProvenance, &source);
    p.msg.set_source(source);
    if (const Field* f = m.Get("fields")) {
      ParseFieldList(*f, 0, p.msg.mutable_fields(), &p.info.items["fields"]);
    }
    raw->outputs.push_back(std::move(p));
  }

  void ParseRule(const YAML::Node& n, RawPack* raw) {
    MapFields m;
    // Required keys are checked when resolving (a derived pack may repeat a base rule's id with
    // only `severity` or `enforcement`).
    if (!y_.ReadMap(n, "rule",
                    {"id", "gate", "severity", "weight", "enforcement", "principles", "expr",
                     "message", "message_expr"},
                    {"id"}, &m)) {
      return;
    }
    Parsed<v1::Rule> p;
    p.info = Info(m);
    ReadId(m, IsRuleId, "dotted lower case, e.g. a.vision.present", p.msg.mutable_id());
    if (const Field* f = m.Get("gate")) y_.ReadString(*f, p.msg.mutable_gate());
    v1::RuleSeverity severity = v1::RULE_SEVERITY_UNSPECIFIED;
    ReadEnumKey(m, "severity", kSeverities, &severity);
    p.msg.set_severity(severity);
    v1::RuleEnforcement enforcement = v1::RULE_ENFORCEMENT_UNSPECIFIED;
    ReadEnumKey(m, "enforcement", kEnforcements, &enforcement);
    p.msg.set_enforcement(enforcement);
    if (const Field* f = m.Get("weight")) {
      double w = 0;
      if (y_.ReadDouble(*f, &w)) {
        if (!(w > 0)) y_.Error(f->value, "weight must be greater than 0");
        p.msg.set_weight(w);
      }
    }
    ReadIdList(m, "principles", p.msg.mutable_principles(), &p.info);
    if (const Field* f = m.Get("expr"); f && y_.ReadString(*f, p.msg.mutable_expr())) {
      p.info.scalars["expr"] = y_.Ref(*f);
    }
    if (const Field* f = m.Get("message")) y_.ReadText(*f, p.msg.mutable_message());
    if (const Field* f = m.Get("message_expr")) {
      MapFields tm;
      if (y_.ReadText(*f, p.msg.mutable_message_expr(), &tm)) {
        p.info.scalars["message_expr.et"] = y_.Ref(*tm.Get("et"));
        p.info.scalars["message_expr.en"] = y_.Ref(*tm.Get("en"));
      }
    }
    raw->rules.push_back(std::move(p));
  }

  YamlReader y_;
};

// ---------------------------------------------------------------------------------------------
// Resolution: merge with the base, check references, fill defaults, order canonically.

class Resolver {
 public:
  Resolver(RawPack raw, const PackRegistry* bases, std::vector<Diagnostic>* diags)
      : raw_(std::move(raw)), bases_(bases), diags_(diags) {}

  // Fills `pack_`; the compiled base (if any) in `base_`.
  void Resolve() {
    ResolveHeader();
    ResolveStages();
    ResolvePanels();
    ResolveGates();
    ResolvePrinciples();
    ResolveOutputs();
    ResolveRules();
    CheckReferences();
  }

  v1::RulePack& pack() { return pack_; }
  const EntryInfo* RuleInfo(absl::string_view id) const {
    auto it = rule_info_.find(id);
    return it == rule_info_.end() ? nullptr : it->second;
  }
  const EntryInfo& header_info() const { return raw_.header_info; }

 private:
  void Error(const Loc& loc, std::string message) {
    diags_->push_back(Diagnostic{loc.file, loc.line, loc.column, std::move(message), ""});
  }

  std::string Where(const Loc& loc) const {
    return absl::StrCat(" (first defined at ", loc.ToString(), ")");
  }

  void ResolveHeader() {
    *pack_.mutable_id() = raw_.header.id();
    *pack_.mutable_version() = raw_.header.version();
    *pack_.mutable_title() = raw_.header.title();
    *pack_.mutable_source_notes() = raw_.header.source_notes();
    const std::string& ext = raw_.header.extends();
    if (ext.empty()) return;
    pack_.set_extends(ext);
    Loc at = raw_.header_info.At("extends");
    std::vector<std::string> parts = absl::StrSplit(ext, '@');
    if (parts.size() != 2 || !IsPackId(parts[0]) || !IsSemver(parts[1])) {
      Error(at, absl::StrCat("extends '", ext, "' must be id@MAJOR.MINOR.PATCH"));
      return;
    }
    if (bases_ != nullptr) base_ = bases_->Find(ext);
    if (base_ == nullptr) {
      Error(at, absl::StrCat("base pack '", ext, "' is not loaded (is it in the rules folder?)"));
      return;
    }
    if (ext == absl::StrCat(pack_.id(), "@", pack_.version())) {
      Error(at, "a pack cannot extend itself");
      base_ = nullptr;
      return;
    }
    const v1::RulePack& b = base_->proto();
    *pack_.mutable_stages() = b.stages();
    *pack_.mutable_panels() = b.panels();
    *pack_.mutable_gates() = b.gates();
    *pack_.mutable_principles() = b.principles();
    *pack_.mutable_outputs() = b.outputs();
    *pack_.mutable_rules() = b.rules();
    if (!pack_.has_source_notes()) *pack_.mutable_source_notes() = b.source_notes();
  }

  // Adds entries by id, reporting duplicates. `from_base` ids come from the base pack.
  template <typename T, typename Add>
  void AddUnique(std::vector<Parsed<T>>& entries, absl::string_view kind,
                 absl::flat_hash_map<std::string, Loc>* seen,
                 const absl::flat_hash_set<std::string>& from_base, Add add) {
    for (Parsed<T>& e : entries) {
      const std::string& id = e.msg.id();
      if (id.empty()) continue;
      if (from_base.contains(id)) {
        Error(e.info.At("id"),
              absl::StrCat(kind, " '", id, "' is already defined by base pack ", pack_.extends()));
        continue;
      }
      auto [it, inserted] = seen->emplace(id, e.info.At("id"));
      if (!inserted) {
        Error(e.info.At("id"),
              absl::StrCat("duplicate ", kind, " id '", id, "'", Where(it->second)));
        continue;
      }
      add(e);
    }
  }

  template <typename T>
  absl::flat_hash_set<std::string> Ids(const RepeatedPtrField<T>& list) {
    absl::flat_hash_set<std::string> ids;
    for (const T& x : list) ids.insert(x.id());
    return ids;
  }

  void ResolveStages() {
    if (base_ != nullptr && !raw_.stages.empty()) {
      Error(raw_.stages[0].info.loc, "a pack that extends another cannot add stages");
      return;
    }
    AddUnique(raw_.stages, "stage", &stage_locs_, {}, [&](Parsed<v1::Stage>& e) {
      *pack_.add_stages() = e.msg;
      stage_info_[e.msg.id()] = &e.info;
    });
    if (base_ != nullptr) return;
    // Orders are 1..N, unique and contiguous; diamonds are contiguous runs starting at 1.
    std::vector<const v1::Stage*> by_order;
    for (const v1::Stage& s : pack_.stages()) by_order.push_back(&s);
    std::stable_sort(by_order.begin(), by_order.end(),
                     [](auto* a, auto* b) { return a->order() < b->order(); });
    int prev_diamond = 0;
    for (size_t i = 0; i < by_order.size(); ++i) {
      const v1::Stage& s = *by_order[i];
      const EntryInfo& info = *stage_info_[s.id()];
      if (s.order() != static_cast<int>(i) + 1) {
        Error(info.At("order"),
              absl::StrCat("stage '", s.id(), "' has order ", s.order(), "; orders must be 1..",
                           by_order.size(), ", unique and without gaps"));
        return;  // one ordering error explains the rest
      }
      if (s.diamond() != prev_diamond && s.diamond() != prev_diamond + 1) {
        Error(info.At("diamond"),
              absl::StrCat("stage '", s.id(), "' is in diamond ", s.diamond(), " after diamond ",
                           prev_diamond, "; diamonds are numbered 1, 2, ... in stage order"));
        return;
      }
      prev_diamond = s.diamond();
    }
    if (raw_.has_manifest && raw_.header.extends().empty() && pack_.stages().empty()) {
      Error(raw_.header_info.loc, "the pack defines no stages");
    }
  }

  void ResolvePanels() {
    AddUnique(raw_.panels, "panel", &panel_locs_, Ids(pack_.panels()),
              [&](Parsed<v1::Panel>& e) { *pack_.add_panels() = e.msg; });
  }

  void ResolveGates() {
    if (base_ != nullptr && !raw_.gates.empty()) {
      Error(raw_.gates[0].info.loc, "a pack that extends another cannot add gates");
      return;
    }
    AddUnique(raw_.gates, "gate", &gate_locs_, {}, [&](Parsed<v1::Gate>& e) {
      *pack_.add_gates() = e.msg;
      gate_info_[e.msg.id()] = &e.info;
    });
  }

  void ResolvePrinciples() {
    AddUnique(raw_.principles, "principle", &principle_locs_, Ids(pack_.principles()),
              [&](Parsed<v1::Principle>& e) {
                *pack_.add_principles() = e.msg;
                principle_info_[e.msg.id()] = &e.info;
              });
    // Question ids are unique across the pack (answers name them without their principle).
    absl::flat_hash_map<std::string, Loc> questions;
    for (const v1::Principle& p : pack_.principles()) {
      auto info_it = principle_info_.find(p.id());
      for (int i = 0; i < p.questions_size(); ++i) {
        const std::string& q = p.questions(i).id();
        if (q.empty()) continue;
        Loc loc = info_it == principle_info_.end() ? Loc{} : info_it->second->Item("questions", i);
        auto [it, inserted] = questions.emplace(q, loc);
        if (!inserted && info_it != principle_info_.end()) {
          Error(loc, absl::StrCat("duplicate question id '", q, "'", Where(it->second)));
        }
      }
    }
  }

  void ResolveOutputs() {
    absl::flat_hash_map<std::string, int> base_index;
    for (int i = 0; i < pack_.outputs_size(); ++i) base_index[pack_.outputs(i).id()] = i;
    for (Parsed<v1::OutputType>& e : raw_.outputs) {
      const std::string& id = e.msg.id();
      if (id.empty()) continue;
      if (auto b = base_index.find(id); b != base_index.end()) {
        // A base output: only fields may be added.
        for (const auto& [key, loc] : e.info.key_locs) {
          if (key != "id" && key != "fields") {
            Error(e.info.KeyAt(key),
                  absl::StrCat("output '", id, "' is defined by base pack ", pack_.extends(),
                               "; a derived pack may only add 'fields' to it"));
          }
        }
        v1::OutputType* out = pack_.mutable_outputs(b->second);
        absl::flat_hash_set<std::string> names;
        for (const v1::FieldSchema& f : out->fields()) names.insert(f.name());
        for (int i = 0; i < e.msg.fields_size(); ++i) {
          const v1::FieldSchema& f = e.msg.fields(i);
          if (f.name().empty()) continue;
          if (names.contains(f.name())) {
            Error(e.info.Item("fields", i),
                  absl::StrCat("field '", f.name(), "' of output '", id,
                               "' is already defined by base pack ", pack_.extends()));
            continue;
          }
          names.insert(f.name());
          *out->add_fields() = f;
        }
        output_info_[id] = &e.info;
        continue;
      }
      auto [it, inserted] = output_locs_.emplace(id, e.info.At("id"));
      if (!inserted) {
        Error(e.info.At("id"), absl::StrCat("duplicate output id '", id, "'", Where(it->second)));
        continue;
      }
      for (absl::string_view key : {"name", "gate"}) {
        if (!e.info.Has(key)) {
          Error(e.info.loc, absl::StrCat("output '", id, "' is missing required key '", key, "'"));
        }
      }
      output_info_[id] = &e.info;
      *pack_.add_outputs() = e.msg;
    }
  }

  static int Strength(v1::RuleEnforcement e) {
    switch (e) {
      case v1::RULE_ENFORCEMENT_ENFORCE:
        return 3;
      case v1::RULE_ENFORCEMENT_WARN:
        return 2;
      case v1::RULE_ENFORCEMENT_AUDIT:
        return 1;
      default:
        return 0;
    }
  }

  void ResolveRules() {
    absl::flat_hash_map<std::string, int> base_index;
    for (int i = 0; i < pack_.rules_size(); ++i) base_index[pack_.rules(i).id()] = i;
    absl::flat_hash_map<std::string, Loc> seen;
    for (Parsed<v1::Rule>& e : raw_.rules) {
      const std::string& id = e.msg.id();
      if (id.empty()) continue;
      auto [it, inserted] = seen.emplace(id, e.info.At("id"));
      if (!inserted) {
        Error(e.info.At("id"), absl::StrCat("duplicate rule id '", id, "'", Where(it->second)));
        continue;
      }
      if (auto b = base_index.find(id); b != base_index.end()) {
        ApplyToBaseRule(e, pack_.mutable_rules(b->second));
        continue;
      }
      bool ok = true;
      for (absl::string_view key : {"gate", "severity", "expr"}) {
        if (!e.info.Has(key)) {
          Error(e.info.loc, absl::StrCat("rule '", id, "' is missing required key '", key, "'"));
          ok = false;
        }
      }
      bool has_message = e.info.Has("message");
      bool has_message_expr = e.info.Has("message_expr");
      if (!has_message && !has_message_expr) {
        Error(e.info.loc, absl::StrCat("rule '", id, "' needs 'message' or 'message_expr'"));
      } else if (has_message && has_message_expr) {
        Error(e.info.KeyAt("message_expr"),
              absl::StrCat("rule '", id, "' has both 'message' and 'message_expr'; keep one"));
      }
      if (!ok) continue;
      if (e.msg.weight() == 0) e.msg.set_weight(1.0);
      if (e.msg.enforcement() == v1::RULE_ENFORCEMENT_UNSPECIFIED) {
        e.msg.set_enforcement(v1::RULE_ENFORCEMENT_ENFORCE);
      }
      rule_info_[id] = &e.info;
      *pack_.add_rules() = e.msg;
    }
  }

  void ApplyToBaseRule(const Parsed<v1::Rule>& e, v1::Rule* base) {
    const std::string& id = base->id();
    for (const auto& [key, loc] : e.info.key_locs) {
      if (key != "id" && key != "severity" && key != "enforcement") {
        Error(e.info.KeyAt(key),
              absl::StrCat("rule '", id, "' is defined by base pack ", pack_.extends(),
                           "; a derived pack may only tighten its severity or enforcement"));
      }
    }
    if (e.info.Has("severity") && e.msg.severity() != v1::RULE_SEVERITY_UNSPECIFIED) {
      if (base->severity() == v1::RULE_SEVERITY_MUST &&
          e.msg.severity() == v1::RULE_SEVERITY_SHOULD) {
        Error(e.info.At("severity"),
              absl::StrCat("rule '", id, "' is a must rule of base pack ", pack_.extends(),
                           "; weakening it to should is not allowed"));
      } else {
        base->set_severity(e.msg.severity());
      }
    }
    if (e.info.Has("enforcement") && e.msg.enforcement() != v1::RULE_ENFORCEMENT_UNSPECIFIED) {
      if (Strength(e.msg.enforcement()) < Strength(base->enforcement())) {
        Error(e.info.At("enforcement"),
              absl::StrCat("rule '", id, "' of base pack ", pack_.extends(), " is enforced as '",
                           EnforcementName(base->enforcement()),
                           "'; weakening its enforcement is not allowed"));
      } else {
        base->set_enforcement(e.msg.enforcement());
      }
    }
  }

  static absl::string_view EnforcementName(v1::RuleEnforcement e) {
    for (const auto& [name, v] : kEnforcements) {
      if (v == e) return name;
    }
    return "unspecified";
  }

  // Reports `id` at `loc` when it is not in `known`.
  void Ref(const absl::flat_hash_set<std::string>& known, const std::string& id,
           absl::string_view kind, const Loc& loc) {
    if (!id.empty() && !known.contains(id)) {
      Error(loc, absl::StrCat("unknown ", kind, " '", id, "'"));
    }
  }

  void CheckReferences() {
    absl::flat_hash_set<std::string> stages = Ids(pack_.stages());
    absl::flat_hash_set<std::string> panels = Ids(pack_.panels());
    absl::flat_hash_set<std::string> gates = Ids(pack_.gates());
    absl::flat_hash_set<std::string> principles = Ids(pack_.principles());
    absl::flat_hash_map<std::string, const v1::Stage*> stage_by_id;
    int max_order = 0;
    for (const v1::Stage& s : pack_.stages()) {
      stage_by_id[s.id()] = &s;
      max_order = std::max(max_order, s.order());
    }
    for (const v1::Gate& g : pack_.gates()) {
      auto it = gate_info_.find(g.id());
      if (it == gate_info_.end()) continue;  // from the base: already checked
      const EntryInfo& info = *it->second;
      Ref(stages, g.after_stage(), "stage", info.At("after_stage"));
      Ref(stages, g.go_to(), "stage", info.At("go_to"));
      for (int i = 0; i < g.panels_size(); ++i) {
        Ref(panels, g.panels(i), "panel", info.Item("panels", i));
      }
      // A gate closes a diamond: the stage after it (if any) is in another diamond.
      auto after = stage_by_id.find(g.after_stage());
      if (after != stage_by_id.end()) {
        const v1::Stage& s = *after->second;
        for (const v1::Stage& next : pack_.stages()) {
          if (next.order() == s.order() + 1 && next.diamond() == s.diamond()) {
            Error(info.At("after_stage"),
                  absl::StrCat("gate '", g.id(), "' sits after stage '", s.id(),
                               "', which is not the last stage of diamond ", s.diamond()));
          }
        }
      }
    }
    for (const v1::Principle& p : pack_.principles()) {
      auto it = principle_info_.find(p.id());
      if (it == principle_info_.end()) continue;
      for (int i = 0; i < p.stages_size(); ++i) {
        Ref(stages, p.stages(i), "stage", it->second->Item("stages", i));
      }
    }
    for (const v1::OutputType& o : pack_.outputs()) {
      auto it = output_info_.find(o.id());
      if (it == output_info_.end() || !it->second->Has("gate")) continue;
      const EntryInfo& info = *it->second;
      Ref(gates, o.gate(), "gate", info.At("gate"));
      for (int i = 0; i < o.principles_size(); ++i) {
        Ref(principles, o.principles(i), "principle", info.Item("principles", i));
      }
    }
    for (const v1::Rule& r : pack_.rules()) {
      auto it = rule_info_.find(r.id());
      if (it == rule_info_.end()) continue;
      const EntryInfo& info = *it->second;
      Ref(gates, r.gate(), "gate", info.At("gate"));
      for (int i = 0; i < r.principles_size(); ++i) {
        Ref(principles, r.principles(i), "principle", info.Item("principles", i));
      }
    }
  }

  RawPack raw_;
  const PackRegistry* bases_;
  std::vector<Diagnostic>* diags_;
  std::shared_ptr<const CompiledPack> base_;
  v1::RulePack pack_;
  absl::flat_hash_map<std::string, Loc> stage_locs_, panel_locs_, gate_locs_, principle_locs_,
      output_locs_;
  absl::flat_hash_map<std::string, const EntryInfo*> stage_info_, gate_info_, principle_info_,
      output_info_, rule_info_;
};

void SortCanonically(v1::RulePack& pack) {
  auto by_id = [](const auto& a, const auto& b) { return a.id() < b.id(); };
  std::stable_sort(pack.mutable_stages()->begin(), pack.mutable_stages()->end(),
                   [](const v1::Stage& a, const v1::Stage& b) { return a.order() < b.order(); });
  std::stable_sort(pack.mutable_panels()->begin(), pack.mutable_panels()->end(), by_id);
  std::stable_sort(pack.mutable_gates()->begin(), pack.mutable_gates()->end(), by_id);
  std::stable_sort(pack.mutable_principles()->begin(), pack.mutable_principles()->end(),
                   [](const v1::Principle& a, const v1::Principle& b) {
                     return PrincipleNumber(a.id()) < PrincipleNumber(b.id());
                   });
  std::stable_sort(pack.mutable_outputs()->begin(), pack.mutable_outputs()->end(), by_id);
  std::stable_sort(pack.mutable_rules()->begin(), pack.mutable_rules()->end(), by_id);
}

// Compiles one CEL text of a rule, reporting issues at their position in the YAML file.
std::shared_ptr<const cel::Program> CompileAt(const cel::Compiler& compiler,
                                              const std::string& text, const ScalarRef* ref,
                                              const Loc& fallback, absl::string_view rule_id,
                                              absl::string_view key, bool want_string,
                                              std::vector<Diagnostic>* diags) {
  cel::CompileResult r = compiler.Compile(text);
  auto report = [&](const cel::Issue& issue) {
    Loc loc = fallback;
    bool exact = false;
    if (ref != nullptr) {
      std::optional<Loc> mapped = ref->Map(issue.offset);
      if (mapped.has_value()) {
        loc = *mapped;
        exact = true;
      } else {
        loc = ref->loc;
      }
    }
    Diagnostic d{loc.file, loc.line, loc.column,
                 absl::StrCat("rule '", rule_id, "' ", key, ": ", issue.message), ""};
    if (!exact) {
      absl::StrAppend(&d.message, " (at ", key, " line ", issue.line, ", column ", issue.column,
                      ")");
      d.detail = cel::FormatIssues(text, {issue}, key);
    }
    diags->push_back(std::move(d));
  };
  if (!r.ok()) {
    for (const cel::Issue& issue : r.issues) report(issue);
    return nullptr;
  }
  const cel::Type& t = r.program->result_type();
  cel::Type::Kind want = want_string ? cel::Type::Kind::kString : cel::Type::Kind::kBool;
  if (t.kind() != want && t.kind() != cel::Type::Kind::kDyn) {
    report(
        cel::MakeIssue(text, 0,
                       absl::StrCat("expression must be of type ", want_string ? "string" : "bool",
                                    ", not ", t.DebugString())));
    return nullptr;
  }
  return r.program;
}

std::string ReadFileText(const fs::path& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot be read";
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

LoadResult LoadPackFromSources(const std::vector<SourceFile>& files, const PackRegistry* bases) {
  LoadResult result;
  std::vector<Diagnostic>& diags = result.diagnostics;
  // Sources stay alive (and in place) while positions refer to them.
  std::vector<std::unique_ptr<Source>> sources;
  RawPack raw;
  const SourceFile* manifest = nullptr;
  for (const SourceFile& f : files) {
    if (fs::path(f.path).filename() == "pack.yaml") {
      if (manifest != nullptr) {
        diags.push_back(
            Diagnostic{f.path, 1, 1,
                       absl::StrCat("a second pack.yaml (the first is ", manifest->path, ")"), ""});
        continue;
      }
      manifest = &f;
    }
  }
  for (const SourceFile& f : files) {
    sources.push_back(std::make_unique<Source>(Source{f.path, f.content}));
    try {
      FileParser(*sources.back(), &diags).Parse(&f == manifest, &raw);
    } catch (const std::exception& e) {
      // yaml-cpp may throw from places the readers do not guard; never let it escape.
      diags.push_back(Diagnostic{f.path, 1, 1, absl::StrCat("cannot read: ", e.what()), ""});
    }
  }
  if (manifest == nullptr) {
    std::string dir = files.empty() ? "." : fs::path(files[0].path).parent_path().string();
    diags.push_back(
        Diagnostic{(fs::path(dir) / "pack.yaml").string(), 1, 1, "the pack has no pack.yaml", ""});
  }

  Resolver resolver(std::move(raw), bases, &diags);
  resolver.Resolve();
  v1::RulePack& pack = resolver.pack();
  SortCanonically(pack);

  std::vector<CompiledPack::CompiledRule> compiled;
  absl::StatusOr<std::shared_ptr<const cel::Env>> env = BuildEnv(pack);
  if (!env.ok()) {
    // Only reachable when schemas are malformed, which is reported above; keep a trace anyway.
    if (diags.empty()) {
      diags.push_back(Diagnostic{
          manifest ? manifest->path : "pack.yaml", 1, 1,
          absl::StrCat("cannot declare the pack's CEL types: ", env.status().message()), ""});
    }
  } else {
    cel::Compiler compiler(*env);
    Loc header_loc = resolver.header_info().loc;
    for (v1::Rule& rule : *pack.mutable_rules()) {
      const EntryInfo* info = resolver.RuleInfo(rule.id());
      auto ref_of = [&](absl::string_view key) -> const ScalarRef* {
        if (info == nullptr) return nullptr;
        auto it = info->scalars.find(key);
        return it == info->scalars.end() ? nullptr : &it->second;
      };
      // Base rules have no position in this pack; they compiled in the base, and additions to
      // the environment cannot break them, but report at the manifest if they ever do.
      Loc fallback = info != nullptr ? info->At("expr") : resolver.header_info().At("extends");
      if (info == nullptr && fallback.file.empty()) fallback = header_loc;
      CompiledPack::CompiledRule cr;
      cr.program = CompileAt(compiler, rule.expr(), ref_of("expr"), fallback, rule.id(), "expr",
                             /*want_string=*/false, &diags);
      if (rule.has_message_expr()) {
        Loc mloc = info != nullptr ? info->At("message_expr") : fallback;
        cr.message_et = CompileAt(compiler, rule.message_expr().et(), ref_of("message_expr.et"),
                                  mloc, rule.id(), "message_expr.et", true, &diags);
        cr.message_en = CompileAt(compiler, rule.message_expr().en(), ref_of("message_expr.en"),
                                  mloc, rule.id(), "message_expr.en", true, &diags);
      }
      rule.clear_reads_outputs();
      if (cr.program != nullptr) {
        for (std::string& id : cr.program->FieldsSelected("outputs")) {
          rule.add_reads_outputs(std::move(id));
        }
      }
      compiled.push_back(std::move(cr));
    }
  }

  std::stable_sort(diags.begin(), diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  if (!diags.empty()) return result;
  result.pack = CompiledPack::Create(std::move(pack), *std::move(env), std::move(compiled));
  return result;
}

LoadResult LoadPackDir(absl::string_view dir, const PackRegistry* bases) {
  LoadResult result;
  fs::path root{std::string(dir)};
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    result.diagnostics.push_back(
        Diagnostic{std::string(dir), 1, 1, "not a directory of a rule pack", ""});
    return result;
  }
  std::vector<fs::path> paths;
  fs::path tests = root / "tests";
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory() && it->path() == tests) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().extension() == ".yaml") paths.push_back(it->path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<SourceFile> files;
  for (const fs::path& p : paths) {
    std::string error;
    std::string text = ReadFileText(p, &error);
    if (!error.empty()) {
      result.diagnostics.push_back(Diagnostic{p.string(), 1, 1, error, ""});
      continue;
    }
    files.push_back(SourceFile{p.string(), std::move(text)});
  }
  if (files.empty() || !fs::exists(root / "pack.yaml")) {
    result.diagnostics.push_back(
        Diagnostic{(root / "pack.yaml").string(), 1, 1, "the pack has no pack.yaml", ""});
    return result;
  }
  if (!result.diagnostics.empty()) return result;
  return LoadPackFromSources(files, bases);
}

absl::StatusOr<std::shared_ptr<const CompiledPack>> LoadPack(absl::string_view dir,
                                                             const PackRegistry* bases) {
  LoadResult r = LoadPackDir(dir, bases);
  if (r.ok()) return r.pack;
  std::vector<std::string> lines;
  for (const Diagnostic& d : r.diagnostics) lines.push_back(d.ToString());
  return absl::InvalidArgumentError(absl::StrCat("rule pack ", dir, " has ", r.diagnostics.size(),
                                                 " error(s):\n", absl::StrJoin(lines, "\n")));
}

absl::StatusOr<PackHeader> ReadPackHeader(absl::string_view dir) {
  fs::path path = fs::path(std::string(dir)) / "pack.yaml";
  std::string error;
  if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat(path.string(), " does not exist"));
  std::string text = ReadFileText(path, &error);
  if (!error.empty()) return absl::InvalidArgumentError(absl::StrCat(path.string(), " ", error));
  PackHeader h;
  h.dir = std::string(dir);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return absl::InvalidArgumentError(path.string() + " is not a mapping");
    auto get = [&](const char* key) -> std::string {
      YAML::Node n = root[key];
      return n && n.IsScalar() ? n.Scalar() : "";
    };
    h.id = get("id");
    h.version = get("version");
    h.extends = get("extends");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  if (h.id.empty() || h.version.empty()) {
    return absl::InvalidArgumentError(path.string() + " lacks id or version");
  }
  return h;
}

absl::StatusOr<std::vector<PackHeader>> OrderByExtends(std::vector<PackHeader> headers) {
  std::sort(headers.begin(), headers.end(),
            [](const PackHeader& a, const PackHeader& b) { return a.key() < b.key(); });
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < headers.size(); ++i) index[headers[i].key()] = i;
  std::vector<PackHeader> out;
  std::vector<int> state(headers.size(), 0);  // 0 new, 1 visiting, 2 done
  std::function<absl::Status(size_t)> visit = [&](size_t i) -> absl::Status {
    if (state[i] == 2) return absl::OkStatus();
    if (state[i] == 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("packs extend each other in a cycle through ", headers[i].key()));
    }
    state[i] = 1;
    auto base = index.find(headers[i].extends);
    if (!headers[i].extends.empty() && base != index.end()) {
      VARAV_RETURN_IF_ERROR(visit(base->second));
    }
    state[i] = 2;
    out.push_back(headers[i]);
    return absl::OkStatus();
  };
  for (size_t i = 0; i < headers.size(); ++i) VARAV_RETURN_IF_ERROR(visit(i));
  return out;
}

absl::Status LoadBundledPacks(absl::string_view rules_dir, PackRegistry* registry) {
  std::vector<PackHeader> headers;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(std::string(rules_dir), ec)) {
    if (!e.is_directory() || !fs::exists(e.path() / "pack.yaml")) continue;
    VARAV_ASSIGN_OR_RETURN(PackHeader h, ReadPackHeader(e.path().string()));
    headers.push_back(std::move(h));
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat("cannot list ", rules_dir, ": ", ec.message()));
  }
  VARAV_ASSIGN_OR_RETURN(std::vector<PackHeader> ordered, OrderByExtends(std::move(headers)));
  for (const PackHeader& h : ordered) {
    VARAV_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledPack> pack, LoadPack(h.dir, registry));
    VARAV_RETURN_IF_ERROR(registry->Add(std::move(pack)));
  }
  return absl::OkStatus();
}

}  // namespace varav::model
