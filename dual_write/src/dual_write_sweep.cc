// Consistency checks, sweeps, stats and cleanup of DualWriteStore.
#include <chrono>
#include <optional>
#include <thread>

#include "audit_log.h"
#include "dual_write_metrics.h"
#include "kimera/dual_write_store.h"
#include "kimera/identity_json.h"
#include "legacy_format.h"
#include "shadow_reader.h"

namespace kimera {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

constexpr const char* kSweepCursorKey = "sweep_cursor";
constexpr const char* kReadFromKey = "read_from";
constexpr const char* kLastSwitchKey = "last_switch";
constexpr const char* kLastCleanSweepKey = "last_clean_sweep";
constexpr std::size_t kChunk = 1000;

Status ReadState(RocksDbDatabase* db, rocksdb::ColumnFamilyHandle* cf, const char* key,
                 std::string* out) {
  rocksdb::Status s = db->db()->Get(rocksdb::ReadOptions(), cf, key, out);
  if (s.IsNotFound()) return Status::NotFound(key);
  return RocksDbDatabase::FromRocks(s, "reading the dual-write state");
}

bool Empty(RocksDbDatabase* db, const char* cf_name) {
  if (!db->HasColumnFamily(cf_name)) return true;
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  if (!db->ColumnFamily(cf_name, &cf).ok()) return false;
  std::unique_ptr<rocksdb::Iterator> it(db->db()->NewIterator(rocksdb::ReadOptions(), cf));
  it->SeekToFirst();
  return !it->Valid();
}

// A step of a sweep: a chunk of each side from the cursor, walked together
// in id order up to the last id both chunks cover.
class ChunkPair {
 public:
  // Reads up to kChunk identities of each side after `cursor`.
  Status Read(RocksDbStore& primary, SecondaryStore& secondary, const std::string& cursor) {
    primary_.clear();
    Status s = primary.Scan(cursor, [&](const Identity& identity) {
      primary_.push_back(identity);
      return primary_.size() < kChunk;
    });
    if (s.ok()) s = secondary.ScanChunk(cursor, kChunk, &secondary_);
    if (!s.ok()) return s;
    // Only ids up to the smaller last id of a full chunk are known on both sides.
    bound_ = nullptr;
    if (primary_.size() == kChunk) bound_ = &primary_.back().id;
    if (secondary_.size() == kChunk && (!bound_ || secondary_.back().id < *bound_)) {
      bound_ = &secondary_.back().id;
    }
    i_ = j_ = 0;
    return Status::OK();
  }

  // The last id known on both sides; null when neither chunk was full (the
  // sweep's last step). Valid until the next Read.
  const std::string* bound() const { return bound_; }

  // The next id in order: its identity on each side, null on a side without
  // it. False once both chunks are walked up to the bound.
  bool Next(const Identity** p, const Identity** q) {
    const bool has_p = i_ < primary_.size() && Within(primary_[i_].id);
    const bool has_s = j_ < secondary_.size() && Within(secondary_[j_].id);
    if (!has_p && !has_s) return false;
    *p = nullptr;
    *q = nullptr;
    if (has_p && (!has_s || primary_[i_].id <= secondary_[j_].id)) *p = &primary_[i_];
    if (has_s && (!has_p || secondary_[j_].id <= primary_[i_].id)) *q = &secondary_[j_];
    if (*p) ++i_;
    if (*q) ++j_;
    return true;
  }

 private:
  bool Within(const std::string& id) const { return !bound_ || id <= *bound_; }

  std::vector<Identity> primary_, secondary_;
  const std::string* bound_ = nullptr;  // The last id of one of the chunks.
  std::size_t i_ = 0, j_ = 0;
};

// How far a sweep paced at `rate_per_second` is ahead of its schedule.
double SecondsAhead(std::size_t visited, double rate_per_second, SteadyClock::time_point start) {
  const double due = static_cast<double>(visited) / rate_per_second;
  return due - SecondsSince(start);
}

}  // namespace

