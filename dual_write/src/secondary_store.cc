#include "kimera/secondary_store.h"

#include "iterator_entry.h"
#include "kimera/rocksdb_store.h"
#include "legacy_format.h"
#include "rocksdb_database.h"

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

  std::string Describe() const override {
    return in_batch_ ? "legacy column families of the primary database"
                     : "second database at " + database_->path() + " (legacy format)";
  }
  bool in_primary_batch() const override { return in_batch_; }

  Status AddToBatch(std::string_view id, const Identity* before, const Identity* after,
                    rocksdb::WriteBatch* batch) override {
    // A second database's tables are not the primary's: its rows in the
    // primary's batch would land in whatever family has the same number.
    if (!in_batch_) return SecondaryStore::AddToBatch(id, before, after, batch);
    // The table `before` is in holds the row; the other table has none, so
    // only a record whose type changed must leave its old table. Skipping
    // the blind delete of the other table saves a key in every batch.
    if (after != nullptr) {
      batch->Put(TableOf(*after), ToSlice(id), EncodeLegacyRow(*after));
      if (before != nullptr && TableOf(*before) != TableOf(*after)) {
        batch->Delete(TableOf(*before), ToSlice(id));
      }
    } else if (before != nullptr) {
      batch->Delete(TableOf(*before), ToSlice(id));
    } else {
      AddRemoval(id, batch);
    }
    return Status::OK();
  }

  Identity Project(const Identity& identity) const override { return ProjectToLegacy(identity); }

  // Put and Delete repair and roll back: what the tables hold is unknown, so
  // both are cleared of the id.
  Status Put(const Identity& identity) override {
    rocksdb::WriteBatch batch;
    batch.Put(TableOf(identity), ToSlice(identity.id), EncodeLegacyRow(identity));
    batch.Delete(TableOf(identity) == geoids_ ? scars_ : geoids_, ToSlice(identity.id));
    marks_.Add(identity.id, &batch);
    return database_->Write(&batch);
  }

  Status Delete(std::string_view id) override {
    rocksdb::WriteBatch batch;
    AddRemoval(id, &batch);
    marks_.Add(id, &batch);
    return database_->Write(&batch);
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

  Status Count(std::uint64_t* out) override {
    std::uint64_t n = 0;
    rocksdb::ReadOptions options;
    options.fill_cache = false;
    for (rocksdb::ColumnFamilyHandle* cf : {geoids_, scars_}) {
      std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(options, cf));
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
      Status s = RocksDbDatabase::FromRocks(it->status(), "counting the legacy tables");
      if (!s.ok()) return s;
    }
    *out = n;
    return Status::OK();
  }

  Status Sync() override { return database_->SyncWal(); }
  bool marks() const override { return marks_.on(); }
  Status MarkedIds(std::vector<std::string>* out) override { return marks_.List(out); }
  Status ClearMarks(const std::vector<std::string>& ids) override { return marks_.Clear(ids); }

 private:
  rocksdb::ColumnFamilyHandle* TableOf(const Identity& identity) const {
    return identity.identity_type == IdentityType::kScar ? scars_ : geoids_;
  }
  void AddRemoval(std::string_view id, rocksdb::WriteBatch* batch) const {
    batch->Delete(geoids_, ToSlice(id));
    batch->Delete(scars_, ToSlice(id));
  }

  RocksDbDatabase* database_;
  std::unique_ptr<RocksDbDatabase> owned_;
  const bool in_batch_;
  rocksdb::ColumnFamilyHandle* geoids_;
  rocksdb::ColumnFamilyHandle* scars_;
  Marks marks_;
};

// A second database in the current record format.
class CurrentFormatSecondary : public SecondaryStore, private WriteParticipant {
 public:
  CurrentFormatSecondary(std::unique_ptr<RocksDbStore> store, rocksdb::ColumnFamilyHandle* marks,
                         bool add_marks)
      : store_(std::move(store)), marks_(&DatabaseOf(*store_), marks, add_marks) {
    if (marks_.on()) store_->AddParticipant(this);
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
  Status Count(std::uint64_t* out) override { return store_->Count(std::nullopt, out); }
  Status Sync() override { return store_->Sync(); }
  bool marks() const override { return marks_.on(); }
  Status MarkedIds(std::vector<std::string>* out) override { return marks_.List(out); }
  Status ClearMarks(const std::vector<std::string>& ids) override { return marks_.Clear(ids); }

 private:
  // The mark joins the record's own batch.
  Status Participate(RecordWrite& write) override {
    marks_.Add(write.id(), write.batch());
    return write.Continue();
  }

  std::unique_ptr<RocksDbStore> store_;
  Marks marks_;
};

}  // namespace

Status SecondaryStore::AddToBatch(std::string_view, const Identity*, const Identity*,
                                  rocksdb::WriteBatch*) {
  return Status::InvalidArgument("this secondary is not written in the primary's batch");
}

Status OpenLegacySecondary(RocksDbDatabase* database, bool in_primary_batch,
                           std::unique_ptr<SecondaryStore>* out) {
  rocksdb::ColumnFamilyHandle* geoids = nullptr;
  rocksdb::ColumnFamilyHandle* scars = nullptr;
  Status s = database->ColumnFamily(kLegacyGeoidsColumnFamily, &geoids);
  if (s.ok()) s = database->ColumnFamily(kLegacyScarsColumnFamily, &scars);
  if (!s.ok()) return s;
  *out = std::make_unique<LegacySecondary>(database, nullptr, in_primary_batch, geoids, scars);
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
    *out = std::make_unique<CurrentFormatSecondary>(std::move(store), marks_cf, marks);
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
  *out = std::make_unique<LegacySecondary>(raw, std::move(database), false, geoids, scars, marks_cf,
                                           marks);
  return Status::OK();
}

}  // namespace kimera
