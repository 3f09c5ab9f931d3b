#include "engine/store/rocksdb_status.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace varav::store {

absl::Status FromRocksDb(const rocksdb::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (status.IsNotSupported()) return absl::UnimplementedError(message);
  if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain() || status.IsIncomplete()) {
    return absl::UnavailableError(message);
  }
  // Another process holding the database shows up as an IO error on the LOCK file.
  if (status.IsIOError() && absl::StrContains(status.ToString(), "lock")) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace varav::store
