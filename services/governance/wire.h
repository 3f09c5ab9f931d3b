// Parsing API requests from their binary protobuf encoding, with refusals that say what is wrong.
//
// Both transports (gRPC, served raw, and the HTTP interface's `application/proto`) receive a
// request as bytes; a request that does not parse is INVALID_ARGUMENT naming the first field at
// fault, never gRPC's bare UNIMPLEMENTED:
//
//   v1::SubmitOutputRequest request;
//   VARAV_RETURN_IF_ERROR(ParseRequest(bytes, request));
//   // "document.id: not valid UTF-8 (a string field; send bytes as base64 text)"
//
// Thread safety: pure functions.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace varav::governance {

// Parses `bytes` into `out` (cleared first). An empty input is the all-default message.
// InvalidArgument when the bytes are not a serialized `out`: the path of a string field holding
// invalid UTF-8 (e.g. `fields.fields["title"].string_value`, `answers[2].comment`), or what else
// is malformed.
absl::Status ParseRequest(absl::string_view bytes, google::protobuf::Message& out);

}  // namespace varav::governance
