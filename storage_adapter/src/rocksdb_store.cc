#include "kimera/rocksdb_store.h"

#include <utility>

#include "iterator_entry.h"
#include "record_codec.h"
#include "rocksdb_database.h"
#include "store_rules.h"

namespace kimera {
namespace {

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

std::string About(std::string_view what, std::string_view id) {
  return std::string(what) + " identity '" + DisplayId(id) + "'";
}

Status NotFound(std::string_view id) {
  return Status::NotFound("identity '" + DisplayId(id) + "' not found");
}

// Full scans read every record once; keeping their blocks out of the cache
// protects the working set of point reads.
rocksdb::ReadOptions ScanReadOptions() {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  return options;
}

void SeekAfter(rocksdb::Iterator* it, std::string_view start_after) {
  if (start_after.empty()) {
    it->SeekToFirst();
    return;
  }
  it->Seek(ToSlice(start_after));
  if (!it->Valid()) return;
  std::string key, value;
  CopyIteratorEntry(*it, &key, &value);
  if (key == start_after) it->Next();
}

// Decodes every record with id > start_after, in id order, into
// visit(Identity&&); stops when visit returns false. One record is decoded
// at a time, so memory does not grow with the database.
template <typename Visit>
Status ForEachRecord(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view start_after,
                     Visit&& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ScanReadOptions(), cf));
  std::string key, value;
  for (SeekAfter(it.get(), start_after); it->Valid(); it->Next()) {
    CopyIteratorEntry(*it, &key, &value);
    Identity identity;
    Status s = DecodeRecord(key, value, &identity);
    if (!s.ok()) return s;
    if (!visit(std::move(identity))) return Status::OK();
  }
  return RocksDbDatabase::FromRocks(it->status(), "scanning identities");
}

}  // namespace

Status RocksDbStore::Open(const std::string& path, const RocksDbOptions& options,
                          std::unique_ptr<RocksDbStore>* out, Clock clock) {
  std::unique_ptr<RocksDbDatabase> database;
  Status s = RocksDbDatabase::Open(path, options, &database);
  if (!s.ok()) return s;
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  s = database->ColumnFamily(kIdentitiesColumnFamily, &cf);
  if (!s.ok()) return s;
  out->reset(
      new RocksDbStore(std::move(database), cf, clock ? std::move(clock) : Clock(SystemNow)));
  return Status::OK();
}

RocksDbStore::RocksDbStore(std::unique_ptr<RocksDbDatabase> database,
                           rocksdb::ColumnFamilyHandle* cf, Clock clock)
    : database_(std::move(database)), identities_(cf), clock_(std::move(clock)) {}

RocksDbStore::~RocksDbStore() = default;

Status RocksDbStore::ReadLocked(std::string_view id, Identity* out) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      database_->db()->Get(rocksdb::ReadOptions(), identities_, ToSlice(id), &value);
  if (s.IsNotFound()) return NotFound(id);
  if (!s.ok()) return RocksDbDatabase::FromRocks(s, About("reading", id));
  return DecodeRecord(id, ToView(value), out);
}

std::unique_ptr<WriteState>& RecordWrite::state() {
  if (states_.size() <= current_) states_.resize(current_ + 1);
  return states_[current_];
}

