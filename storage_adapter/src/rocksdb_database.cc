#include "rocksdb_database.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "wal_recovery.h"

namespace kimera {
namespace {

// Counters are plain sums, so an associative operator lets RocksDB fold
// operands during compaction without ever reading the base value.
class Int64AddOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing_value,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    // A malformed operand counts as 0: returning false would make RocksDB
    // fail every later read and compaction of the key.
    const std::int64_t base =
        existing_value == nullptr
            ? 0
            : RocksDbDatabase::DecodeCounter({existing_value->data(), existing_value->size()});
    const std::int64_t delta = RocksDbDatabase::DecodeCounter({value.data(), value.size()});
    // Wrap instead of signed overflow, which would be undefined.
    *new_value = RocksDbDatabase::EncodeCounter(static_cast<std::int64_t>(
        static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(delta)));
    return true;
  }

  const char* Name() const override { return "Int64AddOperator"; }
};

rocksdb::CompressionType BestCompression() {
  const auto supported = rocksdb::GetSupportedCompressions();
  const bool lz4 =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
  return lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
}

rocksdb::ColumnFamilyOptions MakeColumnFamilyOptions(const RocksDbOptions& options) {
  rocksdb::BlockBasedTableOptions table;
  if (options.block_cache_bytes > 0) {
    table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  } else {
    table.no_block_cache = true;
  }
  if (options.bloom_bits_per_key > 0) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(options.bloom_bits_per_key, false));
  }
  // Whole-key filters are what point reads of absent ids hit; partitioning
  // them would add a second lookup per read.
  table.whole_key_filtering = true;

  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.write_buffer_size = options.write_buffer_bytes;
  cf.compression = BestCompression();
  cf.merge_operator = std::make_shared<Int64AddOperator>();
  // Every write reads first (the record it replaces, the secondary's rows for
  // the counts), and most of those reads are of ids not stored yet: a bloom
  // filter over the memtables' whole keys answers them without a skip-list
  // search of each memtable.
  cf.memtable_prefix_bloom_size_ratio = 0.02;
  cf.memtable_whole_key_filtering = true;
  // Keeps space amplification near 1.1x whatever the data size, which the
  // default fixed level targets do not on a growing database.
  cf.level_compaction_dynamic_level_bytes = true;
  return cf;
}

rocksdb::DBOptions MakeDbOptions(const RocksDbOptions& options) {
  rocksdb::DBOptions db;
  // Set first: IncreaseParallelism sizes the thread pools of db.env.
  if (options.env != nullptr) db.env = options.env;
  const int jobs = std::max(1, options.max_background_jobs);
  // Sizes the flush and compaction thread pools; the deployment target has
  // two cores, so more threads would only contend.
  db.IncreaseParallelism(jobs);
  db.max_background_jobs = jobs;
  db.create_if_missing = options.create_if_missing;
  db.create_missing_column_families = true;
  // Spreads fsync work over time instead of stalling on one big sync.
  db.bytes_per_sync = 1u << 20;
  db.keep_log_file_num = 5;
  return db;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// RocksDB reports a held lock as a plain IOError ("While lock file:
// <dir>/LOCK: Resource temporarily unavailable" from another process, "lock
// hold by current process" from this one); only the message tells.
bool IsLockError(const rocksdb::Status& s, std::string_view msg) {
  if (!s.IsIOError()) return false;
  return Contains(msg, "/LOCK") || Contains(msg, "While lock file") ||
         Contains(msg, "lock hold by current process") ||
         Contains(msg, "Resource temporarily unavailable");
}

// The folder of the LOCK file named in a lock error, or "" when absent.
std::string LockedFolder(std::string_view msg) {
  const std::size_t lock = msg.find("/LOCK");
  if (lock == std::string_view::npos) return "";
  const std::size_t start = msg.rfind(' ', lock);
  const std::size_t from = start == std::string_view::npos ? 0 : start + 1;
  return std::string(msg.substr(from, lock - from));
}

std::string Prefixed(std::string_view context, std::string_view msg) {
  if (context.empty()) return std::string(msg);
  std::string out(context);
  out += ": ";
  out += msg;
  return out;
}

// A free-space reading is reused, without a new statvfs, for this long and
// only while it is this far above what a write needs: background flushes and
// compactions take space between readings, and a write near the line always
// measures again, so freed space is seen by the very next write.
constexpr auto kFreeSpaceReuse = std::chrono::milliseconds(100);
constexpr std::uint64_t kFreeSpaceReuseMargin = 64u << 20;

std::string BusyMessage(std::string_view folder) {
  return "database folder " + std::string(folder) + " is in use by another process (lock held)";
}

}  // namespace

