// Conversions between this project's types and gRPC's, shared by the WatchEvents stream reactor
// and the server's handlers (services/events is the lowest library that speaks gRPC).
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"

namespace varav::events {

// absl::Status -> grpc::Status with the same canonical code and message.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share the canonical numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Parses the request of a method served raw (bytes in) into `out`. An all-default request may
// arrive as no bytes at all: it is the empty message. INVALID_ARGUMENT naming `request` when the
// bytes are not a `Message`.
template <typename Message>
absl::Status ParseRawRequest(const grpc::ByteBuffer& raw, Message& out) {
  if (!raw.Valid() || raw.Length() == 0) return absl::OkStatus();
  grpc::ByteBuffer buffer(raw);  // shares the slices; parsing consumes the copy
  if (!grpc::SerializationTraits<Message>::Deserialize(&buffer, &out).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request: not a serialized ", Message::descriptor()->full_name()));
  }
  return absl::OkStatus();
}

}  // namespace varav::events
