#include "engine/store/layout.h"

#include "absl/strings/str_cat.h"

namespace varav::store {
namespace {

constexpr absl::string_view kSep("\0", 1);

template <typename T>
std::string EncodeBigEndian(T v) {
  std::string out(sizeof(T), '\0');
  for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

template <typename T>
std::optional<T> DecodeBigEndian(absl::string_view bytes) {
  if (bytes.size() != sizeof(T)) return std::nullopt;
  T v = 0;
  for (char c : bytes) v = static_cast<T>((v << 8) | static_cast<unsigned char>(c));
  return v;
}

}  // namespace

std::string EncodeU32(uint32_t v) { return EncodeBigEndian(v); }
std::string EncodeU64(uint64_t v) { return EncodeBigEndian(v); }
std::optional<uint32_t> DecodeU32(absl::string_view bytes) {
  return DecodeBigEndian<uint32_t>(bytes);
}
std::optional<uint64_t> DecodeU64(absl::string_view bytes) {
  return DecodeBigEndian<uint64_t>(bytes);
}

bool IsValidKeyPart(absl::string_view id) {
  return !id.empty() && id.find('\0') == absl::string_view::npos;
}

std::string OutputKey(absl::string_view service_id, absl::string_view output_type,
                      uint32_t revision) {
  return absl::StrCat(service_id, kSep, output_type, kSep, EncodeU32(revision));
}

std::string OutputPrefix(absl::string_view service_id, absl::string_view output_type) {
  if (output_type.empty()) return absl::StrCat(service_id, kSep);
  return absl::StrCat(service_id, kSep, output_type, kSep);
}

std::string AssessmentKey(absl::string_view service_id, absl::string_view principle) {
  return absl::StrCat(service_id, kSep, principle);
}

std::string AssessmentPrefix(absl::string_view service_id) {
  return absl::StrCat(service_id, kSep);
}

std::string DecisionKey(absl::string_view service_id, absl::string_view gate, uint32_t cycle,
                        uint32_t number) {
  return absl::StrCat(service_id, kSep, gate, kSep, EncodeU32(cycle), kSep, EncodeU32(number));
}

std::string DecisionPrefix(absl::string_view service_id, absl::string_view gate, uint32_t cycle) {
  if (gate.empty()) return absl::StrCat(service_id, kSep);
  if (cycle == 0) return absl::StrCat(service_id, kSep, gate, kSep);
  return absl::StrCat(service_id, kSep, gate, kSep, EncodeU32(cycle), kSep);
}

std::string GlobalEventKey(uint64_t global_sequence) {
  return absl::StrCat(kGlobalEventPrefix, EncodeU64(global_sequence));
}

std::string ServiceEventKey(absl::string_view service_id, uint64_t service_sequence) {
  return absl::StrCat(kServiceEventPrefix, service_id, kSep, EncodeU64(service_sequence));
}

std::string ServiceEventPrefix(absl::string_view service_id) {
  return absl::StrCat(kServiceEventPrefix, service_id, kSep);
}

std::optional<uint64_t> ParseGlobalEventKey(absl::string_view key) {
  if (key.substr(0, kGlobalEventPrefix.size()) != kGlobalEventPrefix) return std::nullopt;
  return DecodeU64(key.substr(kGlobalEventPrefix.size()));
}

std::string IndexPrefix(absl::Span<const std::pair<absl::string_view, absl::string_view>> terms) {
  std::string out = "c/";
  for (size_t i = 0; i < terms.size(); ++i) {
    if (i > 0) out.push_back('\0');
    absl::StrAppend(&out, terms[i].first, "\2", terms[i].second);
  }
  out.push_back('\1');
  return out;
}

bool IsValidIndexPart(absl::string_view part) {
  return !part.empty() &&
         part.find_first_of(absl::string_view("\0\1\2", 3)) == absl::string_view::npos;
}

std::string CursorKey(absl::string_view name) { return absl::StrCat("cursor/", name); }

}  // namespace varav::store
