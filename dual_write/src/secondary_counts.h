// SecondaryCounters: the identities a secondary holds, per type, kept exact
// without a scan.
//
// Two counters, "geoids" and "scars", live in column family
// kSecondaryCountsColumnFamily of the database that holds the secondary (the
// primary's for the legacy column families). Every write of the secondary
// adds its change of the counts (a Merge, summed by the database's
// Int64AddOperator) to the WriteBatch of the rows it counts, so a crash keeps
// both or neither. The secondary computes the change from what it really
// held before the write, read under its lock of the id, and never from the
// primary's record: the sides can differ (that is what verify and repair are
// for), and a change computed from the primary would count rows that are not
// there. Exact changes leave any drift (rows written behind the store's
// back, a version without counters) unchanged, so a re-count at one snapshot
// measures it exactly and adding it corrects the counters (Check).
//
// A database without the counters (new, or written before they existed) is
// counted once, at open. A copy in memory answers Current().
//
// Thread-safety: safe for concurrent use by many threads. The caller
// serializes the writes of one id, from its read of what the secondary held
// to the commit.
#ifndef KIMERA_SECONDARY_COUNTS_H_
#define KIMERA_SECONDARY_COUNTS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "kimera/identity.h"
#include "kimera/secondary_store.h"
#include "kimera/status.h"
#include "rocksdb_database.h"

namespace kimera {

// The change of the counts from a secondary holding `geoids_before` rows of
// the id in its geoid table and `scars_before` in its scar table (0 or 1
// each) to one holding `after` alone (nullptr: nothing).
SecondaryCountsChange CountsChange(int geoids_before, int scars_before, const Identity* after);
// The same for a secondary holding at most one record per id (`before`).
SecondaryCountsChange CountsChange(const Identity* before, const Identity* after);

class SecondaryCounters {
 public:
  // Counts what the secondary holds, by a scan; for the first open only.
  using CountAll = std::function<Status(SecondaryCounts*)>;

  // The counters of `database` (borrowed; must outlive them). When it has
  // none, `count_all` counts the secondary once and the result is stored
  // (kept in memory only when the database is read-only).
  static Status Open(RocksDbDatabase* database, const CountAll& count_all,
                     std::unique_ptr<SecondaryCounters>* out);

  // Adds `change` to `batch`, the batch of the rows it counts.
  void AddToBatch(const SecondaryCountsChange& change, rocksdb::WriteBatch* batch) const;
  // Adds `change` to the copy in memory; call once its batch committed.
  void Committed(const SecondaryCountsChange& change);
  // The copy in memory.
  SecondaryCounts Current() const;

  // Compares `found`, the identities counted at `snapshot` (of the same
  // database), with the counters at `snapshot`; with `correct`, adds the
  // drift to the counters (stored and in memory).
  Status Check(const rocksdb::Snapshot* snapshot, const SecondaryCounts& found, bool correct,
               SecondaryCountCheck* out);

 private:
  SecondaryCounters(RocksDbDatabase* database, rocksdb::ColumnFamilyHandle* cf)
      : database_(database), cf_(cf) {}

  // The stored counters at `snapshot` (nullptr: now); empty when absent.
  Status Read(const rocksdb::Snapshot* snapshot, std::optional<SecondaryCountsChange>* out) const;

  RocksDbDatabase* database_;
  rocksdb::ColumnFamilyHandle* cf_;  // nullptr: a read-only database without counters.
  std::atomic<std::int64_t> geoids_{0};
  std::atomic<std::int64_t> scars_{0};
};

}  // namespace kimera

#endif  // KIMERA_SECONDARY_COUNTS_H_
