#include "services/cli/args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<FlagSpec> kGlobal = {
    {"addr", "HOST:PORT", "address"},
    {"json", "", "json"},
};

std::vector<CommandGrammar> Grammars() {
  return {
      {.path = "gate check",
       .usage = "SERVICE",
       .summary = "check",
       .flags = {{"gate", "GATE", "the gate"}, {"with", "OUT=JSON", "draft", true}},
       .min_positional = 1,
       .max_positional = 1},
      {.path = "gate", .usage = "", .summary = "not a real command"},
      {.path = "assess",
       .usage = "SERVICE PRINCIPLE",
       .summary = "assess",
       .flags = {{"answer", "Q=A", "answer", true}, {"request-id", "ID", "id"}},
       .min_positional = 2,
       .max_positional = 2},
  };
}

TEST(FindCommandTest, PrefersTheLongestMatchingPath) {
  int words = 0;
  auto index = FindCommand(Grammars(), kGlobal, {"gate", "check", "svc"}, &words);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 0u);
  EXPECT_EQ(words, 2);
}

TEST(FindCommandTest, SkipsGlobalFlagsAndTheirValuesBeforeTheCommand) {
  int words = 0;
  auto index = FindCommand(Grammars(), kGlobal,
                           {"--addr", "127.0.0.1:1", "--json", "assess", "svc", "P1"}, &words);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 2u);
  EXPECT_EQ(words, 1);
}

TEST(FindCommandTest, ReportsAnUnknownCommand) {
  int words = 0;
  auto index = FindCommand(Grammars(), kGlobal, {"frobnicate", "x"}, &words);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(index.status().message(), HasSubstr("frobnicate"));
}

TEST(ParseArgsTest, AcceptsSpaceAndEqualsFormsAndDashOrUnderscoreNames) {
  ParsedArgs args;
  ASSERT_TRUE(ParseArgs(Grammars()[2], kGlobal,
                        {"assess", "svc", "P1", "--answer", "P1.Q1=yes", "--answer=P1.Q2=no",
                         "--request_id", "r-1", "--json"},
                        &args)
                  .ok());
  EXPECT_THAT(args.positional(), ElementsAre("svc", "P1"));
  EXPECT_THAT(args.GetAll("answer"), ElementsAre("P1.Q1=yes", "P1.Q2=no"));
  EXPECT_EQ(args.Get("request-id"), "r-1");
  EXPECT_TRUE(args.GetBool("json"));
  EXPECT_FALSE(args.Has("addr"));
  EXPECT_EQ(args.Get("addr", "fallback"), "fallback");
}

TEST(ParseArgsTest, RejectsUnknownFlags) {
  ParsedArgs args;
  absl::Status s =
      ParseArgs(Grammars()[0], kGlobal, {"gate", "check", "svc", "--gaet", "A"}, &args);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--gaet"));
}

TEST(ParseArgsTest, RejectsAMissingFlagValue) {
  ParsedArgs args;
  absl::Status s = ParseArgs(Grammars()[0], kGlobal, {"gate", "check", "svc", "--gate"}, &args);
  EXPECT_THAT(s.message(), HasSubstr("needs a value"));
}

TEST(ParseArgsTest, RejectsAValueForABooleanFlag) {
  ParsedArgs args;
  absl::Status s = ParseArgs(Grammars()[0], kGlobal, {"gate", "check", "svc", "--json=yes"}, &args);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      ParseArgs(Grammars()[0], kGlobal, {"gate", "check", "svc", "--json=false"}, &args).ok());
  EXPECT_FALSE(args.GetBool("json"));
}

TEST(ParseArgsTest, RejectsARepeatedSingleValuedFlag) {
  ParsedArgs args;
  absl::Status s = ParseArgs(Grammars()[0], kGlobal,
                             {"gate", "check", "svc", "--gate", "A", "--gate", "B"}, &args);
  EXPECT_THAT(s.message(), HasSubstr("more than once"));
}

TEST(ParseArgsTest, RejectsTheWrongNumberOfPositionals) {
  ParsedArgs args;
  EXPECT_THAT(ParseArgs(Grammars()[0], kGlobal, {"gate", "check"}, &args).message(),
              HasSubstr("missing arguments"));
  EXPECT_THAT(ParseArgs(Grammars()[0], kGlobal, {"gate", "check", "a", "b"}, &args).message(),
              HasSubstr("unexpected argument 'b'"));
}

TEST(ParseArgsTest, TreatsEverythingAfterDoubleDashAsPositional) {
  ParsedArgs args;
  ASSERT_TRUE(ParseArgs(Grammars()[0], kGlobal, {"gate", "check", "--", "--weird-id"}, &args).ok());
  EXPECT_THAT(args.positional(), ElementsAre("--weird-id"));
}

TEST(HelpTest, CommandHelpListsCommandAndGlobalFlags) {
  std::string help = CommandHelp(Grammars()[0], kGlobal);
  EXPECT_THAT(help, HasSubstr("usage: varavctl gate check SERVICE"));
  EXPECT_THAT(help, HasSubstr("--with OUT=JSON ..."));
  EXPECT_THAT(help, HasSubstr("--addr HOST:PORT"));
}

TEST(HelpTest, OverviewNamesEveryCommandAndTheExitCodes) {
  std::string help = OverviewHelp(Grammars(), kGlobal);
  EXPECT_THAT(help, HasSubstr("gate check"));
  EXPECT_THAT(help, HasSubstr("assess"));
  EXPECT_THAT(help, HasSubstr("2 usage error"));
}

}  // namespace
}  // namespace varav::cli
