#include "kimera/secondary_store.h"

#include <tuple>

#include "iterator_entry.h"
#include "kimera/rocksdb_store.h"
#include "kimera/striped_locks.h"
#include "legacy_format.h"
#include "rocksdb_database.h"
#include "secondary_counts.h"

namespace kimera {
namespace {

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// The ids a second database wrote, kept in its marks table until cleared.
class Marks {
 public:
  // `cf` nullptr: no marks table. Marks are added only when `adding`; a
  // table left by a run without synced writes is still listed and cleared.
  Marks(RocksDbDatabase* database, rocksdb::ColumnFamilyHandle* cf, bool adding)
      : database_(database), cf_(cf), adding_(adding && cf != nullptr) {}

  bool on() const { return adding_; }
  void Add(std::string_view id, rocksdb::WriteBatch* batch) const {
    if (adding_) batch->Put(cf_, ToSlice(id), rocksdb::Slice());
  }
  Status List(std::vector<std::string>* out) const {
    out->clear();
    if (cf_ == nullptr) return Status::OK();
    std::unique_ptr<rocksdb::Iterator> it(
        database_->db()->NewIterator(rocksdb::ReadOptions(), cf_));
    std::string key, value;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      CopyIteratorEntry(*it, &key, &value);
      out->push_back(key);
    }
    return RocksDbDatabase::FromRocks(it->status(), "reading the secondary's marks");
  }
  Status Clear(const std::vector<std::string>& ids) const {
    if (cf_ == nullptr || ids.empty()) return Status::OK();
    rocksdb::WriteBatch batch;
    for (const std::string& id : ids) batch.Delete(cf_, ToSlice(id));
    return database_->Write(&batch, "clearing the secondary's marks");
  }

 private:
  RocksDbDatabase* database_;
  rocksdb::ColumnFamilyHandle* cf_;
  bool adding_;
};

// The legacy tables, in the primary's database or in one of their own.
class LegacySecondary : public SecondaryStore {
 public:
  LegacySecondary(RocksDbDatabase* database, std::unique_ptr<RocksDbDatabase> owned, bool in_batch,
                  rocksdb::ColumnFamilyHandle* geoids, rocksdb::ColumnFamilyHandle* scars,
                  rocksdb::ColumnFamilyHandle* marks = nullptr, bool add_marks = false)
      : database_(database),
        owned_(std::move(owned)),
        in_batch_(in_batch),
        geoids_(geoids),
        scars_(scars),
        marks_(database, marks, add_marks) {}

  // Opens the counters, counting the tables when the database has none.
  Status OpenCounters() {
    return SecondaryCounters::Open(
        database_,
        [this](SecondaryCounts* out) {
          rocksdb::ManagedSnapshot snapshot(database_->db());
          return CountRows(snapshot.snapshot(), out);
        },
        &counters_);
  }

  std::string Describe() const override {
    return in_batch_ ? "legacy column families of the primary database"
                     : "second database at " + database_->path() + " (legacy format)";
  }
  bool in_primary_batch() const override { return in_batch_; }

  Status AddToBatch(std::string_view id, const Identity* before, const Identity* after,
                    rocksdb::WriteBatch* batch, BatchedWrite* write) override {
    // A second database's tables are not the primary's: its rows in the
    // primary's batch would land in whatever family has the same number.
    if (!in_batch_) return SecondaryStore::AddToBatch(id, before, after, batch, write);
    // Only the tables this write touches are read: one read on every write
    // but a type change. A row in a table the primary never had the id in
    // stays (the sweep's to find) and so stays out of the counts' change.
    const bool geoids = Touches(before, IdentityType::kGeoid, after);
    const bool scars = Touches(before, IdentityType::kScar, after);
    std::unique_lock lock(locks_.For(id));
    Held held;
    Status s = Holding(id, geoids, scars, &held);
    if (!s.ok()) return s;
    write->change = AddWrite(id, after, held, batch);
    write->lock = std::move(lock);
    return Status::OK();
  }

  void Committed(const BatchedWrite& write) override { counters_->Committed(write.change); }

  Identity Project(const Identity& identity) const override { return ProjectToLegacy(identity); }