bool DualWriteStore::Stopping() {
  std::lock_guard lock(repair_mu_);
  return stopping_;
}

bool DualWriteStore::PauseUnlessStopping(double seconds) {
  std::unique_lock lock(repair_mu_);
  return sweep_cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                            [this] { return stopping_; });
}

void DualWriteStore::DrainShadowReads() {
  if (shadow_) shadow_->Drain();
}

Status DualWriteStore::LoadState(const char* key, std::string* out) {
  return ReadState(db_, state_, key, out);
}

Status DualWriteStore::SaveState(const char* key, const std::string& value) {
  rocksdb::WriteBatch batch;
  batch.Put(state_, key, value);
  return db_->Write(&batch, "writing the dual-write state");
}

Status DualWriteStore::ClearState(const char* key) {
  rocksdb::WriteBatch batch;
  batch.Delete(state_, key);
  return db_->Write(&batch, "clearing the dual-write state");
}

Status DualWriteStore::RecordSwitch() {
  const std::string now_reading = ReadSourceName(config_.read_from);
  std::string saved;
  Status s = LoadState(kReadFromKey, &saved);
  if (s.IsNotFound()) return SaveState(kReadFromKey, now_reading);
  if (!s.ok()) return s;
  if (saved == now_reading) return Status::OK();
  rocksdb::WriteBatch batch;
  batch.Put(state_, kReadFromKey, now_reading);
  batch.Put(state_, kLastSwitchKey, std::to_string(primary_->clock()()));
  return db_->Write(&batch);
}

Status DualWriteStore::CompareLocked(std::string_view id, IdCheck* out) {
  Identity p, q;
  Status ps = primary_->Fetch(id, &p);
  if (!ps.ok() && !ps.IsNotFound()) return ps;
  Status qs = secondary_->Get(id, &q);
  if (!qs.ok() && !qs.IsNotFound()) return qs;
  std::optional<Identity> projected;
  if (ps.ok()) projected = secondary_->Project(p);
  *out = CompareSides(std::string(id), projected ? &*projected : nullptr, qs.ok() ? &q : nullptr);
  return Status::OK();
}

Status DualWriteStore::CheckIdLocked(std::string_view id, IdCheck* out) {
  const auto start = SteadyClock::now();
  Status s = CompareLocked(id, out);
  if (!s.ok()) return s;
  metrics_->IdCheckDuration(SecondsSince(start));
  metrics_->Check(*out);
  return Status::OK();
}

Status DualWriteStore::CheckId(std::string_view id, IdCheck* out) {
  std::lock_guard lock(locks_.For(id));
  return CheckIdLocked(id, out);
}

