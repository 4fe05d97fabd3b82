#include "decay_ledger.h"

#include <cstring>

namespace kimera {
namespace {

constexpr std::size_t kValueSize = 32;

template <typename T>
void Append(T v, std::string* out) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof v);
  out->append(buf, sizeof buf);
}

template <typename T>
T Read(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool Parse(std::string_view v, DecayLedgerEntry* e) {
  if (v.size() != kValueSize) return false;
  e->updated_at = Read<std::int64_t>(v.data());
  e->weight = Read<double>(v.data() + 8);
  e->origin_weight = Read<double>(v.data() + 16);
  e->origin_since = Read<std::int64_t>(v.data() + 24);
  return true;
}

}  // namespace

Status DecayLedger::Open(RocksDbDatabase* database, std::unique_ptr<DecayLedger>* out) {
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  // A read-only database that never had a decay applied has no ledger: an
  // empty one reads the same.
  if (!database->read_only() || database->HasColumnFamily(kDecayLedgerColumnFamily)) {
    Status s = database->ColumnFamily(kDecayLedgerColumnFamily, &cf);
    if (!s.ok()) return s;
  }
  out->reset(new DecayLedger(database, cf));
  return Status::OK();
}

Status DecayLedger::Lookup(std::string_view id, DecayLedgerEntry* out) const {
  if (cf_ == nullptr) return Status::NotFound("no decay ledger entry for '" + DisplayId(id) + "'");
  rocksdb::PinnableSlice value;
  rocksdb::Status rs = database_->db()->Get(rocksdb::ReadOptions(), cf_, id, &value);
  if (rs.IsNotFound()) return Status::NotFound("no decay ledger entry for '" + DisplayId(id) + "'");
  if (!rs.ok()) return RocksDbDatabase::FromRocks(rs, "decay ledger lookup");
  if (!Parse(value.ToStringView(), out)) {
    return Status::Corruption("decay ledger entry of '" + DisplayId(id) + "' is corrupt");
  }
  return Status::OK();
}

Status DecayLedger::LookupMany(const std::vector<std::string>& ids,
                               std::vector<DecayLedgerEntry>* out, std::vector<bool>* found,
                               const rocksdb::Snapshot* snapshot) const {
  out->assign(ids.size(), DecayLedgerEntry{});
  found->assign(ids.size(), false);
  if (ids.empty() || cf_ == nullptr) return Status::OK();
  std::vector<rocksdb::Slice> keys(ids.begin(), ids.end());
  std::vector<rocksdb::PinnableSlice> values(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  database_->db()->MultiGet(options, cf_, keys.size(), keys.data(), values.data(), statuses.data());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return RocksDbDatabase::FromRocks(statuses[i], "decay ledger lookup");
    if (!Parse(values[i].ToStringView(), &(*out)[i])) {
      return Status::Corruption("decay ledger entry of '" + DisplayId(ids[i]) + "' is corrupt");
    }
    (*found)[i] = true;
  }
  return Status::OK();
}

void DecayLedger::Put(std::string_view id, const DecayLedgerEntry& entry,
                      rocksdb::WriteBatch* batch) const {
  std::string v;
  v.reserve(kValueSize);
  Append<std::int64_t>(entry.updated_at, &v);
  Append<double>(entry.weight, &v);
  Append<double>(entry.origin_weight, &v);
  Append<std::int64_t>(entry.origin_since, &v);
  batch->Put(cf_, id, v);
}

void DecayLedger::Delete(std::string_view id, rocksdb::WriteBatch* batch) const {
  batch->Delete(cf_, id);
}

}  // namespace kimera
