// JSON string escaping for the places that write JSON by hand: structured log lines and
// CloudEvents envelopes (protobuf's JSON printer covers message payloads).
//
//   std::string line = absl::StrCat("{\"msg\":", JsonQuote(message), "}");
//
// Escapes `"`, `\` and every control character (and DEL); other bytes, including UTF-8, pass
// through unchanged, so the caller must hand in valid UTF-8 for the result to be valid JSON.
// Thread safety: pure functions.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace varav {

// Appends `text`, escaped, to `out` (without surrounding quotes).
inline void AppendJsonEscaped(std::string& out, absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        } else {
          out += c;
        }
    }
  }
}

// `text` escaped, without surrounding quotes.
inline std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  AppendJsonEscaped(out, text);
  return out;
}

// `text` as a JSON string literal, quotes included.
inline std::string JsonQuote(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 10);
  out.push_back('"');
  AppendJsonEscaped(out, text);
  out.push_back('"');
  return out;
}

}  // namespace varav