Status DualWriteStore::Sweep(const SweepOptions& options, SweepReport* report) {
  *report = SweepReport{};
  const auto start = SteadyClock::now();
  std::string cursor;
  if (options.resume) {
    Status s = LoadState(kSweepCursorKey, &cursor);
    if (!s.ok() && !s.IsNotFound()) return s;
  }
  const bool full = cursor.empty();
  bool complete = false;
  ChunkPair chunks;
  while (!complete) {
    if (Stopping()) break;
    Status s = chunks.Read(*primary_, *secondary_, cursor);
    if (!s.ok()) return s;
    const std::string* bound = chunks.bound();
    complete = !bound;
    const Identity* p = nullptr;
    const Identity* q = nullptr;
    while (chunks.Next(&p, &q)) {
      const std::string id = p ? p->id : q->id;
      ++report->visited;
      std::optional<Identity> projected;
      if (p) projected = secondary_->Project(*p);
      IdCheck check = CompareSides(id, projected ? &*projected : nullptr, q);
      if (check.result == CheckResult::kConsistent) {
        metrics_->Check(check);
        continue;
      }
      // A write may have landed between the two scans: look again under the lock.
      std::lock_guard lock(locks_.For(id));
      s = CheckIdLocked(id, &check);
      if (!s.ok()) return s;
      if (check.result == CheckResult::kConsistent) continue;
      ++report->differences;
      if (options.repair) {
        s = ReconcileLocked(id);
        metrics_->Operation(DualWriteOp::kRepair, s.ok());
        if (s.ok()) {
          ++report->repaired;
          MaybeCrash("mid_repair");
          (void)audit_->Write(Entry(DualWriteOp::kRepair, id, s));
        }
      }
      if (report->listed.size() < options.max_listed) report->listed.push_back(std::move(check));
    }
    if (bound) cursor = *bound;
    Status saved = complete ? ClearState(kSweepCursorKey) : SaveState(kSweepCursorKey, cursor);
    if (!saved.ok()) return saved;
    if (options.progress) options.progress(report->visited);
    if (options.rate_per_second > 0) {
      const double ahead = SecondsAhead(report->visited, options.rate_per_second, start);
      // On the stop signal, so that closing the store does not wait out
      // the pacing of a slow sweep.
      if (ahead > 0 && PauseUnlessStopping(ahead)) break;
    }
  }
  if (complete && full) {
    // After the walk, not during it: rows and counters compared at one
    // snapshot stay exact however writes go on.
    SecondaryCountCheck counts;
    Status s = secondary_->CheckCounts(options.repair, &counts);
    if (!s.ok()) return s;
    report->counts_checked = true;
    report->counted_geoids = counts.found.geoids;
    report->counted_scars = counts.found.scars;
    report->geoids_count_drift = counts.geoids_drift;
    report->scars_count_drift = counts.scars_drift;
    report->counts_corrected = counts.corrected;
  }
  report->seconds = SecondsSince(start);
  report->passes = 1;
  if (complete && full) {
    metrics_->SweepDuration(report->seconds);
    // After a repair sweep the sides are equal even though differences were found.
    const bool clean = report->differences == report->repaired;
    metrics_->SetConsistent(clean);
    if (clean) {
      Status s = SaveState(kLastCleanSweepKey, std::to_string(primary_->clock()()));
      if (!s.ok()) return s;
    }
  }
  return Status::OK();
}

Status DualWriteStore::VerifyUntilClean(int max_passes, const SweepOptions& options,
                                        SweepReport* report) {
  {
    std::lock_guard lock(changed_mu_);
    tracking_changes_ = true;
    changed_.clear();
  }
  SweepOptions first = options;
  first.resume = false;
  first.max_listed = ~std::size_t{0};
  Status s = Sweep(first, report);
  std::set<std::string> suspects;
  for (const IdCheck& c : report->listed) suspects.insert(c.id);
  while (s.ok() && static_cast<int>(report->passes) < max_passes) {
    {
      std::lock_guard lock(changed_mu_);
      suspects.merge(changed_);
      changed_.clear();
    }
    if (report->differences == report->repaired && suspects.empty()) break;
    std::vector<IdCheck> still;
    for (const std::string& id : suspects) {
      IdCheck check;
      s = CheckId(id, &check);
      if (!s.ok()) break;
      if (check.result != CheckResult::kConsistent && options.repair) {
        s = RepairId(id);
        if (!s.ok()) break;
        ++report->repaired;
        s = CheckId(id, &check);
        if (!s.ok()) break;
      }
      if (check.result != CheckResult::kConsistent) still.push_back(std::move(check));
    }
    ++report->passes;
    report->differences = still.size();
    report->repaired = 0;
    report->listed = std::move(still);
    suspects.clear();
    for (const IdCheck& c : report->listed) suspects.insert(c.id);
    if (report->listed.empty()) {
      std::lock_guard lock(changed_mu_);
      if (changed_.empty()) break;
    }
  }
  {
    std::lock_guard lock(changed_mu_);
    tracking_changes_ = false;
    changed_.clear();
  }
  if (report->listed.size() > options.max_listed) report->listed.resize(options.max_listed);
  if (s.ok() && report->passes > 1) {
    metrics_->SetConsistent(report->differences == 0);
    if (report->differences == 0) {
      s = SaveState(kLastCleanSweepKey, std::to_string(primary_->clock()()));
    }
  }
  return s;
}

