// RocksDbOptions: how a RocksDB database of the stack is opened (the
// [storage] section of the configuration). No RocksDB header is needed to
// fill one in.
#ifndef KIMERA_ROCKSDB_OPTIONS_H_
#define KIMERA_ROCKSDB_OPTIONS_H_

#include <cstddef>

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace kimera {

struct RocksDbOptions {
  std::size_t block_cache_bytes = 256u << 20;  // Default 256 MiB, shared by all column families.
  int bloom_bits_per_key = 10;                 // Default 10 (about 1% false positives); 0: none.
  bool sync_writes = false;                    // Default false; true fsyncs the WAL on each write.
  bool disable_wal = false;                    // Default false; true loses recent writes on crash.
  std::size_t write_buffer_bytes = 64u << 20;  // Default 64 MiB memtable per column family.
  int max_background_jobs = 2;                 // Default 2 flush/compaction threads.
  bool create_if_missing = true;               // Default true.
  // Free space a write must leave on the database's filesystem beyond the
  // write itself, a flush of every unflushed memtable and the pending
  // compactions; below it the write is refused with NoSpace and nothing is
  // written. It keeps RocksDB's write-ahead log and flushes from meeting a
  // full disk, which RocksDB 7.8 does not recover from in-process.
  // Default 8 MiB; 0 turns the check off.
  std::size_t reserved_disk_bytes = 8u << 20;
  // The Env every file operation goes through (borrowed; must outlive the
  // database). Default nullptr: the process's default Env. Tests route I/O
  // through a fault-injecting Env.
  rocksdb::Env* env = nullptr;
  // Default false. True opens an existing database for reading only
  // (rocksdb::DB::OpenForReadOnly): no lock is taken and nothing is written
  // into the folder, so a store another process serves, a read-only copy or
  // a backup can be read. Writes fail with IOError.
  bool read_only = false;
  // Default false. When the write-ahead log is damaged before its end, Open
  // fails with Corruption naming the log and the bytes lost; true opens the
  // database anyway with every log record that can still be read
  // (kSkipAnyCorruptedRecords) and says what was lost in recovery_report().
  bool salvage = false;
};

}  // namespace kimera

#endif  // KIMERA_ROCKSDB_OPTIONS_H_
