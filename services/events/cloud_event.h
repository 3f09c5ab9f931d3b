// Värav events as CloudEvents 1.0 JSON (structured content mode), the wire format of the NATS
// publisher (nats_publisher.h) and of anything else that hands events to systems which do not
// speak protobuf.
//
//   {"specversion":"1.0","id":"s1/7","source":"/varav","type":"ee.varav.gate.approved",
//    "subject":"s1","time":"2024-05-02T10:00:00Z","datacontenttype":"application/json",
//    "sequence":"42","servicesequence":"7","hash":"…","prevhash":"…","principal":"…",
//    "data":{"result":{…}}}
//
// - `data` is the event's typed payload (the `data` oneof of varav.v1.Event) in the canonical
//   proto3 JSON mapping (lowerCamelCase field names, enums by name, 64-bit integers as strings,
//   timestamps in RFC 3339), so `datacontenttype` is "application/json" even though the store
//   keeps protobuf.
// - Extension attributes (lower-case alphanumerics, as CloudEvents requires): `sequence` (global
//   sequence), `servicesequence`, `hash`, `prevhash` (the per-service hash chain) and, when set,
//   `principal` and `requestid`. Sequences are strings: CloudEvents integers are 32-bit.
// - `time` is omitted when the event has none.
// - An event whose message would exceed the NATS server's max_payload is published as a claim
//   check instead (ToCloudEventClaimCheck), so that no event can stop the feed.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/common/json.h"
#include "varav/v1/resources.pb.h"

namespace varav::events {

// The CloudEvents JSON of `event`. InvalidArgument when it has no payload or lacks `id`/`type`.
absl::StatusOr<std::string> ToCloudEventJson(const v1::Event& event);

// A claim check for an event too large to send whole (CloudEvents' Claim Check pattern, with the
// `dataref` extension): the same attributes and sequence and hash extensions (not `principal` and
// `requestid`, which may be large), no `data`, and
// `dataref` = "varav:events/<global sequence>", where ListEvents (with `after_sequence` one less
// and `page_size` 1) returns the whole event; `datasize` is the size of the full message it stands
// for. Consumers key on `id` and verify what they fetch against `hash`.
absl::StatusOr<std::string> ToCloudEventClaimCheck(const v1::Event& event, size_t full_size);

// The NATS subject of an event type: `<prefix>.<type>`, e.g. "varav.events.ee.varav.gate.approved".
// The type's dots become subject tokens, so a consumer can subscribe to "varav.events.>" (all),
// "varav.events.ee.varav.gate.*" (gate events) or one type exactly.
std::string NatsSubjectFor(absl::string_view prefix, absl::string_view type);

// `text` as a JSON string literal, quotes included.
using ::varav::JsonQuote;

}  // namespace varav::events
