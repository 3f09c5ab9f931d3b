// Converts the protobuf JSON forms used by the CEL conformance suite (cel.expr.Value,
// cel.expr.Type) into Värav's `Value` and `Type`, and compares results the way the suite's matchers
// require.
//
// Anything that has no counterpart in Värav's engine (protobuf messages, wrapper types, enums,
// google.protobuf.Any holding a message) converts to an Unimplemented status whose message says
// what is missing; the runner reports such a test as failed unless skips.txt lists it.
//
//   absl::StatusOr<Value> v = ValueFromJson(*test.Find("value"));
//   if (v.ok() && ValuesMatch(*v, result)) { ... }
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/cel/type.h"
#include "engine/cel/value.h"
#include "tests/conformance/json.h"

namespace varav::conformance {

// A cel.expr.Value in JSON form (e.g. {"int64Value": "1"}, {"listValue": {"values": [...]}}).
absl::StatusOr<cel::Value> ValueFromJson(const Json& json);

// A cel.expr.Type in JSON form (e.g. {"primitive": "INT64"}, {"listType": {"elemType": {...}}}).
absl::StatusOr<cel::Type> TypeFromJson(const Json& json);

// The suite's value matcher: same kind and same value, deeply; maps ignore entry order; doubles
// compare exactly except that NaN matches NaN. Unlike CEL's `==`, 1 and 1.0 and 1u do not match.
bool ValuesMatch(const cel::Value& expected, const cel::Value& actual);

// Standard base64 (RFC 4648, padding optional). InvalidArgument on other characters.
absl::StatusOr<std::string> DecodeBase64(absl::string_view in);

}  // namespace varav::conformance
