#include "wal_recovery.h"

#include <rocksdb/db.h>
#include <rocksdb/file_checksum.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

namespace kimera {
namespace {

// RocksDB's recovery reporter writes "<path>: dropping <N> bytes; <reason>"
// (prefixed by "(ignoring error) " when the mode skips damage).
bool ParseDropping(const char* line, std::string* file, std::uint64_t* bytes) {
  const char* marker = std::strstr(line, ": dropping ");
  if (marker == nullptr) return false;
  unsigned long long n = 0;
  if (std::sscanf(marker, ": dropping %llu bytes", &n) != 1) return false;
  // The text before the marker ends with the log's path, after RocksDB's
  // "[source:line] " and "(ignoring error) " prefixes.
  const std::string path(line, static_cast<std::size_t>(marker - line));
  *file = std::filesystem::path(path).filename().string();
  *bytes = n;
  return true;
}

std::uint64_t LittleEndian(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// CRC-32C of `n` bytes, by RocksDB's own file-checksum generator (its only
// public CRC-32C), as a log record's header holds it: masked.
std::uint32_t MaskedCrc32c(const unsigned char* data, std::size_t n) {
  static const std::shared_ptr<rocksdb::FileChecksumGenFactory> factory =
      rocksdb::GetFileChecksumGenCrc32cFactory();
  std::unique_ptr<rocksdb::FileChecksumGenerator> gen =
      factory->CreateFileChecksumGenerator(rocksdb::FileChecksumGenContext{});
  gen->Update(reinterpret_cast<const char*>(data), n);
  gen->Finalize();
  const std::string sum = gen->GetChecksum();  // Big-endian.
  std::uint32_t crc = 0;
  for (unsigned char c : sum) crc = (crc << 8) | c;
  constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

rocksdb::Status OpenOnce(rocksdb::DBOptions db_options, const std::string& path,
                         const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors,
                         bool read_only, rocksdb::WALRecoveryMode mode,
                         std::vector<rocksdb::ColumnFamilyHandle*>* handles, rocksdb::DB** db,
                         std::unique_ptr<rocksdb::WalFilter>* filter, WalRecoverySummary* summary) {
  std::shared_ptr<rocksdb::Logger> base;
  // A read-only open writes nothing into the folder, not even its info log
  // (RocksDB would rename the LOG of the process that serves it).
  if (!read_only && !rocksdb::CreateLoggerFromOptions(path, db_options, &base).ok()) base.reset();
  auto logger = std::make_shared<WalRecoveryLogger>(base);
  // RocksDB keeps the filter's address in its options (and serializes them
  // when a column family is created), so it lives as long as the database.
  auto counter = std::make_unique<WalReplayCounter>();
  db_options.info_log = logger;
  db_options.wal_filter = counter.get();
  handles->clear();
  db_options.wal_recovery_mode = mode;
  rocksdb::Status s = read_only
                          ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, handles, db)
                          : rocksdb::DB::Open(db_options, path, descriptors, handles, db);
  *summary = WalRecoverySummary{};
  summary->dropped_bytes = logger->dropped_bytes();
  counter->AddTo(summary);
  if (s.ok()) *filter = std::move(counter);
  return s;
}

void CloseProbe(std::vector<rocksdb::ColumnFamilyHandle*>* handles, rocksdb::DB** db) {
  for (rocksdb::ColumnFamilyHandle* handle : *handles) {
    (*db)->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  handles->clear();
  (*db)->Close().PermitUncheckedError();
  delete *db;
  *db = nullptr;
}

}  // namespace

std::uint64_t CountBatchesAfterDamage(const std::string& file, std::uint64_t tail_bytes,
                                      std::uint64_t next_sequence) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in || next_sequence == 0) return 0;
  const auto size = static_cast<std::uint64_t>(in.tellg());
  const std::uint64_t n = std::min(size, tail_bytes);
  std::vector<unsigned char> tail(n);
  in.seekg(static_cast<std::streamoff>(size - n));
  if (!in.read(reinterpret_cast<char*>(tail.data()), static_cast<std::streamsize>(n))) return 0;
  // Log record header: masked crc (4), length (2), type (1: full, 2: first);
  // a write batch starts with its sequence number (8) and count (4).
  constexpr std::size_t kHeader = 7;
  constexpr std::uint64_t kSequenceWindow = 1u << 24;
  std::uint64_t found = 0;
  for (std::size_t i = 0; i + kHeader + 12 <= tail.size(); ++i) {
    const unsigned char type = tail[i + 6];
    if (type != 1 && type != 2) continue;
    const std::uint64_t length = LittleEndian(&tail[i + 4], 2);
    if (length < 12 || i + kHeader + length > tail.size()) continue;
    const std::uint64_t sequence = LittleEndian(&tail[i + kHeader], 8);
    // The checksum (over type and payload) last: bytes inside a record's
    // payload can look like a header with a plausible sequence number.
    if (sequence >= next_sequence && sequence < next_sequence + kSequenceWindow &&
        LittleEndian(&tail[i], 4) == MaskedCrc32c(&tail[i + 6], 1 + length)) {
      ++found;
      i += kHeader + length - 1;
    }
  }
  return found;
}

std::string WalRecoverySummary::Describe() const {
  std::string out;
  for (const auto& [file, bytes] : dropped_bytes) {
    if (!out.empty()) out += "; ";
    out += file + ": " + std::to_string(bytes) + " bytes unreadable";
  }
  if (missing_sequences > 0) {
    if (!out.empty()) out += "; ";
    out += std::to_string(missing_sequences) + " write entries missing in " +
           std::to_string(sequence_gaps) + (sequence_gaps == 1 ? " place" : " places") +
           " between the " + std::to_string(records_replayed) + " write batches replayed";
  }
  if (batches_after_damage > 0) {
    if (!out.empty()) out += "; ";
    out += std::to_string(batches_after_damage) +
           " intact write batches after the damage, in the dropped bytes";
  }
  return out;
}

WalRecoveryLogger::WalRecoveryLogger(std::shared_ptr<rocksdb::Logger> base)
    : rocksdb::Logger(base ? base->GetInfoLogLevel() : rocksdb::InfoLogLevel::INFO_LEVEL),
      base_(std::move(base)) {}

void WalRecoveryLogger::Logv(const char* format, va_list ap) {
  Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
}

void WalRecoveryLogger::Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  char line[1024];
  std::vsnprintf(line, sizeof line, format, copy);
  va_end(copy);
  Note(line);
  if (base_) base_->Logv(level, format, ap);
}

