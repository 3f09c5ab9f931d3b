// Internal helpers of the application layer: request field validation with messages that name the
// field, opaque page tokens bound to the request that issued them, the idempotency hash of a
// request, and time conversions.
//
// Not a public API: only services/governance includes it.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/lifecycle/lifecycle.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/governance/principal.h"

namespace varav::governance::internal {

// Longest accepted lengths of free-text and id fields, in bytes.
inline constexpr size_t kMaxIdLength = 128;
inline constexpr size_t kMaxNameLength = 200;
inline constexpr size_t kMaxDescriptionLength = 4000;
inline constexpr size_t kMaxRationaleLength = 10000;
inline constexpr size_t kMaxReasonLength = 2000;
inline constexpr size_t kMaxExpressionLength = 10000;
inline constexpr size_t kMaxRequestIdLength = 128;
inline constexpr size_t kMaxFieldsBytes = 1 << 20;

// InvalidArgument "<field>: required" when `value` is empty.
absl::Status Required(absl::string_view field, absl::string_view value);

// InvalidArgument naming `field` when `value` is longer than `max` bytes.
absl::Status MaxLength(absl::string_view field, absl::string_view value, size_t max);

// A service id (and an agency id): the lifecycle's rule.
using ::varav::lifecycle::ValidateServiceId;

// A pack-level id (stage, gate, panel, output type, principle): when `required`, non-empty; at
// most kMaxIdLength bytes, printable ASCII without spaces. Whether the pack declares it is the
// engine's question.
absl::Status ValidateId(absl::string_view field, absl::string_view value, bool required);

// Empty (no idempotency) or 1..128 characters of [A-Za-z0-9._:-].
absl::Status ValidateRequestId(absl::string_view value);

// `page_size` in 0..`max`; 0 becomes `default_size`.
absl::StatusOr<int> PageSize(int32_t page_size, int default_size, int max = 1000);

// Page tokens are opaque to clients: base64url of a version tag, a fingerprint of the request's
// other parameters (`scope`) and the position to continue after. A token used with different
// parameters is refused, so a client cannot silently mix the pages of two listings.
std::string EncodePageToken(absl::string_view scope, absl::string_view position);
// The position; "" for an empty token. InvalidArgument "page_token: ..." when the token is
// malformed or was issued for another scope.
absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view scope);

// The idempotency hash of a mutation: SHA-256 over the method, the caller's principal id and the
// deterministic serialization of `request` with its `request_id` field cleared (so the same
// content under the same id matches, and the same id from another principal or for another method
// does not).
std::string RequestHash(absl::string_view method, const Principal& principal,
                        const google::protobuf::Message& request);

google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& t);

}  // namespace varav::governance::internal
