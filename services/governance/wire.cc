#include "services/governance/wire.h"

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"

namespace varav::governance {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong encodings, surrogates and code points past U+10FFFF are not UTF-8.
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

// The path (below `prefix`) of the first string field of `bytes`, a serialized `type`, that holds
// invalid UTF-8; nullopt when there is none (or the bytes are malformed in another way).
std::optional<std::string> FindInvalidUtf8(absl::string_view bytes, const Descriptor& type,
                                           const std::string& prefix, int depth) {
  if (depth > 100) return std::nullopt;  // protobuf's own recursion limit refuses deeper input
  UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  absl::flat_hash_map<int, int> seen;  // occurrences per field number, for repeated fields
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& f = fields.field(i);
    if (f.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* field = type.FindFieldByNumber(f.number());
    if (field == nullptr) continue;
    const int index = seen[f.number()]++;
    std::string path = prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
    if (field->is_repeated() && !field->is_map()) absl::StrAppend(&path, "[", index, "]");
    const std::string& value = f.length_delimited();
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (!IsValidUtf8(value)) return path;
      continue;
    }
    if (field->type() != FieldDescriptor::TYPE_MESSAGE) continue;
    const Descriptor& message = *field->message_type();
    if (field->is_map()) {
      // A map entry is a message of key (1) and value (2); name the entry by its key.
      UnknownFieldSet entry;
      if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) continue;
      std::string key;
      for (int k = 0; k < entry.field_count(); ++k) {
        if (entry.field(k).number() == 1 &&
            entry.field(k).type() == UnknownField::TYPE_LENGTH_DELIMITED) {
          key = entry.field(k).length_delimited();
        }
      }
      if (!IsValidUtf8(key)) return absl::StrCat(path, " (a key)");
      const std::string entry_path = absl::StrCat(path, "[\"", key, "\"]");
      for (int k = 0; k < entry.field_count(); ++k) {
        const UnknownField& v = entry.field(k);
        const FieldDescriptor* value_field = message.FindFieldByNumber(2);
        if (v.number() != 2 || v.type() != UnknownField::TYPE_LENGTH_DELIMITED ||
            value_field == nullptr) {
          continue;
        }
        if (value_field->type() == FieldDescriptor::TYPE_STRING) {
          if (!IsValidUtf8(v.length_delimited())) return entry_path;
        } else if (value_field->type() == FieldDescriptor::TYPE_MESSAGE) {
          // The entry's value is named by the entry itself: fields["title"].string_value.
          std::optional<std::string> found = FindInvalidUtf8(
              v.length_delimited(), *value_field->message_type(), entry_path, depth + 1);
          if (found.has_value()) return found;
        }
      }
      continue;
    }
    std::optional<std::string> found = FindInvalidUtf8(value, message, path, depth + 1);
    if (found.has_value()) return found;
  }
  return std::nullopt;
}

}  // namespace

absl::Status ParseRequest(absl::string_view bytes, google::protobuf::Message& out) {
  out.Clear();
  if (bytes.empty()) return absl::OkStatus();
  if (out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return absl::OkStatus();
  const Descriptor& type = *out.GetDescriptor();
  out.Clear();
  if (std::optional<std::string> field = FindInvalidUtf8(bytes, type, "", 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        *field,
        ": not valid UTF-8 (a string field holds UTF-8 text only; binary content belongs "
        "in the document system, referenced by its SHA-256)"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "request: not a serialized ", type.full_name(),
      " (malformed protobuf: a truncated or corrupt message, or a field of the wrong wire type)"));
}

}  // namespace varav::governance