void WalRecoveryLogger::LogHeader(const char* format, va_list ap) {
  if (base_) base_->LogHeader(format, ap);
}

void WalRecoveryLogger::Flush() {
  if (base_) base_->Flush();
}

void WalRecoveryLogger::Note(const char* line) {
  std::string file;
  std::uint64_t bytes = 0;
  if (!ParseDropping(line, &file, &bytes)) return;
  std::lock_guard lock(mu_);
  dropped_[file] += bytes;
}

std::map<std::string, std::uint64_t> WalRecoveryLogger::dropped_bytes() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

rocksdb::WalFilter::WalProcessingOption WalReplayCounter::LogRecordFound(
    unsigned long long /*log_number*/, const std::string& /*log_file_name*/,
    const rocksdb::WriteBatch& batch, rocksdb::WriteBatch* /*new_batch*/, bool* batch_changed) {
  *batch_changed = false;
  const std::string& rep = batch.Data();
  // A write batch starts with its first sequence number (8 bytes, little
  // endian); each entry takes the next one, so a jump means lost batches.
  if (rep.size() >= 12) {
    std::uint64_t sequence = 0;
    for (int i = 7; i >= 0; --i) sequence = (sequence << 8) | static_cast<unsigned char>(rep[i]);
    std::lock_guard lock(mu_);
    ++records_;
    if (next_sequence_ != 0 && sequence > next_sequence_) {
      ++gaps_;
      missing_ += sequence - next_sequence_;
    }
    next_sequence_ = sequence + batch.Count();
  }
  return WalProcessingOption::kContinueProcessing;
}

