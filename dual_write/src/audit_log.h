// AuditLog: the bounded log of dual-write operations, in column family
// "dual_write_audit" of the primary database.
//
// Entries are keyed by a big-endian sequence number, so they iterate oldest
// first. The log is read as its newest max_entries entries; older ones are
// dropped in steps: every trim_step() appends, the append's batch also
// removes, with one range deletion, every entry that fell off the end. On
// disk the log so runs at most trim_step() - 1 entries over max_entries, and
// a write batch pays for one key, not two, per entry. The sequence number
// counts every entry ever appended (the total of operations); failures are
// also counted in a merge counter, since the entries that record them may
// have rolled off. An entry appended to a batch that is then never written
// (a group its store refused) leaves a gap in the numbers: total() counts it
// until the next open, and the log may show fewer than max_entries entries.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef KIMERA_AUDIT_LOG_H_
#define KIMERA_AUDIT_LOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kimera/dual_write_types.h"
#include "kimera/identity.h"
#include "kimera/status.h"
#include "rocksdb_database.h"

namespace kimera {

inline constexpr const char* kAuditColumnFamily = "dual_write_audit";

class AuditLog {
 public:
  // Opens the log in `database` (borrowed; must outlive the log).
  static Status Open(RocksDbDatabase* database, std::uint64_t max_entries,
                     std::unique_ptr<AuditLog>* out);

  // Adds `entry` (with the next sequence number) to `batch`, and, every
  // trim_step() entries, the removal of the entries that fell off the end.
  void Append(AuditEntry entry, rocksdb::WriteBatch* batch);
  // Appends in a batch of its own.
  Status Write(AuditEntry entry);

  // The newest `n` entries (at most max_entries), newest first.
  Status Recent(std::size_t n, std::vector<AuditEntry>* out) const;
  // Entries ever appended, and how many of them were failures.
  std::uint64_t total() const { return next_sequence_.load() - 1; }
  Status Failures(std::uint64_t* out) const;
  // Appends between two trims: max_entries / 100, at least 1.
  std::uint64_t trim_step() const { return trim_step_; }

 private:
  AuditLog(RocksDbDatabase* database, rocksdb::ColumnFamilyHandle* cf, std::uint64_t max_entries)
      : database_(database),
        cf_(cf),
        max_entries_(max_entries),
        trim_step_(max_entries / 100 == 0 ? 1 : max_entries / 100) {}

  RocksDbDatabase* database_;
  rocksdb::ColumnFamilyHandle* cf_;
  const std::uint64_t max_entries_;
  const std::uint64_t trim_step_;
  std::atomic<std::uint64_t> next_sequence_{1};
  // False until the first trim since Open, which also removes whatever an
  // earlier run (with another max_entries) left below its range.
  std::atomic<bool> trimmed_{false};
};

}  // namespace kimera

#endif  // KIMERA_AUDIT_LOG_H_
