#include "services/server/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/common/sha256.h"
#include "yaml-cpp/yaml.h"

namespace varav::server {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string ToHex(const unsigned char* data, size_t size) {
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

bool IsSha256Hex(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A scalar or a sequence of scalars as a list of strings.
absl::StatusOr<std::vector<std::string>> StringList(const YAML::Node& node,
                                                    absl::string_view where) {
  std::vector<std::string> out;
  if (!node) return out;
  if (node.IsScalar()) {
    out.push_back(node.as<std::string>());
    return out;
  }
  if (!node.IsSequence()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": expected a string or a list"));
  }
  for (const YAML::Node& item : node) {
    if (!item.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected strings"));
    }
    out.push_back(item.as<std::string>());
  }
  return out;
}

absl::Status WriteFileExclusive(absl::string_view path, absl::string_view content, mode_t mode) {
  const std::string p(path);
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(err)));
    }
    written += static_cast<size_t>(n);
  }
  // The token must survive a crash right after it was printed.
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return absl::InternalError(absl::StrCat("cannot sync ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> RandomHex(int bytes) {
  std::string raw(static_cast<size_t>(bytes), '\0');
  std::ifstream in("/dev/urandom", std::ios::binary);
  if (!in.read(raw.data(), bytes)) return absl::InternalError("cannot read /dev/urandom");
  return ToHex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromYaml(absl::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("principals: ", e.what()));
  }
  const YAML::Node list = root["principals"];
  if (!root.IsMap() || !list || !list.IsSequence()) {
    return absl::InvalidArgumentError("principals: expected a top-level `principals` list");
  }
  auto auth = std::unique_ptr<Authenticator>(new Authenticator());
  absl::flat_hash_map<std::string, size_t> ids;
  try {
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node entry = list[i];
      const std::string where = absl::StrCat("principals[", i, "]");
      if (!entry.IsMap())
        return absl::InvalidArgumentError(absl::StrCat(where, ": expected a map"));
      for (const auto& kv : entry) {
        const std::string key = kv.first.as<std::string>();
        if (key != "id" && key != "agency" && key != "roles" && key != "token_sha256" &&
            key != "client_cert_names") {
          return absl::InvalidArgumentError(absl::StrCat(where, ": unknown field `", key, "`"));
        }
      }
      governance::Principal principal;
      if (!entry["id"] || !entry["id"].IsScalar() || entry["id"].as<std::string>().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".id: required"));
      }
      principal.id = entry["id"].as<std::string>();
      if (!ids.emplace(principal.id, i).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".id: duplicate principal `", principal.id, "`"));
      }
      if (entry["agency"]) {
        if (!entry["agency"].IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(where, ".agency: expected a string"));
        }
        principal.agency = entry["agency"].as<std::string>();
      }
      auto roles = StringList(entry["roles"], where + ".roles");
      if (!roles.ok()) return roles.status();
      if (roles->empty())
        return absl::InvalidArgumentError(absl::StrCat(where, ".roles: required"));
      for (const std::string& text : *roles) {
        auto role = governance::ParseRole(text);
        if (!role.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".roles: ", role.status().message()));
        }
        principal.roles.push_back(*role);
      }
      auto hashes = StringList(entry["token_sha256"], where + ".token_sha256");
      if (!hashes.ok()) return hashes.status();
      auto names = StringList(entry["client_cert_names"], where + ".client_cert_names");
      if (!names.ok()) return names.status();
      if (hashes->empty() && names->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": needs token_sha256 or client_cert_names"));
      }
      const size_t index = auth->principals_.size();
      for (std::string hash : *hashes) {
        absl::AsciiStrToLower(&hash);
        if (!IsSha256Hex(hash)) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".token_sha256: expected 64 hex characters"));
        }
        if (!auth->by_token_hash_.emplace(hash, index).second) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".token_sha256: a token hash is listed twice"));
        }
      }
      for (const std::string& name : *names) {
        if (name.empty() || !auth->by_cert_name_.emplace(name, index).second) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".client_cert_names: empty or duplicate name `", name, "`"));
        }
      }
      auth->principals_.push_back(std::move(principal));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("principals: ", e.what()));
  }
  return auth;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromFile(absl::string_view path) {
  std::ifstream in{std::string(path)};
  if (!in) return absl::NotFoundError(absl::StrCat("principals_file: cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto auth = FromYaml(buffer.str());
  if (!auth.ok()) {
    return absl::Status(auth.status().code(), absl::StrCat(path, ": ", auth.status().message()));
  }
  return auth;
}

absl::StatusOr<governance::Principal> Authenticator::FromAuthorization(
    absl::string_view header) const {
  header = absl::StripAsciiWhitespace(header);
  if (header.size() < 7 || !absl::EqualsIgnoreCase(header.substr(0, 7), "bearer ")) {
    return absl::UnauthenticatedError("authorization: expected `Bearer <token>`");
  }
  const absl::string_view token = absl::StripAsciiWhitespace(header.substr(7));
  if (token.empty()) return absl::UnauthenticatedError("authorization: empty token");
  // Only the hash is looked up, so the comparison never touches the secret itself.
  const auto it = by_token_hash_.find(Sha256Hex(token));
  if (it == by_token_hash_.end()) return absl::UnauthenticatedError("unknown token");
  return principals_[it->second];
}

absl::StatusOr<governance::Principal> Authenticator::FromCertificateNames(
    const std::vector<std::string>& names) const {
  for (const std::string& name : names) {
    const auto it = by_cert_name_.find(name);
    if (it != by_cert_name_.end()) return principals_[it->second];
  }
  return absl::UnauthenticatedError("client certificate is not mapped to a principal");
}

absl::StatusOr<std::string> InitDevPrincipals(absl::string_view principals_path,
                                              absl::string_view token_path) {
  struct stat st;
  if (::stat(std::string(principals_path).c_str(), &st) == 0) return std::string();
  auto token = RandomHex(32);
  if (!token.ok()) return token.status();
  // The token file first: if writing the principals file then fails, a rerun starts over instead
  // of leaving a principals file whose token nobody knows.
  ::unlink(std::string(token_path).c_str());
  absl::Status status = WriteFileExclusive(token_path, *token + "\n", 0600);
  if (!status.ok()) return status;
  const std::string yaml = absl::StrCat(
      "# Principals of varavd (format: services/server/auth.h). Created by\n"
      "# `varavd --init_dev_principals` for development: one admin whose token is in ",
      token_path,
      ".\n"
      "principals:\n"
      "  - id: dev-admin\n"
      "    roles: [admin]\n"
      "    token_sha256: ",
      Sha256Hex(*token), "\n");
  status = WriteFileExclusive(principals_path, yaml, 0600);
  if (!status.ok()) return status;
  return token;
}

}  // namespace varav::server
