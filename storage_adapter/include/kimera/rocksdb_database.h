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
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/status.h"

namespace kimera {

struct RocksDbOptions {
  std::size_t block_cache_bytes = 64u << 20;   // Default 64 MiB, shared by all column families.
  int bloom_bits_per_key = 10;                 // Default 10 (about 1% false positives); 0: none.
  bool sync_writes = false;                    // Default false; true fsyncs the WAL on each write.
  bool disable_wal = false;                    // Default false; true loses recent writes on crash.
  std::size_t write_buffer_bytes = 64u << 20;  // Default 64 MiB memtable per column family.
  int max_background_jobs = 2;                 // Default 2 flush/compaction threads.
  bool create_if_missing = true;               // Default true.
};

class RocksDbDatabase {
 public:
  // Opens (or creates) the database in folder `path`, with every column
  // family it already has. Busy when another process holds the lock;
  // IOError naming the path on any other failure.
  static Status Open(const std::string& path, const RocksDbOptions& options,
                     std::unique_ptr<RocksDbDatabase>* out);

  ~RocksDbDatabase();
  RocksDbDatabase(const RocksDbDatabase&) = delete;
  RocksDbDatabase& operator=(const RocksDbDatabase&) = delete;

  // The handle of column family `name`, created when missing. The handle
  // lives as long as the database.
  Status ColumnFamily(const std::string& name, rocksdb::ColumnFamilyHandle** out);
  // True when the database has a column family `name`.
  bool HasColumnFamily(const std::string& name) const;
  // Drops column family `name` and its data. NotFound when absent. Handles
  // obtained earlier stay valid (for a dropped family) until the database
  // closes; ColumnFamily(name) afterwards creates a new, empty family.
  Status DropColumnFamily(const std::string& name);

  // Commits `batch` atomically with the configured write options;
  // `context` starts the error message. After a failed write (a full disk)
  // the database is resumed before the next write is tried, so a store
  // works again once space is freed, without a restart; until then every
  // write fails with the same clear error and nothing is written.
  Status Write(rocksdb::WriteBatch* batch, std::string_view context = "writing batch");
  // Flushes the WAL to disk.
  Status SyncWal();

  rocksdb::DB* db() const { return db_.get(); }
  const std::string& path() const { return path_; }
  const rocksdb::WriteOptions& write_options() const { return write_options_; }

  // Maps a RocksDB status to ours: NoSpace for a full disk, Busy for a held
  // lock, Corruption, IOError otherwise. `context` is prefixed to the message.
  static Status FromRocks(const rocksdb::Status& s, std::string_view context);

  // Adds two little-endian int64 operands; the value format of counters.
  static std::string EncodeCounter(std::int64_t delta);
  static std::int64_t DecodeCounter(std::string_view value);

 private:
  RocksDbDatabase() = default;

  std::string path_;
  rocksdb::ColumnFamilyOptions cf_options_;
  rocksdb::WriteOptions write_options_;
  mutable std::mutex cf_mu_;  // Guards handles_ and dropped_.
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> handles_;
  std::vector<rocksdb::ColumnFamilyHandle*> dropped_;  // Destroyed on close.
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex resume_mu_;                   // Serializes recovery after a failed write.
  std::atomic<bool> write_failed_{false};  // A write failed; resume before the next.
};

}  // namespace kimera

#endif  // KIMERA_ROCKSDB_DATABASE_H_
