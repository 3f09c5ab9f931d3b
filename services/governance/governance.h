// The application layer of Värav: every RPC of varav.v1.LifecycleService and
// varav.v1.RulesService as one method taking the request and the calling principal and returning
// the response or a canonical status. Every interface (the gRPC server, the CLI's in-process
// demo, later HTTP) calls these methods and adds no rule of its own.
//
// A mutation checks the request's shape and the principal's roles, then hands the command to the
// lifecycle (engine/lifecycle), which alone decides whether it is legal, and commits the
// transition with its response in one atomic write (engine/store). A refused call (any non-OK
// status) writes nothing.
//
//   Governance governance(store.get(), &registry, {.default_pack = "teenuse-standard@2.0.0"});
//   absl::StatusOr<v1::SubmitOutputResponse> r = governance.SubmitOutput(request, principal);
//
// Status codes (the message names the field or the reason):
//   INVALID_ARGUMENT     a malformed field ("etag: required", "page_size: ..."), or a request_id
//                        reused for a different request
//   NOT_FOUND            the service, output, pack or evaluation does not exist
//   ALREADY_EXISTS       registering an existing service id
//   FAILED_PRECONDITION  illegal in the current state (e.g. the failing must rules of a refused
//                        review), or the service's pinned pack is not loaded
//   ABORTED              the etag is stale: re-read and retry
//   PERMISSION_DENIED    the principal's roles do not allow the call (see principal.h)
//   DEADLINE_EXCEEDED / CANCELLED  the call's `interrupt` stopped a CEL evaluation
//   INTERNAL / DATA_LOSS storage failures
//
// Idempotency: a mutation with a `request_id` is recorded with a hash of its content and caller
// (RequestHash, request_util.h); a retry with the same content gets the first response (even when
// its etag has gone stale since), a different request under the same id is INVALID_ARGUMENT.
//
// Fast paths. The store decides; the two short-cuts here only save work and never change an
// answer. A request id the store has recorded is answered from that record before the etag
// is compared or anything evaluated. A command whose etag matches the snapshot this object kept
// after the service's last commit (snapshot_cache.h) starts from that snapshot instead of reading
// the service back, once the store's own record of the service confirms the etag is current; the
// commit's etag check is still what admits the write.
//
// Thread safety: thread-safe. The store and the registry must outlive the Governance; the clock
// must be callable concurrently. The store must be opened with `.index_terms =
// PortfolioIndexTerms`.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/lifecycle/lifecycle.h"
#include "engine/model/pack.h"
#include "engine/store/store.h"
#include "services/governance/etag_cache.h"
#include "services/governance/principal.h"
#include "services/governance/snapshot_cache.h"
#include "varav/v1/lifecycle_service.pb.h"
#include "varav/v1/rules_service.pb.h"

namespace varav::governance {

struct GovernanceOptions {
  // Default: absl::Now. Tests inject a fixed or stepping clock.
  std::function<absl::Time()> clock;
  // Default "": the pack (`id@version`) RegisterService pins when the request names none; when
  // empty such a request is refused.
  std::string default_pack;
  // Default 4096: services whose snapshot the command path keeps after a commit (see
  // snapshot_cache.h), so that the next command on them skips re-reading and re-binding their
  // outputs; also the number of GetGateStatus answers kept (etag_cache.h). 0 turns both off.
  size_t snapshot_cache_entries = 4096;
  // Default "/varav": the CloudEvents `source` of every event.
  std::string event_source = "/varav";
};

// The index terms of a service (lifecycle::PortfolioTerms) as the store takes them: the
// `StoreOptions::index_terms` of a store a Governance works on.
std::vector<store::IndexTerm> PortfolioIndexTerms(const v1::Service& service);

class Governance {
 public:
  // `store` and `registry` are not owned and must outlive this object.
  Governance(store::Store* store, const model::PackRegistry* registry,
             GovernanceOptions options = {});

  Governance(const Governance&) = delete;
  Governance& operator=(const Governance&) = delete;

  // --- LifecycleService: mutations ---
  absl::StatusOr<v1::RegisterServiceResponse> RegisterService(
      const v1::RegisterServiceRequest& request, const Principal& principal,
      const cel::Interrupt* interrupt = nullptr);
  absl::StatusOr<v1::SubmitOutputResponse> SubmitOutput(const v1::SubmitOutputRequest& request,
                                                        const Principal& principal,
                                                        const cel::Interrupt* interrupt = nullptr);
  absl::StatusOr<v1::RecordAssessmentResponse> RecordAssessment(
      const v1::RecordAssessmentRequest& request, const Principal& principal,
      const cel::Interrupt* interrupt = nullptr);
  absl::StatusOr<v1::AdvanceStageResponse> AdvanceStage(const v1::AdvanceStageRequest& request,
                                                        const Principal& principal,
                                                        const cel::Interrupt* interrupt = nullptr);
  absl::StatusOr<v1::RequestGateReviewResponse> RequestGateReview(
      const v1::RequestGateReviewRequest& request, const Principal& principal,
      const cel::Interrupt* interrupt = nullptr);
  absl::StatusOr<v1::RecordDecisionResponse> RecordDecision(
      const v1::RecordDecisionRequest& request, const Principal& principal,
      const cel::Interrupt* interrupt = nullptr);
  absl::StatusOr<v1::ResumeFromHoldResponse> ResumeFromHold(
      const v1::ResumeFromHoldRequest& request, const Principal& principal,
      const cel::Interrupt* interrupt = nullptr);
  absl::StatusOr<v1::MigratePackResponse> MigratePack(const v1::MigratePackRequest& request,
                                                      const Principal& principal,
                                                      const cel::Interrupt* interrupt = nullptr);

