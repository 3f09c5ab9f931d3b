// The compiled rule pack: the Service Standard (or a pack derived from it) loaded, validated and
// with every rule compiled to a CEL program, ready for gate evaluation.
//
// A `CompiledPack` is built by the loader (loader.h) and is immutable afterwards; it is shared as
// `std::shared_ptr<const CompiledPack>` by everything that evaluates gates, and a service pins it
// by `key()` ("id@version"). Its `digest()` is the hex SHA-256 of the canonical (deterministic)
// proto serialization of the fully resolved pack, recorded with every evaluation so that a result
// can be traced to the exact rules it was checked against.
//
//   PackRegistry registry;
//   VARAV_RETURN_IF_ERROR(LoadBundledPacks("rules", &registry));
//   std::shared_ptr<const CompiledPack> pack = registry.Find("teenuse-standard@2.0.0");
//
// Thread safety: CompiledPack is immutable and safe to share across threads. PackRegistry is
// internally synchronized.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "engine/cel/cel.h"
#include "varav/v1/rulepack.pb.h"

namespace varav::model {

// A problem found while loading a pack or its tests, at a 1-based line and column (in code
// points) of a file. `detail` optionally carries a multi-line excerpt (a CEL caret excerpt).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  std::string detail;

  // "file:line:col: message", followed by `detail` on the next lines when present.
  std::string ToString() const;
};

class CompiledPack {
 public:
  // One rule with its compiled expression and, when the rule has a message_expr, the compiled
  // message expressions.
  struct CompiledRule {
    const v1::Rule* rule = nullptr;  // points into proto()
    std::shared_ptr<const cel::Program> program;
    std::shared_ptr<const cel::Program> message_et;  // null unless message_expr is set
    std::shared_ptr<const cel::Program> message_en;  // null unless message_expr is set
  };

  // Builds the pack from its resolved proto (canonical order, defaults filled in), the CEL
  // environment its rules were compiled in, and one CompiledRule per `pack.rules()` entry in the
  // same order (the `rule` pointers are ignored and re-pointed into the pack's own copy).
  static std::shared_ptr<const CompiledPack> Create(v1::RulePack pack,
                                                    std::shared_ptr<const cel::Env> env,
                                                    std::vector<CompiledRule> rules);

  CompiledPack(const CompiledPack&) = delete;
  CompiledPack& operator=(const CompiledPack&) = delete;

  const v1::RulePack& proto() const { return pack_; }
  const std::string& id() const { return pack_.id(); }
  const std::string& version() const { return pack_.version(); }
  // "id@version".
  const std::string& key() const { return key_; }
  // Hex SHA-256 of the canonical encoding of proto().
  const std::string& digest() const { return digest_; }
  // The CEL environment rules are checked against (see activation.h).
  const std::shared_ptr<const cel::Env>& env() const { return env_; }

  // Lookups by id; nullptr when absent.
  const v1::Stage* FindStage(absl::string_view id) const;
  const v1::Gate* FindGate(absl::string_view id) const;
  const v1::Panel* FindPanel(absl::string_view id) const;
  const v1::Principle* FindPrinciple(absl::string_view id) const;
  const v1::OutputType* FindOutput(absl::string_view id) const;
  const CompiledRule* FindRule(absl::string_view id) const;

  // The rules of `gate_id`, ordered by rule id; empty for an unknown gate or one without rules.
  const std::vector<const CompiledRule*>& RulesForGate(absl::string_view gate_id) const;

 private:
  CompiledPack() = default;

  v1::RulePack pack_;
  std::string key_;
  std::string digest_;
  std::shared_ptr<const cel::Env> env_;
  std::vector<CompiledRule> rules_;
  absl::flat_hash_map<std::string, const v1::Stage*> stages_;
  absl::flat_hash_map<std::string, const v1::Gate*> gates_;
  absl::flat_hash_map<std::string, const v1::Panel*> panels_;
  absl::flat_hash_map<std::string, const v1::Principle*> principles_;
  absl::flat_hash_map<std::string, const v1::OutputType*> outputs_;
  absl::flat_hash_map<std::string, const CompiledRule*> rule_index_;
  absl::flat_hash_map<std::string, std::vector<const CompiledRule*>> rules_by_gate_;
};

// Hex SHA-256 of the deterministic serialization of `pack`.
std::string PackDigest(const v1::RulePack& pack);

// Compiled packs by "id@version": the bases a derived pack is loaded against, and the packs a
// server offers.
class PackRegistry {
 public:
  // AlreadyExists when a pack with the same key is registered.
  absl::Status Add(std::shared_ptr<const CompiledPack> pack) ABSL_LOCKS_EXCLUDED(mu_);
  // nullptr when absent.
  std::shared_ptr<const CompiledPack> Find(absl::string_view key) const ABSL_LOCKS_EXCLUDED(mu_);
  // Every registered pack, ordered by key.
  std::vector<std::shared_ptr<const CompiledPack>> List() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const CompiledPack>> packs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace varav::model
