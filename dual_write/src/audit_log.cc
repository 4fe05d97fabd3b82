#include "kimera/audit_log.h"

#include <nlohmann/json.hpp>

#include "kimera/identity_json.h"

namespace kimera {
namespace {

// Entry keys start with 'e'; the failure counter sorts after every entry.
constexpr std::string_view kFailuresKey = "f:failures";

std::string EntryKey(std::uint64_t sequence) {
  std::string key(9, '\0');
  key[0] = 'e';
  for (int i = 0; i < 8; ++i) key[1 + i] = static_cast<char>(sequence >> (56 - 8 * i));
  return key;
}

std::uint64_t SequenceOf(std::string_view key) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(key[1 + i]);
  return v;
}

}  // namespace

Status AuditLog::Open(RocksDbDatabase* database, std::uint64_t max_entries,
                      std::unique_ptr<AuditLog>* out) {
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  Status s = database->ColumnFamily(kAuditColumnFamily, &cf);
  if (!s.ok()) return s;
  std::unique_ptr<AuditLog> log(new AuditLog(database, cf, max_entries == 0 ? 1 : max_entries));
  std::unique_ptr<rocksdb::Iterator> it(database->db()->NewIterator(rocksdb::ReadOptions(), cf));
  it->SeekForPrev(EntryKey(~std::uint64_t{0}));
  if (it->Valid() && it->key().size() == 9 && it->key()[0] == 'e') {
    log->next_sequence_ = SequenceOf({it->key().data(), it->key().size()}) + 1;
  }
  s = RocksDbDatabase::FromRocks(it->status(), "reading the audit log");
  if (!s.ok()) return s;
  *out = std::move(log);
  return Status::OK();
}

void AuditLog::Append(AuditEntry entry, rocksdb::WriteBatch* batch) {
  const std::uint64_t seq = next_sequence_.fetch_add(1);
  nlohmann::json value = {{"time", FormatTimestamp(entry.time)},
                          {"id", entry.id},
                          {"operation", entry.operation},
                          {"status", entry.status},
                          {"details", entry.details}};
  batch->Put(cf_, EntryKey(seq),
             value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (seq > max_entries_) batch->Delete(cf_, EntryKey(seq - max_entries_));
  if (entry.status != "ok") {
    batch->Merge(cf_, rocksdb::Slice(kFailuresKey.data(), kFailuresKey.size()),
                 RocksDbDatabase::EncodeCounter(1));
  }
}

Status AuditLog::Write(AuditEntry entry) {
  rocksdb::WriteBatch batch;
  Append(std::move(entry), &batch);
  return database_->Write(&batch);
}

Status AuditLog::Recent(std::size_t n, std::vector<AuditEntry>* out) const {
  out->clear();
  std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->SeekForPrev(EntryKey(~std::uint64_t{0})); it->Valid() && out->size() < n; it->Prev()) {
    if (it->key().size() != 9 || it->key()[0] != 'e') break;
    AuditEntry entry;
    entry.sequence = SequenceOf({it->key().data(), it->key().size()});
    nlohmann::json v = nlohmann::json::parse(
        it->value().data(), it->value().data() + it->value().size(), nullptr, false);
    if (v.is_object()) {
      (void)ParseTimestamp(v.value("time", ""), &entry.time);
      entry.id = v.value("id", "");
      entry.operation = v.value("operation", "");
      entry.status = v.value("status", "");
      entry.details = v.value("details", "");
    }
    out->push_back(std::move(entry));
  }
  return RocksDbDatabase::FromRocks(it->status(), "reading the audit log");
}

Status AuditLog::Failures(std::uint64_t* out) const {
  std::string value;
  rocksdb::Status s =
      database_->db()->Get(rocksdb::ReadOptions(), cf_,
                           rocksdb::Slice(kFailuresKey.data(), kFailuresKey.size()), &value);
  if (s.IsNotFound()) {
    *out = 0;
    return Status::OK();
  }
  if (!s.ok()) return RocksDbDatabase::FromRocks(s, "reading the audit log");
  *out = static_cast<std::uint64_t>(RocksDbDatabase::DecodeCounter(value));
  return Status::OK();
}

}  // namespace kimera
