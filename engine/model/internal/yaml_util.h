// Internal to engine/model: reading YAML (yaml-cpp) with positions, for the pack loader and the
// pack test runner. Not a public API.
//
// Every reader reports its problems as Diagnostics at 1-based line and column (columns count code
// points; yaml-cpp's marks count bytes from 0) and returns false, so that callers keep going and a
// file's every problem is reported in one run. yaml-cpp exceptions never escape.
//
// Thread safety: a YamlReader belongs to one thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/model/pack.h"
#include "google/protobuf/repeated_field.h"
#include "varav/v1/rulepack.pb.h"

namespace varav::model {

// A position in a file (1-based; 0 when unknown).
struct Loc {
  std::string file;
  int line = 0;
  int column = 0;
  std::string ToString() const;
};

// One file's text; positions are computed from it.
struct Source {
  std::string path;
  std::string text;
  // The position of byte `pos` (columns in code points).
  Loc LocAtByte(size_t pos) const;
  Loc LocOf(const YAML::Mark& mark) const;
};

// A scalar's place in its file, to map offsets inside its value (a CEL expression) back to file
// positions.
struct ScalarRef {
  const Source* source = nullptr;
  size_t pos = 0;     // byte offset of the scalar's first character (or block indicator)
  std::string value;  // the scalar as YAML delivered it
  Loc loc;            // position of the scalar

  // The file position of byte `offset` of `value`, when the file text reproduces the value up to
  // there: plain and quoted scalars without escapes or folded line breaks before the offset, and
  // literal (`|`) or folded (`>`) block scalars without blank or more-indented lines. nullopt
  // otherwise.
  std::optional<Loc> Map(int32_t offset) const;
};

struct Field {
  YAML::Node key;
  YAML::Node value;
};

struct MapFields {
  Loc loc;
  absl::flat_hash_map<std::string, Field> by_key;
  std::vector<std::string> order;  // keys in file order
  const Field* Get(absl::string_view key) const {
    auto it = by_key.find(key);
    return it == by_key.end() ? nullptr : &it->second;
  }
};

class YamlReader {
 public:
  YamlReader(const Source& source, std::vector<Diagnostic>* diags)
      : source_(source), diags_(diags) {}

  const Source& source() const { return source_; }

  // Where nodes without a position (built in memory, e.g. by merging a patch) are reported.
  void set_fallback(Loc loc) { fallback_ = std::move(loc); }

  // Parses the whole file; false (reported) on a syntax error.
  bool Load(YAML::Node* root);

  Loc LocOf(const YAML::Node& node) const;
  // The value's position, or the key's when the value is null (yaml-cpp marks an empty value at
  // the next token).
  Loc LocOf(const Field& field) const;

  void ErrorAt(const Loc& loc, std::string message);
  void Error(const YAML::Node& node, std::string message) { ErrorAt(LocOf(node), message); }
  void Error(const Field& field, std::string message) { ErrorAt(LocOf(field), message); }

  // Reads a mapping whose keys are all in `allowed` and include every `required` key. Reports
  // unknown, repeated and missing keys; false only when `node` is not a mapping.
  bool ReadMap(const YAML::Node& node, absl::string_view kind,
               const std::vector<absl::string_view>& allowed,
               const std::vector<absl::string_view>& required, MapFields* out);

  bool ReadString(const Field& f, std::string* out);
  bool ReadInt(const Field& f, int64_t* out);
  bool ReadDouble(const Field& f, double* out);
  bool ReadBool(const Field& f, bool* out);
  // {et, en}, both required strings. `fields` (optional) receives the mapping's fields.
  bool ReadText(const Field& f, v1::LocalizedText* out, MapFields* fields = nullptr);
  // A list of strings; `nodes` (optional) receives the node of each string read.
  bool ReadStringList(const Field& f, google::protobuf::RepeatedPtrField<std::string>* out,
                      std::vector<YAML::Node>* nodes);
  // One of `table`'s words.
  bool ReadEnum(const Field& f, const std::vector<std::pair<absl::string_view, int>>& table,
                int* out);
  bool LookupEnum(const YAML::Node& at, absl::string_view word,
                  const std::vector<std::pair<absl::string_view, int>>& table, int* out);
  // Reports unless the value is a sequence.
  bool ExpectList(const Field& f);
  ScalarRef Ref(const Field& f) const;

  static std::string KeyName(const Field& f);

 private:
  bool ExpectScalar(const Field& f, absl::string_view what);

  const Source& source_;
  std::vector<Diagnostic>* diags_;
  Loc fallback_;
};

}  // namespace varav::model