void WalReplayCounter::AddTo(WalRecoverySummary* summary) const {
  std::lock_guard lock(mu_);
  summary->records_replayed += records_;
  summary->sequence_gaps += gaps_;
  summary->missing_sequences += missing_;
  summary->next_sequence = next_sequence_;
}

// Opens with the strictest replay of the write-ahead log that succeeds, and
// says what a laxer one lost. kAbsoluteConsistency fails on any damage;
// kTolerateCorruptedTailRecords accepts a log that ends inside a record
// (what a crash leaves: that write never completed) but not damage before
// the end, where RocksDB's default (kPointInTimeRecovery) would silently
// drop every later record. A damaged log opens only with `salvage`, and
// then with every record still readable (kSkipAnyCorruptedRecords).
rocksdb::Status OpenRecovering(const rocksdb::DBOptions& db_options, const std::string& path,
                               const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors,
                               const RocksDbOptions& options,
                               std::vector<rocksdb::ColumnFamilyHandle*>* handles, rocksdb::DB** db,
                               std::unique_ptr<rocksdb::WalFilter>* filter, std::string* report) {
  WalRecoverySummary summary;
  rocksdb::Status s =
      OpenOnce(db_options, path, descriptors, options.read_only,
               rocksdb::WALRecoveryMode::kAbsoluteConsistency, handles, db, filter, &summary);
  if (s.ok() || !s.IsCorruption() || summary.dropped_bytes.empty()) return s;
  WalRecoverySummary torn = summary;
  for (const auto& [file, bytes] : torn.dropped_bytes) {
    torn.batches_after_damage += CountBatchesAfterDamage(
        (std::filesystem::path(path) / file).string(), bytes, torn.next_sequence);
  }
  // Probed read-only: a writable open replays the log into a new SST and
  // deletes it, so what it dropped would be gone for good.
  s = OpenOnce(db_options, path, descriptors, /*read_only=*/true,
               rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords, handles, db, filter,
               &summary);
  if (s.ok()) {
    CloseProbe(handles, db);
    filter->reset();
    if (torn.batches_after_damage == 0) {
      // A torn tail: nothing after it was lost. Open for real.
      s = OpenOnce(db_options, path, descriptors, options.read_only,
                   rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords, handles, db, filter,
                   &summary);
      if (s.ok()) {
        *report = "write-ahead log of " + path +
                  " ended inside a record (a write torn by a crash, or still being written by "
                  "the process that holds the database): " +
                  torn.Describe();
      }
      return s;
    }
    // RocksDB took damage in a log's last block for a torn tail and would
    // drop the intact records after it: not what a crash leaves.
    summary = torn;
    s = rocksdb::Status::Corruption("write-ahead log damaged before its end");
  }
  if (!s.IsCorruption() || summary.dropped_bytes.empty()) return s;
  const std::string damage = summary.Describe();
  if (!options.salvage) {
    *report = "write-ahead log of " + path + " is damaged before its end (" + damage +
              "); the records after the damage would be lost. Nothing was opened; run again "
              "with --salvage to open the database with every record that can still be read";
    return s;
  }
  const std::uint64_t batches_after_damage = summary.batches_after_damage;
  s = OpenOnce(db_options, path, descriptors, options.read_only,
               rocksdb::WALRecoveryMode::kSkipAnyCorruptedRecords, handles, db, filter, &summary);
  summary.batches_after_damage = batches_after_damage;
  if (s.ok()) {
    *report = "salvaged " + path + ": its write-ahead log was damaged and every record that " +
              "could still be read was replayed; lost: " +
              (summary.damaged() ? summary.Describe() : damage);
  }
  return s;
}

}  // namespace kimera
