// What RocksDB's write-ahead-log replay skipped while a database opened, and
// the open that refuses to skip it silently.
//
// RocksDB reports damage it meets in a log only to its info log ("<file>:
// dropping N bytes; <reason>") and replays every record it can read through a
// WalFilter. WalRecoveryObserver is both: it keeps those reports, forwarding
// every line to the real info log when there is one, and counts the records
// replayed and the sequence numbers missing between them.
//
// Thread-safety: safe for concurrent use; RocksDB may log from any thread.
#ifndef KIMERA_STORAGE_ADAPTER_WAL_RECOVERY_H_
#define KIMERA_STORAGE_ADAPTER_WAL_RECOVERY_H_

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/wal_filter.h>

#include <cstdarg>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rocksdb_database.h"

namespace kimera {

// What one replay of the logs met.
struct WalRecoverySummary {
  std::map<std::string, std::uint64_t> dropped_bytes;  // Log file -> bytes reported unreadable.
  std::uint64_t records_replayed = 0;                  // Write batches replayed.
  std::uint64_t sequence_gaps = 0;      // Places where sequence numbers were skipped.
  std::uint64_t missing_sequences = 0;  // Entries (puts, deletes) in those places.
  std::uint64_t next_sequence = 0;      // After the last record replayed; 0: none.
  // Intact-looking write batches found in the dropped bytes (see
  // CountBatchesAfterDamage); more than 0 means damage, not a torn tail.
  std::uint64_t batches_after_damage = 0;
  bool damaged() const { return !dropped_bytes.empty() || missing_sequences > 0; }
  // "000004.log: 32 bytes unreadable; 46 write entries after ... missing".
  std::string Describe() const;
};

// Counts the write batches in the last `tail_bytes` of log `file` that carry
// a sequence number at or after `next_sequence` behind a whole-record
// header whose checksum holds: records written after the point where replay stopped. A write torn
// by a crash leaves none (it was the last); damage in the middle of a log's
// last block leaves the records after it, which RocksDB drops with it.
std::uint64_t CountBatchesAfterDamage(const std::string& file, std::uint64_t tail_bytes,
                                      std::uint64_t next_sequence);

class WalRecoveryLogger : public rocksdb::Logger {
 public:
  // Forwards every line to `base` when it is not null.
  explicit WalRecoveryLogger(std::shared_ptr<rocksdb::Logger> base);

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override;

  void LogHeader(const char* format, va_list ap) override;
  void Flush() override;

  // The files and byte counts of every "dropping N bytes" report so far.
  std::map<std::string, std::uint64_t> dropped_bytes() const;

 private:
  void Note(const char* line);

  std::shared_ptr<rocksdb::Logger> base_;
  mutable std::mutex mu_;  // Guards dropped_.
  std::map<std::string, std::uint64_t> dropped_;
};

class WalReplayCounter : public rocksdb::WalFilter {
 public:
  WalProcessingOption LogRecordFound(unsigned long long log_number,
                                     const std::string& log_file_name,
                                     const rocksdb::WriteBatch& batch,
                                     rocksdb::WriteBatch* new_batch, bool* batch_changed) override;
  const char* Name() const override { return "KimeraWalReplayCounter"; }

  // Adds the counts to `summary`.
  void AddTo(WalRecoverySummary* summary) const;

 private:
  mutable std::mutex mu_;  // Guards the counts.
  std::uint64_t records_ = 0;
  std::uint64_t next_sequence_ = 0;  // 0 until the first record.
  std::uint64_t gaps_ = 0;
  std::uint64_t missing_ = 0;
};

// Opens the database at `path` (read-only when options.read_only) with the
// strictest replay of its write-ahead log that succeeds, and sets `*report`
// to what a laxer one lost ("" when nothing). kAbsoluteConsistency first; on
// damage, a read-only probe with kTolerateCorruptedTailRecords tells a torn
// tail (opened, and reported) from damage before the end (Corruption with
// `*report` naming the log and the bytes, unless options.salvage: then
// opened with kSkipAnyCorruptedRecords and the loss reported). `*filter`
// receives the WalFilter the open used, which must outlive `*db`.
rocksdb::Status OpenRecovering(const rocksdb::DBOptions& db_options, const std::string& path,
                               const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors,
                               const RocksDbOptions& options,
                               std::vector<rocksdb::ColumnFamilyHandle*>* handles, rocksdb::DB** db,
                               std::unique_ptr<rocksdb::WalFilter>* filter, std::string* report);

}  // namespace kimera

#endif  // KIMERA_STORAGE_ADAPTER_WAL_RECOVERY_H_
