#include "kimera/dual_write_store.h"

#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "audit_log.h"
#include "dual_write_metrics.h"
#include "iterator_entry.h"
#include "kimera/identity_json.h"
#include "rocksdb_database.h"
#include "shadow_reader.h"

namespace kimera {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

struct QueueEntry {
  std::uint64_t attempts = 0;
  Micros next_at = 0;
  std::string error;
};

std::string EncodeQueueEntry(const QueueEntry& e) {
  return nlohmann::json{{"attempts", e.attempts}, {"next_at", e.next_at}, {"error", e.error}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

QueueEntry DecodeQueueEntry(std::string_view bytes) {
  QueueEntry e;
  nlohmann::json v = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (v.is_object()) {
    e.attempts = v.value("attempts", std::uint64_t{0});
    e.next_at = v.value("next_at", Micros{0});
    e.error = v.value("error", "");
  }
  return e;
}

}  // namespace

// What one write through the store saw of the primary, filled by
// Prepare; handed down with the primary's write.
struct DualWriteStore::PendingWrite : WriteContext {
  PendingWrite(const WriteParticipant* owner, DualWriteOp write_op)
      : WriteContext(owner), op(write_op) {}
  DualWriteOp op;
  bool rollback = false;
  bool extended = false;
  std::optional<Identity> before;
  std::optional<Identity> after;
  Status secondary_status;  // Legacy secondary: the failure of its part of the batch.
  bool queued = false;      // Legacy best effort: the id went to the repair queue instead.
};

DualWriteStore::DualWriteStore(std::unique_ptr<RocksDbStore> primary,
                               std::unique_ptr<SecondaryStore> secondary,
                               const DualWriteConfig& config)
    : StoreWrapper(std::move(primary)),
      primary_(static_cast<RocksDbStore*>(target())),
      secondary_(std::move(secondary)),
      config_(config),
      db_(&DatabaseOf(*primary_)),
      sample_draws_(std::random_device{}()),
      defer_journal_clears_(!secondary_->in_primary_batch() && !db_->write_options().sync) {}

Status DualWriteStore::Open(std::unique_ptr<RocksDbStore> primary,
                            std::unique_ptr<SecondaryStore> secondary,
                            const DualWriteConfig& config, prometheus::Registry* registry,
                            std::unique_ptr<DualWriteStore>* out) {
  if (!primary || !secondary) return Status::InvalidArgument("dual-write needs two stores");
  std::unique_ptr<DualWriteStore> store(
      new DualWriteStore(std::move(primary), std::move(secondary), config));
  RocksDbDatabase* db = store->db_;
  Status s = db->ColumnFamily(kJournalColumnFamily, &store->journal_);
  if (s.ok()) s = db->ColumnFamily(kRepairQueueColumnFamily, &store->queue_);
  if (s.ok()) s = db->ColumnFamily(kStateColumnFamily, &store->state_);
  if (s.ok()) s = AuditLog::Open(db, config.audit_log_max_entries, &store->audit_);
  if (!s.ok()) return s;
  if (registry == nullptr) {
    store->own_registry_ = std::make_unique<prometheus::Registry>();
    registry = store->own_registry_.get();
  }
  store->registry_ = registry;
  store->metrics_ = std::make_unique<DualWriteMetrics>(*registry);
#ifdef KIMERA_KILL_POINTS
  if (const char* crash = std::getenv("KIMERA_DUAL_WRITE_CRASH_AT")) store->crash_at_ = crash;
#endif

  std::uint64_t depth = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      db->db()->NewIterator(rocksdb::ReadOptions(), store->queue_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++depth;
  store->backlog_ = depth;
  s = store->ReplayJournal();
  if (s.ok()) s = store->RecordSwitch();
  if (!s.ok()) return s;
  store->metrics_->SetRepairBacklog(static_cast<double>(store->backlog_.load()));
  store->primary_->AddParticipant(store.get());
  *out = std::move(store);
  return Status::OK();
}

void DualWriteStore::Start() {
  std::lock_guard lock(repair_mu_);
  if (started_ || stopping_) return;
  started_ = true;
  repair_thread_ = std::thread([this] { RepairLoop(); });
  if (config_.sweep_interval_seconds > 0) sweep_thread_ = std::thread([this] { SweepLoop(); });
  if (config_.shadow_read_rate > 0) shadow_ = std::make_unique<ShadowReader>(this);
}

void DualWriteStore::Stop() {
  {
    std::lock_guard lock(repair_mu_);
    stopping_ = true;
  }
  repair_cv_.notify_all();
  sweep_cv_.notify_all();
  if (repair_thread_.joinable()) repair_thread_.join();
  if (sweep_thread_.joinable()) sweep_thread_.join();
  shadow_.reset();
}

DualWriteStore::~DualWriteStore() {
  Stop();
  primary_->RemoveParticipant(this);
  // Both databases flush on close anyway; this leaves the journal empty, so
  // the next open replays nothing. A failure leaves entries to replay.
  if (defer_journal_clears_) (void)ClearSyncedJournal();
}

// Compiled only into the test variant of this library (dual_write/meson.build):
// the library hosts link has no variable that can kill them.
void DualWriteStore::MaybeCrash([[maybe_unused]] const char* point) const {
#ifdef KIMERA_KILL_POINTS
  if (!crash_at_.empty() && crash_at_ == point) std::raise(SIGKILL);
#endif
}

bool DualWriteStore::Sample(double rate) {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  // A shared counter through a 64-bit mixer (SplitMix64's finalizer): one
  // relaxed atomic add per draw, no lock and no per-thread state, and
  // uniform enough for a sampling rate.
  std::uint64_t x = sample_draws_.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * 0x1.0p-53 < rate;
}

AuditEntry DualWriteStore::Entry(DualWriteOp op, std::string_view id, const Status& status) const {
  AuditEntry e;
  e.time = primary_->clock()();
  e.id = std::string(id);
  e.operation = DualWriteOpName(op);
  e.status = status.ok() ? "ok" : status.CodeName();
  e.details = status.ok() ? "" : status.message();
  return e;
}

void DualWriteStore::NoteChanged(std::string_view id) {
  std::lock_guard lock(changed_mu_);
  if (tracking_changes_) changed_.emplace(id);
}

namespace {

// The legacy secondary's part of a record write, held until the batch
// committed (with the secondary's lock of the id).
struct SecondaryPart : WriteState {
  SecondaryStore::BatchedWrite pending;
};

}  // namespace

Status DualWriteStore::Prepare(RecordWrite& write) {
  const std::string_view id = write.id();
  const Identity* before = write.before();
  const Identity* after = write.after();
  rocksdb::WriteBatch* batch = write.batch();
  auto* ctx = write.ContextFor<PendingWrite>(this);
  if (ctx != nullptr) {
    ctx->extended = true;
    // Only a second database needs the records after the batch committed
    // (to write them, or to put the primary back); copying them costs.
    if (!ctx->rollback && !secondary_->in_primary_batch()) {
      if (before) ctx->before = *before;
      if (after) ctx->after = *after;
    }
  }
  if (!secondary_->in_primary_batch()) {
    // The journal entry commits with the record. A rollback keeps it: the
    // secondary is put back after the primary, and until it is, a replay
    // at open must still copy the primary over.
    batch->Put(journal_, ToSlice(id), rocksdb::Slice());
    return Status::OK();
  }
  const auto start = SteadyClock::now();
  // Holds the secondary's lock of the id until the batch is committed.
  auto part = std::make_unique<SecondaryPart>();
  Status s = secondary_->AddToBatch(id, before, after, batch, &part->pending);
  metrics_->SecondaryDuration(SecondsSince(start));
  const DualWriteOp op = ctx ? ctx->op : DualWriteOp::kStore;
  if (!s.ok()) {
    if (ctx) ctx->secondary_status = s;
    if (config_.mode == DualWriteMode::kStrict) {
      return Status::Aborted("secondary write failed, nothing was written: " + s.message());
    }
    Status q = Enqueue(id, s, batch);
    if (!q.ok()) return q;
    if (ctx) ctx->queued = true;
  }
  audit_->Append(Entry(op, id, s), batch);
  write.state() = std::move(part);
  return Status::OK();
}

void DualWriteStore::Committed(RecordWrite& write) {
  if (write.state()) secondary_->Committed(static_cast<SecondaryPart&>(*write.state()).pending);
}

Status DualWriteStore::Enqueue(std::string_view id, const Status& why, rocksdb::WriteBatch* batch) {
  QueueEntry e;
  e.next_at = primary_->clock()();
  e.error = why.ToString();
  batch->Put(queue_, ToSlice(id), EncodeQueueEntry(e));
  return Status::OK();
}

Status DualWriteStore::Write(DualWriteOp op, std::string_view id,
                             const std::function<Status(WriteContext*)>& primary_write) {
  std::unique_lock lock(locks_.For(id));
  PendingWrite ctx(this, op);
  const auto start = SteadyClock::now();
  Status s = primary_write(&ctx);
  metrics_->PrimaryDuration(SecondsSince(start));
  if (!s.ok()) {
    AuditFailed(ctx, id, s);
    return s;
  }
  NoteChanged(id);
  MaybeCrash("after_primary");
  bool clear_journal = false;
  if (!secondary_->in_primary_batch()) {
    s = CompleteOnSecondary({&ctx, 1}, {&id, 1}, &clear_journal);
    if (s.ok() && Sample(config_.inline_sample_rate)) {
      IdCheck check;
      (void)CheckIdLocked(id, &check);
    }
  } else {
    MaybeCrash("after_secondary");
    FinishInBatch(ctx, id);
  }
  lock.unlock();
  // The write is acknowledged either way: its journal entry stays until a
  // later clear, or a replay, finds the secondary durable.
  if (clear_journal) (void)ClearSyncedJournal();
  return s;
}

void DualWriteStore::AuditFailed(const PendingWrite& ctx, std::string_view id, const Status& why) {
  metrics_->Operation(ctx.op, false);
  // Invalid input and absent ids are the caller's problem, not a dual-write failure.
  if (!ctx.secondary_status.ok()) {
    (void)audit_->Write(Entry(ctx.op, id, ctx.secondary_status));
  } else if (ctx.extended) {
    (void)audit_->Write(Entry(ctx.op, id, why));
  }
}

void DualWriteStore::FinishInBatch(const PendingWrite& ctx, std::string_view id) {
  if (ctx.queued) {
    backlog_.fetch_add(1);
    metrics_->SetRepairBacklog(static_cast<double>(backlog_.load()));
    repair_cv_.notify_one();
  }
  metrics_->Operation(ctx.op, !ctx.queued);
  if (Sample(config_.inline_sample_rate)) {
    IdCheck check;
    (void)CheckIdLocked(id, &check);
  }
}

Status DualWriteStore::StoreMany(const std::vector<Identity>& identities, std::size_t* stored) {
  if (stored != nullptr) *stored = 0;
  // The count and repeated ids, for the contexts; the primary checks each
  // identity before any reaches a participant.
  Status s = CheckStoreMany(identities, [](const Identity&) { return Status::OK(); });
  if (!s.ok()) return s;
  std::vector<std::string_view> ids;
  ids.reserve(identities.size());
  for (const Identity& identity : identities) ids.push_back(identity.id);
  bool clear_journal = false;
  {
    const StripedLocks::Group lock(locks_, ids);
    std::vector<PendingWrite> contexts;
    std::vector<WriteContext*> handed;
    contexts.reserve(identities.size());
    handed.reserve(identities.size());
    const WriteParticipant* self = this;
    for (std::size_t i = 0; i < identities.size(); ++i) {
      handed.push_back(&contexts.emplace_back(self, DualWriteOp::kStore));
    }
    const auto start = SteadyClock::now();
    s = primary_->StoreMany(identities, handed, stored);
    metrics_->PrimaryDuration(SecondsSince(start));
    if (!s.ok()) {
      for (std::size_t i = 0; i < identities.size(); ++i) AuditFailed(contexts[i], ids[i], s);
      return s;
    }
    MaybeCrash("after_primary");
    if (secondary_->in_primary_batch()) {
      MaybeCrash("after_secondary");
      for (std::size_t i = 0; i < identities.size(); ++i) {
        NoteChanged(ids[i]);
        FinishInBatch(contexts[i], ids[i]);
      }
      return Status::OK();
    }
    for (std::string_view id : ids) NoteChanged(id);
    s = CompleteOnSecondary(contexts, ids, &clear_journal);
    if (s.ok() && config_.inline_sample_rate > 0) {
      for (std::string_view id : ids) {
        if (!Sample(config_.inline_sample_rate)) continue;
        IdCheck check;
        (void)CheckIdLocked(id, &check);
      }
    }
  }
  if (!s.ok() && stored != nullptr) *stored = 0;
  // As after one Store: the writes are acknowledged either way.
  if (clear_journal) (void)ClearSyncedJournal();
  return s;
}

Status DualWriteStore::CompleteOnSecondary(std::span<PendingWrite> contexts,
                                           std::span<const std::string_view> ids,
                                           bool* clear_journal) {
  const auto start = SteadyClock::now();
  Status s;
  if (contexts.size() == 1) {
    s = contexts[0].after ? secondary_->Put(*contexts[0].after) : secondary_->Delete(ids[0]);
  } else {
    // A group is StoreMany's: every write has a record after it.
    std::vector<const Identity*> writes;
    writes.reserve(contexts.size());
    for (const PendingWrite& ctx : contexts) writes.push_back(&*ctx.after);
    s = secondary_->PutMany(writes);
  }
  metrics_->SecondaryDuration(SecondsSince(start));
  rocksdb::WriteBatch batch;
  if (s.ok()) {
    MaybeCrash("after_secondary");
    for (std::size_t i = 0; i < ids.size(); ++i) {
      // Cleared now only when the secondary's write is already durable.
      // Otherwise a power cut could keep the primary's write (its log synced
      // by a flush or a Sync) and lose the secondary's, with no entry left to
      // replay: the entry waits for the secondary's next sync.
      if (defer_journal_clears_) {
        if (NoteUnsynced(ids[i])) *clear_journal = true;
      } else {
        batch.Delete(journal_, ToSlice(ids[i]));
      }
      audit_->Append(Entry(contexts[i].op, ids[i], s), &batch);
      metrics_->Operation(contexts[i].op, true);
    }
    MaybeCrash("before_journal_clear");
    // The writes are complete on both sides; a lost clear only means one
    // redundant replay at the next open.
    (void)db_->Write(&batch);
    return Status::OK();
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    metrics_->Operation(contexts[i].op, false);
    // An earlier write's wait for a sync no longer stands for the id: its
    // journal entry now belongs to this failed write.
    if (defer_journal_clears_) ForgetUnsynced(ids[i]);
  }
  if (config_.mode == DualWriteMode::kStrict) {
    if (ids.size() == 1) return RollBackLocked(contexts[0], ids[0], s, clear_journal);
    // The secondary may hold any part of the group: every identity is put
    // back on both sides, so that the call leaves none of them, as a failed
    // StoreMany promises.
    Status result = Status::Aborted("secondary write failed, all " + std::to_string(ids.size()) +
                                    " identities restored on both sides: " + s.ToString());
    bool unrestored = false;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      bool clear = false, restored = false;
      const Status undo = RollBackLocked(contexts[i], ids[i], s, &clear, &restored);
      if (clear) *clear_journal = true;
      // The first identity whose restore failed too (queued for repair).
      if (!restored && !unrestored) result = AboutElement(i, undo);
      unrestored = unrestored || !restored;
    }
    return result;
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    batch.Delete(journal_, ToSlice(ids[i]));
    (void)Enqueue(ids[i], s, &batch);
    audit_->Append(Entry(contexts[i].op, ids[i], s), &batch);
  }
  if (db_->Write(&batch).ok()) {
    backlog_.fetch_add(ids.size());
    metrics_->SetRepairBacklog(static_cast<double>(backlog_.load()));
    repair_cv_.notify_one();
  }
  // The primary has the writes either way; when even the queue entries
  // failed, the journal entries still make the next open repair the ids.
  return Status::OK();
}

Status DualWriteStore::RollBackLocked(PendingWrite& ctx, std::string_view id, const Status& why,
                                      bool* clear_journal, bool* restored) {
  if (restored != nullptr) *restored = false;
  ctx.rollback = true;
  Status undo = ctx.before ? primary_->Restore(*ctx.before, &ctx) : primary_->Remove(id, &ctx);
  // A secondary can fail after it applied the write (a lost reply, a failed
  // sync): it is put back to the primary's previous state too, so the sides
  // end equal whichever part of the write it kept.
  if (undo.ok()) undo = ctx.before ? secondary_->Put(*ctx.before) : secondary_->Delete(id);
  rocksdb::WriteBatch batch;
  if (undo.ok()) {
    // As after a successful write: the entry goes once the restores are durable.
    if (defer_journal_clears_) {
      *clear_journal = NoteUnsynced(id);
    } else {
      batch.Delete(journal_, ToSlice(id));
    }
    audit_->Append(Entry(ctx.op, id, why), &batch);
    (void)db_->Write(&batch);
    if (restored != nullptr) *restored = true;
    return Status::Aborted("secondary write failed, both sides restored: " + why.ToString());
  }
  // The journal entry stays, so the next open copies the primary over; the
  // repair queue does so sooner. The caller still learns the write failed.
  (void)Enqueue(id, why, &batch);
  audit_->Append(Entry(ctx.op, id, undo), &batch);
  if (db_->Write(&batch).ok()) {
    backlog_.fetch_add(1);
    metrics_->SetRepairBacklog(static_cast<double>(backlog_.load()));
    repair_cv_.notify_one();
  }
  return Status::Aborted("secondary write failed (" + why.ToString() +
                         ") and restoring the sides failed (" + undo.ToString() +
                         "); queued for repair");
}

Status DualWriteStore::Store(const Identity& identity) {
  return Write(DualWriteOp::kStore, identity.id,
               [&](WriteContext* ctx) { return primary_->Store(identity, ctx); });
}

Status DualWriteStore::Remove(std::string_view id) {
  return Write(DualWriteOp::kRemove, id,
               [&](WriteContext* ctx) { return primary_->Remove(id, ctx); });
}

Status DualWriteStore::ApplyDecay(std::string_view id, Micros now, const DecayParams& params) {
  return Write(DualWriteOp::kDecay, id,
               [&](WriteContext* ctx) { return primary_->ApplyDecay(id, now, params, ctx); });
}

Status DualWriteStore::Fetch(std::string_view id, Identity* out) {
  if (config_.read_from == ReadSource::kSecondary) return secondary_->Get(id, out);
  Status s = primary_->Fetch(id, out);
  if (shadow_ && (s.ok() || s.IsNotFound()) && Sample(config_.shadow_read_rate)) {
    shadow_->Submit(std::string(id), s.ok() ? std::optional<Identity>(*out) : std::nullopt);
  }
  return s;
}

Status DualWriteStore::FetchMany(const std::vector<std::string>& ids, std::vector<Identity>* out) {
  if (config_.read_from == ReadSource::kSecondary) {
    std::vector<Identity> found;
    for (const std::string& id : ids) {
      Identity identity;
      Status s = secondary_->Get(id, &identity);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return s;
      found.push_back(std::move(identity));
    }
    *out = std::move(found);
    return Status::OK();
  }
  Status s = primary_->FetchMany(ids, out);
  if (s.ok() && shadow_ && Sample(config_.shadow_read_rate)) {
    for (const Identity& identity : *out) shadow_->Submit(identity.id, identity);
  }
  return s;
}

Status DualWriteStore::List(const ListQuery& query, std::vector<Identity>* out) {
  Status s = primary_->List(query, out);
  if (s.ok() && shadow_ && Sample(config_.shadow_read_rate)) {
    for (const Identity& identity : *out) shadow_->Submit(identity.id, identity);
  }
  return s;
}

Status DualWriteStore::FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                                     std::vector<Identity>* out) {
  Status s = primary_->FindByEntropy(min_entropy, max_entropy, limit, out);
  if (s.ok() && shadow_ && Sample(config_.shadow_read_rate)) {
    for (const Identity& identity : *out) shadow_->Submit(identity.id, identity);
  }
  return s;
}

Status DualWriteStore::Sync() {
  // Syncs both sides, the primary first.
  if (defer_journal_clears_) return ClearSyncedJournal();
  if (!secondary_->in_primary_batch()) {
    Status s = secondary_->Sync();
    if (!s.ok()) return s;
  }
  return primary_->Sync();
}

bool DualWriteStore::NoteUnsynced(std::string_view id) {
  // Read after the secondary's write returned: see sync_epoch_.
  const std::uint64_t epoch = sync_epoch_.load();
  std::lock_guard lock(unsynced_mu_);
  unsynced_.insert_or_assign(std::string(id), epoch);
  return unsynced_.size() >= kMaxUnsyncedClears;
}

void DualWriteStore::ForgetUnsynced(std::string_view id) {
  std::lock_guard lock(unsynced_mu_);
  unsynced_.erase(std::string(id));
}

Status DualWriteStore::SyncBothSides() {
  Status s = primary_->Sync();
  return s.ok() ? secondary_->Sync() : s;
}

Status DualWriteStore::ClearSyncedJournal() {
  std::lock_guard serial(clear_mu_);
  // A write that noted epoch E finished both sides before this bump, so
  // the syncs below made both durable.
  const std::uint64_t epoch = sync_epoch_.fetch_add(1);
  Status s = SyncBothSides();
  if (!s.ok()) return s;
  // The ids whose last secondary write this sync made durable, by lock.
  std::map<StripedLocks::Mutex*, std::vector<std::string>> by_lock;
  {
    std::lock_guard lock(unsynced_mu_);
    for (const auto& [id, written_in] : unsynced_) {
      if (written_in <= epoch) by_lock[&locks_.For(id)].push_back(id);
    }
  }
  for (auto& [mu, ids] : by_lock) {
    // Under the ids' lock, so that no newer write of an id, whose journal
    // entry is the same key, can commit between the check and the delete.
    std::lock_guard id_lock(*mu);
    rocksdb::WriteBatch batch;
    std::vector<std::string> cleared;
    {
      std::lock_guard lock(unsynced_mu_);
      for (std::string& id : ids) {
        auto it = unsynced_.find(id);
        if (it == unsynced_.end() || it->second > epoch) continue;  // Written again since.
        unsynced_.erase(it);
        batch.Delete(journal_, ToSlice(id));
        cleared.push_back(std::move(id));
      }
    }
    // A lost delete only means a redundant replay at the next open.
    (void)secondary_->ClearMarks(cleared);
    if (batch.Count() > 0) (void)db_->Write(&batch, "clearing the dual-write journal");
  }
  return Status::OK();
}

Status DualWriteStore::ReconcileLocked(std::string_view id) {
  if (defer_journal_clears_) {
    // Every copy (replay, repair queue, repair, sweep) is covered as a
    // write is: a journal entry until the copy is durable.
    rocksdb::WriteBatch batch;
    batch.Put(journal_, ToSlice(id), rocksdb::Slice());
    Status s = db_->Write(&batch, "writing the dual-write journal");
    if (!s.ok()) return s;
  }
  Identity record;
  Status s = primary_->Fetch(id, &record);
  if (s.ok()) {
    s = secondary_->Put(record);
  } else if (s.IsNotFound()) {
    s = secondary_->Delete(id);
  }
  if (s.ok() && defer_journal_clears_) (void)NoteUnsynced(id);
  return s;
}

Status DualWriteStore::RepairId(std::string_view id) {
  std::lock_guard lock(locks_.For(id));
  Status s = ReconcileLocked(id);
  metrics_->Operation(DualWriteOp::kRepair, s.ok());
  return s;
}

Status DualWriteStore::ReplayJournal() {
  std::vector<std::string> ids;
  std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(rocksdb::ReadOptions(), journal_));
  std::string key, value;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    CopyIteratorEntry(*it, &key, &value);
    ids.push_back(key);
  }
  Status s = RocksDbDatabase::FromRocks(it->status(), "reading the dual-write journal");
  if (!s.ok()) return s;
  // Secondary writes that may have outlived the primary's (a power cut).
  std::vector<std::string> marked;
  s = secondary_->MarkedIds(&marked);
  if (!s.ok()) return s;
  ids.insert(ids.end(), marked.begin(), marked.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  // Open() runs this before any other thread can write: no id lock needed.
  std::vector<Status> results;
  for (const std::string& id : ids) results.push_back(ReconcileLocked(id));
  // The entries go only once the copies are durable (see CompleteOnSecondary).
  if (!ids.empty() && !secondary_->in_primary_batch()) {
    s = SyncBothSides();
    if (s.ok()) s = secondary_->ClearMarks(ids);
    if (!s.ok()) return s;
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Status& r = results[i];
    rocksdb::WriteBatch batch;
    batch.Delete(journal_, ToSlice(ids[i]));
    if (!r.ok()) (void)Enqueue(ids[i], r, &batch);
    audit_->Append(Entry(DualWriteOp::kRepair, ids[i], r), &batch);
    s = db_->Write(&batch);
    if (!s.ok()) return s;
    if (!r.ok()) backlog_.fetch_add(1);
  }
  return Status::OK();
}

