#include "engine/model/pack.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace varav::model {

std::string Diagnostic::ToString() const {
  std::string out = absl::StrCat(file, ":", line, ":", column, ": ", message);
  if (!detail.empty()) {
    absl::StrAppend(&out, "\n", detail);
    if (out.back() == '\n') out.pop_back();
  }
  return out;
}

std::string PackDigest(const v1::RulePack& pack) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream coded(&raw);
    // Deterministic mode fixes map ordering; together with the loader's canonical list order it
    // makes equal packs serialize to equal bytes.
    coded.SetSerializationDeterministic(true);
    pack.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

std::shared_ptr<const CompiledPack> CompiledPack::Create(v1::RulePack pack,
                                                         std::shared_ptr<const cel::Env> env,
                                                         std::vector<CompiledRule> rules) {
  std::shared_ptr<CompiledPack> out(new CompiledPack());
  out->pack_ = std::move(pack);
  out->key_ = absl::StrCat(out->pack_.id(), "@", out->pack_.version());
  out->digest_ = PackDigest(out->pack_);
  out->env_ = std::move(env);
  out->rules_ = std::move(rules);
  const v1::RulePack& p = out->pack_;
  for (const v1::Stage& s : p.stages()) out->stages_.emplace(s.id(), &s);
  for (const v1::Gate& g : p.gates()) out->gates_.emplace(g.id(), &g);
  for (const v1::Panel& x : p.panels()) out->panels_.emplace(x.id(), &x);
  for (const v1::Principle& x : p.principles()) out->principles_.emplace(x.id(), &x);
  for (const v1::OutputType& x : p.outputs()) out->outputs_.emplace(x.id(), &x);
  // The loader hands over exactly one CompiledRule per proto rule; guard anyway so that a misuse
  // cannot index out of range.
  out->rules_.resize(p.rules_size());
  for (int i = 0; i < p.rules_size(); ++i) {
    CompiledRule& r = out->rules_[i];
    r.rule = &p.rules(i);
    out->rule_index_.emplace(r.rule->id(), &r);
    out->rules_by_gate_[r.rule->gate()].push_back(&r);
  }
  for (auto& [gate, list] : out->rules_by_gate_) {
    std::sort(list.begin(), list.end(), [](const CompiledRule* a, const CompiledRule* b) {
      return a->rule->id() < b->rule->id();
    });
  }
  return out;
}

namespace {
template <typename Map>
auto FindIn(const Map& map, absl::string_view id) -> typename Map::mapped_type {
  auto it = map.find(id);
  return it == map.end() ? nullptr : it->second;
}
}  // namespace

const v1::Stage* CompiledPack::FindStage(absl::string_view id) const { return FindIn(stages_, id); }
const v1::Gate* CompiledPack::FindGate(absl::string_view id) const { return FindIn(gates_, id); }
const v1::Panel* CompiledPack::FindPanel(absl::string_view id) const { return FindIn(panels_, id); }
const v1::Principle* CompiledPack::FindPrinciple(absl::string_view id) const {
  return FindIn(principles_, id);
}
const v1::OutputType* CompiledPack::FindOutput(absl::string_view id) const {
  return FindIn(outputs_, id);
}
const CompiledPack::CompiledRule* CompiledPack::FindRule(absl::string_view id) const {
  return FindIn(rule_index_, id);
}

const std::vector<const CompiledPack::CompiledRule*>& CompiledPack::RulesForGate(
    absl::string_view gate_id) const {
  static const std::vector<const CompiledRule*>* const kNone =
      new std::vector<const CompiledRule*>();
  auto it = rules_by_gate_.find(gate_id);
  return it == rules_by_gate_.end() ? *kNone : it->second;
}

absl::Status PackRegistry::Add(std::shared_ptr<const CompiledPack> pack) {
  if (pack == nullptr) return absl::InvalidArgumentError("pack must not be null");
  absl::MutexLock lock(&mu_);
  std::string key = pack->key();
  if (!packs_.emplace(key, std::move(pack)).second) {
    return absl::AlreadyExistsError(absl::StrCat("pack ", key, " is already registered"));
  }
  return absl::OkStatus();
}

std::shared_ptr<const CompiledPack> PackRegistry::Find(absl::string_view key) const {
  absl::MutexLock lock(&mu_);
  auto it = packs_.find(key);
  return it == packs_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const CompiledPack>> PackRegistry::List() const {
  std::vector<std::shared_ptr<const CompiledPack>> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, pack] : packs_) out.push_back(pack);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->key() < b->key(); });
  return out;
}

}  // namespace varav::model
