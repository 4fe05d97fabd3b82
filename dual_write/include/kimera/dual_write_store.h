// DualWriteStore: writes every identity to a primary RocksDbStore and to a
// secondary, checks that the two agree, and repairs the secondary.
//
// It sits between the EntropyStore plugin and the RocksDbStore; target() is
// the primary, so the plugin still finds the RocksDbStore below and its index
// keeps committing in the record's batch.
//
//  * Legacy secondary (column families of the primary database): the legacy
//    row, the audit entry and (best effort, on failure) the repair-queue entry
//    go into the primary record's own WriteBatch, so the write is atomic.
//  * Second database: an intent-journal entry goes into the primary's batch;
//    the secondary is written after the primary commits, and the entry is
//    cleared once the secondary's write is durable: at once when writes are
//    synced (sync_writes), otherwise after the next sync of both sides
//    (Sync(), every kMaxUnsyncedClears writes, about once a second in the
//    background, and at close). Without synced writes the secondary also
//    marks each id it writes (SecondaryStore::marks), for a power cut that
//    keeps its write and loses the primary's. Open() copies the primary over
//    every journaled or marked id, so a crash or a power cut at any point
//    ends, after reopen, with both sides equal.
//
// strict: a failed secondary write fails the call (Aborted) and both sides are
// put back as they were: the secondary too, since it may have applied the
// write before it failed (when putting it back fails, the id stays in the
// journal and goes to the repair queue). best_effort: the primary keeps the
// write; the id goes to the durable repair queue, retried in the background
// with exponential backoff. The primary is the source of truth for every
// repair.
//
// Test hook, only in the test variant of the library (dual_write_test_dep,
// never installed nor linked into libkimera or the kimera program):
// KIMERA_DUAL_WRITE_CRASH_AT=after_primary|after_secondary|
// before_journal_clear|mid_repair kills the process (SIGKILL) at that point.
//
// Thread-safety: safe for concurrent use by many threads. Writes, checks and
// repairs of one id are serialized by a lock striped on the id.
#ifndef KIMERA_DUAL_WRITE_STORE_H_
#define KIMERA_DUAL_WRITE_STORE_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kimera/consistency.h"
#include "kimera/dual_write_config.h"
#include "kimera/dual_write_types.h"
#include "kimera/rocksdb_store.h"
#include "kimera/secondary_store.h"
#include "kimera/striped_locks.h"

namespace prometheus {
class Registry;
}

namespace kimera {

class AuditLog;
class DualWriteMetrics;
enum class DualWriteOp : std::uint8_t;  // dual_write_metrics.h
class RocksDbDatabase;

inline constexpr const char* kJournalColumnFamily = "dual_write_journal";
inline constexpr const char* kRepairQueueColumnFamily = "dual_write_repair_queue";
inline constexpr const char* kStateColumnFamily = "dual_write_state";

class DualWriteStore : public StoreWrapper, private WriteParticipant {
 public:
  // Wraps `primary` and `secondary` (both owned). Metrics go to `registry`
  // (borrowed; must outlive the store) or, when null, to a registry of the
  // store's own. Replays the intent journal and joins the primary's writes
  // as a participant; starts no thread (see Start).
  static Status Open(std::unique_ptr<RocksDbStore> primary,
                     std::unique_ptr<SecondaryStore> secondary, const DualWriteConfig& config,
                     prometheus::Registry* registry, std::unique_ptr<DualWriteStore>* out);
  // Stops the background threads, leaves the primary's participants, then
  // closes both sides (syncing the journal's waiting clears first).
  ~DualWriteStore() override;

  // Starts the repair thread (and the sweep and shadow-read threads when
  // configured). Call it once every other participant of the primary is
  // registered: the threads write while they run. A second call, or one
  // after Stop, does nothing.
  void Start();
  // Stops the background threads and waits for them; writes still work.
  // Idempotent; the destructor calls it.
  void Stop();

