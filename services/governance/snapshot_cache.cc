#include "services/governance/snapshot_cache.h"

#include <string>
#include <utility>

namespace varav::governance {

void SnapshotCache::Put(CachedSnapshot entry) {
  const v1::Service& s = entry.snapshot.service;
  if (s.id().empty()) return;
  if (s.status() == v1::SERVICE_STATUS_IN_REVIEW || !s.gate_under_review().empty()) return;
  const std::string id = s.id();
  const std::string etag = s.etag();
  entries_.Put(id, etag, std::move(entry));
}

}  // namespace varav::governance
