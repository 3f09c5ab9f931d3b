#include "engine/cel/value.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cel {
namespace {

using ::testing::HasSubstr;

TEST(ValueTest, DefaultsToNull) {
  EXPECT_EQ(Value().kind(), Value::Kind::kNull);
  EXPECT_EQ(Value(), Value::Null());
}

TEST(ValueTest, HoldsScalars) {
  EXPECT_TRUE(Value::Bool(true).bool_value());
  EXPECT_EQ(Value::Int(-5).int_value(), -5);
  EXPECT_EQ(Value::Uint(std::numeric_limits<uint64_t>::max()).uint_value(),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(Value::Double(2.5).double_value(), 2.5);
  EXPECT_EQ(Value::String("héllo").string_value(), "héllo");
  EXPECT_EQ(Value::Bytes(std::string("\0\xff", 2)).string_value(), std::string("\0\xff", 2));
  EXPECT_EQ(Value::Type("int").type_name(), "int");
}

TEST(ValueTest, SharesHeapRepresentationOnCopy) {
  Value a = Value::String(std::string(1000, 'x'));
  Value b = a;
  EXPECT_EQ(a.string_value().data(), b.string_value().data());
}

TEST(ValueTest, LeavesMovedFromValuesNull) {
  Value a = Value::List({Value::Int(1)});
  Value b = std::move(a);
  EXPECT_EQ(a.kind(), Value::Kind::kNull);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.size(), 1u);
}

TEST(ValueTest, SpansCelTimestampRange) {
  absl::Time min = absl::FromUnixSeconds(Value::kMinTimestampSeconds);
  absl::Time max =
      absl::FromUnixSeconds(Value::kMaxTimestampSeconds) + absl::Nanoseconds(999999999);
  EXPECT_EQ(Value::Timestamp(min).timestamp_value(), min);
  EXPECT_EQ(Value::Timestamp(max).timestamp_value(), max);
  EXPECT_TRUE(Value::Timestamp(min - absl::Nanoseconds(1)).IsError());
  EXPECT_TRUE(Value::Timestamp(max + absl::Nanoseconds(1)).IsError());
  absl::Time before_epoch = absl::FromUnixSeconds(-1) + absl::Milliseconds(250);
  EXPECT_EQ(Value::Timestamp(before_epoch).timestamp_value(), before_epoch);
}

TEST(ValueTest, SpansCelDurationRange) {
  absl::Duration max = absl::Seconds(Value::kMaxDurationSeconds);
  EXPECT_EQ(Value::Duration(max).duration_value(), max);
  EXPECT_EQ(Value::Duration(-max).duration_value(), -max);
  EXPECT_EQ(Value::Duration(absl::Milliseconds(-1500)).duration_value(), absl::Milliseconds(-1500));
  Value over = Value::Duration(max + absl::Nanoseconds(1));
  ASSERT_TRUE(over.IsError());
  EXPECT_EQ(over.error_code(), absl::StatusCode::kOutOfRange);
}

TEST(ValueEqualityTest, ComparesNumbersAcrossKinds) {
  EXPECT_EQ(Value::Int(1), Value::Uint(1));
  EXPECT_EQ(Value::Int(1), Value::Double(1.0));
  EXPECT_EQ(Value::Uint(1), Value::Double(1.0));
  EXPECT_NE(Value::Int(-1), Value::Uint(std::numeric_limits<uint64_t>::max()));
  EXPECT_NE(Value::Int(1), Value::Double(1.5));
  double nan = std::nan("");
  EXPECT_NE(Value::Double(nan), Value::Double(nan));
  EXPECT_NE(Value::Int(0), Value::Double(nan));
}

TEST(ValueEqualityTest, DistinguishesKinds) {
  EXPECT_NE(Value::Int(0), Value::Null());
  EXPECT_NE(Value::String("a"), Value::Bytes("a"));
  EXPECT_NE(Value::Bool(false), Value::Int(0));
  EXPECT_NE(Value::Type("int"), Value::Type("uint"));
  EXPECT_EQ(Value::Type("int"), Value::Type("int"));
}

TEST(ValueEqualityTest, NeverEqualsErrors) {
  Value e = Value::Error(absl::StatusCode::kInvalidArgument, "boom");
  EXPECT_NE(e, e);
}

TEST(ValueEqualityTest, ComparesListsAndMapsDeeply) {
  EXPECT_EQ(Value::List({Value::Int(1), Value::String("a")}),
            Value::List({Value::Double(1.0), Value::String("a")}));
  EXPECT_NE(Value::List({Value::Int(1)}), Value::List({Value::Int(1), Value::Int(2)}));
  Value m1 = Value::Map({{Value::String("a"), Value::Int(1)}, {Value::Int(2), Value::Bool(true)}});
  Value m2 =
      Value::Map({{Value::Uint(2), Value::Bool(true)}, {Value::String("a"), Value::Uint(1)}});
  EXPECT_EQ(m1, m2);
  Value m3 = Value::Map({{Value::String("a"), Value::Int(2)}, {Value::Int(2), Value::Bool(true)}});
  EXPECT_NE(m1, m3);
}

TEST(ValueMapTest, KeepsInsertionOrder) {
  Value m = Value::Map({{Value::String("z"), Value::Int(1)}, {Value::String("a"), Value::Int(2)}});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.map_key(0).string_value(), "z");
  EXPECT_EQ(m.map_value(1).int_value(), 2);
}