Status RocksDbDatabase::Open(const std::string& path, const RocksDbOptions& options,
                             std::unique_ptr<RocksDbDatabase>* out) {
  const rocksdb::DBOptions db_options = MakeDbOptions(options);
  std::unique_ptr<RocksDbDatabase> database(new RocksDbDatabase());
  database->path_ = path;
  database->read_only_ = options.read_only;
  database->salvage_ = options.salvage;
  database->cf_options_ = MakeColumnFamilyOptions(options);
  database->write_options_.sync = options.sync_writes;
  database->write_options_.disableWAL = options.disable_wal;
  database->reserved_disk_bytes_ = options.reserved_disk_bytes;

  std::vector<std::string> names;
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec)) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, path, &names);
    if (!s.ok()) return FromRocks(s, "listing column families of " + path);
  } else if (options.read_only || !options.create_if_missing) {
    // Checked here because RocksDB would create the folder (or write into an
    // unrelated one) before finding no database in it.
    return Status::NotFound("no database at " + path);
  }
  // A new database has only the default column family, which must be named.
  if (std::find(names.begin(), names.end(), rocksdb::kDefaultColumnFamilyName) == names.end()) {
    names.push_back(rocksdb::kDefaultColumnFamilyName);
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(names.size());
  for (const std::string& name : names) descriptors.emplace_back(name, database->cf_options_);

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = OpenRecovering(db_options, path, descriptors, options, &handles, &raw,
                                     &database->wal_filter_, &database->recovery_report_);
  if (!s.ok()) {
    if (!database->recovery_report_.empty()) return Status::Corruption(database->recovery_report_);
    Status mapped = FromRocks(s, "opening database " + path);
    // The caller asked for this folder; name it rather than the LOCK file.
    if (mapped.IsBusy()) return Status::Busy(BusyMessage(path));
    return mapped;
  }
  database->db_.reset(raw);
  for (std::size_t i = 0; i < handles.size(); ++i) database->handles_.emplace(names[i], handles[i]);
  *out = std::move(database);
  return Status::OK();
}

RocksDbDatabase::~RocksDbDatabase() {
  if (!db_) return;
  if (!read_only_ && !write_failed_.load()) {
    // Left in the memtables, the data's only copy would be the write-ahead
    // log, and a damaged log would lose it. Skipped after a failed write:
    // RocksDB 7.8 aborts on a flush into a log writer in an error state.
    std::vector<rocksdb::ColumnFamilyHandle*> all;
    for (auto& [name, handle] : handles_) all.push_back(handle);
    db_->Flush(rocksdb::FlushOptions(), all).PermitUncheckedError();
  }
  // Handles must go before the DB, and Close() before the destructor so
  // background work stops cleanly rather than being cancelled mid-flush.
  for (auto& [name, handle] : handles_)
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  for (auto* handle : dropped_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  handles_.clear();
  dropped_.clear();
  db_->Close().PermitUncheckedError();
  db_.reset();
}

Status RocksDbDatabase::ColumnFamily(const std::string& name, rocksdb::ColumnFamilyHandle** out) {
  std::lock_guard lock(cf_mu_);
  auto it = handles_.find(name);
  if (it != handles_.end()) {
    *out = it->second;
    return Status::OK();
  }
  if (read_only_) {
    return Status::NotFound("column family '" + name + "' not found in the read-only database " +
                            path_);
  }
  // Created under the lock so two components asking at once get one family.
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  rocksdb::Status s = db_->CreateColumnFamily(cf_options_, name, &handle);
  if (!s.ok()) return FromRocks(s, "creating column family '" + name + "'");
  handles_.emplace(name, handle);
  *out = handle;
  return Status::OK();
}

bool RocksDbDatabase::HasColumnFamily(const std::string& name) const {
  std::lock_guard lock(cf_mu_);
  return handles_.find(name) != handles_.end();
}

Status RocksDbDatabase::DropColumnFamily(const std::string& name) {
  std::lock_guard lock(cf_mu_);
  auto it = handles_.find(name);
  if (it == handles_.end()) return Status::NotFound("column family '" + name + "' not found");
  rocksdb::Status s = db_->DropColumnFamily(it->second);
  if (!s.ok()) return FromRocks(s, "dropping column family '" + name + "'");
  // Components may still hold the handle; it stays valid (for a dropped
  // family) until the database closes.
  dropped_.push_back(it->second);
  handles_.erase(it);
  return Status::OK();
}

Status RocksDbDatabase::Write(rocksdb::WriteBatch* batch, std::string_view context) {
  if (read_only_) {
    return Status::IOError(Prefixed(context, "the database " + path_ + " is open read-only"));
  }
  if (write_failed_.load(std::memory_order_acquire)) {
    // Writing again into a log whose last write failed trips RocksDB's own
    // checks; Resume() first recovers the database (a new log, a flush), and
    // fails cleanly while the disk is still full.
    std::lock_guard lock(resume_mu_);
    if (write_failed_.load(std::memory_order_acquire)) {
      rocksdb::Status r = db_->Resume();
      if (r.IsBusy()) {
        // RocksDB is already recovering on its own (it polls for free space
        // after a full disk); writes resume when it is done.
        return Status::NoSpace(std::string(context) +
                               ": the disk was full; the database takes writes again once "
                               "space is free and its recovery has finished");
      }
      if (!r.ok()) return FromRocks(r, context);
      write_failed_.store(false, std::memory_order_release);
    }
  }
  // Refused before RocksDB sees it: a write-ahead-log append that fails for
  // want of space leaves RocksDB 7.8's log writer in an error state that
  // aborts the process on its next use (a write, a resume or a close).
  Status space = CheckFreeSpace(batch->GetDataSize(), context);
  if (!space.ok()) return space;
  rocksdb::Status s = db_->Write(write_options_, batch);
  if (!s.ok() && (s.IsIOError() || s.IsNoSpace())) {
    write_failed_.store(true, std::memory_order_release);
  }
  return FromRocks(s, context);
}

Status RocksDbDatabase::CheckFreeSpace(std::uint64_t write_bytes, std::string_view context) {
  if (reserved_disk_bytes_ == 0) return Status::OK();
  std::lock_guard lock(space_mu_);
  const auto now = std::chrono::steady_clock::now();
  written_since_check_ += write_bytes;
  const std::uint64_t estimate =
      free_at_check_ > written_since_check_ ? free_at_check_ - written_since_check_ : 0;
  if (now - checked_at_ < kFreeSpaceReuse &&
      estimate >= need_at_check_ + write_bytes + kFreeSpaceReuseMargin) {
    return Status::OK();
  }
  struct statvfs st {};
  // A filesystem that cannot tell its free space is left to RocksDB's own
  // error handling.
  if (statvfs(path_.c_str(), &st) != 0) return Status::OK();
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  // Everything in the memtables is written again as SST files by the next
  // flush, and a compaction writes its output before it deletes its input;
  // the files they replace keep their space until then.
  std::uint64_t memtables = 0;
  std::uint64_t compactions = 0;
  if (!db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables)) {
    memtables = 0;
  }
  if (!db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                                     &compactions)) {
    compactions = 0;
  }
  free_at_check_ = free_bytes;
  need_at_check_ = reserved_disk_bytes_ + memtables + compactions;
  written_since_check_ = 0;
  checked_at_ = now;
  const std::uint64_t need = need_at_check_ + write_bytes;
  if (free_bytes >= need) return Status::OK();
  return Status::NoSpace(Prefixed(
      context, "no space left for the database in " + path_ + ": " + std::to_string(free_bytes) +
                   " bytes free, " + std::to_string(need) + " needed (" +
                   std::to_string(write_bytes) + " for this write, " + std::to_string(memtables) +
                   " for the memtables' next flush, " + std::to_string(compactions) +
                   " for pending compactions, " + std::to_string(reserved_disk_bytes_) +
                   " kept in reserve: storage.reserved_disk_mb); nothing was written"));
}

