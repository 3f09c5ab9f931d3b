// Authentication of varavd callers: bearer tokens and TLS client certificates mapped to
// principals (services/governance/principal.h) by a principals file.
//
// The principals file is YAML. It never holds a token itself, only the hex SHA-256 of each token,
// so a leaked file grants nothing:
//
//   principals:
//     - id: ska:mari                        # recorded on every event the principal causes
//       agency: sotsiaalkindlustusamet      # optional; compared for segregation of duties
//       roles: ["agency_editor:sotsiaalkindlustusamet"]
//       token_sha256: 3f1a...c0             # one hash or a list (rotation: old and new)
//     - id: mkm:business-panel
//       agency: mkm
//       roles: ["panel_member:business_panel"]
//       client_cert_names: [panel.mkm.example]   # TLS client certificate subject CN or SAN
//
// Roles are "admin", "reader", "agency_editor:<agency>" and "panel_member:<panel>". A token hash is
// `printf %s "$TOKEN" | sha256sum`. Ids, token hashes and certificate names must be unique.
//
// A caller sends `authorization: Bearer <token>`; without that header, a verified client
// certificate whose CN or a SAN is listed identifies the principal. Anything else is
// UNAUTHENTICATED.
//
// Thread safety: an Authenticator is immutable after construction; its methods may be called
// concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/governance/principal.h"

namespace varav::server {

// `bytes` random bytes from /dev/urandom as lower-case hex. Internal error when it cannot be read.
absl::StatusOr<std::string> RandomHex(int bytes);

class Authenticator {
 public:
  // Parses a principals file's text. InvalidArgument naming the entry and field for anything
  // malformed or duplicated.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromYaml(absl::string_view text);
  // Reads and parses `path`. NotFound when it cannot be read.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(absl::string_view path);

  // The principal of an `authorization` header value "Bearer <token>" (scheme case-insensitive).
  // Unauthenticated for another scheme, an empty or unknown token.
  absl::StatusOr<governance::Principal> FromAuthorization(absl::string_view header) const;
  // The principal of the first of `names` (a client certificate's CN and SANs) that is listed.
  // Unauthenticated when none is.
  absl::StatusOr<governance::Principal> FromCertificateNames(
      const std::vector<std::string>& names) const;

  size_t principal_count() const { return principals_.size(); }

 private:
  Authenticator() = default;

  std::vector<governance::Principal> principals_;
  // Token hash / certificate name -> index into principals_.
  absl::flat_hash_map<std::string, size_t> by_token_hash_;
  absl::flat_hash_map<std::string, size_t> by_cert_name_;
};

// First-run setup for development (`make run`): when `principals_path` does not exist, creates
// it with one admin principal "dev-admin" holding a fresh random token (32 bytes, hex), writes the
// token to `token_path` with mode 0600 and returns it. Returns "" when the principals file already
// exists (nothing is touched). Errors when either file cannot be written.
absl::StatusOr<std::string> InitDevPrincipals(absl::string_view principals_path,
                                              absl::string_view token_path);

}  // namespace varav::server
