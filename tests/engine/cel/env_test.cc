#include "engine/cel/cel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::cel {
namespace {

TEST(EnvBuilderTest, BuildsAnEnvWithVariablesAndObjectTypes) {
  EnvBuilder b;
  ASSERT_TRUE(b.AddObjectType({"varav.Research", {{"participant_count", Type::Int()}}}).ok());
  ASSERT_TRUE(b.AddVariable("research", Type::Object("varav.Research")).ok());
  auto env = std::move(b).Build();
  ASSERT_TRUE(env.ok()) << env.status();
  ASSERT_NE((*env)->FindVariable("research"), nullptr);
  EXPECT_EQ((*env)->FindVariable("research")->type, Type::Object("varav.Research"));
  ASSERT_NE((*env)->FindObjectType("varav.Research"), nullptr);
  EXPECT_EQ((*env)->FindVariable("missing"), nullptr);
}

TEST(EnvBuilderTest, RejectsAVariableDeclaredTwice) {
  EnvBuilder b;
  ASSERT_TRUE(b.AddVariable("x", Type::Int()).ok());
  absl::Status s = b.AddVariable("x", Type::String());
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("'x'"));
}

TEST(EnvBuilderTest, RejectsAFieldDeclaredTwice) {
  EnvBuilder b;
  absl::Status s = b.AddObjectType({"T", {{"a", Type::Int()}, {"a", Type::String()}}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("field 'a'"));
}

TEST(EnvBuilderTest, RejectsReferencesToUndeclaredObjectTypes) {
  EnvBuilder b;
  ASSERT_TRUE(b.AddVariable("xs", Type::List(Type::Object("Missing"))).ok());
  auto env = std::move(b).Build();
  ASSERT_FALSE(env.ok());
  EXPECT_THAT(std::string(env.status().message()), ::testing::HasSubstr("'Missing'"));
}

TEST(ActivationTest, FindsBindingsByNameOrPrecomputedHash) {
  Activation act;
  act.Bind("outputs", Value::Int(1));
  act.Bind("request.auth", Value::Int(2));
  ASSERT_NE(act.Find("outputs"), nullptr);
  EXPECT_EQ(act.Find("outputs")->int_value(), 1);
  const Value* hashed = act.Find("request.auth", Activation::HashName("request.auth"));
  ASSERT_NE(hashed, nullptr);
  EXPECT_EQ(hashed->int_value(), 2);
  EXPECT_EQ(act.Find("request", Activation::HashName("request")), nullptr);
}

TEST(TypeTest, RendersCelSpelling) {
  EXPECT_EQ(Type::Map(Type::String(), Type::List(Type::Int())).DebugString(),
            "map(string, list(int))");
  EXPECT_EQ(Type::TypeOf(Type::Uint()).DebugString(), "type(uint)");
  EXPECT_NE(Type::List(Type::Int()), Type::List(Type::Uint()));
}

}  // namespace
}  // namespace varav::cel
