// EntropyIndex: identities indexed by entropy, in one RocksDB column family.
//
// Column family "entropy_index" holds up to three kinds of keys, each under
// its own one-byte prefix so a scan of one kind never meets another:
//   'x' ~ord(H) id  -> type, tau      the index, highest entropy first
//   'i' id          -> H, type, tau   by id: each identity's current entry
//   'p' id          -> (empty)        intent: the inner store may have changed
//                                     this id and the index not yet
// ord() maps a double to bytes whose order is the numeric order; ~ inverts
// them so a forward scan yields the highest entropy first.
//
// The by-id and intent keys exist only in an index kept in a database of its
// own. An index sharing the records' database commits in the records' own
// batches and reads the previous entropy from the previous record, which the
// store reads anyway (to keep the first created_at); there the record is the
// by-id view, and one index key per record is all a store writes.
//
// The index's totals, per type and per entropy cell of the population
// (IndexSummary), are stored under a fourth prefix at a clean close, so that
// the next open reads them instead of every entry. A writable open deletes
// them (synced) before any write, so after a crash there are none and the
// open counts the entries:
//   's' 't' type          -> int64   entries of that type
//   's' 'c' cell (be64)   -> int64   entries in that population cell
//   's' 'o' ord(H)        -> int64   entries of exactly H, past the cells
//   's' 'v'               -> "1"     the totals are complete
//
// Thread-safety: safe for concurrent use by many threads. Callers serialize
// writes of one id (the store's id lock), so the batch built for an id sees
// the entry that is current for it.
#ifndef KIMERA_ENTROPY_INDEX_H_
#define KIMERA_ENTROPY_INDEX_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/identity.h"
#include "kimera/index_entry.h"
#include "kimera/status.h"
#include "rocksdb_database.h"

namespace kimera {

inline constexpr const char* kEntropyIndexColumnFamily = "entropy_index";

// Index key codec, exposed for tests and fuzzing.
std::string EncodeIndexKey(double entropy, std::string_view id);
// Parses a key made by EncodeIndexKey. False when `key` is not one.
bool DecodeIndexKey(std::string_view key, double* entropy, std::string* id);

// The totals of the ordered entries: how many of each type, and how many in
// each cell of EntropyPopulation (exact values past its cells).
struct IndexSummary {
  std::array<std::int64_t, 2> types{};          // By IdentityType.
  std::map<std::uint32_t, std::int64_t> cells;  // Population cell -> entries.
  std::map<double, std::int64_t> exact;         // Entropy past the cells -> entries.

  void Add(const IndexEntry& entry);
  bool operator==(const IndexSummary&) const = default;
};

class EntropyIndex {
 public:
  // Opens the index in `database` (borrowed; must outlive the index),
  // creating its column family when missing; `keeps_by_id` for an index in a
  // database of its own. `*created` tells whether it was new, so the caller
  // can build it from existing records.
  static Status Open(RocksDbDatabase* database, bool keeps_by_id,
                     std::unique_ptr<EntropyIndex>* out, bool* created);

  bool keeps_by_id() const { return keeps_by_id_; }

  // Adds to `batch` the changes that move `id` from `before` to `after`
  // (either may be null: insert, remove). Nothing when both are equal.
  void AddChanges(std::string_view id, const IndexEntry* before, const IndexEntry* after,
                  rocksdb::WriteBatch* batch) const;
  // The by-id entry of `id`; NotFound when it has none (always, when the
  // index keeps no by-id keys).
  Status Lookup(std::string_view id, IndexEntry* out) const;
  // Deletes the by-id entry of `id` in `batch` (repair of an orphan).
  void DeleteById(std::string_view id, rocksdb::WriteBatch* batch) const;
  // The ordered entry of `id` at `entropy`; NotFound when absent. Reads at
  // `snapshot` when given.
  Status LookupOrdered(double entropy, std::string_view id, IndexEntry* out,
                       const rocksdb::Snapshot* snapshot = nullptr) const;

  // Up to `limit` entries with min <= H <= max, highest first, ties by id.
  // `*scanned` gets the number of index keys read.
  Status Range(double min_entropy, double max_entropy, std::size_t limit,
               std::vector<IndexEntry>* out, std::size_t* scanned) const;

  // Visits the ordered index ('x' keys), highest entropy first, from the
  // first key after `start_after` (an encoded index key; empty: the start).
  // Stop by returning false. Reads at `snapshot` when given (owned by the
  // caller), else at the latest state.
  Status ForEachOrdered(std::string_view start_after,
                        const std::function<bool(std::string_view key, const IndexEntry&)>& visit,
                        const rocksdb::Snapshot* snapshot = nullptr) const;
  // Visits every by-id entry ('i' keys) in id order.
  Status ForEachById(const std::function<bool(const IndexEntry&)>& visit) const;

  // Intents, for an index kept apart from its records.
  void AddIntent(std::string_view id, rocksdb::WriteBatch* batch) const;
  void ClearIntent(std::string_view id, rocksdb::WriteBatch* batch) const;
  Status PendingIntents(std::vector<std::string>* ids) const;

  // The stored totals; `*complete` false (and `*out` empty) when they were
  // never written whole, as in an index made before they existed.
  Status ReadSummary(IndexSummary* out, bool* complete) const;
  // Replaces the stored totals with `summary`, marked complete. Only at a
  // close, with no writer left: they must equal the entries.
  Status WriteSummary(const IndexSummary& summary);
  // Deletes the stored totals and syncs, before a writable open's first write.
  Status ForgetSummary();

  // Deletes every key of the index (entries, by-id, intents, totals).
  Status Clear();

  RocksDbDatabase& database() const { return *database_; }
  rocksdb::ColumnFamilyHandle* column_family() const { return cf_; }

 private:
  EntropyIndex(RocksDbDatabase* database, rocksdb::ColumnFamilyHandle* cf, bool keeps_by_id)
      : database_(database), cf_(cf), keeps_by_id_(keeps_by_id) {}

  RocksDbDatabase* database_;
  rocksdb::ColumnFamilyHandle* cf_;
  const bool keeps_by_id_;
};

}  // namespace kimera

#endif  // KIMERA_ENTROPY_INDEX_H_
