// Who is calling, and what their roles let them do.
//
// The server authenticates a caller (bearer token or client certificate) and maps it to a
// `Principal`; the application layer (governance.h) authorises every call against its roles:
//
//   role                    may
//   ----------------------  -----------------------------------------------------------------
//   admin                   everything
//   agency_editor:<agency>  register services of <agency> and change them (outputs,
//                           assessments, stages, review requests, pack migration)
//   panel_member:<panel>    decide as <panel> at gates that need it, and resume services held at
//                           such gates, never on a service of the principal's own agency
//   reader                  read
//
// Every role includes reading; a principal without roles may do nothing. The principal's own
// `agency` (not a role) is what segregation of duties compares with a service's agency.
//
//   VARAV_ASSIGN_OR_RETURN(Role role, ParseRole("agency_editor:sotsiaalkindlustusamet"));
//   Principal p{.id = "ska:mari", .agency = "sotsiaalkindlustusamet", .roles = {role}};
//
// Thread safety: plain values and pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace varav::governance {

enum class RoleKind {
  kAdmin,
  kAgencyEditor,  // scope: the agency id
  kPanelMember,   // scope: the panel id
  kReader,
};

struct Role {
  RoleKind kind = RoleKind::kReader;
  // The agency of an agency editor or the panel of a panel member; empty otherwise.
  std::string scope;

  bool operator==(const Role&) const = default;
};

struct Principal {
  // The authenticated identity, recorded on every event the principal causes. Required.
  std::string id;
  // The agency the principal works for; empty when none (e.g. an external panel member).
  std::string agency;
  std::vector<Role> roles;

  bool IsAdmin() const;
  // True for an admin or an editor of `agency`.
  bool MayEditAgency(absl::string_view agency) const;
  // True when the principal is a member of `panel` (admins sit on no panel by virtue of being
  // admins; they are handled separately).
  bool SitsOnPanel(absl::string_view panel) const;
  bool SitsOnAnyPanel() const;
  // The panels the principal sits on, in role order.
  std::vector<std::string> Panels() const;
  // True when the principal holds any role (every role may read).
  bool MayRead() const { return !roles.empty(); }
};

// Parses "admin", "reader", "agency_editor:<agency>" or "panel_member:<panel>". InvalidArgument
// for anything else (including a missing or extra scope).
absl::StatusOr<Role> ParseRole(absl::string_view text);

// The inverse of ParseRole.
std::string RoleToString(const Role& role);

}  // namespace varav::governance
