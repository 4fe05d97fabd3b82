#include "kimera/entropy_index.h"

#include <rocksdb/iterator.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "coding.h"
#include "entropy_population.h"
#include "iterator_entry.h"

namespace kimera {
namespace {

constexpr char kOrderedPrefix = 'x';
constexpr char kByIdPrefix = 'i';
constexpr char kIntentPrefix = 'p';
constexpr char kSummaryPrefix = 's';
constexpr char kTypeTotal = 't';
constexpr char kCellTotal = 'c';
constexpr char kExactTotal = 'o';
constexpr char kSummaryComplete = 'v';

void PutDouble(double v, std::string* out) {
  char buf[sizeof(double)];
  std::memcpy(buf, &v, sizeof v);
  out->append(buf, sizeof buf);
}

double GetDouble(const char* p) {
  double v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Positive doubles order like their bit patterns; setting the sign bit puts
// them above the (bit-inverted) negatives. Inverting the whole word then
// makes a forward scan descend. -0.0 is folded into 0.0 so equal entropies
// share one key.
std::uint64_t DescendingBits(double entropy) {
  if (entropy == 0) entropy = 0;
  std::uint64_t bits = std::bit_cast<std::uint64_t>(entropy);
  bits = (bits & (1ull << 63)) ? ~bits : (bits | (1ull << 63));
  return ~bits;
}

double FromDescendingBits(std::uint64_t desc) {
  std::uint64_t bits = ~desc;
  bits = (bits & (1ull << 63)) ? (bits & ~(1ull << 63)) : ~bits;
  return std::bit_cast<double>(bits);
}

std::string ByIdKey(std::string_view id) {
  std::string key;
  key.reserve(1 + id.size());
  key.push_back(kByIdPrefix);
  key.append(id);
  return key;
}

std::string IntentKey(std::string_view id) {
  std::string key;
  key.push_back(kIntentPrefix);
  key.append(id);
  return key;
}

std::string OrderedValue(const IndexEntry& e) {
  std::string v;
  v.push_back(static_cast<char>(e.identity_type));
  PutDouble(e.tau, &v);
  return v;
}

std::string ByIdValue(const IndexEntry& e) {
  std::string v;
  PutDouble(e.entropy, &v);
  v.push_back(static_cast<char>(e.identity_type));
  PutDouble(e.tau, &v);
  return v;
}

bool ParseType(char c, IdentityType* type) {
  if (c != 0 && c != 1) return false;
  *type = static_cast<IdentityType>(c);
  return true;
}

bool ParseByIdValue(std::string_view v, IndexEntry* e) {
  if (v.size() != 17) return false;
  e->entropy = GetDouble(v.data());
  e->tau = GetDouble(v.data() + 9);
  return ParseType(v[8], &e->identity_type);
}

bool ParseOrderedValue(std::string_view v, IndexEntry* e) {
  if (v.size() != 9) return false;
  e->tau = GetDouble(v.data() + 1);
  return ParseType(v[0], &e->identity_type);
}

std::string SummaryKey(char kind) { return std::string{kSummaryPrefix, kind}; }

std::string TypeTotalKey(IdentityType type) {
  std::string key = SummaryKey(kTypeTotal);
  key.push_back(static_cast<char>(type));
  return key;
}

// The key of the population cell, or exact value, that counts `entropy`.
std::string EntropyTotalKey(double entropy) {
  if (EntropyPopulation::InCells(entropy)) {
    std::string key = SummaryKey(kCellTotal);
    coding::PutBigEndian64(EntropyPopulation::Cell(entropy), &key);
    return key;
  }
  std::string key = SummaryKey(kExactTotal);
  coding::PutBigEndian64(~DescendingBits(entropy), &key);
  return key;
}

// Adds one stored total to `out`; false when the key or value is not one.
bool ParseSummaryEntry(std::string_view key, std::string_view value, IndexSummary* out) {
  if (key.size() < 2 || value.size() != sizeof(std::int64_t)) return false;
  const std::int64_t n = RocksDbDatabase::DecodeCounter(value);
  if (n == 0) return true;  // Every entry of it has gone.
  switch (key[1]) {
    case kTypeTotal: {
      IdentityType type;
      if (key.size() != 3 || !ParseType(key[2], &type)) return false;
      out->types[static_cast<std::size_t>(type)] += n;
      return true;
    }
    case kCellTotal: {
      if (key.size() != 10) return false;
      const std::uint64_t cell = coding::DecodeBigEndian64(key.data() + 2);
      if (cell >= EntropyPopulation::kCells) return false;
      out->cells[static_cast<std::uint32_t>(cell)] += n;
      return true;
    }
    case kExactTotal:
      if (key.size() != 10) return false;
      out->exact[FromDescendingBits(~coding::DecodeBigEndian64(key.data() + 2))] += n;
      return true;
    default:
      return false;
  }
}

// Iterator bounds keep a prefix scan from wandering into the next prefix.
struct PrefixBounds {
  explicit PrefixBounds(char prefix)
      : lower(1, prefix),
        upper(1, static_cast<char>(prefix + 1)),
        lower_slice(lower),
        upper_slice(upper) {}
  std::string lower, upper;
  rocksdb::Slice lower_slice, upper_slice;
};

// Visits every key under `prefix` in order, with its value; stops when
// `visit` returns false.
Status ForEachOfPrefix(const RocksDbDatabase& database, rocksdb::ColumnFamilyHandle* cf,
                       char prefix, const char* what,
                       const std::function<bool(std::string_view, std::string_view)>& visit) {
  PrefixBounds bounds(prefix);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &bounds.upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(database.db()->NewIterator(ro, cf));
  std::string key, value;
  for (it->Seek(bounds.lower_slice); it->Valid(); it->Next()) {
    CopyIteratorEntry(*it, &key, &value);
    if (!visit(key, value)) break;
  }
  return RocksDbDatabase::FromRocks(it->status(), what);
}

}  // namespace

void IndexSummary::Add(const IndexEntry& entry) {
  ++types[static_cast<std::size_t>(entry.identity_type)];
  if (EntropyPopulation::InCells(entry.entropy)) {
    ++cells[static_cast<std::uint32_t>(EntropyPopulation::Cell(entry.entropy))];
  } else {
    ++exact[entry.entropy];
  }
}

std::string EncodeIndexKey(double entropy, std::string_view id) {
  std::string key;
  key.reserve(9 + id.size());
  key.push_back(kOrderedPrefix);
  coding::PutBigEndian64(DescendingBits(entropy), &key);
  key.append(id);
  return key;
}

bool DecodeIndexKey(std::string_view key, double* entropy, std::string* id) {
  if (key.size() < 9 || key[0] != kOrderedPrefix) return false;
  *entropy = FromDescendingBits(coding::DecodeBigEndian64(key.data() + 1));
  id->assign(key.substr(9));
  return true;
}

Status EntropyIndex::Open(RocksDbDatabase* database, bool keeps_by_id,
                          std::unique_ptr<EntropyIndex>* out, bool* created) {
  *created = !database->HasColumnFamily(kEntropyIndexColumnFamily);
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  Status s = database->ColumnFamily(kEntropyIndexColumnFamily, &cf);
  if (!s.ok()) return s;
  out->reset(new EntropyIndex(database, cf, keeps_by_id));
  return Status::OK();
}

void EntropyIndex::AddChanges(std::string_view id, const IndexEntry* before,
                              const IndexEntry* after, rocksdb::WriteBatch* batch) const {
  if (before && after && before->entropy == after->entropy &&
      before->identity_type == after->identity_type && before->tau == after->tau) {
    return;
  }
  if (before && (!after || before->entropy != after->entropy)) {
    batch->Delete(cf_, EncodeIndexKey(before->entropy, id));
  }
  if (after) {
    batch->Put(cf_, EncodeIndexKey(after->entropy, id), OrderedValue(*after));
    if (keeps_by_id_) batch->Put(cf_, ByIdKey(id), ByIdValue(*after));
  } else if (keeps_by_id_) {
    batch->Delete(cf_, ByIdKey(id));
  }
}

Status EntropyIndex::Lookup(std::string_view id, IndexEntry* out) const {
  if (!keeps_by_id_) {
    return Status::NotFound("the index keeps no by-id entries; the record is the by-id view");
  }
  rocksdb::PinnableSlice value;
  rocksdb::Status rs = database_->db()->Get(rocksdb::ReadOptions(), cf_, ByIdKey(id), &value);
  if (rs.IsNotFound()) return Status::NotFound("no index entry for id '" + DisplayId(id) + "'");
  if (!rs.ok()) return RocksDbDatabase::FromRocks(rs, "index lookup of '" + DisplayId(id) + "'");
  if (!ParseByIdValue(value.ToStringView(), out)) {
    return Status::Corruption("index entry of id '" + DisplayId(id) + "' is corrupt");
  }
  out->id.assign(id);
  return Status::OK();
}

void EntropyIndex::DeleteById(std::string_view id, rocksdb::WriteBatch* batch) const {
  batch->Delete(cf_, ByIdKey(id));
}

Status EntropyIndex::LookupOrdered(double entropy, std::string_view id, IndexEntry* out,
                                   const rocksdb::Snapshot* snapshot) const {
  rocksdb::PinnableSlice value;
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  rocksdb::Status rs = database_->db()->Get(ro, cf_, EncodeIndexKey(entropy, id), &value);
  if (rs.IsNotFound()) {
    return Status::NotFound("no ordered index entry for id '" + DisplayId(id) + "'");
  }
  if (!rs.ok()) return RocksDbDatabase::FromRocks(rs, "index lookup of '" + DisplayId(id) + "'");
  if (!ParseOrderedValue(value.ToStringView(), out)) {
    return Status::Corruption("ordered index entry of id '" + DisplayId(id) + "' is corrupt");
  }
  out->id.assign(id);
  out->entropy = entropy;
  return Status::OK();
}

Status EntropyIndex::Range(double min_entropy, double max_entropy, std::size_t limit,
                           std::vector<IndexEntry>* out, std::size_t* scanned) const {
  out->clear();
  *scanned = 0;
  if (limit == 0 || !(min_entropy <= max_entropy)) return Status::OK();
  // Keys after ord(min) with the largest possible id still hold entropy >= min,
  // so the upper bound is the first key of the next lower entropy.
  const std::string start = EncodeIndexKey(max_entropy, {});
  const std::string stop = EncodeIndexKey(std::nextafter(min_entropy, -1.0), {});
  rocksdb::Slice stop_slice(stop);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &stop_slice;
  std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(ro, cf_));
  std::string key, value;
  for (it->Seek(start); it->Valid() && out->size() < limit; it->Next()) {
    ++*scanned;
    CopyIteratorEntry(*it, &key, &value);
    IndexEntry e;
    if (!DecodeIndexKey(key, &e.entropy, &e.id) || !ParseOrderedValue(value, &e)) {
      return Status::Corruption("index key near entropy " + std::to_string(e.entropy) +
                                " is corrupt");
    }
    out->push_back(std::move(e));
  }
  if (!it->status().ok()) return RocksDbDatabase::FromRocks(it->status(), "index range scan");
  return Status::OK();
}

Status EntropyIndex::ForEachOrdered(
    std::string_view start_after,
    const std::function<bool(std::string_view key, const IndexEntry&)>& visit,
    const rocksdb::Snapshot* snapshot) const {
  PrefixBounds bounds(kOrderedPrefix);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.iterate_upper_bound = &bounds.upper_slice;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(ro, cf_));
  if (start_after.empty()) {
    it->Seek(bounds.lower_slice);
  } else {
    it->Seek(rocksdb::Slice(start_after.data(), start_after.size()));
  }
  std::string key, value;
  for (; it->Valid(); it->Next()) {
    CopyIteratorEntry(*it, &key, &value);
    if (key == start_after) continue;  // Resuming: the last key the caller saw.
    IndexEntry e;
    if (!DecodeIndexKey(key, &e.entropy, &e.id) || !ParseOrderedValue(value, &e)) {
      return Status::Corruption("index key is corrupt");
    }
    if (!visit(key, e)) break;
  }
  if (!it->status().ok()) return RocksDbDatabase::FromRocks(it->status(), "index scan");
  return Status::OK();
}