  Status Put(const Identity& identity) override { return WriteNow(identity.id, &identity); }
  Status Delete(std::string_view id) override { return WriteNow(id, nullptr); }

  // One write for the group: a dual-written StoreMany costs the second
  // database one WAL append, not one per identity.
  Status PutMany(const std::vector<const Identity*>& identities) override {
    std::vector<std::string_view> ids;
    ids.reserve(identities.size());
    for (const Identity* identity : identities) ids.push_back(identity->id);
    const StripedLocks::Group lock(locks_, ids);
    rocksdb::WriteBatch batch;
    std::vector<SecondaryCountsChange> changes;
    changes.reserve(identities.size());
    for (const Identity* identity : identities) {
      Held held;
      Status s = Holding(identity->id, true, true, &held);
      if (!s.ok()) return s;
      changes.push_back(AddWrite(identity->id, identity, held, &batch));
      marks_.Add(identity->id, &batch);
    }
    Status s = database_->Write(&batch);
    if (!s.ok()) return s;
    for (const SecondaryCountsChange& change : changes) counters_->Committed(change);
    return Status::OK();
  }

  Status Get(std::string_view id, Identity* out) override {
    for (auto [cf, type] :
         {std::pair{geoids_, IdentityType::kGeoid}, std::pair{scars_, IdentityType::kScar}}) {
      rocksdb::PinnableSlice value;
      rocksdb::Status s = database_->db()->Get(rocksdb::ReadOptions(), cf, ToSlice(id), &value);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return RocksDbDatabase::FromRocks(s, "reading the legacy tables");
      return DecodeLegacyRow(id, type, ToView(value), out);
    }
    return Status::NotFound("identity '" + DisplayId(id) + "' not in the legacy tables");
  }

  Status ScanChunk(std::string_view start_after, std::size_t limit,
                   std::vector<Identity>* out) override {
    // Merges the two tables in id order.
    out->clear();
    rocksdb::ReadOptions options;
    options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> g(database_->db()->NewIterator(options, geoids_));
    std::unique_ptr<rocksdb::Iterator> c(database_->db()->NewIterator(options, scars_));
    // Each side's current entry, copied (iterator_entry.h says why).
    struct Side {
      rocksdb::Iterator* it;
      IdentityType type;
      std::string key, value;
      bool valid = false;
      void Load() {
        valid = it->Valid();
        if (valid) CopyIteratorEntry(*it, &key, &value);
      }
    };
    Side sides[] = {{g.get(), IdentityType::kGeoid, {}, {}, false},
                    {c.get(), IdentityType::kScar, {}, {}, false}};
    for (Side& side : sides) {
      side.it->Seek(ToSlice(start_after));
      side.Load();
      if (side.valid && !start_after.empty() && side.key == start_after) {
        side.it->Next();
        side.Load();
      }
    }
    while (out->size() < limit && (sides[0].valid || sides[1].valid)) {
      Side& side =
          sides[0].valid && (!sides[1].valid || sides[0].key <= sides[1].key) ? sides[0] : sides[1];
      Identity identity;
      Status s = DecodeLegacyRow(side.key, side.type, side.value, &identity);
      if (!s.ok()) return s;
      out->push_back(std::move(identity));
      side.it->Next();
      side.Load();
    }
    Status s = RocksDbDatabase::FromRocks(g->status(), "scanning legacy_geoids");
    if (!s.ok()) return s;
    return RocksDbDatabase::FromRocks(c->status(), "scanning legacy_scars");
  }

  Status Counts(SecondaryCounts* out) override {
    *out = counters_->Current();
    return Status::OK();
  }

  Status CheckCounts(bool correct, SecondaryCountCheck* out) override {
    // The rows and the counters at one state: writes go on meanwhile.
    rocksdb::ManagedSnapshot snapshot(database_->db());
    SecondaryCounts found;
    Status s = CountRows(snapshot.snapshot(), &found);
    if (!s.ok()) return s;
    return counters_->Check(snapshot.snapshot(), found, correct, out);
  }

  Status Sync() override { return database_->SyncWal(); }
  bool marks() const override { return marks_.on(); }
  Status MarkedIds(std::vector<std::string>* out) override { return marks_.List(out); }
  Status ClearMarks(const std::vector<std::string>& ids) override { return marks_.Clear(ids); }

