#include "engine/common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace varav {
namespace {

const EVP_MD* Sha256() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    // Only a broken OpenSSL installation lacks SHA-256; nothing here can work without it.
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return md;
}

}  // namespace

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest fails only when OpenSSL cannot allocate; there is no digest to return then.
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, Sha256(), nullptr) != 1) {
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(length * 2, '\0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace varav
