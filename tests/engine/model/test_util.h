// Helpers shared by the engine/model tests: a small valid pack as in-memory YAML, and loading
// packs from testdata/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/model/loader.h"
#include "engine/model/pack.h"
#include "gtest/gtest.h"

namespace varav::model::testing {

// A valid manifest with two stages, a panel, gate A, principle P1 and output `vision`. Rules go in
// a separate file so that their line numbers are easy to read in tests.
inline constexpr char kManifest[] = R"y(id: t
version: 1.0.0
title: {et: T, en: T}
stages:
  - {id: one, order: 1, diamond: 1, name: {et: Üks, en: One}}
  - {id: two, order: 2, diamond: 2, name: {et: Kaks, en: Two}}
panels:
  - {id: board, name: {et: Nõukogu, en: Board}}
gates:
  - {id: A, name: {et: A, en: A}, after_stage: one, panels: [board], outcomes: [go], go_to: two}
principles:
  - {id: P1, name: {et: P, en: P}, stages: [one]}
outputs:
  - id: vision
    name: {et: Visioon, en: Vision}
    gate: A
    fields:
      - {name: statement, type: string, required: true}
)y";

// Loads the manifest plus `rules_yaml` as "t/rules.yaml".
inline LoadResult LoadWithRules(const std::string& rules_yaml,
                                const PackRegistry* bases = nullptr) {
  return LoadPackFromSources(
      {SourceFile{"t/pack.yaml", kManifest}, SourceFile{"t/rules.yaml", rules_yaml}}, bases);
}

// Every diagnostic as "file:line:col: message".
inline std::vector<std::string> Messages(const LoadResult& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.diagnostics)
    out.push_back(d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " +
                  d.message);
  return out;
}

inline std::string TestData(const std::string& name) {
  return std::string(VARAV_MODEL_TESTDATA) + "/" + name;
}

// Loads testdata/tiny (and registers it in `registry` when given).
inline std::shared_ptr<const CompiledPack> LoadTiny(PackRegistry* registry = nullptr) {
  LoadResult r = LoadPackDir(TestData("tiny"), nullptr);
  EXPECT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : r.diagnostics[0].ToString());
  if (registry != nullptr && r.ok()) {
    EXPECT_TRUE(registry->Add(r.pack).ok());
  }
  return r.pack;
}

}  // namespace varav::model::testing
