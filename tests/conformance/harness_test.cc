#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/cel_json.h"
#include "tests/conformance/json.h"

namespace varav::conformance {
namespace {

using cel::Type;
using cel::Value;
using ::testing::HasSubstr;

Json MustParse(absl::string_view text) {
  absl::StatusOr<Json> j = ParseJson(text);
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *j : Json();
}

TEST(JsonTest, KeepsMemberOrderAndNumberText) {
  Json j = MustParse(R"({"b": 1, "a": [true, null, -12.50e3], "c": "x"})");
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j.members().size(), 3u);
  EXPECT_EQ(j.members()[0].first, "b");
  EXPECT_EQ(j.Find("a")->items()[2].text(), "-12.50e3");
  EXPECT_TRUE(j.Find("a")->items()[1].is_null());
  EXPECT_EQ(j.GetString("c"), "x");
  EXPECT_EQ(j.Find("missing"), nullptr);
}

TEST(JsonTest, DecodesEscapesAndSurrogatePairsToUtf8) {
  Json j = MustParse(R"("a\"\\\/\n\u00e9\ud83d\ude00")");
  EXPECT_EQ(j.text(), "a\"\\/\n\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(JsonTest, RejectsMalformedInput) {
  EXPECT_EQ(ParseJson("{\"a\": }").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseJson("[1, 2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseJson("1 2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseJson("\"\\x\"").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonTest, DumpRoundTrips) {
  const char* text = R"({"a":[1,"x\n",false,null],"b":{}})";
  EXPECT_EQ(MustParse(text).Dump(), text);
}

TEST(Base64Test, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(*DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*DecodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(*DecodeBase64(""), "");
  EXPECT_FALSE(DecodeBase64("a*b").ok());
}

TEST(ValueFromJsonTest, ConvertsScalars) {
  EXPECT_EQ(ValueFromJson(MustParse(R"({"int64Value": "-9223372036854775808"})"))->int_value(),
            INT64_MIN);
  EXPECT_EQ(ValueFromJson(MustParse(R"({"uint64Value": "18446744073709551615"})"))->uint_value(),
            UINT64_MAX);
  EXPECT_TRUE(std::isnan(ValueFromJson(MustParse(R"({"doubleValue": "NaN"})"))->double_value()));
  EXPECT_EQ(ValueFromJson(MustParse(R"({"doubleValue": "-Infinity"})"))->double_value(), -HUGE_VAL);
  EXPECT_EQ(ValueFromJson(MustParse(R"({"doubleValue": 0.1})"))->double_value(), 0.1);
  EXPECT_EQ(ValueFromJson(MustParse(R"({"bytesValue": "AP8="})"))->string_value(),
            std::string("\x00\xff", 2));
  EXPECT_EQ(ValueFromJson(MustParse(R"({"nullValue": null})"))->kind(), Value::Kind::kNull);
  EXPECT_EQ(ValueFromJson(MustParse(R"({"typeValue": "int"})"))->type_name(), "int");
}

TEST(ValueFromJsonTest, ConvertsListsAndMaps) {
  absl::StatusOr<Value> v = ValueFromJson(MustParse(
      R"({"mapValue": {"entries": [{"key": {"stringValue": "k"},
                                    "value": {"listValue": {"values": [{"boolValue": true}]}}}]}})"));
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->kind(), Value::Kind::kMap);
  ASSERT_EQ(v->size(), 1u);
  EXPECT_EQ(v->map_value(0).element(0).bool_value(), true);
  EXPECT_EQ(ValueFromJson(MustParse(R"({"listValue": {}})"))->size(), 0u);
}

TEST(ValueFromJsonTest, UnpacksWellKnownTypesInAny) {
  absl::StatusOr<Value> d = ValueFromJson(MustParse(
      R"({"objectValue": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1.5s"}})"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->duration_value(), absl::Milliseconds(1500));
  absl::StatusOr<Value> t = ValueFromJson(MustParse(
      R"({"objectValue": {"@type": "type.googleapis.com/google.protobuf.Timestamp",
                          "value": "1970-01-01T00:00:01Z"}})"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->timestamp_value(), absl::FromUnixSeconds(1));
}

TEST(ValueFromJsonTest, ReportsMessagesAsUnimplemented) {
  absl::StatusOr<Value> v = ValueFromJson(MustParse(
      R"({"objectValue": {"@type": "type.googleapis.com/cel.expr.conformance.proto3.TestAllTypes"}})"));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("TestAllTypes"));
}

TEST(TypeFromJsonTest, ConvertsNestedTypes) {
  absl::StatusOr<Type> t = TypeFromJson(MustParse(
      R"({"mapType": {"keyType": {"primitive": "STRING"},
                      "valueType": {"listType": {"elemType": {"dyn": {}}}}}})"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, Type::Map(Type::String(), Type::List(Type::Dyn())));
  EXPECT_EQ(*TypeFromJson(MustParse(R"({"wellKnown": "TIMESTAMP"})")), Type::Timestamp());
  EXPECT_EQ(*TypeFromJson(MustParse(R"({"type": {"primitive": "INT64"}})")),
            Type::TypeOf(Type::Int()));
  EXPECT_EQ(TypeFromJson(MustParse(R"({"wrapper": "INT64"})")).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(ValuesMatchTest, RequiresTheSameKind) {
  EXPECT_TRUE(ValuesMatch(Value::Int(1), Value::Int(1)));
  EXPECT_FALSE(ValuesMatch(Value::Int(1), Value::Double(1.0)));
  EXPECT_FALSE(ValuesMatch(Value::Int(1), Value::Uint(1)));
  EXPECT_FALSE(ValuesMatch(Value::String("a"), Value::Bytes("a")));
}

TEST(ValuesMatchTest, MatchesNanWithNanOnly) {
  EXPECT_TRUE(ValuesMatch(Value::Double(std::nan("")), Value::Double(std::nan(""))));
  EXPECT_FALSE(ValuesMatch(Value::Double(std::nan("")), Value::Double(0)));
}

TEST(ValuesMatchTest, IgnoresMapOrderButNotListOrder) {
  Value m1 = Value::Map({{Value::String("a"), Value::Int(1)}, {Value::String("b"), Value::Int(2)}});
  Value m2 = Value::Map({{Value::String("b"), Value::Int(2)}, {Value::String("a"), Value::Int(1)}});
  EXPECT_TRUE(ValuesMatch(m1, m2));
  EXPECT_FALSE(ValuesMatch(Value::List({Value::Int(1), Value::Int(2)}),
                           Value::List({Value::Int(2), Value::Int(1)})));
}

TEST(ValuesMatchTest, NeverMatchesErrors) {
  Value e = Value::Error(absl::StatusCode::kInvalidArgument, "boom");
  EXPECT_FALSE(ValuesMatch(e, e));
}

}  // namespace
}  // namespace varav::conformance
