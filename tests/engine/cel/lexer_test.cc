#include "engine/cel/internal/lexer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<Token> LexAll(absl::string_view source, std::vector<LexError>* errors = nullptr) {
  Lexer lexer(source);
  std::vector<Token> tokens;
  for (Token t = lexer.Next(); t.kind != TokenKind::kEof; t = lexer.Next()) tokens.push_back(t);
  if (errors != nullptr) *errors = lexer.errors();
  return tokens;
}

std::vector<TokenKind> Kinds(absl::string_view source) {
  std::vector<TokenKind> kinds;
  for (const Token& t : LexAll(source)) kinds.push_back(t.kind);
  return kinds;
}

// Lexes a single string or bytes literal and returns its decoded value; fails on lexical errors.
std::string Decode(absl::string_view source) {
  std::vector<LexError> errors;
  std::vector<Token> tokens = LexAll(source, &errors);
  EXPECT_THAT(errors, IsEmpty()) << source;
  EXPECT_EQ(tokens.size(), 1u) << source;
  return tokens.empty() ? "" : tokens[0].text;
}

// The first lexical error message for `source`, or "" when there is none.
std::string FirstError(absl::string_view source) {
  std::vector<LexError> errors;
  LexAll(source, &errors);
  return errors.empty() ? "" : errors[0].message;
}

TEST(LexerTest, RecognisesOperatorsAndPunctuation) {
  EXPECT_THAT(
      Kinds("( ) [ ] { } . , : ? + - * / % ! < <= > >= == != && ||"),
      ElementsAre(TokenKind::kLParen, TokenKind::kRParen, TokenKind::kLBracket,
                  TokenKind::kRBracket, TokenKind::kLBrace, TokenKind::kRBrace, TokenKind::kDot,
                  TokenKind::kComma, TokenKind::kColon, TokenKind::kQuestion, TokenKind::kPlus,
                  TokenKind::kMinus, TokenKind::kStar, TokenKind::kSlash, TokenKind::kPercent,
                  TokenKind::kBang, TokenKind::kLess, TokenKind::kLessEquals, TokenKind::kGreater,
                  TokenKind::kGreaterEquals, TokenKind::kEqualEqual, TokenKind::kNotEqual,
                  TokenKind::kAndAnd, TokenKind::kOrOr));
}

TEST(LexerTest, SeparatesKeywordsFromIdentifiersAndFlagsReservedWords) {
  std::vector<Token> tokens = LexAll("true false null in inx var _a1");
  ASSERT_EQ(tokens.size(), 7u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kTrue);
  EXPECT_EQ(tokens[1].kind, TokenKind::kFalse);
  EXPECT_EQ(tokens[2].kind, TokenKind::kNull);
  EXPECT_EQ(tokens[3].kind, TokenKind::kIn);
  EXPECT_EQ(tokens[4].kind, TokenKind::kIdent);
  EXPECT_FALSE(tokens[4].reserved);
  EXPECT_EQ(tokens[5].kind, TokenKind::kIdent);
  EXPECT_TRUE(tokens[5].reserved);
  EXPECT_EQ(tokens[6].text, "_a1");
}

TEST(LexerTest, ReservesExactlyTheWordsOfTheLanguageDefinition) {
  for (absl::string_view w :
       {"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
        "loop", "package", "namespace", "return", "var", "void", "while"}) {
    EXPECT_TRUE(IsReservedWord(w)) << w;
  }
  for (absl::string_view w : {"has", "all", "int", "in", "true", "size", "While"}) {
    EXPECT_FALSE(IsReservedWord(w)) << w;
  }
}

TEST(LexerTest, RecordsOffsetsOfTokens) {
  std::vector<Token> tokens = LexAll("  ab  <= 'x'");
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].offset, 2);
  EXPECT_EQ(tokens[0].end, 4);
  EXPECT_EQ(tokens[1].offset, 6);
  EXPECT_EQ(tokens[2].offset, 9);
  EXPECT_EQ(tokens[2].end, 12);
}

TEST(LexerTest, ReadsIntegerLiterals) {
  std::vector<Token> tokens =
      LexAll("0 42 0x1F 0XfF 7u 0x10U 18446744073709551615u 9223372036854775808");
  ASSERT_EQ(tokens.size(), 8u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kInt);
  EXPECT_EQ(tokens[1].magnitude, 42u);
  EXPECT_EQ(tokens[2].magnitude, 31u);
  EXPECT_EQ(tokens[3].magnitude, 255u);
  EXPECT_EQ(tokens[4].kind, TokenKind::kUint);
  EXPECT_EQ(tokens[4].magnitude, 7u);
  EXPECT_EQ(tokens[5].kind, TokenKind::kUint);
  EXPECT_EQ(tokens[5].magnitude, 16u);
  EXPECT_EQ(tokens[6].magnitude, 18446744073709551615u);
  EXPECT_TRUE(tokens[6].number_ok);
  EXPECT_EQ(tokens[7].magnitude, 9223372036854775808u);
  EXPECT_TRUE(tokens[7].number_ok);
}