Status DualWriteStore::RetryRepairs(bool force, std::uint64_t* repaired) {
  *repaired = 0;
  std::vector<std::pair<std::string, QueueEntry>> due;
  const Micros now = primary_->clock()();
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(rocksdb::ReadOptions(), queue_));
    std::string key, value;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      CopyIteratorEntry(*it, &key, &value);
      QueueEntry e = DecodeQueueEntry(value);
      if (force || e.next_at <= now) due.emplace_back(key, std::move(e));
    }
    Status s = RocksDbDatabase::FromRocks(it->status(), "reading the repair queue");
    if (!s.ok()) return s;
  }
  for (auto& [id, entry] : due) {
    std::lock_guard lock(locks_.For(id));
    Status r = ReconcileLocked(id);
    metrics_->Operation(DualWriteOp::kRepair, r.ok());
    rocksdb::WriteBatch batch;
    if (r.ok()) {
      MaybeCrash("mid_repair");
      batch.Delete(queue_, ToSlice(id));
    } else {
      entry.attempts += 1;
      const double backoff_ms = std::min(
          config_.repair_retry_max_ms,
          config_.repair_retry_initial_ms *
              std::pow(2.0, static_cast<double>(std::min<std::uint64_t>(entry.attempts, 60))));
      entry.next_at = primary_->clock()() + static_cast<Micros>(backoff_ms * 1000);
      entry.error = r.ToString();
      batch.Put(queue_, ToSlice(id), EncodeQueueEntry(entry));
    }
    audit_->Append(Entry(DualWriteOp::kRepair, id, r), &batch);
    Status s = db_->Write(&batch);
    if (!s.ok()) return s;
    if (r.ok()) {
      ++*repaired;
      backlog_.fetch_sub(1);
    }
  }
  metrics_->SetRepairBacklog(static_cast<double>(backlog_.load()));
  return Status::OK();
}