  Status Store(const Identity& identity) override;
  // With the legacy secondary, one atomic batch: every record, its legacy
  // rows and its audit entry, all committed or none. With a second database,
  // which is written after the primary, three writes for the whole group:
  // the primary's batch (records and journal entries), the secondary's
  // (SecondaryStore::PutMany), then the journal clears and audit entries.
  // When the secondary's write fails, strict mode puts every identity back
  // on both sides and returns Aborted with *stored 0; best effort queues
  // every one for repair and returns OK, as Store does for one.
  Status StoreMany(const std::vector<Identity>& identities, std::size_t* stored) override;
  Status Remove(std::string_view id) override;
  Status ApplyDecay(std::string_view id, Micros now, const DecayParams& params) override;
  // From read_from's side; a sample of primary reads is shadow-read.
  Status Fetch(std::string_view id, Identity* out) override;
  Status FetchMany(const std::vector<std::string>& ids, std::vector<Identity>* out) override;
  Status List(const ListQuery& query, std::vector<Identity>* out) override;
  Status FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                       std::vector<Identity>* out) override;
  // Makes every acknowledged write durable on both sides. Second database
  // without synced writes: see ClearSyncedJournal.
  Status Sync() override;

  // Reads both sides of `id` under its lock and compares them.
  Status CheckId(std::string_view id, IdCheck* out);
  // Visits every id of both sides in id order (see SweepOptions). Sets the
  // kimera_dual_write_consistent gauge and, when clean and complete, records
  // the time of the clean sweep (for cleanup). A full sweep that completes
  // also checks the secondary's counts (SweepReport::counts_checked).
  Status Sweep(const SweepOptions& options, SweepReport* report);
  // A full sweep, then re-checks of the differing ids and the ids written
  // meanwhile, until none differs or `max_passes` passes ran.
  Status VerifyUntilClean(int max_passes, const SweepOptions& options, SweepReport* report);
  // Makes the secondary equal the primary for `id`.
  Status RepairId(std::string_view id);
  // Retries the repair queue's entries now (due ones, or all with `force`);
  // returns the number repaired.
  Status RetryRepairs(bool force, std::uint64_t* repaired);
  std::uint64_t repair_backlog() const { return backlog_.load(); }
  // Waits until every queued shadow read was compared (for tests).
  void DrainShadowReads();

  // Totals of the audit log, the `recent` newest entries, the repair
  // backlog and the counts of each side. The secondary's come from its
  // counters; the primary's is `primary_count` when the caller knows it
  // (the plugin's index counts the records), otherwise a scan of the
  // primary's keys.
  Status Stats(std::size_t recent, DualWriteStats* out,
               std::optional<std::uint64_t> primary_count = std::nullopt);

  RocksDbStore& primary() const { return *primary_; }
  SecondaryStore& secondary() const { return *secondary_; }
  const DualWriteConfig& config() const { return config_; }
  prometheus::Registry& registry() const { return *registry_; }

  // Drops the legacy column families, their counts and the audit log of
  // `database`, only when dual-write is off in `config` and a full sweep
  // with no difference finished after the last switch of read_from (and
  // nothing waits in the journal or the repair queue). Otherwise
  // FailedPrecondition-like InvalidArgument saying why; nothing is dropped.
  static Status Cleanup(RocksDbDatabase* database, const DualWriteConfig& config);

 private:
  struct PendingWrite;
  class ShadowReader;

  DualWriteStore(std::unique_ptr<RocksDbStore> primary, std::unique_ptr<SecondaryStore> secondary,
                 const DualWriteConfig& config);

  // Adds the journal entry (second database) or the legacy rows (legacy
  // column families) to the record's batch.
  Status Prepare(RecordWrite& write) override;
  // Legacy: applies the rows' change to the secondary's counts.
  void Committed(RecordWrite& write) override;