 private:
  // The rows of one id in each table (0 or 1; 0 for a table not read).
  struct Held {
    int geoids = 0;
    int scars = 0;
  };

  // Whether a write from `before` to `after` (the primary's records) writes
  // the table of `type`: the table of `after`, the one `before` leaves, and
  // both for a removal of an id the primary did not have.
  static bool Touches(const Identity* before, IdentityType type, const Identity* after) {
    if (after != nullptr && after->identity_type == type) return true;
    if (before != nullptr) return before->identity_type == type;
    return after == nullptr;
  }

  rocksdb::ColumnFamilyHandle* TableOf(const Identity& identity) const {
    return identity.identity_type == IdentityType::kScar ? scars_ : geoids_;
  }

  // What the tables named hold of `id` now; the caller holds the id's lock
  // until the write that follows commits, so it stays true until then.
  Status Holding(std::string_view id, bool geoids, bool scars, Held* out) const {
    for (auto [cf, n, read] :
         {std::tuple{geoids_, &out->geoids, geoids}, std::tuple{scars_, &out->scars, scars}}) {
      if (!read) continue;
      rocksdb::PinnableSlice value;
      rocksdb::Status s = database_->db()->Get(rocksdb::ReadOptions(), cf, ToSlice(id), &value);
      if (!s.ok() && !s.IsNotFound()) {
        return RocksDbDatabase::FromRocks(s, "reading the legacy tables");
      }
      *n = s.ok() ? 1 : 0;
    }
    return Status::OK();
  }

  // Adds to `batch` the write of `after` (nullptr: the removal of `id`)
  // over the rows `held`, and the change of the counts; returns the change.
  // Only rows that exist are deleted: a blind delete of the other table
  // would cost a key in every batch. The table of `after` must have been
  // read.
  SecondaryCountsChange AddWrite(std::string_view id, const Identity* after, const Held& held,
                                 rocksdb::WriteBatch* batch) const {
    if (after != nullptr) batch->Put(TableOf(*after), ToSlice(id), EncodeLegacyRow(*after));
    if (held.geoids != 0 && (after == nullptr || TableOf(*after) != geoids_)) {
      batch->Delete(geoids_, ToSlice(id));
    }
    if (held.scars != 0 && (after == nullptr || TableOf(*after) != scars_)) {
      batch->Delete(scars_, ToSlice(id));
    }
    const SecondaryCountsChange change = CountsChange(held.geoids, held.scars, after);
    counters_->AddToBatch(change, batch);
    return change;
  }

  // Put and Delete: a write of the tables alone, committed here.
  Status WriteNow(std::string_view id, const Identity* after) {
    std::lock_guard lock(locks_.For(id));
    Held held;
    Status s = Holding(id, true, true, &held);
    if (!s.ok()) return s;
    rocksdb::WriteBatch batch;
    const SecondaryCountsChange change = AddWrite(id, after, held, &batch);
    marks_.Add(id, &batch);
    s = database_->Write(&batch);
    if (s.ok()) counters_->Committed(change);
    return s;
  }

  // The rows of each table at `snapshot`, by their keys.
  Status CountRows(const rocksdb::Snapshot* snapshot, SecondaryCounts* out) const {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot;
    options.fill_cache = false;
    for (auto [cf, n] : {std::pair{geoids_, &out->geoids}, std::pair{scars_, &out->scars}}) {
      *n = 0;
      std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(options, cf));
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++*n;
      Status s = RocksDbDatabase::FromRocks(it->status(), "counting the legacy tables");
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  RocksDbDatabase* database_;
  std::unique_ptr<RocksDbDatabase> owned_;
  const bool in_batch_;
  rocksdb::ColumnFamilyHandle* geoids_;
  rocksdb::ColumnFamilyHandle* scars_;
  Marks marks_;
  std::unique_ptr<SecondaryCounters> counters_;
  // Per id: from the read of what the tables hold to the commit. Striped
  // like the dual-write store's and the primary's locks, which writers
  // already hold, so it adds no waiting of its own.
  StripedLocks locks_;
};

// A second database in the current record format.
class CurrentFormatSecondary : public SecondaryStore, private WriteParticipant {
 public:
  CurrentFormatSecondary(std::unique_ptr<RocksDbStore> store, rocksdb::ColumnFamilyHandle* marks,
                         bool add_marks)
      : store_(std::move(store)), marks_(&DatabaseOf(*store_), marks, add_marks) {}

