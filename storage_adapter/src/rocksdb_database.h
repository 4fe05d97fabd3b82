// RocksDbDatabase: one open RocksDB database with named column families.
//
// Shared by RocksDbStore (the records) and the components that keep data of
// their own next to the records (the entropy index, the dual-write journal
// and legacy copy). Every column family carries the same table options
// (block cache, bloom filter) and the Int64AddOperator merge operator, so any
// component can keep counters with Merge.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef KIMERA_ROCKSDB_DATABASE_H_
#define KIMERA_ROCKSDB_DATABASE_H_

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/rocksdb_options.h"
#include "kimera/status.h"

namespace rocksdb {
class WalFilter;
}  // namespace rocksdb

namespace kimera {

class RocksDbDatabase {
 public:
  // Opens (or creates, when options.create_if_missing and not
  // options.read_only) the database in folder `path`, with every column
  // family it already has. NotFound "no database at PATH" when the folder
  // holds no database and none may be created; Busy when another process
  // holds the lock; Corruption naming the log file and the bytes lost when
  // the write-ahead log is damaged before its end (unless options.salvage);
  // IOError naming the path on any other failure. A log that merely ends
  // inside a record (a write torn by a crash) opens, and recovery_report()
  // says so. A database opened for writing flushes its memtables on close,
  // so the log is not the only copy of the data.
  static Status Open(const std::string& path, const RocksDbOptions& options,
                     std::unique_ptr<RocksDbDatabase>* out);

  ~RocksDbDatabase();
  RocksDbDatabase(const RocksDbDatabase&) = delete;
  RocksDbDatabase& operator=(const RocksDbDatabase&) = delete;

  // The handle of column family `name`, created when missing (NotFound when
  // missing in a read-only database). The handle lives as long as the
  // database.
  Status ColumnFamily(const std::string& name, rocksdb::ColumnFamilyHandle** out);
  // True when the database has a column family `name`.
  bool HasColumnFamily(const std::string& name) const;
  // Drops column family `name` and its data. NotFound when absent. Handles
  // obtained earlier stay valid (for a dropped family) until the database
  // closes; ColumnFamily(name) afterwards creates a new, empty family.
  Status DropColumnFamily(const std::string& name);

  // Commits `batch` atomically with the configured write options;
  // `context` starts the error message. NoSpace, naming the folder and the
  // bytes free and needed, when the write would leave less free space than
  // RocksDbOptions::reserved_disk_bytes plus the unflushed memtables and the
  // pending compactions; a write near that limit measures again, so writes
  // are taken as soon as space is freed, without a restart. After a failed write inside
  // RocksDB (a disk filled by someone else) the database is resumed before
  // the next write is tried.
  Status Write(rocksdb::WriteBatch* batch, std::string_view context = "writing batch");
  // Flushes the WAL to disk.
  Status SyncWal();

  rocksdb::DB* db() const { return db_.get(); }
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  bool salvage() const { return salvage_; }
  // What replaying the write-ahead log at open could not recover ("" when
  // it replayed whole): the log files, the bytes and entries lost.
  const std::string& recovery_report() const { return recovery_report_; }
  const rocksdb::WriteOptions& write_options() const { return write_options_; }

  // Maps a RocksDB status to ours: NoSpace for a full disk, Busy for a held
  // lock, Corruption, IOError otherwise. `context` is prefixed to the message.
  static Status FromRocks(const rocksdb::Status& s, std::string_view context);

  // Adds two little-endian int64 operands; the value format of counters.
  static std::string EncodeCounter(std::int64_t delta);
  static std::int64_t DecodeCounter(std::string_view value);

 private:
  RocksDbDatabase() = default;

  // OK when the filesystem has room for `write_bytes` more, the flush of
  // the memtables, the pending compactions and the reserve; NoSpace (with
  // `context`) otherwise.
  Status CheckFreeSpace(std::uint64_t write_bytes, std::string_view context);

  std::string path_;
  bool read_only_ = false;
  bool salvage_ = false;
  std::string recovery_report_;
  rocksdb::ColumnFamilyOptions cf_options_;
  rocksdb::WriteOptions write_options_;
  mutable std::mutex cf_mu_;  // Guards handles_ and dropped_.
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> handles_;
  std::vector<rocksdb::ColumnFamilyHandle*> dropped_;  // Destroyed on close.
  std::unique_ptr<rocksdb::WalFilter> wal_filter_;     // Counted the log replay; outlives db_.
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex resume_mu_;                   // Serializes recovery after a failed write.
  std::atomic<bool> write_failed_{false};  // A write failed; resume before the next.

  std::uint64_t reserved_disk_bytes_ = 0;
  std::mutex space_mu_;                    // Guards the last free-space reading below.
  std::uint64_t free_at_check_ = 0;        // Bytes free at the last statvfs.
  std::uint64_t need_at_check_ = 0;        // Reserve + memtables + compactions then.
  std::uint64_t written_since_check_ = 0;  // Bytes of batches taken since.
  std::chrono::steady_clock::time_point checked_at_{};
};

class RocksDbStore;

// The database under `store`, for the stack's components that keep column
// families of their own next to the records (index, decay ledger, dual-write
// journal and legacy tables). Records are read through RocksDbStore's own
// calls, never from the database directly. Valid while `store` is open.
RocksDbDatabase& DatabaseOf(const RocksDbStore& store);

}  // namespace kimera

#endif  // KIMERA_ROCKSDB_DATABASE_H_