void DualWriteStore::RepairLoop() {
  constexpr auto kClearInterval = std::chrono::seconds(1);
  auto next_clear = SteadyClock::now() + kClearInterval;
  std::unique_lock lock(repair_mu_);
  while (!stopping_) {
    // Polls at the initial backoff: entries not yet due wait their turn.
    const auto wait = std::chrono::duration<double, std::milli>(
        std::max(1.0, std::min(config_.repair_retry_initial_ms, 1000.0)));
    repair_cv_.wait_for(lock, wait);
    if (stopping_) break;
    bool clear_due = defer_journal_clears_ && SteadyClock::now() >= next_clear;
    if (clear_due) {
      std::lock_guard unsynced(unsynced_mu_);
      clear_due = !unsynced_.empty();
    }
    if (backlog_.load() == 0 && !clear_due) continue;
    lock.unlock();
    if (clear_due) {
      // Keeps the journal, and the replay after a crash, short when writes
      // trickle and never fill kMaxUnsyncedClears.
      (void)ClearSyncedJournal();
      next_clear = SteadyClock::now() + kClearInterval;
    }
    std::uint64_t repaired = 0;
    if (backlog_.load() > 0) (void)RetryRepairs(false, &repaired);
    lock.lock();
  }
}

void DualWriteStore::SweepLoop() {
  std::unique_lock lock(repair_mu_);
  while (!stopping_) {
    sweep_cv_.wait_for(lock, std::chrono::duration<double>(config_.sweep_interval_seconds));
    if (stopping_) break;
    lock.unlock();
    SweepOptions options;
    options.resume = true;
    options.rate_per_second = config_.sweep_rate_per_second;
    options.max_listed = 100;
    SweepReport report;
    (void)Sweep(options, &report);
    lock.lock();
  }
}

}  // namespace kimera