Status EntropyIndex::ForEachById(const std::function<bool(const IndexEntry&)>& visit) const {
  PrefixBounds bounds(kByIdPrefix);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &bounds.upper_slice;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(ro, cf_));
  std::string key, value;
  for (it->Seek(bounds.lower_slice); it->Valid(); it->Next()) {
    CopyIteratorEntry(*it, &key, &value);
    IndexEntry e;
    e.id.assign(std::string_view(key).substr(1));
    if (!ParseByIdValue(value, &e)) {
      return Status::Corruption("by-id index entry of id '" + DisplayId(e.id) + "' is corrupt");
    }
    if (!visit(e)) break;
  }
  if (!it->status().ok()) return RocksDbDatabase::FromRocks(it->status(), "by-id index scan");
  return Status::OK();
}

void EntropyIndex::AddIntent(std::string_view id, rocksdb::WriteBatch* batch) const {
  batch->Put(cf_, IntentKey(id), rocksdb::Slice());
}

void EntropyIndex::ClearIntent(std::string_view id, rocksdb::WriteBatch* batch) const {
  batch->Delete(cf_, IntentKey(id));
}

Status EntropyIndex::PendingIntents(std::vector<std::string>* ids) const {
  ids->clear();
  return ForEachOfPrefix(*database_, cf_, kIntentPrefix, "reading intents",
                         [&](std::string_view key, std::string_view) {
                           ids->emplace_back(key.substr(1));
                           return true;
                         });
}

