// A minimal JSON reader for the conformance runner: parses the exported suite into a generic tree.
//
// Enough of RFC 8259 for machine-written input: objects keep their member order, numbers keep their
// source text (so 64-bit integers and exact doubles survive), strings are decoded to UTF-8
// (including surrogate pairs). Not meant for untrusted or huge input; nesting is capped to keep
// recursion safe.
//
//   absl::StatusOr<Json> doc = ParseJson(text);
//   const Json* sections = doc->Find("sections");
//
// Thread safety: a parsed Json is an immutable value.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace varav::conformance {

class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Json() = default;

  static Json Bool(bool b);
  // `text` is the number exactly as written in the source.
  static Json Number(std::string text);
  static Json String(std::string s);
  static Json Array(std::vector<Json> items);
  static Json Object(std::vector<std::pair<std::string, Json>> members);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_string() const { return kind_ == Kind::kString; }

  bool bool_value() const { return bool_; }
  // The string of a kString, or the source text of a kNumber.
  const std::string& text() const { return text_; }
  const std::vector<Json>& items() const { return items_; }
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }

  // Object member lookup; nullptr when absent or when this is not an object.
  const Json* Find(absl::string_view key) const;
  // Convenience: the member's string (or number text), or `fallback` when absent.
  std::string GetString(absl::string_view key, absl::string_view fallback = "") const;
  // True when the member is present and `true`.
  bool GetBool(absl::string_view key) const;

  // Compact JSON rendering, for diagnostics.
  std::string Dump() const;

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  std::string text_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

// Parses a complete JSON document. InvalidArgument with a byte offset on malformed input.
absl::StatusOr<Json> ParseJson(absl::string_view text);

}  // namespace varav::conformance
