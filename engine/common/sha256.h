// SHA-256 as lower-case hex, the one digest Värav uses: event chain hashes, request fingerprints,
// bearer token hashes, pack digests and document checksums.
//
// The OpenSSL 3 implementation is fetched from the default provider once per process; the
// one-shot SHA256() and EVP_Digest(..., EVP_sha256(), ...) look it up again on every call, which
// costs more than hashing a short input.
//
// Thread safety: thread-safe.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace varav {

// The SHA-256 of `bytes`, 64 lower-case hex digits.
std::string Sha256Hex(absl::string_view bytes);

}  // namespace varav
