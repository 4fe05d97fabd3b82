#include "secondary_counts.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <string>

namespace kimera {
namespace {

constexpr const char* kGeoidsKey = "geoids";
constexpr const char* kScarsKey = "scars";

int IsType(const Identity* identity, IdentityType type) {
  return identity != nullptr && identity->identity_type == type ? 1 : 0;
}

std::uint64_t NotBelowZero(std::int64_t n) { return n < 0 ? 0 : static_cast<std::uint64_t>(n); }

}  // namespace

SecondaryCountsChange CountsChange(int geoids_before, int scars_before, const Identity* after) {
  SecondaryCountsChange change;
  change.geoids = IsType(after, IdentityType::kGeoid) - geoids_before;
  change.scars = IsType(after, IdentityType::kScar) - scars_before;
  return change;
}

SecondaryCountsChange CountsChange(const Identity* before, const Identity* after) {
  return CountsChange(IsType(before, IdentityType::kGeoid), IsType(before, IdentityType::kScar),
                      after);
}

Status SecondaryCounters::Open(RocksDbDatabase* database, const CountAll& count_all,
                               std::unique_ptr<SecondaryCounters>* out) {
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  if (!database->read_only() || database->HasColumnFamily(kSecondaryCountsColumnFamily)) {
    Status s = database->ColumnFamily(kSecondaryCountsColumnFamily, &cf);
    if (!s.ok()) return s;
  }
  std::unique_ptr<SecondaryCounters> counters(new SecondaryCounters(database, cf));
  std::optional<SecondaryCountsChange> stored;
  Status s = counters->Read(nullptr, &stored);
  if (!s.ok()) return s;
  if (!stored) {
    // Nothing writes the secondary before its open returns, so the count
    // and the counters it starts are of one state.
    SecondaryCounts n;
    s = count_all(&n);
    if (!s.ok()) return s;
    stored = SecondaryCountsChange{static_cast<std::int64_t>(n.geoids),
                                   static_cast<std::int64_t>(n.scars)};
    if (!database->read_only()) {
      rocksdb::WriteBatch batch;
      batch.Put(cf, kGeoidsKey, RocksDbDatabase::EncodeCounter(stored->geoids));
      batch.Put(cf, kScarsKey, RocksDbDatabase::EncodeCounter(stored->scars));
      s = database->Write(&batch, "storing the secondary's counts");
      if (!s.ok()) return s;
    }
  }
  counters->geoids_ = stored->geoids;
  counters->scars_ = stored->scars;
  *out = std::move(counters);
  return Status::OK();
}

Status SecondaryCounters::Read(const rocksdb::Snapshot* snapshot,
                               std::optional<SecondaryCountsChange>* out) const {
  out->reset();
  if (cf_ == nullptr) return Status::OK();
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  std::string geoids, scars;
  rocksdb::Status g = database_->db()->Get(options, cf_, kGeoidsKey, &geoids);
  rocksdb::Status c = database_->db()->Get(options, cf_, kScarsKey, &scars);
  // Both are stored in one batch at the first open: one alone is not a
  // state this code leaves, so it is counted again like none.
  if (g.IsNotFound() || c.IsNotFound()) return Status::OK();
  Status s = RocksDbDatabase::FromRocks(g.ok() ? c : g, "reading the secondary's counts");
  if (!s.ok()) return s;
  *out = SecondaryCountsChange{RocksDbDatabase::DecodeCounter(geoids),
                               RocksDbDatabase::DecodeCounter(scars)};
  return Status::OK();
}

void SecondaryCounters::AddToBatch(const SecondaryCountsChange& change,
                                   rocksdb::WriteBatch* batch) const {
  if (cf_ == nullptr) return;
  // Merges, not Puts of a new total: concurrent writes of other ids commit
  // in any order, and their changes add up whatever the order.
  if (change.geoids != 0) {
    batch->Merge(cf_, kGeoidsKey, RocksDbDatabase::EncodeCounter(change.geoids));
  }
  if (change.scars != 0) batch->Merge(cf_, kScarsKey, RocksDbDatabase::EncodeCounter(change.scars));
}

void SecondaryCounters::Committed(const SecondaryCountsChange& change) {
  if (change.geoids != 0) geoids_.fetch_add(change.geoids);
  if (change.scars != 0) scars_.fetch_add(change.scars);
}

SecondaryCounts SecondaryCounters::Current() const {
  return SecondaryCounts{NotBelowZero(geoids_.load()), NotBelowZero(scars_.load())};
}

Status SecondaryCounters::Check(const rocksdb::Snapshot* snapshot, const SecondaryCounts& found,
                                bool correct, SecondaryCountCheck* out) {
  *out = SecondaryCountCheck{};
  out->found = found;
  std::optional<SecondaryCountsChange> kept;
  Status s = Read(snapshot, &kept);
  if (!s.ok()) return s;
  // Read-only without stored counters: nothing wrote since the count at open.
  if (!kept) kept = SecondaryCountsChange{geoids_.load(), scars_.load()};
  SecondaryCountsChange drift{static_cast<std::int64_t>(found.geoids) - kept->geoids,
                              static_cast<std::int64_t>(found.scars) - kept->scars};
  out->geoids_drift = drift.geoids;
  out->scars_drift = drift.scars;
  if (!correct || drift.empty() || cf_ == nullptr || database_->read_only()) return Status::OK();
  // Writes since the snapshot changed rows and counters alike, so the drift
  // measured there is still the drift now.
  rocksdb::WriteBatch batch;
  AddToBatch(drift, &batch);
  s = database_->Write(&batch, "correcting the secondary's counts");
  if (!s.ok()) return s;
  Committed(drift);
  out->corrected = true;
  return Status::OK();
}

}  // namespace kimera