TEST(ValueMapTest, FindsNumericKeysAcrossKinds) {
  Value m = Value::Map({{Value::Uint(1), Value::String("one")},
                        {Value::Int(-2), Value::String("minus two")},
                        {Value::Bool(true), Value::String("yes")}});
  ASSERT_NE(m.Find(Value::Int(1)), nullptr);
  EXPECT_EQ(m.Find(Value::Int(1))->string_value(), "one");
  ASSERT_NE(m.Find(Value::Double(1.0)), nullptr);
  ASSERT_NE(m.Find(Value::Double(-2.0)), nullptr);
  EXPECT_EQ(m.Find(Value::Double(-2.0))->string_value(), "minus two");
  EXPECT_EQ(m.Find(Value::Double(1.5)), nullptr);
  EXPECT_EQ(m.Find(Value::Uint(2)), nullptr);
  EXPECT_EQ(m.Find(Value::Int(1))->string_value(), "one");
  ASSERT_NE(m.Find(Value::Bool(true)), nullptr);
  EXPECT_EQ(m.Find(Value::String("1")), nullptr);
  EXPECT_EQ(m.FindField("one"), nullptr);
}

TEST(ValueMapTest, IndexesLargeMaps) {
  std::vector<std::pair<Value, Value>> entries;
  for (int i = 0; i < 100; ++i) {
    entries.emplace_back(Value::String("k" + std::to_string(i)), Value::Int(i));
    entries.emplace_back(Value::Int(i), Value::Int(-i));
  }
  Value m = Value::Map(std::move(entries));
  ASSERT_EQ(m.kind(), Value::Kind::kMap);
  ASSERT_NE(m.FindField("k42"), nullptr);
  EXPECT_EQ(m.FindField("k42")->int_value(), 42);
  ASSERT_NE(m.Find(Value::Uint(42)), nullptr);
  EXPECT_EQ(m.Find(Value::Uint(42))->int_value(), -42);
  ASSERT_NE(m.Find(Value::Double(7.0)), nullptr);
  EXPECT_EQ(m.FindField("k100"), nullptr);
  EXPECT_EQ(m.Find(Value::Int(100)), nullptr);
}

TEST(ValueMapTest, FindsFieldsByAPrecomputedHash) {
  std::vector<std::pair<Value, Value>> entries;
  for (int i = 0; i < 20; ++i) {
    entries.emplace_back(Value::String("k" + std::to_string(i)), Value::Int(i));
  }
  const Value large = Value::Map(std::move(entries));
  const Value small = Value::Map({{Value::String("k3"), Value::Int(3)}});
  for (const Value* m : {&large, &small}) {
    const Value* found = m->FindField("k3", Value::HashField("k3"));
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->int_value(), 3);
    EXPECT_EQ(m->FindField("k99", Value::HashField("k99")), nullptr);
  }
}

TEST(ValueMapTest, RejectsRepeatedAndInvalidKeys) {
  Value repeated = Value::Map({{Value::Int(1), Value::Null()}, {Value::Uint(1), Value::Null()}});
  ASSERT_TRUE(repeated.IsError());
  EXPECT_THAT(std::string(repeated.error_message()), HasSubstr("repeated map key"));
  std::vector<std::pair<Value, Value>> many;
  for (int i = 0; i < 20; ++i) many.emplace_back(Value::String("k"), Value::Int(i));
  EXPECT_TRUE(Value::Map(std::move(many)).IsError());
  EXPECT_TRUE(Value::Map({{Value::Double(1.0), Value::Null()}}).IsError());
  EXPECT_TRUE(Value::Map({{Value::List({}), Value::Null()}}).IsError());
}