TEST(LexerTest, FlagsIntegersThatDoNotFitIn64Bits) {
  std::vector<Token> tokens = LexAll("18446744073709551616 0x10000000000000000u");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_FALSE(tokens[0].number_ok);
  EXPECT_FALSE(tokens[1].number_ok);
}

TEST(LexerTest, ReadsDoubleLiteralsWithFractionsAndExponents) {
  std::vector<Token> tokens = LexAll("1.5 .25 1e3 2E-2 3.5e+1 0.0");
  ASSERT_EQ(tokens.size(), 6u);
  for (const Token& t : tokens) EXPECT_EQ(t.kind, TokenKind::kDouble);
  EXPECT_EQ(tokens[0].double_value, 1.5);
  EXPECT_EQ(tokens[1].double_value, 0.25);
  EXPECT_EQ(tokens[2].double_value, 1000);
  EXPECT_EQ(tokens[3].double_value, 0.02);
  EXPECT_EQ(tokens[4].double_value, 35);
}

TEST(LexerTest, FlagsDoublesThatOverflow) {
  std::vector<Token> tokens = LexAll("1.99e90000009");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_FALSE(tokens[0].number_ok);
}

TEST(LexerTest, NeedsDigitsAfterTheDecimalPoint) {
  // `1.` is not a double literal in the grammar: it is an int followed by a dot.
  EXPECT_THAT(Kinds("1."), ElementsAre(TokenKind::kInt, TokenKind::kDot));
  EXPECT_THAT(Kinds("1e"), ElementsAre(TokenKind::kInt, TokenKind::kIdent));
  EXPECT_THAT(Kinds("1.0u"), ElementsAre(TokenKind::kDouble, TokenKind::kIdent));
}

TEST(LexerTest, DecodesEveryEscapeSequenceInStrings) {
  EXPECT_EQ(Decode(R"("\\ \? \" \' \` ")"), "\\ ? \" ' ` ");
  EXPECT_EQ(Decode(R"('\a\b\f\n\r\t\v')"), "\a\b\f\n\r\t\v");
  EXPECT_EQ(Decode(R"("\x41\X42\u00e9\U0001F62C")"), "AB\u00e9\U0001F62C");
  EXPECT_EQ(Decode(R"("\101\060\377")"), "A0\u00ff");
  EXPECT_EQ(Decode(R"("\303\277")"), "\u00c3\u00bf");
}

TEST(LexerTest, DecodesEscapesInBytesAsOctets) {
  EXPECT_EQ(Decode(R"(b"\377\xFF")"), "\xff\xff");
  EXPECT_EQ(Decode(R"(B'\303\277')"), "\xc3\xbf");
  EXPECT_EQ(Decode("b'\u00ff'"), "\xc3\xbf");
  std::vector<Token> tokens = LexAll(R"(b"abc")");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kBytes);
}

TEST(LexerTest, KeepsRawStringsVerbatim) {
  EXPECT_EQ(Decode(R"(r"\n\x00\\")"), R"(\n\x00\\)");
  EXPECT_EQ(Decode(R"(R'\d+')"), R"(\d+)");
  EXPECT_EQ(Decode(R"(br'\377')"), R"(\377)");
  EXPECT_EQ(Decode(R"(bR"\u0000")"), R"(\u0000)");
}

TEST(LexerTest, ReadsTripleQuotedStringsWithNewlinesAndQuotes) {
  EXPECT_EQ(Decode("'''x''x'''"), "x''x");
  EXPECT_EQ(Decode("\"\"\"a\n\"b\"\r\nc\"\"\""), "a\n\"b\"\r\nc");
  EXPECT_EQ(Decode(R"('''\n''')"), "\n");
  EXPECT_EQ(Decode(R"(r'''\n''')"), R"(\n)");
}

TEST(LexerTest, TreatsPrefixLettersOnlyBeforeAQuoteAsPrefixes) {
  std::vector<Token> tokens = LexAll("b br r rb\"x\"");
  ASSERT_EQ(tokens.size(), 5u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kIdent);
  EXPECT_EQ(tokens[1].kind, TokenKind::kIdent);
  EXPECT_EQ(tokens[2].kind, TokenKind::kIdent);
  // `rb"x"` is not a literal prefix in CEL: the identifier rb and then a string.
  EXPECT_EQ(tokens[3].kind, TokenKind::kIdent);
  EXPECT_EQ(tokens[4].kind, TokenKind::kString);
}

