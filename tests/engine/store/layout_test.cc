#include "engine/store/layout.h"

#include "engine/common/sha256.h"
#include "engine/store/event_chain.h"
#include "engine/store/rocksdb_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::store {
namespace {

using ::testing::HasSubstr;

TEST(LayoutTest, EncodesNumbersSoThatBytewiseOrderIsNumericOrder) {
  EXPECT_EQ(EncodeU32(1), std::string("\0\0\0\1", 4));
  EXPECT_LT(EncodeU64(255), EncodeU64(256));
  EXPECT_LT(GlobalEventKey(9), GlobalEventKey(10));
  EXPECT_LT(OutputKey("s", "vision", 2), OutputKey("s", "vision", 10));
  EXPECT_EQ(DecodeU64(EncodeU64(0x0102030405060708ULL)), 0x0102030405060708ULL);
  EXPECT_EQ(DecodeU32(EncodeU32(7)), 7u);
  EXPECT_EQ(DecodeU64("short"), std::nullopt);
}

TEST(LayoutTest, SeparatesIdsSoThatOneIdIsNeverAPrefixMatchOfAnother) {
  // "ab" must not fall under the prefix of "a".
  const std::string prefix = OutputPrefix("a", "");
  EXPECT_NE(OutputKey("ab", "x", 1).substr(0, prefix.size()), prefix);
  EXPECT_EQ(OutputKey("a", "x", 1).substr(0, prefix.size()), prefix);
  using Terms = std::vector<std::pair<absl::string_view, absl::string_view>>;
  const std::string ria = IndexPrefix(Terms{{"agency", "ria"}});
  EXPECT_NE(IndexPrefix(Terms{{"agency", "rian"}}).substr(0, ria.size()), ria);
  EXPECT_EQ(ria, std::string("c/agency\2ria\1", 13));
  // A set of terms is never a prefix of a larger set.
  const std::string two = IndexPrefix(Terms{{"agency", "ria"}, {"stage", "plan"}});
  EXPECT_EQ(two, std::string("c/agency\2ria\0stage\2plan\1", 24));
  EXPECT_NE(two.substr(0, ria.size()), ria);
  EXPECT_FALSE(IsValidIndexPart(std::string("a\1b", 3)));
  EXPECT_FALSE(IsValidIndexPart(""));
  EXPECT_TRUE(IsValidIndexPart("SERVICE_STATUS_ACTIVE"));
  EXPECT_EQ(DecisionPrefix("s", "A", 2),
            DecisionKey("s", "A", 2, 5).substr(0, DecisionPrefix("s", "A", 2).size()));
}

TEST(LayoutTest, ParsesOnlyGlobalEventKeys) {
  EXPECT_EQ(ParseGlobalEventKey(GlobalEventKey(42)), 42u);
  EXPECT_EQ(ParseGlobalEventKey(ServiceEventKey("s", 42)), std::nullopt);
}

TEST(LayoutTest, RejectsKeyPartsWithNulOrNothing) {
  EXPECT_TRUE(IsValidKeyPart("svc-1"));
  EXPECT_FALSE(IsValidKeyPart(""));
  EXPECT_FALSE(IsValidKeyPart(std::string("a\0b", 3)));
}

TEST(EventChainTest, HashesWithSha256) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(EventChainTest, HashCoversPrevHashAndContentButNotItself) {
  v1::Event e;
  e.set_subject("s");
  e.mutable_stage_advanced()->set_to_stage("plan");
  const std::string base = ComputeEventHash(e);
  e.set_hash("anything");
  EXPECT_EQ(ComputeEventHash(e), base);
  e.set_prev_hash("00");
  EXPECT_NE(ComputeEventHash(e), base);
  e.clear_prev_hash();
  e.mutable_stage_advanced()->set_to_stage("define");
  EXPECT_NE(ComputeEventHash(e), base);
}

TEST(RocksDbStatusTest, MapsCodesAndNamesWhatFailed) {
  EXPECT_TRUE(FromRocksDb(rocksdb::Status::OK(), "x").ok());
  absl::Status s = FromRocksDb(rocksdb::Status::Corruption("bad block"), "reading service 's'");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("reading service 's'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("bad block"));
  EXPECT_EQ(FromRocksDb(rocksdb::Status::NotFound(), "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::Busy(), "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::IOError("disk"), "x").code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace varav::store