TEST(ValueListTest, AppendsWithoutDisturbingSharedCopies) {
  Value list = Value::List({Value::Int(1)});
  Value shared = list;
  Value appended = Value::Append(list, Value::Int(2));
  EXPECT_EQ(shared.size(), 1u);
  EXPECT_EQ(appended.size(), 2u);
  Value unique = Value::Append(std::move(appended), Value::Int(3));
  EXPECT_EQ(unique, Value::List({Value::Int(1), Value::Int(2), Value::Int(3)}));
}

TEST(ValueMapTest, InsertsWithoutDisturbingSharedCopies) {
  Value map = Value::Map({{Value::String("a"), Value::Int(1)}});
  Value shared = map;
  Value inserted = Value::Insert(map, Value::String("b"), Value::Int(2));
  EXPECT_EQ(shared.size(), 1u);
  ASSERT_EQ(inserted.kind(), Value::Kind::kMap) << inserted.DebugString();
  EXPECT_EQ(inserted.size(), 2u);
  Value unique = Value::Insert(std::move(inserted), Value::Int(3), Value::Int(3));
  EXPECT_EQ(unique, Value::Map({{Value::String("a"), Value::Int(1)},
                                {Value::String("b"), Value::Int(2)},
                                {Value::Int(3), Value::Int(3)}}));
}

TEST(ValueMapTest, KeepsLookupsWorkingWhileInsertingPastTheIndexThreshold) {
  Value map = Value::Map({});
  for (int i = 0; i < 40; ++i) {
    map = Value::Insert(std::move(map), Value::String("k" + std::to_string(i)), Value::Int(i));
    map = Value::Insert(std::move(map), Value::Int(i), Value::Int(-i));
    ASSERT_EQ(map.kind(), Value::Kind::kMap) << map.DebugString();
  }
  EXPECT_EQ(map.size(), 80u);
  for (int i = 0; i < 40; ++i) {
    ASSERT_NE(map.FindField("k" + std::to_string(i)), nullptr) << i;
    EXPECT_EQ(map.FindField("k" + std::to_string(i))->int_value(), i);
    ASSERT_NE(map.Find(Value::Uint(i)), nullptr) << i;
    EXPECT_EQ(map.Find(Value::Uint(i))->int_value(), -i);
  }
  // A copy of an indexed map keeps a working index.
  Value copy = Value::Insert(map, Value::String("extra"), Value::Int(0));
  ASSERT_NE(copy.FindField("k7"), nullptr);
  EXPECT_EQ(copy.FindField("k7")->int_value(), 7);
  EXPECT_EQ(map.FindField("extra"), nullptr);
}

TEST(ValueMapTest, InsertRejectsRepeatedAndInvalidKeys) {
  Value map = Value::Map({{Value::Int(1), Value::Null()}});
  Value repeated = Value::Insert(map, Value::Uint(1), Value::Null());
  ASSERT_TRUE(repeated.IsError());
  EXPECT_EQ(repeated.error_message(), "insert failed: key 1u already exists");
  // As in map literals, doubles are never keys.
  Value double_key = Value::Insert(map, Value::Double(2.0), Value::Null());
  ASSERT_TRUE(double_key.IsError());
  EXPECT_THAT(std::string(double_key.error_message()), HasSubstr("unsupported key type"));
  EXPECT_TRUE(Value::Insert(map, Value::List({}), Value::Null()).IsError());
  EXPECT_EQ(map.size(), 1u);
}

TEST(ValueTest, RendersDebugStrings) {
  Value v = Value::List({Value::Int(1), Value::String("a\"b"), Value::Uint(2), Value::Double(1.0),
                         Value::Double(0.5), Value::Null(), Value::Bool(false),
                         Value::Map({{Value::Bool(true), Value::Uint(2)}}), Value::Bytes("\xff"),
                         Value::Type("int")});
  EXPECT_EQ(v.DebugString(),
            "[1, \"a\\\"b\", 2u, 1.0, 0.5, null, false, {true: 2u}, b\"\\xff\", int]");
  EXPECT_EQ(Value::Duration(absl::Milliseconds(1500)).DebugString(), "duration(\"1.5s\")");
  EXPECT_EQ(Value::Timestamp(absl::FromUnixSeconds(0)).DebugString(),
            "timestamp(\"1970-01-01T00:00:00Z\")");
  EXPECT_EQ(Value::Error(absl::StatusCode::kNotFound, "no such key: x").DebugString(),
            "error(NOT_FOUND: no such key: x)");
}

}  // namespace
}  // namespace varav::cel
