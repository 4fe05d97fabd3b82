// IndexParticipant: the entropy index of one store's records, kept exact
// through every write. Internal to the plugin (EntropyStore holds one).
//
// Two paths, chosen at Open:
// - shared database: the index lives in the records' RocksDbStore database
//   and joins its writes as a WriteParticipant, so each index change commits
//   in the record's own batch;
// - separate database (index.separate_path, or records not in a
//   RocksDbStore): WriteBelow writes an intent, lets the write go down, then
//   reconciles the index from the record; intents left by a crash are
//   replayed at Open.
// Either way, a committed change is applied to the in-memory population,
// per-type counts, change tracker and (when attached) metrics.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef KIMERA_INDEX_PARTICIPANT_H_
#define KIMERA_INDEX_PARTICIPANT_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "entropy_change_tracker.h"
#include "entropy_population.h"
#include "kimera/entropy_index.h"
#include "kimera/identity_store.h"
#include "kimera/plugin_config.h"
#include "kimera/rocksdb_store.h"
#include "kimera/striped_locks.h"
#include "plugin_metrics.h"

namespace kimera {

class IndexParticipant : private WriteParticipant {
 public:
  // Opens the index of the records of `below` (borrowed; reads and, on the
  // separate path, writes go through it). `records` (borrowed, may be
  // nullptr) is the RocksDbStore holding them: the index shares its
  // database unless config.index.separate_path is set. Builds the index
  // when new; replays pending intents. Joins no write yet (see Join).
  static Status Open(IdentityStore* below, RocksDbStore* records, const PluginConfig& config,
                     Clock clock, std::unique_ptr<IndexParticipant>* out);
  // Leaves the records' writes when it joined them.
  ~IndexParticipant() override;

  // Observes each applied change in `metrics` (borrowed; null for none).
  // Call before Join.
  void AttachMetrics(PluginMetrics* metrics) { metrics_ = metrics; }
  // Shared database: joins the records' writes. Call before any writer
  // below starts.
  void Join();

  // Runs `write` (a write of `id` to the store below): at once when the
  // index joins the records' batch; otherwise under the id's lock, between
  // an intent and a reconcile of the index's own database.
  template <typename Write>
  Status WriteBelow(std::string_view id, Write&& write);

  // Syncs the index's own database (separate path); OK otherwise.
  Status SyncOwnDatabase();

  IndexEntry EntryOf(const Identity& identity) const;
  // See EntropyStore::IndexEntryOf and EntropyStore::ReadIndexed.
  Status IndexEntryOf(std::string_view id, IndexEntry* out);
  Status ReadIndexed(std::string_view id, Identity* record, IndexEntry* entry, bool* indexed);
  // Loads the population and counts from the totals stored at the last
  // clean close, or counts the entries when there are none (after a crash,
  // or a salvaging open). A writable open then deletes any stored totals,
  // which the close writes again. Call before any write can reach the index.
  Status LoadState();
  // Counts every entry again (after a repair or a rebuild).
  Status RecountState();

  std::uint64_t StoredCount(std::optional<IdentityType> type) const;
  const std::array<std::atomic<std::int64_t>, 2>& counts() const { return counts_; }
  const EntropyPopulation& population() const { return population_; }
  const EntropyChangeTracker& changes() const { return changes_; }
  EntropyIndex& index() const { return *index_; }
  // The records' store whose database and batches the index shares, or nullptr.
  RocksDbStore* shared_records() const { return rocks_; }

 private:
  IndexParticipant(IdentityStore* below, const PluginConfig& config, Clock clock);

  // Adds the index change to the record's batch, keeping the entries.
  Status Prepare(RecordWrite& write) override;
  // Applies the change once the batch committed.
  void Committed(RecordWrite& write) override;
  // Applies a committed index change to the in-memory views and metrics.
  void Apply(std::string_view id, const IndexEntry* before, const IndexEntry* after,
             Micros previous_update);
  // Separate path: brings the index entry of `id` in line with the record
  // below and clears its intent.
  Status Reconcile(std::string_view id);
  Status WriteIntent(std::string_view id);
  Status Rebuild();
  // Scans the ordered entries into `summary`.
  Status CountEntries(IndexSummary* summary) const;
  void SetState(const IndexSummary& summary);
  // The population and counts, as totals to store.
  IndexSummary State() const;

  IdentityStore* const below_;
  const EntropyConfig config_;
  const Clock clock_;
  RocksDbStore* rocks_ = nullptr;                  // When the index shares its database.
  bool joined_ = false;                            // A participant of rocks_.
  bool loaded_ = false;                            // Whether the state is the entries'.
  std::unique_ptr<RocksDbDatabase> own_index_db_;  // Otherwise, the index's own database.
  std::unique_ptr<EntropyIndex> index_;
  EntropyPopulation population_;
  EntropyChangeTracker changes_;
  std::array<std::atomic<std::int64_t>, 2> counts_{};
  PluginMetrics* metrics_ = nullptr;
  StripedLocks locks_;  // Separate path only.
};

template <typename Write>
Status IndexParticipant::WriteBelow(std::string_view id, Write&& write) {
  if (rocks_ != nullptr) return write();  // The index joins the record's batch.
  std::lock_guard lock(locks_.For(id));
  Status s = WriteIntent(id);
  if (!s.ok()) return s;
  s = write();
  // Reconciled whether or not the write went through: the record decides.
  Status r = Reconcile(id);
  return s.ok() ? r : s;
}

}  // namespace kimera

#endif  // KIMERA_INDEX_PARTICIPANT_H_