Status DualWriteStore::Stats(std::size_t recent, DualWriteStats* out,
                             std::optional<std::uint64_t> primary_count) {
  DualWriteStats stats;
  stats.total = audit_->total();
  SecondaryCounts counts;
  Status s = audit_->Failures(&stats.failures);
  if (s.ok() && primary_count) stats.primary_count = *primary_count;
  if (s.ok() && !primary_count) s = primary_->Count(std::nullopt, &stats.primary_count);
  if (s.ok()) s = secondary_->Counts(&counts);
  if (s.ok()) s = audit_->Recent(recent, &stats.recent);
  if (!s.ok()) return s;
  stats.secondary_geoids = counts.geoids;
  stats.secondary_scars = counts.scars;
  stats.secondary_count = counts.total();
  stats.failures = std::min(stats.failures, stats.total);
  stats.successes = stats.total - stats.failures;
  stats.success_rate =
      stats.total == 0 ? 1.0
                       : static_cast<double>(stats.successes) / static_cast<double>(stats.total);
  stats.repair_backlog = backlog_.load();
  stats.secondary = secondary_->Describe();
  *out = std::move(stats);
  return Status::OK();
}

Status DualWriteStore::Cleanup(RocksDbDatabase* database, const DualWriteConfig& config) {
  auto refuse = [](const std::string& why) {
    return Status::InvalidArgument("cleanup refused: " + why);
  };
  if (config.enabled) {
    return refuse("dual-write is on (dual_write.enabled or KIMERA_ID_DUAL_WRITE=1); turn it off");
  }
  if (!database->HasColumnFamily(kStateColumnFamily)) {
    return refuse(
        "no full sweep without differences was ever recorded; run kimera dual-write verify");
  }
  rocksdb::ColumnFamilyHandle* state = nullptr;
  Status s = database->ColumnFamily(kStateColumnFamily, &state);
  if (!s.ok()) return s;
  std::string clean, last_switch;
  s = ReadState(database, state, kLastCleanSweepKey, &clean);
  if (s.IsNotFound()) {
    return refuse(
        "no full sweep without differences was ever recorded; run kimera dual-write verify");
  }
  if (!s.ok()) return s;
  s = ReadState(database, state, kLastSwitchKey, &last_switch);
  if (!s.ok() && !s.IsNotFound()) return s;
  if (s.ok() && std::stoll(clean) <= std::stoll(last_switch)) {
    return refuse("the last clean sweep (" + FormatTimestamp(std::stoll(clean)) +
                  ") finished before the last switch of read_from (" +
                  FormatTimestamp(std::stoll(last_switch)) + "); run kimera dual-write verify");
  }
  if (!Empty(database, kJournalColumnFamily)) {
    return refuse(
        "the intent journal is not empty; open the store with dual-write on to replay it");
  }
  if (!Empty(database, kRepairQueueColumnFamily)) {
    return refuse("the repair queue is not empty; run kimera dual-write repair");
  }
  // The counts go with the tables they count, and first: each drop is a step
  // of its own, and a crash between them must leave tables without counters
  // (counted again at the next open), never counters without their tables.
  for (const char* cf : {kSecondaryCountsColumnFamily, kLegacyGeoidsColumnFamily,
                         kLegacyScarsColumnFamily, kAuditColumnFamily}) {
    if (!database->HasColumnFamily(cf)) continue;
    s = database->DropColumnFamily(cf);
    if (!s.ok() && !s.IsNotFound()) return s;
  }
  return Status::OK();
}

}  // namespace kimera
