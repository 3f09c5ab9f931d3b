#include "services/governance/principal.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace varav::governance {
namespace {

TEST(ParseRoleTest, ParsesEveryRoleAndRoundTrips) {
  for (const char* text :
       {"admin", "reader", "agency_editor:sotsiaalkindlustusamet", "panel_member:business_panel"}) {
    absl::StatusOr<Role> role = ParseRole(text);
    ASSERT_TRUE(role.ok()) << role.status();
    EXPECT_EQ(RoleToString(*role), text);
  }
}

TEST(ParseRoleTest, RejectsUnknownRolesAndMissingScopes) {
  EXPECT_EQ(ParseRole("owner").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRole("agency_editor:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRole("panel_member:a:b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRole("admin:ria").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PrincipalTest, AdminEditsEveryAgencyButSitsOnNoPanel) {
  Principal p{.id = "root", .roles = {{.kind = RoleKind::kAdmin}}};
  EXPECT_TRUE(p.IsAdmin());
  EXPECT_TRUE(p.MayEditAgency("ria"));
  EXPECT_FALSE(p.SitsOnPanel("business_panel"));
  EXPECT_TRUE(p.MayRead());
}

TEST(PrincipalTest, EditorEditsOnlyItsAgencies) {
  Principal p{.id = "ska:mari",
              .agency = "ska",
              .roles = {{.kind = RoleKind::kAgencyEditor, .scope = "ska"}}};
  EXPECT_TRUE(p.MayEditAgency("ska"));
  EXPECT_FALSE(p.MayEditAgency("ria"));
  EXPECT_FALSE(p.SitsOnAnyPanel());
}

TEST(PrincipalTest, PrincipalWithoutRolesMayNotRead) {
  EXPECT_FALSE(Principal{.id = "nobody"}.MayRead());
}

}  // namespace
}  // namespace varav::governance