Status EntropyIndex::ReadSummary(IndexSummary* out, bool* complete) const {
  *out = IndexSummary{};
  *complete = false;
  std::string marker;
  rocksdb::Status rs =
      database_->db()->Get(rocksdb::ReadOptions(), cf_, SummaryKey(kSummaryComplete), &marker);
  if (rs.IsNotFound()) return Status::OK();
  if (!rs.ok()) return RocksDbDatabase::FromRocks(rs, "reading the index's totals");
  bool parsed = true;
  Status s = ForEachOfPrefix(*database_, cf_, kSummaryPrefix, "reading the index's totals",
                             [&](std::string_view key, std::string_view value) {
                               if (key == SummaryKey(kSummaryComplete)) return true;
                               parsed = ParseSummaryEntry(key, value, out);
                               return parsed;
                             });
  if (!s.ok()) return s;
  if (!parsed) {
    return Status::Corruption(
        "a stored total of the entropy index is corrupt; an open counts the entries instead, "
        "and a writable one sets the totals aside");
  }
  *complete = true;
  return Status::OK();
}

Status EntropyIndex::WriteSummary(const IndexSummary& summary) {
  rocksdb::WriteBatch batch;
  const std::string lower(1, kSummaryPrefix), upper(1, static_cast<char>(kSummaryPrefix + 1));
  batch.DeleteRange(cf_, lower, upper);
  for (std::size_t t = 0; t < summary.types.size(); ++t) {
    batch.Put(cf_, TypeTotalKey(static_cast<IdentityType>(t)),
              RocksDbDatabase::EncodeCounter(summary.types[t]));
  }
  for (const auto& [cell, n] : summary.cells) {
    std::string key = SummaryKey(kCellTotal);
    coding::PutBigEndian64(cell, &key);
    batch.Put(cf_, key, RocksDbDatabase::EncodeCounter(n));
  }
  for (const auto& [entropy, n] : summary.exact) {
    batch.Put(cf_, EntropyTotalKey(entropy), RocksDbDatabase::EncodeCounter(n));
  }
  batch.Put(cf_, SummaryKey(kSummaryComplete), "1");
  return database_->Write(&batch, "storing the index's totals");
}

Status EntropyIndex::ForgetSummary() {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(cf_, std::string(1, kSummaryPrefix),
                    std::string(1, static_cast<char>(kSummaryPrefix + 1)));
  Status s = database_->Write(&batch, "setting the index's stored totals aside");
  // Synced: a crash must never leave later writes without this deletion.
  return s.ok() ? database_->SyncWal() : s;
}

Status EntropyIndex::Clear() {
  rocksdb::WriteBatch batch;
  // Every key of a kind lies in [prefix, prefix + 1), whatever bytes its id holds.
  for (char prefix : {kByIdPrefix, kIntentPrefix, kOrderedPrefix, kSummaryPrefix}) {
    batch.DeleteRange(cf_, std::string(1, prefix), std::string(1, static_cast<char>(prefix + 1)));
  }
  return database_->Write(&batch);
}

}  // namespace kimera
