#include "wal_recovery.h"

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
  // Log record header: crc (4), length (2), type (1: full, 2: first); a
  // write batch starts with its sequence number (8) and count (4).
  constexpr std::size_t kHeader = 7;
  constexpr std::uint64_t kSequenceWindow = 1u << 24;
  std::uint64_t found = 0;
  for (std::size_t i = 0; i + kHeader + 12 <= tail.size(); ++i) {
    const unsigned char type = tail[i + 6];
    if (type != 1 && type != 2) continue;
    const std::uint64_t length = LittleEndian(&tail[i + 4], 2);
    if (length < 12 || i + kHeader + length > tail.size()) continue;
    const std::uint64_t sequence = LittleEndian(&tail[i + kHeader], 8);
    if (sequence >= next_sequence && sequence < next_sequence + kSequenceWindow) {
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

}  // namespace kimera
