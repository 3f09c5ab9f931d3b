// Checkpoints and backups (the Store is divided by concern:
// engine/store/internal/store_internal.h).
#include "engine/store/store.h"

#include "engine/store/internal/store_internal.h"
#include "rocksdb/utilities/backup_engine.h"
#include "rocksdb/utilities/checkpoint.h"

namespace varav::store {

using namespace internal;

absl::Status Store::CreateCheckpoint(absl::string_view dir) {
  // Make everything written so far durable first, so the checkpoint holds only acknowledged state
  // or state that would survive a crash anyway.
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  rocksdb::Checkpoint* raw = nullptr;
  VARAV_RETURN_IF_ERROR(
      FromRocksDb(rocksdb::Checkpoint::Create(db_.get(), &raw), "preparing a checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocksDb(checkpoint->CreateCheckpoint(std::string(dir)),
                     absl::StrCat("creating checkpoint '", dir, "'"));
}

absl::Status Store::CreateBackup(absl::string_view backup_dir) {
  VARAV_RETURN_IF_ERROR(LatchedFailure());
  rocksdb::BackupEngine* raw = nullptr;
  VARAV_RETURN_IF_ERROR(
      FromRocksDb(rocksdb::BackupEngine::Open(rocksdb::BackupEngineOptions(std::string(backup_dir)),
                                              rocksdb::Env::Default(), &raw),
                  absl::StrCat("opening backup directory '", backup_dir, "'")));
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  // Without a flush the backup carries the live WAL files, which keeps it consistent across
  // column families.
  return FromRocksDb(engine->CreateNewBackup(rocksdb::CreateBackupOptions(), db_.get()),
                     absl::StrCat("creating a backup in '", backup_dir, "'"));
}

absl::Status Store::RestoreLatestBackup(absl::string_view backup_dir, absl::string_view db_dir) {
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  VARAV_RETURN_IF_ERROR(FromRocksDb(
      rocksdb::BackupEngineReadOnly::Open(rocksdb::BackupEngineOptions(std::string(backup_dir)),
                                          rocksdb::Env::Default(), &raw),
      absl::StrCat("opening backup directory '", backup_dir, "'")));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  const std::string dir(db_dir);
  return FromRocksDb(
      engine->RestoreDBFromLatestBackup(rocksdb::RestoreOptions(), dir, dir),
      absl::StrCat("restoring the latest backup of '", backup_dir, "' into '", db_dir, "'"));
}

}  // namespace varav::store
