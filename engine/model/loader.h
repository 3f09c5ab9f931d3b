// Loading rule packs: YAML files (rules/FORMAT.md) -> validated, resolved, compiled CompiledPack.
//
// Loading never stops at the first problem: every file is parsed and every problem is reported as
// a Diagnostic naming the file, line and column (1-based; columns count code points). Problems
// found: YAML syntax errors, unknown or repeated keys, missing required keys, values of the wrong
// type, malformed ids, duplicate ids, references to unknown stages, gates, panels, principles or
// outputs, malformed schemas, violations of the `extends` rules, and CEL compile errors of rule
// expressions (type-checked against the activation described in activation.h), positioned at the
// offending character of the expression when it can be mapped back through the YAML scalar, or at
// the expression otherwise (then `detail` holds the CEL caret excerpt).
//
//   LoadResult r = LoadPackDir("rules/teenuse-standard-2.0", &registry);
//   for (const Diagnostic& d : r.diagnostics) std::cerr << d.ToString() << "\n";
//
//   absl::StatusOr<std::shared_ptr<const CompiledPack>> pack = LoadPack(dir, &registry);
//
// A pack with `extends: base@version` is loaded against `bases`, which must already hold the base.
// The result is the merged pack: the base's content plus the additions (outputs, fields of base
// outputs, panels, principles, rules) and tightened base rules.
//
// Thread safety: the functions are reentrant; `bases` is only read.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/pack.h"

namespace varav::model {

// One YAML file of a pack. The file whose base name is `pack.yaml` is the pack's manifest.
struct SourceFile {
  std::string path;  // as reported in diagnostics
  std::string content;
};

struct LoadResult {
  std::shared_ptr<const CompiledPack> pack;  // null when diagnostics is not empty
  std::vector<Diagnostic> diagnostics;       // ordered by file, line and column
  bool ok() const { return pack != nullptr; }
};

// Loads a pack from in-memory files.
LoadResult LoadPackFromSources(const std::vector<SourceFile>& files, const PackRegistry* bases);

// Loads the pack in directory `dir`: every `*.yaml` below it except under `dir/tests/`, in path
// order.
LoadResult LoadPackDir(absl::string_view dir, const PackRegistry* bases);

// As LoadPackDir; on failure InvalidArgument whose message lists every diagnostic, one per line.
absl::StatusOr<std::shared_ptr<const CompiledPack>> LoadPack(absl::string_view dir,
                                                             const PackRegistry* bases);

// The identity of a pack directory, read from its pack.yaml without loading the rest.
struct PackHeader {
  std::string dir;
  std::string id;
  std::string version;
  std::string extends;  // "" or "id@version"
  std::string key() const { return id + "@" + version; }
};
// NotFound when `dir` has no pack.yaml; InvalidArgument when it cannot be read as YAML or lacks
// id or version.
absl::StatusOr<PackHeader> ReadPackHeader(absl::string_view dir);

// Orders `headers` so that every pack comes after the pack it extends (when that pack is among
// them); otherwise by key. InvalidArgument on a cycle.
absl::StatusOr<std::vector<PackHeader>> OrderByExtends(std::vector<PackHeader> headers);

// Loads every pack directory (one holding pack.yaml) directly under `rules_dir` into `registry`,
// bases first. Fails with the first pack's diagnostics.
absl::Status LoadBundledPacks(absl::string_view rules_dir, PackRegistry* registry);

}  // namespace varav::model
