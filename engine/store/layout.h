// On-disk layout of the Värav store: column families and key encodings.
//
// Only engine/store (and tests or tools that inspect a store directory offline) use this header;
// everything else goes through varav::store::Store. Keys are built so that RocksDB's bytewise
// ordering gives the iteration order the store needs: ids are followed by a NUL separator (ids
// never contain NUL; the store rejects them) and numbers are fixed-width big-endian.
//
// clang-format off
// Column family | key                                                    | value
// --------------|--------------------------------------------------------|-------------------------
// services      | <service_id>                                           | varav.v1.Service
// outputs       | <service_id>\0<output_type>\0<revision u32 BE>         | varav.v1.OutputRevision
// assessments   | <service_id>\0<principle>                              | varav.v1.Assessment
// evaluations   | <evaluation_id>                                        | varav.v1.GateEvaluation
// decisions     | <service_id>\0<gate>\0<cycle u32 BE>\0<number u32 BE> | varav.v1.Decision
// events        | e/<global_sequence u64 BE>                             | varav.v1.Event
//               | s/<service_id>\0<service_sequence u64 BE>              | <global_sequence u64 BE>
// indexes       | c/<attr>\2<value>[\0<attr>\2<value>...]\1<service_id>   | empty
// idempotency   | <request_id>                                           | varav.storage.v1.RequestRecord
// metadata      | format_version                                         | decimal ASCII, e.g. "1"
//               | cursor/<name>                                          | <sequence u64 BE>
// clang-format on
//
// Events are stored as the exact bytes their hash covers (deterministic serialization, see
// event_chain.h); every other protobuf value uses the plain encoding, since nothing hashes it.
//
// The portfolio index is composite: a service with index terms (attribute, value) gets one entry
// for every non-empty subset of its attributes, with one of its values for each (attributes in
// byte order), so that services with any combination of terms are one prefix scan in service id
// order. The store's caller names the terms (StoreOptions::index_terms); attributes and values
// never contain the bytes \0, \1 or \2.
//
// Thread safety: free functions without state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace varav::store {

// Bumped whenever a key or value encoding above changes incompatibly; Store::Open refuses other
// versions.
inline constexpr int kFormatVersion = 2;
// Version 1 had one index per attribute; Store::Open rebuilds the index of such a store.
inline constexpr int kSingleIndexFormatVersion = 1;

// Column family names, in the order Store opens them (after RocksDB's "default", which is unused).
inline constexpr absl::string_view kServicesCf = "services";
inline constexpr absl::string_view kOutputsCf = "outputs";
inline constexpr absl::string_view kAssessmentsCf = "assessments";
inline constexpr absl::string_view kEvaluationsCf = "evaluations";
inline constexpr absl::string_view kDecisionsCf = "decisions";
inline constexpr absl::string_view kEventsCf = "events";
inline constexpr absl::string_view kIndexesCf = "indexes";
inline constexpr absl::string_view kIdempotencyCf = "idempotency";
inline constexpr absl::string_view kMetadataCf = "metadata";
inline constexpr std::array<absl::string_view, 9> kColumnFamilies = {
    kServicesCf, kOutputsCf, kAssessmentsCf, kEvaluationsCf, kDecisionsCf,
    kEventsCf,   kIndexesCf, kIdempotencyCf, kMetadataCf};

inline constexpr absl::string_view kFormatVersionKey = "format_version";

// Fixed-width big-endian integers: bytewise order equals numeric order.
std::string EncodeU32(uint32_t v);
std::string EncodeU64(uint64_t v);
// Decodes exactly 4 / 8 big-endian bytes; nullopt when the size is wrong.
std::optional<uint32_t> DecodeU32(absl::string_view bytes);
std::optional<uint64_t> DecodeU64(absl::string_view bytes);

// True when `id` can be used as a key component (non-empty, no NUL byte).
bool IsValidKeyPart(absl::string_view id);

// outputs
std::string OutputKey(absl::string_view service_id, absl::string_view output_type,
                      uint32_t revision);
// Prefix of all revisions of one output type, or of every output of the service when
// `output_type` is empty.
std::string OutputPrefix(absl::string_view service_id, absl::string_view output_type);

// assessments
std::string AssessmentKey(absl::string_view service_id, absl::string_view principle);
std::string AssessmentPrefix(absl::string_view service_id);

// decisions
std::string DecisionKey(absl::string_view service_id, absl::string_view gate, uint32_t cycle,
                        uint32_t number);
// Prefix narrowing by service, then gate (when non-empty), then cycle (when gate is non-empty and
// cycle > 0).
std::string DecisionPrefix(absl::string_view service_id, absl::string_view gate, uint32_t cycle);

// events
inline constexpr absl::string_view kGlobalEventPrefix = "e/";
inline constexpr absl::string_view kServiceEventPrefix = "s/";
std::string GlobalEventKey(uint64_t global_sequence);
std::string ServiceEventKey(absl::string_view service_id, uint64_t service_sequence);
std::string ServiceEventPrefix(absl::string_view service_id);
// Parses the sequence out of a global event key; nullopt for anything else.
std::optional<uint64_t> ParseGlobalEventKey(absl::string_view key);

// indexes: the prefix of the entries of services that have all of `terms` (attribute, value),
// which must be ordered by attribute with one value each; the entry of one service is the prefix
// followed by its id.
std::string IndexPrefix(absl::Span<const std::pair<absl::string_view, absl::string_view>> terms);
// True when `part` may be an index attribute or value (non-empty, no \0, \1 or \2 byte).
bool IsValidIndexPart(absl::string_view part);

// metadata
std::string CursorKey(absl::string_view name);

}  // namespace varav::store
