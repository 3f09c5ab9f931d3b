#include "services/core/snapshot_cache.h"

#include <string>
#include <utility>

namespace varav::core {

void SnapshotCache::Put(lifecycle::ServiceSnapshot snapshot) {
  const v1::Service& s = snapshot.service;
  if (s.id().empty()) return;
  if (s.status() == v1::SERVICE_STATUS_IN_REVIEW || !s.gate_under_review().empty()) return;
  // What a fresh load of a service with no gate under review holds (store::ServiceState).
  snapshot.gate_decisions.clear();
  snapshot.latest_evaluation.reset();
  const std::string id = s.id();
  const std::string etag = s.etag();
  entries_.Put(id, etag, std::move(snapshot));
}

}  // namespace varav::core
