// Conversion of rocksdb::Status to absl::Status, used wherever engine/store calls RocksDB so that
// RocksDB's error type never crosses the module boundary.
//
// Mapping: NotFound -> NotFound, Corruption -> DataLoss, InvalidArgument -> InvalidArgument,
// NotSupported -> Unimplemented, Busy / TimedOut / TryAgain / Incomplete and a held LOCK file ->
// Unavailable (safe to retry later), everything else -> Internal. The message names what failed:
// "<what>: <rocksdb message>".
//
// Thread safety: pure function.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace varav::store {

absl::Status FromRocksDb(const rocksdb::Status& status, absl::string_view what);

}  // namespace varav::store