  // Runs one primary write under the id's lock and completes it on the secondary.
  Status Write(DualWriteOp op, std::string_view id,
               const std::function<Status(WriteContext*)>& primary_write);
  // The end of a primary write the secondary was part of (legacy): its
  // queued repair and its metrics. `id`'s lock held.
  void FinishInBatch(const PendingWrite& ctx, std::string_view id);
  // The audit of a primary write that failed with `why`.
  void AuditFailed(const PendingWrite& ctx, std::string_view id, const Status& why);
  // Writes the secondary after the primary committed: one write (`ids[i]`
  // is `contexts[i]`'s, their locks held), or a StoreMany's group in one
  // PutMany. Sets *clear_journal when ClearSyncedJournal is due.
  Status CompleteOnSecondary(std::span<PendingWrite> contexts,
                             std::span<const std::string_view> ids, bool* clear_journal);
  // Strict mode, second database: puts the primary and then the secondary
  // back as they were before the write that failed with `why`. Aborted
  // either way; *restored (when given) says whether both sides are back.
  Status RollBackLocked(PendingWrite& ctx, std::string_view id, const Status& why,
                        bool* clear_journal, bool* restored = nullptr);
  // Reads both sides of `id` (its lock held) and compares them; no metrics.
  Status CompareLocked(std::string_view id, IdCheck* out);
  Status CheckIdLocked(std::string_view id, IdCheck* out);
  // Copies the primary over the secondary for `id`; without synced writes
  // the id stays journaled until the copy is durable.
  Status ReconcileLocked(std::string_view id);
  Status Enqueue(std::string_view id, const Status& why, rocksdb::WriteBatch* batch);
  Status ReplayJournal();
  // Second database without synced writes: notes that `id`'s secondary
  // write is done but maybe not durable, so its journal entry stays. True
  // when kMaxUnsyncedClears are waiting (call ClearSyncedJournal, without
  // holding an id's lock).
  bool NoteUnsynced(std::string_view id);
  // The id's journal entry must stay (a write of it failed on the secondary).
  void ForgetUnsynced(std::string_view id);
  // Syncs both sides, then clears the journal entries (and the secondary's
  // marks) of the writes those syncs made durable. Takes id locks: never
  // call it holding one.
  Status ClearSyncedJournal();
  // Syncs the primary's log, then the secondary's.
  Status SyncBothSides();
  Status RecordSwitch();
  void RepairLoop();
  void SweepLoop();
  void MaybeCrash(const char* point) const;
  bool Stopping();
  // Waits `seconds`, or less when the store is closing; true when closing.
  bool PauseUnlessStopping(double seconds);
  Status LoadState(const char* key, std::string* out);
  Status SaveState(const char* key, const std::string& value);
  Status ClearState(const char* key);
  void NoteChanged(std::string_view id);
  bool Sample(double rate);
  AuditEntry Entry(DualWriteOp op, std::string_view id, const Status& status) const;

  RocksDbStore* primary_;  // Owned through StoreWrapper.
  std::unique_ptr<SecondaryStore> secondary_;
  const DualWriteConfig config_;
  RocksDbDatabase* db_;
  rocksdb::ColumnFamilyHandle* journal_ = nullptr;
  rocksdb::ColumnFamilyHandle* queue_ = nullptr;
  rocksdb::ColumnFamilyHandle* state_ = nullptr;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<prometheus::Registry> own_registry_;
  prometheus::Registry* registry_ = nullptr;
  std::unique_ptr<DualWriteMetrics> metrics_;
  std::string crash_at_;
  std::atomic<std::uint64_t> backlog_{0};
  std::atomic<std::uint64_t> sample_draws_;  // Sample's sequence; seeded at construction.

  std::mutex changed_mu_;  // Guards tracking_changes_ and changed_.
  bool tracking_changes_ = false;
  std::set<std::string> changed_;

  std::mutex repair_mu_;  // Guards stopping_; repair_cv_ and sweep_cv_ wait on it.
  std::condition_variable repair_cv_;
  std::condition_variable sweep_cv_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread repair_thread_;
  std::thread sweep_thread_;
  std::unique_ptr<ShadowReader> shadow_;

  // Second database without synced writes: ids whose journal entry waits
  // for a sync of the secondary, with the sync epoch their secondary write
  // completed in. A write that read epoch E finished before the sync that
  // ends E started, so that sync made it durable.
  const bool defer_journal_clears_;
  static constexpr std::size_t kMaxUnsyncedClears = 4096;
  std::mutex unsynced_mu_;  // Guards unsynced_.
  std::unordered_map<std::string, std::uint64_t> unsynced_;
  std::atomic<std::uint64_t> sync_epoch_{0};
  std::mutex clear_mu_;  // One ClearSyncedJournal at a time.

  StripedLocks locks_;  // Per id: its writes, checks and repairs.
};

}  // namespace kimera

#endif  // KIMERA_DUAL_WRITE_STORE_H_
