// The event hash chain.
//
// Every event of a service links to the previous one by hash, so that removing, reordering or
// editing a stored event is detectable (Store::VerifyChain). The hash is defined in
// proto/varav/v1/resources.proto (message Event):
//
//   hash = hex(SHA-256(prev_hash_hex_ascii || deterministic_serialization(event without
//                                                                        prev_hash and hash)))
//
// Deterministic serialization matters because payloads carry google.protobuf.Struct (a map). It is
// not a canonical form across protobuf libraries, so the bytes hashed are kept (an event is stored
// as exactly those bytes with the chain fields added) and handed to auditors as they are
// (HashedForm, Event.hashed_form).
//
//   event.set_prev_hash(previous_hash);
//   event.set_hash(ComputeEventHash(event));
//
// Thread safety: free functions without shared state.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "varav/v1/resources.pb.h"

namespace varav::store {

// Deterministic serialization of `message` (map entries in key order).
std::string SerializeDeterministic(const google::protobuf::MessageLite& message);

// The hash of `event` given its own `prev_hash`; ignores the event's current `hash` field.
std::string ComputeEventHash(const v1::Event& event);

// An event serialized before the store knows its global sequence and hash: the deterministic
// serialization of the event with `global_sequence`, `prev_hash` and `hash` unset, plus where
// those fields go. Lets the store serialize an event once, outside its ordering critical section,
// and hash and store the same bytes.
struct UnsealedEvent {
  std::string bytes;
  // Offset of the first top-level field numbered above global_sequence (8).
  size_t sequence_offset = 0;
  // Offset of the first top-level field numbered above hash (13).
  size_t chain_offset = 0;
};

// InvalidArgument when `event` already has a global_sequence, prev_hash or hash.
absl::StatusOr<UnsealedEvent> PrepareEvent(const v1::Event& event);

// The bytes of the prepared event with `global_sequence`, `prev_hash` and its hash set: equal to
// SerializeDeterministic of that event. `hash` receives the hash (equal to ComputeEventHash).
std::string SealEvent(const UnsealedEvent& event, uint64_t global_sequence,
                      absl::string_view prev_hash, std::string& hash);

// The hashed form of an event stored as `stored` (its sealed bytes): the same bytes without the
// top-level `prev_hash`, `hash` and `hashed_form` fields, so that
// hash == hex(SHA-256(prev_hash || HashedForm(stored))). DataLoss when `stored` is malformed.
absl::StatusOr<std::string> HashedForm(absl::string_view stored);

}  // namespace varav::store
