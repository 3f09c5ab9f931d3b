#include "engine/cel/internal/lexer.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace varav::cel {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Renders a character for an error message: printable ASCII as is, anything else as \xNN bytes or
// the whole (valid) UTF-8 sequence.
std::string Printable(absl::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

bool IsReservedWord(absl::string_view word) {
  static constexpr absl::string_view kReserved[] = {
      "as",  "break", "const",   "continue",  "else",   "for", "function", "if",   "import",
      "let", "loop",  "package", "namespace", "return", "var", "void",     "while"};
  for (absl::string_view r : kReserved) {
    if (word == r) return true;
  }
  return false;
}

int32_t DecodeUtf8(absl::string_view text, size_t* pos) {
  const size_t start = *pos;
  const auto b0 = static_cast<unsigned char>(text[start]);
  int length = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    *pos = start + 1;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    length = 2;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    *pos = start + 1;
    return -1;
  }
  if (start + length > text.size()) {
    *pos = start + 1;
    return -1;
  }
  for (int i = 1; i < length; ++i) {
    const auto b = static_cast<unsigned char>(text[start + i]);
    if ((b & 0xC0) != 0x80) {
      *pos = start + 1;
      return -1;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *pos = start + 1;
    return -1;
  }
  *pos = start + length;
  return static_cast<int32_t>(cp);
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void Lexer::Error(int32_t offset, std::string message) {
  errors_.push_back(LexError{.offset = offset, .message = std::move(message)});
}

void Lexer::SkipWhitespaceAndComments() {
  while (pos_ < source_.size()) {
    const char c = source_[pos_];
    // The language definition's WHITESPACE: [\t\n\f\r ]+ (no vertical tab).
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      ++pos_;
    } else if (c == '/' && pos_ + 1 < source_.size() && source_[pos_ + 1] == '/') {
      // A comment ends at a line feed only; a lone carriage return does not end it.
      const size_t nl = source_.find('\n', pos_);
      pos_ = nl == absl::string_view::npos ? source_.size() : nl + 1;
    } else {
      return;
    }
  }
}

void Lexer::SkipUnrecognized() {
  const size_t start = pos_;
  DecodeUtf8(source_, &pos_);
  Error(static_cast<int32_t>(start),
        absl::StrCat("Syntax error: token recognition error at: '",
                     Printable(source_.substr(start, pos_ - start)), "'"));
}

Token Lexer::Next() {
  while (true) {
    SkipWhitespaceAndComments();
    Token tok;
    tok.offset = static_cast<int32_t>(pos_);
    if (pos_ >= source_.size()) {
      tok.kind = TokenKind::kEof;
      tok.end = tok.offset;
      return tok;
    }
    const char c = source_[pos_];
    const char next = pos_ + 1 < source_.size() ? source_[pos_ + 1] : '\0';
    if (IsDigit(c) || (c == '.' && IsDigit(next))) return LexNumber();
    if (IsIdentStart(c)) return LexIdentOrKeyword();
    if (c == '"' || c == '\'') return LexString(tok.offset, /*raw=*/false, /*bytes=*/false);
    if (c == '`') {
      Token quoted = LexQuotedIdent();
      if (quoted.kind == TokenKind::kQuotedIdent) return quoted;
      continue;
    }
    auto single = [&](TokenKind kind, int length) {
      tok.kind = kind;
      pos_ += length;
      tok.end = static_cast<int32_t>(pos_);
      return tok;
    };
    switch (c) {
      case '(':
        return single(TokenKind::kLParen, 1);
      case ')':
        return single(TokenKind::kRParen, 1);
      case '[':
        return single(TokenKind::kLBracket, 1);
      case ']':
        return single(TokenKind::kRBracket, 1);
      case '{':
        return single(TokenKind::kLBrace, 1);
      case '}':
        return single(TokenKind::kRBrace, 1);
      case '.':
        return single(TokenKind::kDot, 1);
      case ',':
        return single(TokenKind::kComma, 1);
      case ':':
        return single(TokenKind::kColon, 1);
      case '?':
        return single(TokenKind::kQuestion, 1);
      case '+':
        return single(TokenKind::kPlus, 1);
      case '-':
        return single(TokenKind::kMinus, 1);
      case '*':
        return single(TokenKind::kStar, 1);
      case '/':
        return single(TokenKind::kSlash, 1);
      case '%':
        return single(TokenKind::kPercent, 1);
      case '!':
        if (next == '=') return single(TokenKind::kNotEqual, 2);
        return single(TokenKind::kBang, 1);
      case '<':
        if (next == '=') return single(TokenKind::kLessEquals, 2);
        return single(TokenKind::kLess, 1);
      case '>':
        if (next == '=') return single(TokenKind::kGreaterEquals, 2);
        return single(TokenKind::kGreater, 1);
      case '=':
        if (next == '=') return single(TokenKind::kEqualEqual, 2);
        break;
      case '&':
        if (next == '&') return single(TokenKind::kAndAnd, 2);
        break;
      case '|':
        if (next == '|') return single(TokenKind::kOrOr, 2);
        break;
      default:
        break;
    }
    SkipUnrecognized();
  }
}

Token Lexer::LexNumber() {
  Token tok;
  const size_t start = pos_;
  tok.offset = static_cast<int32_t>(start);
  const size_t n = source_.size();
  auto at = [&](size_t i) { return i < n ? source_[i] : '\0'; };

  if (at(pos_) == '0' && (at(pos_ + 1) == 'x' || at(pos_ + 1) == 'X') && IsHexDigit(at(pos_ + 2))) {
    pos_ += 2;
    uint64_t value = 0;
    bool ok = true;
    while (IsHexDigit(at(pos_))) {
      if (value > (std::numeric_limits<uint64_t>::max() >> 4)) ok = false;
      value = (value << 4) | static_cast<uint64_t>(HexValue(at(pos_)));
      ++pos_;
    }
    tok.kind = TokenKind::kInt;
    if (at(pos_) == 'u' || at(pos_) == 'U') {
      tok.kind = TokenKind::kUint;
      ++pos_;
    }
    tok.magnitude = value;
    tok.number_ok = ok;
    tok.end = static_cast<int32_t>(pos_);
    return tok;
  }

  while (IsDigit(at(pos_))) ++pos_;
  bool is_double = false;
  if (at(pos_) == '.' && IsDigit(at(pos_ + 1))) {
    is_double = true;
    ++pos_;
    while (IsDigit(at(pos_))) ++pos_;
  }
  // An exponent only counts when digits follow it; otherwise `e` starts the next token.
  if (at(pos_) == 'e' || at(pos_) == 'E') {
    size_t p = pos_ + 1;
    if (at(p) == '+' || at(p) == '-') ++p;
    if (IsDigit(at(p))) {
      is_double = true;
      while (IsDigit(at(p))) ++p;
      pos_ = p;
    }
  }
  if (is_double) {
    const std::string text(source_.substr(start, pos_ - start));
    errno = 0;
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    tok.kind = TokenKind::kDouble;
    tok.double_value = value;
    // Overflow is an invalid literal; underflow rounds towards zero as IEEE arithmetic would.
    tok.number_ok = end == text.c_str() + text.size() && !(errno == ERANGE && std::isinf(value));
    tok.end = static_cast<int32_t>(pos_);
    return tok;
  }
  uint64_t value = 0;
  bool ok = true;
  for (size_t i = start; i < pos_; ++i) {
    const uint64_t digit = static_cast<uint64_t>(source_[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) ok = false;
    value = value * 10 + digit;
  }
  tok.kind = TokenKind::kInt;
  if (at(pos_) == 'u' || at(pos_) == 'U') {
    tok.kind = TokenKind::kUint;
    ++pos_;
  }
  tok.magnitude = value;
  tok.number_ok = ok;
  tok.end = static_cast<int32_t>(pos_);
  return tok;
}

Token Lexer::LexIdentOrKeyword() {
  const size_t start = pos_;
  const size_t n = source_.size();
  auto at = [&](size_t i) { return i < n ? source_[i] : '\0'; };
  auto is_quote = [](char c) { return c == '"' || c == '\''; };
  const char c = at(start);
  // String prefixes: b/B (bytes), r/R (raw), and b followed by r (raw bytes).
  if (c == 'b' || c == 'B') {
    if (is_quote(at(start + 1))) {
      pos_ = start + 1;
      return LexString(static_cast<int32_t>(start), /*raw=*/false, /*bytes=*/true);
    }
    if ((at(start + 1) == 'r' || at(start + 1) == 'R') && is_quote(at(start + 2))) {
      pos_ = start + 2;
      return LexString(static_cast<int32_t>(start), /*raw=*/true, /*bytes=*/true);
    }
  }
  if ((c == 'r' || c == 'R') && is_quote(at(start + 1))) {
    pos_ = start + 1;
    return LexString(static_cast<int32_t>(start), /*raw=*/true, /*bytes=*/false);
  }
  while (IsIdentChar(at(pos_))) ++pos_;
  Token tok;
  tok.offset = static_cast<int32_t>(start);
  tok.end = static_cast<int32_t>(pos_);
  const absl::string_view word = source_.substr(start, pos_ - start);
  if (word == "true") {
    tok.kind = TokenKind::kTrue;
  } else if (word == "false") {
    tok.kind = TokenKind::kFalse;
  } else if (word == "null") {
    tok.kind = TokenKind::kNull;
  } else if (word == "in") {
    tok.kind = TokenKind::kIn;
  } else {
    tok.kind = TokenKind::kIdent;
    tok.reserved = IsReservedWord(word);
  }
  tok.text = std::string(word);
  return tok;
}

Token Lexer::LexQuotedIdent() {
  // The escaped field names of the language definition: letters, digits, '_', '.', '-', '/' and
  // spaces between backquotes.
  const size_t start = pos_;
  size_t p = start + 1;
  while (p < source_.size()) {
    const char c = source_[p];
    if (IsIdentChar(c) || c == '.' || c == '-' || c == '/' || c == ' ') {
      ++p;
    } else {
      break;
    }
  }
  Token tok;
  if (p < source_.size() && source_[p] == '`' && p > start + 1) {
    tok.kind = TokenKind::kQuotedIdent;
    tok.offset = static_cast<int32_t>(start);
    tok.text = std::string(source_.substr(start + 1, p - start - 1));
    pos_ = p + 1;
    tok.end = static_cast<int32_t>(pos_);
    return tok;
  }
  SkipUnrecognized();
  tok.kind = TokenKind::kEof;  // tells Next() to go on
  return tok;
}

Token Lexer::LexString(int32_t start, bool raw, bool bytes) {
  Token tok;
  tok.kind = bytes ? TokenKind::kBytes : TokenKind::kString;
  tok.offset = start;
  const size_t n = source_.size();
  const char quote = source_[pos_];
  const bool triple = pos_ + 2 < n && source_[pos_ + 1] == quote && source_[pos_ + 2] == quote;
  pos_ += triple ? 3 : 1;
  std::string& out = tok.text;
  bool reported = false;  // one error per literal is enough
  auto error = [&](size_t offset, std::string message) {
    if (!reported) Error(static_cast<int32_t>(offset), std::move(message));
    reported = true;
  };
  // Appends a code point given by an escape: a byte in bytes literals (only for \x and octal, which
  // are limited to 0..255), a UTF-8 sequence in strings.
  auto append_code = [&](uint32_t cp, bool as_byte) {
    if (as_byte) {
      out.push_back(static_cast<char>(cp));
    } else {
      AppendUtf8(cp, &out);
    }
  };

  while (true) {
    if (pos_ >= n) {
      error(start, "Syntax error: unterminated string literal");
      break;
    }
    const char c = source_[pos_];
    if (c == quote) {
      if (!triple) {
        ++pos_;
        break;
      }
      if (pos_ + 2 < n && source_[pos_ + 1] == quote && source_[pos_ + 2] == quote) {
        pos_ += 3;
        break;
      }
    }
    if (!triple && (c == '\n' || c == '\r')) {
      error(start, "Syntax error: unterminated string literal");
      break;
    }
    if (c == '\\' && !raw) {
      const size_t esc = pos_;
      if (pos_ + 1 >= n) {
        ++pos_;
        continue;  // reported as unterminated next round
      }
      const char e = source_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case '\\':
        case '?':
        case '"':
        case '\'':
        case '`':
          out.push_back(e);
          continue;
        case 'a':
          out.push_back('\a');
          continue;
        case 'b':
          out.push_back('\b');
          continue;
        case 'f':
          out.push_back('\f');
          continue;
        case 'n':
          out.push_back('\n');
          continue;
        case 'r':
          out.push_back('\r');
          continue;
        case 't':
          out.push_back('\t');
          continue;
        case 'v':
          out.push_back('\v');
          continue;
        default:
          break;
      }
      int digits = 0;
      if (e == 'x' || e == 'X') digits = 2;
      if (e == 'u') digits = 4;
      if (e == 'U') digits = 8;
      if (digits > 0) {
        uint32_t cp = 0;
        bool ok = true;
        for (int i = 0; i < digits; ++i) {
          if (pos_ >= n || !IsHexDigit(source_[pos_])) {
            ok = false;
            break;
          }
          cp = (cp << 4) | static_cast<uint32_t>(HexValue(source_[pos_]));
          ++pos_;
        }
        if (!ok) {
          error(esc, absl::StrCat("Syntax error: invalid escape sequence '",
                                  Printable(source_.substr(esc, pos_ - esc)), "'"));
          continue;
        }
        if (digits > 2 && bytes) {
          error(esc, "Syntax error: \\u and \\U escapes are not allowed in bytes literals");
          continue;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          error(esc, "invalid unicode code point");
          continue;
        }
        append_code(cp, bytes);
        continue;
      }
      if (e >= '0' && e <= '3') {
        if (pos_ + 1 < n && source_[pos_] >= '0' && source_[pos_] <= '7' &&
            source_[pos_ + 1] >= '0' && source_[pos_ + 1] <= '7') {
          const uint32_t cp = static_cast<uint32_t>((e - '0') * 64 + (source_[pos_] - '0') * 8 +
                                                    (source_[pos_ + 1] - '0'));
          pos_ += 2;
          append_code(cp, bytes);
          continue;
        }
      }
      // Skip the whole (possibly multi-byte) character after the backslash for the message.
      size_t after = esc + 1;
      DecodeUtf8(source_, &after);
      pos_ = after;
      error(esc, absl::StrCat("Syntax error: invalid escape sequence '",
                              Printable(source_.substr(esc, after - esc)), "'"));
      continue;
    }
    const size_t char_start = pos_;
    if (DecodeUtf8(source_, &pos_) < 0) {
      error(char_start, "Syntax error: invalid UTF-8 in string literal");
      continue;
    }
    out.append(source_.data() + char_start, pos_ - char_start);
  }
  tok.end = static_cast<int32_t>(pos_);
  return tok;
}

}  // namespace varav::cel