Status RocksDbDatabase::SyncWal() {
  if (!write_options_.disableWAL) return FromRocks(db_->SyncWAL(), "syncing WAL");
  // Without a WAL the only durable copy is an SST file, so flush instead.
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  {
    std::lock_guard lock(cf_mu_);
    for (auto& [name, handle] : handles_) all.push_back(handle);
  }
  return FromRocks(db_->Flush(rocksdb::FlushOptions(), all), "flushing memtables");
}

Status RocksDbDatabase::FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::OK();
  const std::string msg = s.ToString();
  if (s.IsNoSpace() || Contains(msg, "No space left")) {
    return Status::NoSpace(Prefixed(context, msg));
  }
  // A folder that cannot be written fails first at its LOCK file; that is
  // not another process holding the lock.
  if (Contains(msg, "Read-only file system")) {
    return Status::IOError(Prefixed(context, "the database folder is read-only: " + msg));
  }
  if (Contains(msg, "Permission denied")) {
    return Status::IOError(Prefixed(context, "no permission to write the database folder: " + msg));
  }
  if (IsLockError(s, msg)) {
    const std::string folder = LockedFolder(msg);
    return Status::Busy(Prefixed(
        context, folder.empty() ? "database is in use by another process (lock held): " + msg
                                : BusyMessage(folder)));
  }
  if (s.IsCorruption()) return Status::Corruption(Prefixed(context, msg));
  return Status::IOError(Prefixed(context, msg));
}

std::string RocksDbDatabase::EncodeCounter(std::int64_t delta) {
  auto bits = static_cast<std::uint64_t>(delta);
  std::string out(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(bits & 0xff);
    bits >>= 8;
  }
  return out;
}

std::int64_t RocksDbDatabase::DecodeCounter(std::string_view value) {
  if (value.size() != 8) return 0;
  std::uint64_t bits = 0;
  for (std::size_t i = 8; i-- > 0;) {
    bits = (bits << 8) | static_cast<unsigned char>(value[i]);
  }
  return static_cast<std::int64_t>(bits);
}

}  // namespace kimera
