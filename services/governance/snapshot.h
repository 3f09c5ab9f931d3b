// The one conversion from the store's records of a service (store::ServiceState, read from one
// consistent RocksDB snapshot) to what the lifecycle reads (lifecycle::ServiceSnapshot), shared
// by the commands, the queries that evaluate gates and the store benchmark.
//
//   VARAV_ASSIGN_OR_RETURN(store::ServiceState state, store.LoadSnapshot(id));
//   VARAV_ASSIGN_OR_RETURN(lifecycle::ServiceSnapshot snapshot, ToSnapshot(std::move(state)));
//
// Thread safety: pure functions.
#pragma once

#include "absl/status/statusor.h"
#include "engine/lifecycle/lifecycle.h"
#include "engine/store/store.h"

namespace varav::governance {

// DataLoss when the evaluation a review rests on does not parse.
absl::StatusOr<lifecycle::ServiceSnapshot> ToSnapshot(store::ServiceState state);

// `snapshot` after `transition` was committed as `stored` (the record the commit stored, with its
// new etag): what ToSnapshot of a fresh load would give, for a service with no gate under review
// (the only snapshots a shell keeps; decisions and the review's evaluation are left out).
lifecycle::ServiceSnapshot AfterCommit(lifecycle::ServiceSnapshot snapshot,
                                       const lifecycle::Transition& transition, v1::Service stored);

}  // namespace varav::governance
