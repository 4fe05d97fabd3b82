// DecayLedger: what the last bulk decay application left in each record, so
// that decay verification can tell from stored state whether a weight was
// decayed exactly once per interval.
//
// Stored state alone cannot show compounding: a weight of 0.4 may be 1.0
// decayed twice or 0.8 decayed once. The ledger records, per identity, the
// weight and updated_at that ApplyDecayAll left, together with the chain's
// origin: the weight before the first application of the chain and the time
// it counted from. While the record's updated_at still equals the ledger's
// (nothing stored the record since), its weight must equal the ledger's, and
// for a geoid (whose tau does not change with scaling) the ledger weight must
// equal origin_weight * exp(-(decay_applied_at - origin_since) / tau_eff).
// A record stored since (updated_at moved) starts a new chain at the next
// application; its old entry is then ignored.
//
// Column family "decay_ledger" of the index's database, key = id, value =
// updated_at (int64 LE), weight (double), origin_weight (double),
// origin_since (int64 LE).
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef KIMERA_DECAY_LEDGER_H_
#define KIMERA_DECAY_LEDGER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/identity.h"
#include "kimera/status.h"
#include "rocksdb_database.h"

namespace kimera {

inline constexpr const char* kDecayLedgerColumnFamily = "decay_ledger";

struct DecayLedgerEntry {
  Micros updated_at = 0;     // The record's updated_at after the last application.
  double weight = 0;         // The record's weight after the last application.
  double origin_weight = 0;  // The weight before the chain's first application.
  Micros origin_since = 0;   // The time the chain's first application counted from.
};

class DecayLedger {
 public:
  // Opens the ledger in `database` (borrowed; must outlive the ledger),
  // creating its column family when missing; in a read-only database
  // without one, an empty ledger (every lookup NotFound, no writes).
  static Status Open(RocksDbDatabase* database, std::unique_ptr<DecayLedger>* out);

  // The entry of `id`; NotFound when it has none.
  Status Lookup(std::string_view id, DecayLedgerEntry* out) const;
  // Reads the entries of `ids` at once; `found[i]` tells whether ids[i] had
  // one. Reads at `snapshot` when given (owned by the caller).
  Status LookupMany(const std::vector<std::string>& ids, std::vector<DecayLedgerEntry>* out,
                    std::vector<bool>* found, const rocksdb::Snapshot* snapshot = nullptr) const;
  void Put(std::string_view id, const DecayLedgerEntry& entry, rocksdb::WriteBatch* batch) const;
  void Delete(std::string_view id, rocksdb::WriteBatch* batch) const;
  Status Write(rocksdb::WriteBatch* batch) { return database_->Write(batch); }

 private:
  DecayLedger(RocksDbDatabase* database, rocksdb::ColumnFamilyHandle* cf)
      : database_(database), cf_(cf) {}

  RocksDbDatabase* database_;
  rocksdb::ColumnFamilyHandle* cf_;
};

}  // namespace kimera

#endif  // KIMERA_DECAY_LEDGER_H_
