// RocksDbStore: the embedded default IdentityStore, on RocksDB.
//
// Records live in column family "identities", keyed by id, in the binary
// format of record_codec.h. Components that keep data of their own in the
// same database register a WriteBatchExtension: their writes then go into the
// same WriteBatch as the record, so they commit atomically with it.
//
// Without an index, Count, List and FindByEntropy scan every record; wrap the
// store in an EntropyStore for indexed queries.
//
// Thread-safety: safe for concurrent use by many threads. Writes of one id
// are serialized by a lock striped on the XXH3 of the id.
#ifndef KIMERA_ROCKSDB_STORE_H_
#define KIMERA_ROCKSDB_STORE_H_

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kimera/identity_store.h"
#include "kimera/rocksdb_database.h"
#include "kimera/striped_locks.h"

namespace kimera {

inline constexpr const char* kIdentitiesColumnFamily = "identities";

// Adds a component's writes to the batch of every record write.
class WriteBatchExtension {
 public:
  virtual ~WriteBatchExtension() = default;

  // Called with the id's lock held, once per record write, before the batch
  // commits. `before` is the stored record (nullptr when new); `after` the
  // record being written (nullptr when it is removed). A non-OK status
  // aborts the write: nothing of the batch is committed.
  virtual Status Extend(std::string_view id, const Identity* before, const Identity* after,
                        rocksdb::WriteBatch* batch) = 0;

  // Called after the batch committed, still under the id's lock.
  virtual void Committed(std::string_view id, const Identity* before, const Identity* after) {
    (void)id, (void)before, (void)after;
  }
};

class RocksDbStore : public IdentityStore {
 public:
  // Opens (or creates) the store in folder `path`.
  static Status Open(const std::string& path, const RocksDbOptions& options,
                     std::unique_ptr<RocksDbStore>* out, Clock clock = SystemNow);

  ~RocksDbStore() override;

  Status Store(const Identity& identity) override;
  Status Fetch(std::string_view id, Identity* out) override;
  Status Remove(std::string_view id) override;
  Status List(const ListQuery& query, std::vector<Identity>* out) override;
  Status Count(std::optional<IdentityType> type, std::uint64_t* out) override;
  Status FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                       std::vector<Identity>* out) override;
  Status Scan(std::string_view start_after, const ScanVisitor& visit) override;
  Status ApplyDecay(std::string_view id, Micros now, const DecayParams& params) override;
  Status Sync() override;

  // Fetches many ids with one MultiGet. `out` gets one entry per id found,
  // in the order of `ids`; absent ids are skipped.
  Status FetchMany(const std::vector<std::string>& ids, std::vector<Identity>* out) override;

  // Registers `extension` (borrowed: it must outlive the store). Call before
  // the store is shared between threads.
  void AddWriteExtension(WriteBatchExtension* extension);

  // Writes `identity` exactly as given (no timestamp rules), through the
  // extensions. For repair and rollback paths that must restore a record.
  Status Restore(const Identity& identity);

  RocksDbDatabase& database() const { return *database_; }
  rocksdb::ColumnFamilyHandle* identities() const { return identities_; }
  const Clock& clock() const { return clock_; }

 private:
  RocksDbStore(std::unique_ptr<RocksDbDatabase> database, rocksdb::ColumnFamilyHandle* cf,
               Clock clock);

  // Reads the record of `id`; NotFound when absent.
  Status ReadLocked(std::string_view id, Identity* out);
  // Writes `after` (or deletes when nullptr) with the extensions, under the lock.
  Status CommitLocked(std::string_view id, const Identity* before, const Identity* after);

  std::unique_ptr<RocksDbDatabase> database_;
  rocksdb::ColumnFamilyHandle* identities_;
  Clock clock_;
  std::vector<WriteBatchExtension*> extensions_;
  StripedLocks locks_;  // Per id: a read-modify-write of its record.
};

}  // namespace kimera

#endif  // KIMERA_ROCKSDB_STORE_H_
