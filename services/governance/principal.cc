#include "services/governance/principal.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace varav::governance {

bool Principal::IsAdmin() const {
  return std::any_of(roles.begin(), roles.end(),
                     [](const Role& r) { return r.kind == RoleKind::kAdmin; });
}

bool Principal::MayEditAgency(absl::string_view agency) const {
  return std::any_of(roles.begin(), roles.end(), [&](const Role& r) {
    return r.kind == RoleKind::kAdmin || (r.kind == RoleKind::kAgencyEditor && r.scope == agency);
  });
}

bool Principal::SitsOnPanel(absl::string_view panel) const {
  return std::any_of(roles.begin(), roles.end(), [&](const Role& r) {
    return r.kind == RoleKind::kPanelMember && r.scope == panel;
  });
}

std::vector<std::string> Principal::Panels() const {
  std::vector<std::string> panels;
  for (const Role& r : roles) {
    if (r.kind == RoleKind::kPanelMember) panels.push_back(r.scope);
  }
  return panels;
}

bool Principal::SitsOnAnyPanel() const {
  return std::any_of(roles.begin(), roles.end(),
                     [](const Role& r) { return r.kind == RoleKind::kPanelMember; });
}

absl::StatusOr<Role> ParseRole(absl::string_view text) {
  if (text == "admin") return Role{.kind = RoleKind::kAdmin};
  if (text == "reader") return Role{.kind = RoleKind::kReader};
  absl::string_view scope = text;
  RoleKind kind;
  if (absl::ConsumePrefix(&scope, "agency_editor:")) {
    kind = RoleKind::kAgencyEditor;
  } else if (absl::ConsumePrefix(&scope, "panel_member:")) {
    kind = RoleKind::kPanelMember;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("role '", text,
                     "': expected admin, reader, agency_editor:<agency> or panel_member:<panel>"));
  }
  if (scope.empty() || scope.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("role '", text, "': needs exactly one scope"));
  }
  return Role{.kind = kind, .scope = std::string(scope)};
}

std::string RoleToString(const Role& role) {
  switch (role.kind) {
    case RoleKind::kAdmin:
      return "admin";
    case RoleKind::kReader:
      return "reader";
    case RoleKind::kAgencyEditor:
      return absl::StrCat("agency_editor:", role.scope);
    case RoleKind::kPanelMember:
      return absl::StrCat("panel_member:", role.scope);
  }
  return "";
}

}  // namespace varav::governance
