// Reading one field out of a serialized protobuf message without parsing the rest, for the
// benchmark clients: they share the machine's cores with the server, so a client that parses a
// whole answer only to read an etag or a sequence number takes CPU time from what it measures.
//
//   std::vector<grpc::Slice> slices;
//   std::string scratch;
//   absl::string_view bytes = Flatten(response, slices, scratch);
//   std::optional<absl::string_view> etag = FindBytes(bytes, {2, 16});  // service.etag
//
// The first occurrence of each field on the path is taken (the writers here emit each once).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace varav::bench {

// The bytes of `buffer` as one view, valid while `slices` and `scratch` live; copies into
// `scratch` only when the buffer has several slices. Empty when the buffer cannot be read.
inline absl::string_view Flatten(const grpc::ByteBuffer& buffer, std::vector<grpc::Slice>& slices,
                                 std::string& scratch) {
  slices.clear();
  if (!buffer.Valid() || !buffer.Dump(&slices).ok()) return {};
  if (slices.size() == 1) {
    return absl::string_view(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size());
  }
  scratch.clear();
  for (const grpc::Slice& s : slices) {
    scratch.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return scratch;
}

namespace internal {

// Walks `path` (field numbers, outermost first) in `message` and returns the tag of the last
// field on it, with `in` positioned just after that tag; 0 when the path is not there.
inline uint32_t Descend(google::protobuf::io::CodedInputStream& in,
                        std::initializer_list<int> path) {
  using google::protobuf::internal::WireFormatLite;
  const int* const last = path.end() - 1;
  for (const int* field = path.begin(); field != path.end(); ++field) {
    bool found = false;
    for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
      if (WireFormatLite::GetTagFieldNumber(tag) == *field) {
        if (field == last) return tag;
        if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
          return 0;
        }
        uint32_t length = 0;
        if (!in.ReadVarint32(&length)) return 0;
        in.PushLimit(static_cast<int>(length));
        found = true;
        break;
      }
      if (!WireFormatLite::SkipField(&in, tag)) return 0;
    }
    if (!found) return 0;
  }
  return 0;
}

}  // namespace internal

// The bytes of the length-delimited field at `path` (a string, bytes or message field).
inline std::optional<absl::string_view> FindBytes(absl::string_view message,
                                                  std::initializer_list<int> path) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(message.data()),
                                            static_cast<int>(message.size()));
  using google::protobuf::internal::WireFormatLite;
  const uint32_t tag = path.size() == 0 ? 0 : internal::Descend(in, path);
  if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
    return std::nullopt;
  }
  uint32_t length = 0;
  const void* data = nullptr;
  int available = 0;
  if (!in.ReadVarint32(&length) || !in.GetDirectBufferPointer(&data, &available) ||
      static_cast<uint32_t>(available) < length) {
    // A zero-length field at the very end has no buffer left to point into.
    if (length == 0) return absl::string_view();
    return std::nullopt;
  }
  return absl::string_view(static_cast<const char*>(data), length);
}

// The value of the varint field at `path`.
inline std::optional<uint64_t> FindVarint(absl::string_view message,
                                          std::initializer_list<int> path) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(message.data()),
                                            static_cast<int>(message.size()));
  using google::protobuf::internal::WireFormatLite;
  const uint32_t tag = path.size() == 0 ? 0 : internal::Descend(in, path);
  if (tag == 0 || WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_VARINT) {
    return std::nullopt;
  }
  uint64_t value = 0;
  if (!in.ReadVarint64(&value)) return std::nullopt;
  return value;
}

}  // namespace varav::bench
