// The second stage of loading a pack: RawPack -> resolved RulePack (see pack_source.h).
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/model/internal/pack_source.h"

namespace varav::model::internal {

using google::protobuf::RepeatedPtrField;

namespace {

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

}  // namespace

class PackResolver::Impl {
 public:
  Impl(RawPack raw, const PackRegistry* bases, std::vector<Diagnostic>* diags)
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

PackResolver::PackResolver(RawPack raw, const PackRegistry* bases, std::vector<Diagnostic>* diags)
    : impl_(std::make_unique<Impl>(std::move(raw), bases, diags)) {}
PackResolver::~PackResolver() = default;

void PackResolver::Resolve() {
  impl_->Resolve();
  SortCanonically(impl_->pack());
}
v1::RulePack& PackResolver::pack() { return impl_->pack(); }
const EntryInfo* PackResolver::RuleInfo(absl::string_view id) const { return impl_->RuleInfo(id); }
const EntryInfo& PackResolver::header_info() const { return impl_->header_info(); }

}  // namespace varav::model::internal