  // Opens the counters (counting the records when the database has none),
  // then joins the store's writes: the counts and the mark go into every
  // record's batch.
  Status Open() {
    Status s = SecondaryCounters::Open(
        &DatabaseOf(*store_),
        [this](SecondaryCounts* out) {
          return store_->Scan({}, [out](const Identity& identity) {
            ++(identity.identity_type == IdentityType::kScar ? out->scars : out->geoids);
            return true;
          });
        },
        &counters_);
    if (!s.ok()) return s;
    store_->AddParticipant(this);
    return Status::OK();
  }

  std::string Describe() const override {
    return "second database at " + DatabaseOf(*store_).path() + " (current format)";
  }
  Identity Project(const Identity& identity) const override { return identity; }
  Status Put(const Identity& identity) override { return store_->Restore(identity); }
  Status Delete(std::string_view id) override {
    Status s = store_->Remove(id);
    return s.IsNotFound() ? Status::OK() : s;
  }
  Status Get(std::string_view id, Identity* out) override { return store_->Fetch(id, out); }
  Status ScanChunk(std::string_view start_after, std::size_t limit,
                   std::vector<Identity>* out) override {
    out->clear();
    if (limit == 0) return Status::OK();
    return store_->Scan(start_after, [&](const Identity& identity) {
      out->push_back(identity);
      return out->size() < limit;
    });
  }
  Status Counts(SecondaryCounts* out) override {
    *out = counters_->Current();
    return Status::OK();
  }
  Status CheckCounts(bool correct, SecondaryCountCheck* out) override {
    const std::unique_ptr<RocksDbStore::Snapshot> snapshot = store_->TakeSnapshot();
    SecondaryCounts found;
    Status s = CountRecords(*snapshot, &found);
    if (!s.ok()) return s;
    return counters_->Check(snapshot->get(), found, correct, out);
  }
  Status Sync() override { return store_->Sync(); }
  bool marks() const override { return marks_.on(); }
  Status MarkedIds(std::vector<std::string>* out) override { return marks_.List(out); }
  Status ClearMarks(const std::vector<std::string>& ids) override { return marks_.Clear(ids); }

 private:
  // The store reads each record before, under the id's lock, so before()
  // is what this secondary really held: the change is exact.
  Status Prepare(RecordWrite& write) override {
    counters_->AddToBatch(CountsChange(write.before(), write.after()), write.batch());
    marks_.Add(write.id(), write.batch());
    return Status::OK();
  }
  // The change is a pure function of the write: computed again, not kept.
  void Committed(RecordWrite& write) override {
    counters_->Committed(CountsChange(write.before(), write.after()));
  }

  // The records per type at `snapshot`. Scan reads at no fixed state, so
  // the ids come from the records' keys at the snapshot (keys only: the
  // records themselves are read through the store).
  Status CountRecords(const RocksDbStore::Snapshot& snapshot, SecondaryCounts* out) {
    RocksDbDatabase& database = DatabaseOf(*store_);
    rocksdb::ColumnFamilyHandle* records = nullptr;
    Status s = database.ColumnFamily(kIdentitiesColumnFamily, &records);
    if (!s.ok()) return s;
    rocksdb::ReadOptions options;
    options.snapshot = snapshot.get();
    options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(database.db()->NewIterator(options, records));
    constexpr std::size_t kChunk = 1000;
    std::vector<std::string> ids;
    std::vector<std::optional<Identity>> found;
    auto count_chunk = [&] {
      Status r = store_->ReadMany(ids, &snapshot, &found);
      for (const std::optional<Identity>& identity : found) {
        if (identity) ++(identity->identity_type == IdentityType::kScar ? out->scars : out->geoids);
      }
      ids.clear();
      return r;
    };
    for (it->SeekToFirst(); s.ok() && it->Valid(); it->Next()) {
      ids.push_back(it->key().ToString());
      if (ids.size() == kChunk) s = count_chunk();
    }
    if (s.ok()) s = RocksDbDatabase::FromRocks(it->status(), "counting the secondary's records");
    if (s.ok() && !ids.empty()) s = count_chunk();
    return s;
  }

