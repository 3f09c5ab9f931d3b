// Internal to engine/model: the two stages of loading a pack (loader.h is the public API).
//
// The parser (pack_parser.cc) reads each YAML file of a pack into one RawPack: the entries as
// protobuf messages with the positions that later checks report at. The resolver
// (pack_resolver.cc) merges a RawPack with its base pack, checks every reference, fills defaults
// and orders the result canonically. Both report every problem as a Diagnostic and go on, so one
// run names all of a pack's problems.
//
// Thread safety: no shared state; a PackResolver belongs to one thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/model/internal/yaml_util.h"
#include "engine/model/pack.h"
#include "varav/v1/rulepack.pb.h"

namespace varav::model::internal {

// A parsed entry's positions: of its mapping, each key, each value, each list item, and the
// scalars holding CEL text (so a CEL issue maps back to its character in the file).
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

// Enum spellings in pack files.
extern const std::vector<std::pair<absl::string_view, int>> kProvenance;
extern const std::vector<std::pair<absl::string_view, int>> kOutcomes;
extern const std::vector<std::pair<absl::string_view, int>> kFieldTypes;
extern const std::vector<std::pair<absl::string_view, int>> kSeverities;
extern const std::vector<std::pair<absl::string_view, int>> kEnforcements;

// Id formats (rules/FORMAT.md).
bool IsLowerId(absl::string_view s);
bool IsGateId(absl::string_view s);
bool IsPrincipleId(absl::string_view s);
bool IsRuleId(absl::string_view s);
bool IsPackId(absl::string_view s);
bool IsSemver(absl::string_view s);
// Names that CEL reserves cannot be selected as fields (`outputs.in` does not parse).
bool IsCelReserved(absl::string_view s);
// The number of principle id "P<n>" (0 when malformed).
int PrincipleNumber(absl::string_view id);

// Parses one file of a pack into `raw` (the manifest when `is_manifest`). `src` must outlive
// `raw`, whose positions refer to it.
void ParsePackFile(const Source& src, bool is_manifest, RawPack* raw,
                   std::vector<Diagnostic>* diags);

// Resolves a parsed pack against `bases` (which must hold the pack it extends).
class PackResolver {
 public:
  PackResolver(RawPack raw, const PackRegistry* bases, std::vector<Diagnostic>* diags);
  ~PackResolver();
  PackResolver(const PackResolver&) = delete;
  PackResolver& operator=(const PackResolver&) = delete;

  // Fills pack(): merged, checked, with defaults, in canonical order.
  void Resolve();
  v1::RulePack& pack();
  // The positions of rule `id` in this pack's files; nullptr for a rule of the base.
  const EntryInfo* RuleInfo(absl::string_view id) const;
  const EntryInfo& header_info() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace varav::model::internal