  // --- LifecycleService: queries (any role) ---
  absl::StatusOr<v1::GetServiceResponse> GetService(const v1::GetServiceRequest& request,
                                                    const Principal& principal) const;
  absl::StatusOr<v1::ListServicesResponse> ListServices(const v1::ListServicesRequest& request,
                                                        const Principal& principal) const;
  absl::StatusOr<v1::GetOutputResponse> GetOutput(const v1::GetOutputRequest& request,
                                                  const Principal& principal) const;
  absl::StatusOr<v1::ListOutputsResponse> ListOutputs(const v1::ListOutputsRequest& request,
                                                      const Principal& principal) const;
  absl::StatusOr<v1::CheckGateResponse> CheckGate(const v1::CheckGateRequest& request,
                                                  const Principal& principal,
                                                  const cel::Interrupt* interrupt = nullptr) const;
  absl::StatusOr<v1::GetGateStatusResponse> GetGateStatus(
      const v1::GetGateStatusRequest& request, const Principal& principal,
      const cel::Interrupt* interrupt = nullptr) const;
  // GetGateStatus's answer as a serialized GetGateStatusResponse, shared and immutable: the server
  // sends these bytes as they are, so an answer served from the cache is neither copied nor
  // serialized again (and the cache keeps only the wire form).
  absl::StatusOr<std::shared_ptr<const std::string>> GetGateStatusBytes(
      const v1::GetGateStatusRequest& request, const Principal& principal,
      const cel::Interrupt* interrupt = nullptr) const;
  absl::StatusOr<v1::ListEventsResponse> ListEvents(const v1::ListEventsRequest& request,
                                                    const Principal& principal) const;
  absl::StatusOr<v1::VerifyAuditTrailResponse> VerifyAuditTrail(
      const v1::VerifyAuditTrailRequest& request, const Principal& principal) const;
  // WatchEvents is a stream and lives in the server; this validates and authorises its request
  // (any role; `service_id` and `types` well-formed) so the stream can refuse it up front.
  absl::Status ValidateWatchEvents(const v1::WatchEventsRequest& request,
                                   const Principal& principal) const;

  // --- RulesService (any role) ---
  absl::StatusOr<v1::ListRulePacksResponse> ListRulePacks(const v1::ListRulePacksRequest& request,
                                                          const Principal& principal) const;
  absl::StatusOr<v1::GetRulePackResponse> GetRulePack(const v1::GetRulePackRequest& request,
                                                      const Principal& principal) const;
  absl::StatusOr<v1::ValidateRulePackResponse> ValidateRulePack(
      const v1::ValidateRulePackRequest& request, const Principal& principal) const;
  absl::StatusOr<v1::EvaluateExpressionResponse> EvaluateExpression(
      const v1::EvaluateExpressionRequest& request, const Principal& principal,
      const cel::Interrupt* interrupt = nullptr) const;

  // The command path's snapshot cache and the gate status cache, for tests and benchmarks that
  // look at their counters.
  const SnapshotCache& snapshot_cache() const { return cache_; }
  const EtagCache<std::shared_ptr<const std::string>>& status_cache() const {
    return status_cache_;
  }

 private:
  struct MutationCall;
  template <typename Response>
  absl::StatusOr<Response> Mutate(
      const MutationCall& call, const Principal& principal,
      const std::function<void(const lifecycle::Transition&, Response&)>& fill);

  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }
  // The pack a service is pinned to; FailedPrecondition when this server has not loaded it.
  absl::StatusOr<std::shared_ptr<const model::CompiledPack>> PinnedPack(
      const v1::Service& service) const;
  // What lifecycle::Apply reads of a service, from one consistent read of the store.
  absl::StatusOr<lifecycle::ServiceSnapshot> LoadSnapshot(absl::string_view service_id) const;

  store::Store* const store_;
  const model::PackRegistry* const registry_;
  const GovernanceOptions options_;
  // Thread-safe by itself.
  SnapshotCache cache_;
  // GetGateStatus answers by (service, requested gate), valid at the service's etag: a memo of a
  // query, thread-safe by itself.
  mutable EtagCache<std::shared_ptr<const std::string>> status_cache_;
};

}  // namespace varav::governance
