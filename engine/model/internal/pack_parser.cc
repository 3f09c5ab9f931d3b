// The first stage of loading a pack: YAML files -> RawPack (see pack_source.h).
#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/model/internal/pack_source.h"
#include "engine/model/internal/yaml_util.h"

namespace varav::model::internal {

using google::protobuf::RepeatedPtrField;

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

namespace {

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

}  // namespace

void ParsePackFile(const Source& src, bool is_manifest, RawPack* raw,
                   std::vector<Diagnostic>* diags) {
  FileParser(src, diags).Parse(is_manifest, raw);
}

}  // namespace varav::model::internal
