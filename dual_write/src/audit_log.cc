#include "audit_log.h"

#include <nlohmann/json.hpp>

#include "coding.h"
#include "iterator_entry.h"
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

// Entry values, version 2 (written on the hot path, so binary):
//   u8 version (2), i64 time (microseconds, little-endian), then id,
//   operation, status and details, each a varint length and the bytes.
// Version 1 values (a JSON object, starting with '{') are still read.
constexpr char kEntryVersion = 2;

std::string EncodeEntry(const AuditEntry& e) {
  std::string out;
  out.reserve(16 + e.id.size() + e.operation.size() + e.status.size() + e.details.size());
  out.push_back(kEntryVersion);
  coding::PutFixed64(static_cast<std::uint64_t>(e.time), &out);
  coding::PutLengthPrefixed(e.id, &out);
  coding::PutLengthPrefixed(e.operation, &out);
  coding::PutLengthPrefixed(e.status, &out);
  coding::PutLengthPrefixed(e.details, &out);
  return out;
}

bool ReadString(std::string_view* in, std::string* out) {
  std::string_view s;
  if (!coding::GetLengthPrefixed(in, &s)) return false;
  out->assign(s);
  return true;
}

// Fills the fields of `entry` from `value`; fields it cannot read stay empty.
void DecodeEntry(std::string_view value, AuditEntry* entry) {
  if (!value.empty() && value.front() == '{') {
    nlohmann::json v = nlohmann::json::parse(value.begin(), value.end(), nullptr, false);
    if (v.is_object()) {
      (void)ParseTimestamp(v.value("time", ""), &entry->time);
      entry->id = v.value("id", "");
      entry->operation = v.value("operation", "");
      entry->status = v.value("status", "");
      entry->details = v.value("details", "");
    }
    return;
  }
  if (value.empty() || value.front() != kEntryVersion) return;
  value.remove_prefix(1);
  std::uint64_t time = 0;
  if (!coding::GetFixed64(&value, &time)) return;
  entry->time = static_cast<Micros>(time);
  (void)(ReadString(&value, &entry->id) && ReadString(&value, &entry->operation) &&
         ReadString(&value, &entry->status) && ReadString(&value, &entry->details));
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
  std::string key, value;
  if (it->Valid()) CopyIteratorEntry(*it, &key, &value);
  if (key.size() == 9 && key[0] == 'e') log->next_sequence_ = SequenceOf(key) + 1;
  s = RocksDbDatabase::FromRocks(it->status(), "reading the audit log");
  if (!s.ok()) return s;
  *out = std::move(log);
  return Status::OK();
}

void AuditLog::Append(AuditEntry entry, rocksdb::WriteBatch* batch) {
  const std::uint64_t seq = next_sequence_.fetch_add(1);
  batch->Put(cf_, EntryKey(seq), EncodeEntry(entry));
  if (seq > max_entries_ && seq % trim_step_ == 0) {
    // Entries 1 .. seq - max_entries are off the end. Each trim of a run
    // reaches back two steps, over the previous trim's range too: a batch
    // that is never written (a group its store refused) takes its trim with
    // it, and the next trim then removes what that one would have. So no key
    // lies under more than two range tombstones, however long the run.
    const std::uint64_t end = seq - max_entries_ + 1;
    const std::uint64_t begin =
        !trimmed_.exchange(true) || end <= 2 * trim_step_ ? 0 : end - 2 * trim_step_;
    batch->DeleteRange(cf_, EntryKey(begin), EntryKey(end));
  }
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
  // Entries up to the next trim are still on disk but already off the log.
  const std::uint64_t newest = total();
  const std::uint64_t oldest = newest > max_entries_ ? newest - max_entries_ + 1 : 1;
  std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(rocksdb::ReadOptions(), cf_));
  std::string key, value;
  for (it->SeekForPrev(EntryKey(~std::uint64_t{0})); it->Valid() && out->size() < n; it->Prev()) {
    CopyIteratorEntry(*it, &key, &value);
    if (key.size() != 9 || key[0] != 'e') break;
    AuditEntry entry;
    entry.sequence = SequenceOf(key);
    if (entry.sequence < oldest) break;
    DecodeEntry(value, &entry);
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
