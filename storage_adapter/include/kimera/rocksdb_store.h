// RocksDbStore: the embedded default IdentityStore, on RocksDB.
//
// Records live in column family "identities", keyed by id, in the binary
// format of record_codec.h. Components that keep data of their own in the
// same database register a WriteParticipant: their writes then go into the
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
#include <optional>
#include <string>
#include <vector>

#include "kimera/identity_store.h"
#include "kimera/rocksdb_options.h"
#include "kimera/striped_locks.h"

namespace rocksdb {
class ColumnFamilyHandle;
class Snapshot;
class WriteBatch;
}  // namespace rocksdb

namespace kimera {

class RocksDbDatabase;
struct RecordHeader;

inline constexpr const char* kIdentitiesColumnFamily = "identities";

class RocksDbStore;
class WriteParticipant;

// Per-write state that a layer above the engine hands down with one write
// (RocksDbStore::Store and friends), for its own participant to read and
// fill: the participant named `owner` finds it with RecordWrite::ContextFor.
// Lives on the caller's stack for the duration of the call.
class WriteContext {
 public:
  explicit WriteContext(const WriteParticipant* owner) : owner_(owner) {}
  const WriteParticipant* owner() const { return owner_; }

 protected:
  ~WriteContext() = default;

 private:
  const WriteParticipant* owner_;
};

// What a participant keeps of one record write between Prepare and
// Committed (see RecordWrite::state).
class WriteState {
 public:
  virtual ~WriteState() = default;
};

// One record write on its way through the participants to its commit.
class RecordWrite {
 public:
  std::string_view id() const { return id_; }
  // The stored record; nullptr when the id is new.
  const Identity* before() const { return before_; }
  // The record being written; nullptr when it is removed.
  const Identity* after() const { return after_; }
  // The batch the record's own write is in; what a participant adds to it
  // commits atomically with the record. In a group write (StoreMany) every
  // record of the group shares one batch.
  rocksdb::WriteBatch* batch() const { return batch_; }

  // The context `participant`'s layer handed down with this write, or
  // nullptr when the write came without one of its.
  template <typename Context>
  Context* ContextFor(const WriteParticipant* participant) const {
    return context_ != nullptr && context_->owner() == participant ? static_cast<Context*>(context_)
                                                                   : nullptr;
  }

  // The slot of the participant being called, for state its Committed
  // needs; empty until it fills it. Destroyed with the write, after
  // Committed, or when the batch is not committed.
  std::unique_ptr<WriteState>& state();

 private:
  friend class RocksDbStore;
  RecordWrite(std::string_view id, const Identity* before, const Identity* after,
              rocksdb::WriteBatch* batch, WriteContext* context)
      : id_(id), before_(before), after_(after), batch_(batch), context_(context) {}

  std::string_view id_;
  const Identity* before_;
  const Identity* after_;
  rocksdb::WriteBatch* batch_;
  WriteContext* context_;
  std::size_t current_ = 0;                          // The participant being called.
  std::vector<std::unique_ptr<WriteState>> states_;  // By participant; sized on first use.
};

// A component that keeps data of its own in the records' database and
// updates it in the same batch as every record write.
class WriteParticipant {
 public:
  virtual ~WriteParticipant() = default;

  // Called with the id's lock held, once per record write, in registration
  // order, before the batch is committed: adds the participant's writes to
  // write.batch(), and keeps in write.state() what Committed will need.
  // Returning an error aborts the write (the whole group in StoreMany):
  // nothing of the batch is committed, and no participant's Committed runs.
  virtual Status Prepare(RecordWrite& write) = 0;
  // Called once the batch committed, for every write it held, in reverse
  // order of Prepare: the after-commit work, which cannot fail.
  virtual void Committed(RecordWrite& write) = 0;
};

class RocksDbStore : public IdentityStore {
 public:
  // Opens (or creates) the store in folder `path`.
  static Status Open(const std::string& path, const RocksDbOptions& options,
                     std::unique_ptr<RocksDbStore>* out, Clock clock = SystemNow);

  ~RocksDbStore() override;

