// SecondaryStore: the second side of dual-write, written exactly as the
// primary holds each record.
//
// Two kinds exist: the legacy column families in the primary's own database
// (writes join the primary's WriteBatch through AddToBatch, so both sides
// commit atomically), and a second RocksDB database in the legacy or the
// current format (written after the primary, covered by an intent journal).
// Tests wrap a real secondary to inject faults.
//
// Every kind keeps its identities' counts per type (Counts) in counters of
// its own database, written in the same WriteBatch as the rows they count
// (secondary_counts.h says how they stay exact), so stats never scan it.
//
// Thread-safety: implementations are safe for concurrent use by many threads.
#ifndef KIMERA_SECONDARY_STORE_H_
#define KIMERA_SECONDARY_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/dual_write_config.h"
#include "kimera/identity.h"
#include "kimera/status.h"
#include "kimera/striped_locks.h"
#include "rocksdb_database.h"

namespace kimera {

// The column family of a second database that holds its marks.
inline constexpr const char* kSecondaryMarksColumnFamily = "dual_write_marks";
// The column family, in the database holding the secondary, of its counts.
inline constexpr const char* kSecondaryCountsColumnFamily = "dual_write_counts";

// The identities a secondary holds, per type: for the legacy format, the
// rows of legacy_geoids and of legacy_scars.
struct SecondaryCounts {
  std::uint64_t geoids = 0;
  std::uint64_t scars = 0;
  std::uint64_t total() const { return geoids + scars; }
};

// A re-count of a secondary at one consistent state, against its counters
// at that state (CheckCounts).
struct SecondaryCountCheck {
  SecondaryCounts found;          // Counted by the scan.
  std::int64_t geoids_drift = 0;  // Counted minus counter; 0 when exact.
  std::int64_t scars_drift = 0;
  bool corrected = false;  // The drift was added to the counters.
  bool exact() const { return geoids_drift == 0 && scars_drift == 0; }
};

// The change of the counts a write makes, per type.
struct SecondaryCountsChange {
  std::int64_t geoids = 0;
  std::int64_t scars = 0;
  bool empty() const { return geoids == 0 && scars == 0; }
};

class SecondaryStore {
 public:
  virtual ~SecondaryStore() = default;

  // A short description for logs and stats ("legacy column families").
  virtual std::string Describe() const = 0;

  // True when writes go into the primary's WriteBatch (AddToBatch) rather
  // than through Put / Delete after the primary committed.
  virtual bool in_primary_batch() const { return false; }

  // A secondary write that AddToBatch added to the primary's batch. Until
  // it is destroyed it holds the secondary's lock of the id, so that no
  // other write of the id runs between the read of what the secondary held
  // and the commit; `change` is what the batch does to the counts.
  struct BatchedWrite {
    std::unique_lock<StripedLocks::Mutex> lock;
    SecondaryCountsChange change;
  };

  // Adds the write of `after` (nullptr: the removal of `id`) to the primary's
  // `batch`, with the change of the counts. `before` is the primary's record
  // before this write (nullptr: none) and says where the secondary should
  // hold the id: only those places and the one `after` goes to are read and
  // written, so what is written, and the change of the counts, follow what
  // the secondary really holds there. A record of the id elsewhere (the
  // sides differ) is left for the repair queue or the sweep to find, and
  // stays out of the counts' change; Put / Delete clear every trace of the
  // id. Only for in_primary_batch() secondaries; a non-OK status means the
  // secondary write failed and nothing was added. Keep `*write` until the
  // batch is committed or dropped, and call Committed(*write) once the batch
  // committed.
  virtual Status AddToBatch(std::string_view id, const Identity* before, const Identity* after,
                            rocksdb::WriteBatch* batch, BatchedWrite* write);
  // Applies `write`'s change to the counts Counts() reports.
  virtual void Committed(const BatchedWrite& write) { (void)write; }

  // `identity` reduced to the fields this secondary keeps: what Get returns
  // after Put(identity).
  virtual Identity Project(const Identity& identity) const = 0;

  // Writes `identity` exactly as given, replacing any record of its id
  // (whatever the secondary held before); the counters follow in the same
  // atomic write.
  [[nodiscard]] virtual Status Put(const Identity& identity) = 0;
  // Puts each of `identities` (distinct ids), as Put does. A secondary that
  // can commits them in one atomic write (the legacy format's second
  // database); the default puts them one at a time. On failure any of them
  // may have been written; putting each again is safe.
  [[nodiscard]] virtual Status PutMany(const std::vector<const Identity*>& identities);
  // Removes `id`; OK when absent.
  [[nodiscard]] virtual Status Delete(std::string_view id) = 0;
  // Reads `id`; NotFound when absent.
  [[nodiscard]] virtual Status Get(std::string_view id, Identity* out) = 0;
  // Replaces `*out` by at most `limit` identities with id > `start_after`
  // (all when empty), in id order.
  [[nodiscard]] virtual Status ScanChunk(std::string_view start_after, std::size_t limit,
                                         std::vector<Identity>* out) = 0;
  // The identities held, per type, from the counters (no scan).
  [[nodiscard]] virtual Status Counts(SecondaryCounts* out) = 0;
  // Counts the identities held at one consistent state and compares them
  // with the counters at that state (a scan of the whole secondary: for
  // sweeps). With `correct`, adds the drift to the counters, after which
  // Counts() is exact again (drift comes only from writes behind the
  // store's back, or from a version without counters).
  [[nodiscard]] virtual Status CheckCounts(bool correct, SecondaryCountCheck* out) = 0;
  // Makes acknowledged writes durable.
  [[nodiscard]] virtual Status Sync() = 0;

  // Second databases opened without synced writes mark each id that Put or
  // Delete writes, in the same atomic write, until ClearMarks. A power cut
  // can keep a secondary write and lose the primary's (two databases reach
  // the disk in no set order); the marks name every id where that can have
  // happened. Default: no marks.
  virtual bool marks() const { return false; }
  // Replaces `*out` by the marked ids.
  [[nodiscard]] virtual Status MarkedIds(std::vector<std::string>* out) {
    out->clear();
    return Status::OK();
  }
  // Removes the marks of `ids`.
  [[nodiscard]] virtual Status ClearMarks(const std::vector<std::string>& ids) {
    (void)ids;
    return Status::OK();
  }
};

// The legacy tables in `database` (borrowed; must outlive the result). With
// `in_primary_batch` the writes join the primary's batches.
Status OpenLegacySecondary(RocksDbDatabase* database, bool in_primary_batch,
                           std::unique_ptr<SecondaryStore>* out);

// The secondary `config` names: the legacy column families of `primary`
// (borrowed) when config.secondary is "legacy", else a second database at
// that folder in config.secondary_format.
Status OpenSecondary(const DualWriteConfig& config, RocksDbDatabase* primary,
                     const RocksDbOptions& options, std::unique_ptr<SecondaryStore>* out);

}  // namespace kimera

#endif  // KIMERA_SECONDARY_STORE_H_
