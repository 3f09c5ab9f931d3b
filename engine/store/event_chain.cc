#include "engine/store/event_chain.h"

#include <algorithm>
#include <memory>

#include "engine/common/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace varav::store {

std::string SerializeDeterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializePartialToCodedStream(&coded);
  }
  return out;
}

std::string ComputeEventHash(const v1::Event& event) {
  v1::Event canonical = event;
  canonical.clear_prev_hash();
  canonical.clear_hash();
  canonical.clear_hashed_form();
  std::string input = event.prev_hash();
  input += SerializeDeterministic(canonical);
  return Sha256Hex(input);
}

namespace {

constexpr uint32_t kGlobalSequenceField = 8;
constexpr uint32_t kPrevHashField = 12;
constexpr uint32_t kHashField = 13;
constexpr uint32_t kHashedFormField = 14;

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Proto3 leaves empty strings out of the serialization.
void AppendStringField(std::string& out, uint32_t field, absl::string_view value) {
  if (value.empty()) return;
  AppendVarint(out, (field << 3) | 2);
  AppendVarint(out, value.size());
  out.append(value.data(), value.size());
}

}  // namespace

absl::StatusOr<UnsealedEvent> PrepareEvent(const v1::Event& event) {
  if (event.global_sequence() != 0 || !event.prev_hash().empty() || !event.hash().empty() ||
      !event.hashed_form().empty()) {
    return absl::InvalidArgumentError("a prepared event must not carry sequence or chain fields");
  }
  UnsealedEvent out;
  out.bytes = SerializeDeterministic(event);
  // Deterministic serialization writes known fields in field-number order; find where the three
  // missing fields belong.
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(out.bytes.data()),
                                            static_cast<int>(out.bytes.size()));
  bool sequence_found = false;
  out.chain_offset = out.bytes.size();
  while (true) {
    const size_t position = static_cast<size_t>(in.CurrentPosition());
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (!sequence_found) out.sequence_offset = out.bytes.size();
      break;
    }
    const uint32_t field = google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag);
    if (!sequence_found && field > kGlobalSequenceField) {
      out.sequence_offset = position;
      sequence_found = true;
    }
    if (field > kHashField) {
      out.chain_offset = position;
      break;
    }
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) {
      return absl::InternalError("serialized event is not well-formed");
    }
  }
  return out;
}

std::string SealEvent(const UnsealedEvent& event, uint64_t global_sequence,
                      absl::string_view prev_hash, std::string& hash) {
  const absl::string_view bytes = event.bytes;
  // The hash covers prev_hash followed by the event without its chain fields.
  std::string hashed;
  hashed.reserve(prev_hash.size() + bytes.size() + 11);
  hashed.append(prev_hash.data(), prev_hash.size());
  const size_t start = hashed.size();
  hashed.append(bytes.data(), event.sequence_offset);
  if (global_sequence != 0) {
    AppendVarint(hashed, kGlobalSequenceField << 3);
    AppendVarint(hashed, global_sequence);
  }
  const size_t shift = hashed.size() - start - event.sequence_offset;
  hashed.append(bytes.data() + event.sequence_offset, bytes.size() - event.sequence_offset);
  hash = Sha256Hex(hashed);

  const absl::string_view canonical = absl::string_view(hashed).substr(start);
  const size_t chain = event.chain_offset + shift;
  std::string out;
  out.reserve(canonical.size() + prev_hash.size() + hash.size() + 6);
  out.append(canonical.data(), chain);
  AppendStringField(out, kPrevHashField, prev_hash);
  AppendStringField(out, kHashField, hash);
  out.append(canonical.data() + chain, canonical.size() - chain);
  return out;
}

absl::StatusOr<std::string> HashedForm(absl::string_view stored) {
  std::string out;
  out.reserve(stored.size());
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(stored.data()),
                                            static_cast<int>(stored.size()));
  while (true) {
    const size_t start = static_cast<size_t>(in.CurrentPosition());
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) {
      return absl::DataLossError("stored event is not well-formed protobuf");
    }
    const uint32_t field = google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag);
    if (field == kPrevHashField || field == kHashField || field == kHashedFormField) continue;
    out.append(stored.data() + start, static_cast<size_t>(in.CurrentPosition()) - start);
  }
  if (static_cast<size_t>(in.CurrentPosition()) != stored.size()) {
    return absl::DataLossError("stored event is not well-formed protobuf");
  }
  return out;
}

}  // namespace varav::store
