// The CEL lexer: source text -> tokens, as the "Lexical structure" of the CEL language definition
// describes (google/cel-spec doc/langdef.md).
//
// Internal to the parser (parser.h); exposed as a header so that it can be tested on its own.
// String and bytes literals are fully decoded here (escapes, raw and triple-quoted forms, UTF-8
// validation), numbers are converted, and reserved words are flagged. A malformed token is reported
// through `errors()` and skipped, so that the parser can go on and report further problems; lexing
// never fails as a whole.
//
// Usage:
//   Lexer lexer(source);
//   for (Token t = lexer.Next(); t.kind != TokenKind::kEof; t = lexer.Next()) { ... }
//
// Thread safety: a Lexer is used by one thread; it borrows `source`, which must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace varav::cel {

enum class TokenKind : uint8_t {
  kEof,
  kIdent,        // an identifier; `reserved` tells whether it is a reserved word such as `var`
  kQuotedIdent,  // a backquoted field name: `content-type`; `text` holds the name without quotes
  kInt,          // decimal or hexadecimal; `magnitude` holds the value (see `number_ok`)
  kUint,         // with a u/U suffix; `magnitude` holds the value
  kDouble,       // `double_value`
  kString,       // `text` holds the decoded UTF-8 value
  kBytes,        // `text` holds the decoded bytes
  kTrue,
  kFalse,
  kNull,
  kIn,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kLBrace,
  kRBrace,
  kDot,
  kComma,
  kColon,
  kQuestion,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kBang,
  kLess,
  kLessEquals,
  kGreater,
  kGreaterEquals,
  kEqualEqual,
  kNotEqual,
  kAndAnd,
  kOrOr,
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  int32_t offset = 0;  // byte offset of the first character
  int32_t end = 0;     // byte offset just past the last character
  // Identifier name, quoted-identifier name, or decoded string/bytes value.
  std::string text;
  bool reserved = false;  // kIdent: one of the reserved words that cannot name a variable
  // kInt/kUint: the value; for kInt it may be up to 2^63 so that `-9223372036854775808` can be
  // formed by the parser. `number_ok` is false when the literal does not fit in 64 bits.
  uint64_t magnitude = 0;
  double double_value = 0;
  bool number_ok = true;
};

// A problem found while lexing, at a byte offset.
struct LexError {
  int32_t offset = 0;
  std::string message;
};

class Lexer {
 public:
  explicit Lexer(absl::string_view source) : source_(source) {}

  // Returns the next token, or kEof (repeatedly) at the end of the input.
  Token Next();

  const std::vector<LexError>& errors() const { return errors_; }

  // The source text of `token`, as written (for error messages).
  absl::string_view TextOf(const Token& token) const {
    return source_.substr(token.offset, token.end - token.offset);
  }

 private:
  void SkipWhitespaceAndComments();
  Token LexNumber();
  Token LexIdentOrKeyword();
  Token LexQuotedIdent();
  // Lexes a string or bytes literal starting at pos_ (after any prefix letters, which start at
  // `start`).
  Token LexString(int32_t start, bool raw, bool bytes);
  // Skips one malformed character (a whole UTF-8 sequence) and records an error.
  void SkipUnrecognized();
  void Error(int32_t offset, std::string message);

  absl::string_view source_;
  size_t pos_ = 0;
  std::vector<LexError> errors_;
};

// True for the words the CEL language definition reserves for embedding in host languages
// (`as break const continue else for function if import let loop package namespace return var void
// while`); they may be used as field names and receiver-function names, but not as identifiers.
bool IsReservedWord(absl::string_view word);

// Decodes one UTF-8 code point from `text` at `*pos`, advancing `*pos`. Returns -1 for an invalid
// or overlong sequence or a surrogate code point (and advances by one byte).
int32_t DecodeUtf8(absl::string_view text, size_t* pos);

// Appends the UTF-8 encoding of `code_point` to `out`.
void AppendUtf8(uint32_t code_point, std::string* out);

}  // namespace varav::cel