  Status Store(const Identity& identity) override;
  // One WriteBatch for the whole group, with every participant's writes for
  // each record: all are committed or none.
  Status StoreMany(const std::vector<Identity>& identities, std::size_t* stored) override;
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
  RocksDbStore* record_engine() override { return this; }

  // The same writes, carrying `context` (borrowed, may be nullptr) down to
  // the participants (see WriteContext).
  Status Store(const Identity& identity, WriteContext* context);
  // `contexts` is empty or holds one context (or nullptr) per identity.
  Status StoreMany(const std::vector<Identity>& identities,
                   const std::vector<WriteContext*>& contexts, std::size_t* stored);
  Status Remove(std::string_view id, WriteContext* context);
  Status ApplyDecay(std::string_view id, Micros now, const DecayParams& params,
                    WriteContext* context);

  // One consistent state of the database: the records and every column
  // family the participants keep. Reads given it see that state however
  // writes go on. Must not outlive the store.
  class Snapshot {
   public:
    ~Snapshot();
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
    // For a participant's reads of its own column families at this state.
    const rocksdb::Snapshot* get() const { return snapshot_; }

   private:
    friend class RocksDbStore;
    Snapshot(RocksDbDatabase* database, const rocksdb::Snapshot* snapshot)
        : database_(database), snapshot_(snapshot) {}
    RocksDbDatabase* database_;
    const rocksdb::Snapshot* snapshot_;
  };
  std::unique_ptr<Snapshot> TakeSnapshot() const;

  // Reads the record of each id at `snapshot` (nullptr: the latest state),
  // in one batched read: (*out)[i] is empty when ids[i] is absent.
  // Corruption naming the id when a record cannot be decoded.
  Status ReadMany(const std::vector<std::string>& ids, const Snapshot* snapshot,
                  std::vector<std::optional<Identity>>* out);
  // The header of each id's record (type, weight, timestamps; version and
  // checksum checked) without decoding terms or meta, in one batched read:
  // (*out)[i] is empty when ids[i] is absent. For scans that need no more
  // (the decay sweep), at a fraction of a full decode's cost.
  Status ReadHeaders(const std::vector<std::string>& ids,
                     std::vector<std::optional<RecordHeader>>* out);

  // Registers `participant` (borrowed: it must stay until removed) to join
  // every record write, after those registered before it. Adding and
  // removing are not synchronized with writes: call them only while no
  // write runs (before the store is shared and before any background
  // thread of a layer above starts; after those threads stopped).
  void AddParticipant(WriteParticipant* participant);
  void RemoveParticipant(WriteParticipant* participant);

  // Writes `identity` exactly as given (no timestamp rules), through the
  // participants. For repair and rollback paths that must restore a record.
  Status Restore(const Identity& identity, WriteContext* context = nullptr);

  const Clock& clock() const { return clock_; }

 private:
  RocksDbStore(std::unique_ptr<RocksDbDatabase> database, rocksdb::ColumnFamilyHandle* cf,
               Clock clock);

  // Reads the record of `id`; NotFound when absent.
  Status ReadLocked(std::string_view id, Identity* out);
  // Writes `after` (or deletes when nullptr) through the participants,
  // under the lock.
  Status CommitLocked(std::string_view id, const Identity* before, const Identity* after,
                      WriteContext* context);
  // Hands `write` to each participant's Prepare, in order.
  Status Prepare(RecordWrite& write);
  // Commits `batch`, holding every one of `writes` (all prepared), then
  // runs each participant's Committed; `what` names the write in errors.
  Status CommitPrepared(std::vector<RecordWrite>& writes, rocksdb::WriteBatch* batch,
                        const std::string& what);
  // The stack's components that keep column families of their own next to
  // the records reach the database through rocksdb_database.h (internal to the project).
  friend RocksDbDatabase& DatabaseOf(const RocksDbStore& store);

  std::unique_ptr<RocksDbDatabase> database_;
  rocksdb::ColumnFamilyHandle* identities_;
  Clock clock_;
  std::vector<WriteParticipant*> participants_;
  StripedLocks locks_;  // Per id: a read-modify-write of its record.
};

}  // namespace kimera

#endif  // KIMERA_ROCKSDB_STORE_H_
