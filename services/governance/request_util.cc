#include "services/governance/request_util.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/common/sha256.h"
#include "engine/store/event_chain.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace varav::governance::internal {
namespace {

constexpr absl::string_view kTokenVersion = "p1";

std::string Fingerprint(absl::string_view scope) { return Sha256Hex(scope).substr(0, 16); }

}  // namespace

absl::Status Required(absl::string_view field, absl::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  return absl::OkStatus();
}

absl::Status MaxLength(absl::string_view field, absl::string_view value, size_t max) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", max, " bytes (", value.size(), ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateId(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) {
    return required ? absl::InvalidArgumentError(absl::StrCat(field, ": required"))
                    : absl::OkStatus();
  }
  if (value.size() > kMaxIdLength ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c > ' ' && c < 0x7f; })) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": '", absl::CEscape(value.substr(0, 80)),
                                                   "' is not a valid identifier"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view value) {
  if (value.empty()) return absl::OkStatus();
  const bool ok =
      value.size() <= kMaxRequestIdLength && std::all_of(value.begin(), value.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
      });
  if (!ok) {
    return absl::InvalidArgumentError(
        "request_id: must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-' (a UUID fits)");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PageSize(int32_t page_size, int default_size, int max) {
  if (page_size < 0 || page_size > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", max, ", not ", page_size));
  }
  return page_size == 0 ? default_size : page_size;
}

std::string EncodePageToken(absl::string_view scope, absl::string_view position) {
  std::string token;
  absl::WebSafeBase64Escape(absl::StrCat(kTokenVersion, "|", Fingerprint(scope), "|", position),
                            &token);
  return token;
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view scope) {
  if (token.empty()) return std::string();
  std::string raw;
  if (token.size() > 1024 || !absl::WebSafeBase64Unescape(token, &raw)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('|', 2));
  if (parts.size() != 3 || parts[0] != kTokenVersion || parts[2].empty()) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  if (parts[1] != Fingerprint(scope)) {
    return absl::InvalidArgumentError(
        "page_token: issued for a request with other parameters; keep every other field of the "
        "request unchanged between pages");
  }
  return std::move(parts[2]);
}

std::string RequestHash(absl::string_view method, const Principal& principal,
                        const google::protobuf::Message& request) {
  // Length-prefixed parts, so that no two different (method, principal, request) triples share
  // an encoding.
  std::string input = absl::StrCat(method.size(), ":", method, principal.id.size(), ":",
                                   principal.id, store::SerializeDeterministic(request));
  const google::protobuf::FieldDescriptor* field =
      request.GetDescriptor()->FindFieldByName("request_id");
  if (field != nullptr && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
      !field->is_repeated()) {
    // Cutting a top-level field out of a deterministic serialization gives the deterministic
    // serialization of the request without it: the same bytes as clearing it in a copy, without
    // copying the request.
    const size_t start = input.size() - request.ByteSizeLong();
    google::protobuf::io::CodedInputStream in(
        reinterpret_cast<const uint8_t*>(input.data() + start),
        static_cast<int>(input.size() - start));
    while (true) {
      const size_t position = start + static_cast<size_t>(in.CurrentPosition());
      const uint32_t tag = in.ReadTag();
      if (tag == 0) break;
      if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) break;
      if (google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag) == field->number()) {
        input.erase(position, start + static_cast<size_t>(in.CurrentPosition()) - position);
        break;
      }
    }
  }
  return Sha256Hex(input);
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace varav::governance::internal