  std::unique_ptr<RocksDbStore> store_;
  Marks marks_;
  std::unique_ptr<SecondaryCounters> counters_;
};

}  // namespace

Status SecondaryStore::PutMany(const std::vector<const Identity*>& identities) {
  for (const Identity* identity : identities) {
    Status s = Put(*identity);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status SecondaryStore::AddToBatch(std::string_view, const Identity*, const Identity*,
                                  rocksdb::WriteBatch*, BatchedWrite*) {
  return Status::InvalidArgument("this secondary is not written in the primary's batch");
}

Status OpenLegacySecondary(RocksDbDatabase* database, bool in_primary_batch,
                           std::unique_ptr<SecondaryStore>* out) {
  rocksdb::ColumnFamilyHandle* geoids = nullptr;
  rocksdb::ColumnFamilyHandle* scars = nullptr;
  Status s = database->ColumnFamily(kLegacyGeoidsColumnFamily, &geoids);
  if (s.ok()) s = database->ColumnFamily(kLegacyScarsColumnFamily, &scars);
  if (!s.ok()) return s;
  auto secondary =
      std::make_unique<LegacySecondary>(database, nullptr, in_primary_batch, geoids, scars);
  s = secondary->OpenCounters();
  if (!s.ok()) return s;
  *out = std::move(secondary);
  return Status::OK();
}

Status OpenSecondary(const DualWriteConfig& config, RocksDbDatabase* primary,
                     const RocksDbOptions& primary_options, std::unique_ptr<SecondaryStore>* out) {
  if (config.secondary_is_legacy_cfs()) return OpenLegacySecondary(primary, true, out);
  if (config.secondary.empty()) return Status::InvalidArgument("dual_write.secondary is empty");
  // Unsynced writes reach the disk in no set order between two databases
  // (a flush, the kernel writing pages back): marks let a replay find the
  // secondary's writes that outlived the primary's.
  const RocksDbOptions& options = primary_options;
  const bool marks = !options.sync_writes;
  if (config.secondary_format == "current") {
    std::unique_ptr<RocksDbStore> store;
    Status s = RocksDbStore::Open(config.secondary, options, &store);
    if (!s.ok()) return s;
    rocksdb::ColumnFamilyHandle* marks_cf = nullptr;
    if (marks || DatabaseOf(*store).HasColumnFamily(kSecondaryMarksColumnFamily)) {
      s = DatabaseOf(*store).ColumnFamily(kSecondaryMarksColumnFamily, &marks_cf);
    }
    if (!s.ok()) return s;
    auto secondary = std::make_unique<CurrentFormatSecondary>(std::move(store), marks_cf, marks);
    s = secondary->Open();
    if (!s.ok()) return s;
    *out = std::move(secondary);
    return Status::OK();
  }
  if (config.secondary_format != "legacy") {
    return Status::InvalidArgument("dual_write.secondary_format must be \"legacy\" or \"current\"");
  }
  std::unique_ptr<RocksDbDatabase> database;
  Status s = RocksDbDatabase::Open(config.secondary, options, &database);
  if (!s.ok()) return s;
  rocksdb::ColumnFamilyHandle* geoids = nullptr;
  rocksdb::ColumnFamilyHandle* scars = nullptr;
  s = database->ColumnFamily(kLegacyGeoidsColumnFamily, &geoids);
  if (s.ok()) s = database->ColumnFamily(kLegacyScarsColumnFamily, &scars);
  rocksdb::ColumnFamilyHandle* marks_cf = nullptr;
  if (s.ok() && (marks || database->HasColumnFamily(kSecondaryMarksColumnFamily))) {
    s = database->ColumnFamily(kSecondaryMarksColumnFamily, &marks_cf);
  }
  if (!s.ok()) return s;
  RocksDbDatabase* raw = database.get();
  auto secondary = std::make_unique<LegacySecondary>(raw, std::move(database), false, geoids, scars,
                                                     marks_cf, marks);
  s = secondary->OpenCounters();
  if (!s.ok()) return s;
  *out = std::move(secondary);
  return Status::OK();
}

}  // namespace kimera