TEST(LexerTest, RejectsInvalidEscapes) {
  EXPECT_THAT(FirstError(R"("\>")"), HasSubstr("invalid escape sequence '\\>'"));
  EXPECT_THAT(FirstError(R"("\xFh")"), HasSubstr("invalid escape sequence"));
  EXPECT_THAT(FirstError(R"("\400")"), HasSubstr("invalid escape sequence"));
  EXPECT_THAT(FirstError(R"("\8")"), HasSubstr("invalid escape sequence"));
}

TEST(LexerTest, RejectsSurrogatesAndCodePointsBeyondUnicode) {
  EXPECT_EQ(FirstError(R"('\udead')"), "invalid unicode code point");
  EXPECT_EQ(FirstError(R"('\U00110000')"), "invalid unicode code point");
}

TEST(LexerTest, RejectsUnicodeEscapesInBytes) {
  EXPECT_THAT(FirstError(R"(b"\u00ff")"), HasSubstr("not allowed in bytes literals"));
  EXPECT_THAT(FirstError(R"(b"\U000000ff")"), HasSubstr("not allowed in bytes literals"));
}

TEST(LexerTest, RejectsInvalidUtf8InStrings) {
  EXPECT_THAT(FirstError("'\xff'"), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(FirstError("'\xc0\x80'"), HasSubstr("invalid UTF-8"));      // overlong
  EXPECT_THAT(FirstError("'\xed\xa0\x80'"), HasSubstr("invalid UTF-8"));  // surrogate
}

TEST(LexerTest, RejectsNewlinesInSingleQuotedStrings) {
  EXPECT_THAT(FirstError("'a\nb'"), HasSubstr("unterminated string literal"));
  EXPECT_THAT(FirstError("\"a\rb\""), HasSubstr("unterminated string literal"));
  EXPECT_THAT(FirstError("'''abc''"), HasSubstr("unterminated string literal"));
}

TEST(LexerTest, SkipsCommentsToTheEndOfTheLine) {
  EXPECT_THAT(Kinds("a // b c\n d // e"), ElementsAre(TokenKind::kIdent, TokenKind::kIdent));
  // A lone carriage return does not end a comment.
  EXPECT_THAT(Kinds("a // b\r c"), ElementsAre(TokenKind::kIdent));
}

TEST(LexerTest, ReportsUnrecognisedCharactersAndGoesOn) {
  std::vector<LexError> errors;
  std::vector<Token> tokens = LexAll("a $ b \xc3\xb3 c = d & e | f", &errors);
  EXPECT_EQ(tokens.size(), 6u);
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0].message, "Syntax error: token recognition error at: '$'");
  EXPECT_EQ(errors[0].offset, 2);
  EXPECT_EQ(errors[1].message, "Syntax error: token recognition error at: '\xc3\xb3'");
}

TEST(LexerTest, TreatsVerticalTabAsAnError) {
  EXPECT_THAT(FirstError("a\vb"), HasSubstr("token recognition error"));
}

TEST(LexerTest, ReadsBackquotedFieldNames) {
  std::vector<Token> tokens = LexAll("a.`content-type`.`foo.txt`");
  ASSERT_EQ(tokens.size(), 5u);
  EXPECT_EQ(tokens[2].kind, TokenKind::kQuotedIdent);
  EXPECT_EQ(tokens[2].text, "content-type");
  EXPECT_EQ(tokens[4].text, "foo.txt");
  EXPECT_THAT(FirstError("a.`$b`"), HasSubstr("token recognition error"));
}

TEST(LexerTest, EncodesAndDecodesUtf8) {
  std::string out;
  AppendUtf8(0x41, &out);
  AppendUtf8(0xE9, &out);
  AppendUtf8(0x20AC, &out);
  AppendUtf8(0x1F62C, &out);
  EXPECT_EQ(out, "A\u00e9\u20ac\U0001F62C");
  size_t pos = 0;
  EXPECT_EQ(DecodeUtf8(out, &pos), 0x41);
  EXPECT_EQ(DecodeUtf8(out, &pos), 0xE9);
  EXPECT_EQ(DecodeUtf8(out, &pos), 0x20AC);
  EXPECT_EQ(DecodeUtf8(out, &pos), 0x1F62C);
  EXPECT_EQ(pos, out.size());
  pos = 0;
  EXPECT_EQ(DecodeUtf8("\xf4\x90\x80\x80", &pos), -1);  // beyond U+10FFFF
}

}  // namespace
}  // namespace varav::cel
