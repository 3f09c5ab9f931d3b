#include "engine/cel/issue.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cel {
namespace {

TEST(LocationOfTest, CountsLinesAndCodePoints) {
  // "ä" is two bytes but one column.
  const absl::string_view source = "a +\n  \xC3\xA4 + x";
  SourceLocation loc = LocationOf(source, 9);  // the second "+"
  EXPECT_EQ(loc.line, 2);
  EXPECT_EQ(loc.column, 5);
  loc = LocationOf(source, 0);
  EXPECT_EQ(loc.line, 1);
  EXPECT_EQ(loc.column, 1);
}

TEST(FormatIssuesTest, RendersCaretUnderTheColumn) {
  const absl::string_view source = "a + x";
  std::string text = FormatIssues(source, {MakeIssue(source, 4, "undeclared reference to 'x'")});
  EXPECT_EQ(text,
            "ERROR: <input>:1:5: undeclared reference to 'x'\n"
            " | a + x\n"
            " | ....^");
}

TEST(FormatIssuesTest, NamesTheDescriptionAndSeparatesIssues) {
  const absl::string_view source = "a\n+ b";
  std::string text = FormatIssues(
      source, {MakeIssue(source, 0, "first"), MakeIssue(source, 4, "second")}, "rule.yaml");
  EXPECT_THAT(text, ::testing::HasSubstr("ERROR: rule.yaml:1:1: first\n | a\n | ^"));
  EXPECT_THAT(text, ::testing::HasSubstr("ERROR: rule.yaml:2:3: second\n | + b\n | ..^"));
}

}  // namespace
}  // namespace varav::cel
