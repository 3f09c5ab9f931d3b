// Conversions between this project's types and gRPC's, shared by the server's handlers and the
// WatchEvents stream reactor.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"
#include "services/governance/wire.h"

namespace varav::server {

// absl::Status -> grpc::Status with the same canonical code and message.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share the canonical numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Parses the request of a method served raw (bytes in) into `out`. An all-default request may
// arrive as no bytes at all: it is the empty message. INVALID_ARGUMENT naming the field at fault
// when the bytes are not a `Message` (see governance::ParseRequest).
template <typename Message>
absl::Status ParseRawRequest(const grpc::ByteBuffer& raw, Message& out) {
  std::string bytes;
  if (raw.Valid()) {
    std::vector<grpc::Slice> slices;
    if (!raw.Dump(&slices).ok()) return absl::InvalidArgumentError("request: unreadable");
    bytes.reserve(raw.Length());
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return governance::ParseRequest(bytes, out);
}

}  // namespace varav::server