Status RocksDbStore::Prepare(RecordWrite& write) {
  for (std::size_t p = 0; p < participants_.size(); ++p) {
    write.current_ = p;
    Status s = participants_[p]->Prepare(write);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status RocksDbStore::CommitPrepared(std::vector<RecordWrite>& writes, rocksdb::WriteBatch* batch,
                                    const std::string& what) {
  Status s = database_->Write(batch, what);
  if (!s.ok()) return s;
  for (auto write = writes.rbegin(); write != writes.rend(); ++write) {
    for (std::size_t p = participants_.size(); p-- > 0;) {
      write->current_ = p;
      participants_[p]->Committed(*write);
    }
  }
  return Status::OK();
}

Status RocksDbStore::CommitLocked(std::string_view id, const Identity* before,
                                  const Identity* after, WriteContext* context) {
  rocksdb::WriteBatch batch;
  if (after != nullptr) {
    // Encoded before the participants run, so a record too large to store
    // never reaches them.
    std::string value;
    Status s = EncodeRecord(*after, &value);
    if (!s.ok()) return s;
    batch.Put(identities_, ToSlice(id), value);
  } else {
    batch.Delete(identities_, ToSlice(id));
  }
  std::vector<RecordWrite> writes;
  writes.push_back(RecordWrite(id, before, after, &batch, context));
  Status s = Prepare(writes.front());
  if (!s.ok()) return s;
  return CommitPrepared(writes, &batch, About("writing", id));
}

Status RocksDbStore::Store(const Identity& identity) { return Store(identity, nullptr); }

Status RocksDbStore::Store(const Identity& identity, WriteContext* context) {
  Status s = Validate(identity);
  if (!s.ok()) return s;
  Identity after = identity;
  std::lock_guard lock(locks_.For(identity.id));
  Identity before;
  s = ReadLocked(identity.id, &before);
  // A stored record that cannot be decoded is not overwritten: its first
  // created_at and the participants' view of it would be lost. Restore is the
  // repair path.
  if (!s.ok() && !s.IsNotFound()) return s;
  const Identity* old = s.ok() ? &before : nullptr;
  store_rules::StampForStore(old, clock_(), &after);
  return CommitLocked(identity.id, old, &after, context);
}

Status RocksDbStore::StoreMany(const std::vector<Identity>& identities, std::size_t* stored) {
  return StoreMany(identities, {}, stored);
}

Status RocksDbStore::StoreMany(const std::vector<Identity>& identities,
                               const std::vector<WriteContext*>& contexts, std::size_t* stored) {
  if (stored != nullptr) *stored = 0;
  // The count and repeated ids first; each identity is validated and
  // encoded in the first pass below, before any participant sees one.
  Status s = CheckStoreMany(identities, [](const Identity&) { return Status::OK(); });
  if (!s.ok()) return s;
  if (identities.empty()) return Status::OK();
  std::vector<std::string> ids;
  std::vector<std::string_view> views;
  ids.reserve(identities.size());
  views.reserve(identities.size());
  for (const Identity& identity : identities) views.push_back(ids.emplace_back(identity.id));
  const StripedLocks::Group lock(locks_, views);
  std::vector<std::optional<Identity>> before;
  // As in Store, a stored record that cannot be decoded is not overwritten.
  s = ReadMany(ids, nullptr, &before);
  if (!s.ok()) return s;
  const Micros now = clock_();
  // Two passes, each taking one identity at a time through all its steps
  // while it is in the cache (step by step over thousands of identities
  // made a batch slower than as many Store calls): validate, stamp and
  // encode every record, so that a refused group reaches no participant;
  // then the participants.
  std::vector<Identity> after;
  after.reserve(identities.size());
  rocksdb::WriteBatch batch;
  std::string value;
  for (std::size_t i = 0; i < identities.size(); ++i) {
    s = Validate(identities[i]);
    if (!s.ok()) return AboutElement(i, s);
    Identity& record = after.emplace_back(identities[i]);
    store_rules::StampForStore(before[i] ? &*before[i] : nullptr, now, &record);
    value.clear();  // EncodeRecord appends.
    s = EncodeRecord(record, &value);
    if (!s.ok()) return AboutElement(i, s);
    batch.Put(identities_, ToSlice(ids[i]), value);
  }
  std::vector<RecordWrite> writes;
  writes.reserve(identities.size());
  for (std::size_t i = 0; i < identities.size(); ++i) {
    RecordWrite& write =
        writes.emplace_back(RecordWrite(ids[i], before[i] ? &*before[i] : nullptr, &after[i],
                                        &batch, contexts.empty() ? nullptr : contexts[i]));
    s = Prepare(write);
    if (!s.ok()) return AboutElement(i, s);
  }
  s = CommitPrepared(writes, &batch,
                     "writing " + std::to_string(writes.size()) + " identities from " +
                         About("", ids.front()).substr(1));
  if (s.ok() && stored != nullptr) *stored = identities.size();
  return s;
}

Status RocksDbStore::Fetch(std::string_view id, Identity* out) { return ReadLocked(id, out); }

Status RocksDbStore::Remove(std::string_view id) { return Remove(id, nullptr); }

Status RocksDbStore::Remove(std::string_view id, WriteContext* context) {
  std::lock_guard lock(locks_.For(id));
  Identity before;
  Status s = ReadLocked(id, &before);
  if (!s.ok()) return s;
  return CommitLocked(id, &before, nullptr, context);
}

Status RocksDbStore::Restore(const Identity& identity, WriteContext* context) {
  Status s = Validate(identity);
  if (!s.ok()) return s;
  std::lock_guard lock(locks_.For(identity.id));
  Identity before;
  s = ReadLocked(identity.id, &before);
  // Restore must be able to replace a corrupt record (that is what repair
  // is for); the participants then see it as new.
  if (!s.ok() && !s.IsNotFound() && !s.IsCorruption()) return s;
  return CommitLocked(identity.id, s.ok() ? &before : nullptr, &identity, context);
}

Status RocksDbStore::ApplyDecay(std::string_view id, Micros now, const DecayParams& params) {
  return ApplyDecay(id, now, params, nullptr);
}

Status RocksDbStore::ApplyDecay(std::string_view id, Micros now, const DecayParams& params,
                                WriteContext* context) {
  std::lock_guard lock(locks_.For(id));
  Identity before;
  Status s = ReadLocked(id, &before);
  if (!s.ok()) return s;
  Identity after = before;
  s = store_rules::ApplyDecayStep(&after, now, params);
  if (!s.ok()) return s;
  return CommitLocked(id, &before, &after, context);
}

namespace {

// Reads `ids` in one MultiGet at `snapshot` and hands each value found to
// `decode(i, bytes)`; absent ids are skipped.
template <typename Decode>
Status MultiRead(RocksDbDatabase& database, rocksdb::ColumnFamilyHandle* cf,
                 const std::vector<std::string>& ids, const rocksdb::Snapshot* snapshot,
                 Decode&& decode) {
  if (ids.empty()) return Status::OK();
  std::vector<rocksdb::Slice> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) keys.push_back(ToSlice(id));
  std::vector<rocksdb::PinnableSlice> values(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  database.db()->MultiGet(ro, cf, keys.size(), keys.data(), values.data(), statuses.data());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) {
      return RocksDbDatabase::FromRocks(statuses[i], About("reading", ids[i]));
    }
    Status s = decode(i, ToView(values[i]));
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace

Status RocksDbStore::FetchMany(const std::vector<std::string>& ids, std::vector<Identity>* out) {
  std::vector<Identity> found;
  found.reserve(ids.size());
  Status s =
      MultiRead(*database_, identities_, ids, nullptr, [&](std::size_t i, std::string_view bytes) {
        return DecodeRecord(ids[i], bytes, &found.emplace_back());
      });
  if (!s.ok()) return s;
  *out = std::move(found);
  return Status::OK();
}

RocksDbStore::Snapshot::~Snapshot() { database_->db()->ReleaseSnapshot(snapshot_); }

std::unique_ptr<RocksDbStore::Snapshot> RocksDbStore::TakeSnapshot() const {
  return std::unique_ptr<Snapshot>(new Snapshot(database_.get(), database_->db()->GetSnapshot()));
}

Status RocksDbStore::ReadMany(const std::vector<std::string>& ids, const Snapshot* snapshot,
                              std::vector<std::optional<Identity>>* out) {
  std::vector<std::optional<Identity>> found(ids.size());
  Status s = MultiRead(*database_, identities_, ids, snapshot ? snapshot->get() : nullptr,
                       [&](std::size_t i, std::string_view bytes) {
                         return DecodeRecord(ids[i], bytes, &found[i].emplace());
                       });
  if (!s.ok()) return s;
  *out = std::move(found);
  return Status::OK();
}

Status RocksDbStore::ReadHeaders(const std::vector<std::string>& ids,
                                 std::vector<std::optional<RecordHeader>>* out) {
  std::vector<std::optional<RecordHeader>> found(ids.size());
  Status s =
      MultiRead(*database_, identities_, ids, nullptr, [&](std::size_t i, std::string_view bytes) {
        return DecodeRecordHeader(ids[i], bytes, &found[i].emplace());
      });
  if (!s.ok()) return s;
  *out = std::move(found);
  return Status::OK();
}

Status RocksDbStore::Scan(std::string_view start_after, const ScanVisitor& visit) {
  return ForEachRecord(database_->db(), identities_, start_after,
                       [&](Identity&& identity) { return visit(identity); });
}

Status RocksDbStore::Count(std::optional<IdentityType> type, std::uint64_t* out) {
  std::uint64_t n = 0;
  if (!type) {
    // Counting every record needs only the keys.
    std::unique_ptr<rocksdb::Iterator> it(
        database_->db()->NewIterator(ScanReadOptions(), identities_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    Status s = RocksDbDatabase::FromRocks(it->status(), "counting identities");
    if (!s.ok()) return s;
  } else {
    Status s = ForEachRecord(database_->db(), identities_, {}, [&](Identity&& identity) {
      n += identity.identity_type == *type ? 1 : 0;
      return true;
    });
    if (!s.ok()) return s;
  }
  *out = n;
  return Status::OK();
}

Status RocksDbStore::List(const ListQuery& query, std::vector<Identity>* out) {
  store_rules::ListCollector collector(query);
  Status s = ForEachRecord(database_->db(), identities_, {}, [&](Identity&& identity) {
    collector.Offer(std::move(identity));
    return true;
  });
  if (!s.ok()) return s;
  *out = collector.Take();
  return Status::OK();
}

Status RocksDbStore::FindByEntropy(double min_entropy, double max_entropy, std::size_t limit,
                                   std::vector<Identity>* out) {
  store_rules::EntropyCollector collector(min_entropy, max_entropy, limit);
  Status s = ForEachRecord(database_->db(), identities_, {}, [&](Identity&& identity) {
    collector.Offer(std::move(identity));
    return true;
  });
  if (!s.ok()) return s;
  *out = collector.Take();
  return Status::OK();
}

Status RocksDbStore::Sync() { return database_->SyncWal(); }

void RocksDbStore::AddParticipant(WriteParticipant* participant) {
  participants_.push_back(participant);
}

void RocksDbStore::RemoveParticipant(WriteParticipant* participant) {
  std::erase(participants_, participant);
}

RocksDbDatabase& DatabaseOf(const RocksDbStore& store) { return *store.database_; }

}  // namespace kimera
