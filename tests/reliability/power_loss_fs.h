// PowerLossFileSystem: a rocksdb::FileSystemWrapper over the real file
// system that remembers what a power cut would keep, and Cut() makes the
// disk look as it would after one.
//
// Every byte goes to the real files at once (the database stays a real
// RocksDB on disk); the wrapper only records, per file it writes, the length
// at its last successful Sync, Fsync or RangeSync reaching the written end,
// and whether its directory entry was made durable. Cut() then drops the
// rest. The model:
//
//  * keeps a file's bytes up to its last sync; drops the bytes after it;
//  * deletes a file created here that was never synced;
//  * deletes a file created (or renamed into place) here whose directory
//    was not fsynced since, putting back the content of a file the rename
//    replaced (so a CURRENT written by rename but never made durable is the
//    old CURRENT again);
//  * keeps every deletion and every file this wrapper did not write (the
//    state the process started from is durable): it does not bring back a
//    file deleted without a directory fsync, which a real disk might.
//
// Files are tracked by their lexically normalized path, so a folder given
// with a trailing slash still matches the directory RocksDB fsyncs. After
// Cut() every open, write, sync, rename and delete fails with IOError;
// reads of files already open still work (they change nothing on disk).
//
// Thread-safety: safe for concurrent use by many threads; Cut() waits for the
// file operations in flight.
#ifndef KIMERA_TESTS_RELIABILITY_POWER_LOSS_FS_H_
#define KIMERA_TESTS_RELIABILITY_POWER_LOSS_FS_H_

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>

namespace kimera {

// What Cut() did to the files on disk.
struct PowerCutReport {
  std::uint64_t files_truncated = 0;  // Cut back to their last synced length.
  std::uint64_t files_deleted = 0;    // Never synced, or their entry never made durable.
  std::uint64_t files_restored = 0;   // Replaced by a rename that was not durable.
  std::uint64_t bytes_dropped = 0;    // Written but not synced.
};

class PowerLossFileSystem : public rocksdb::FileSystemWrapper {
 public:
  // The state of one file written through the wrapper; shared with the
  // open file objects so a rename moves it with the file. Guarded by the
  // file system's state mutex.
  struct FileState {
    std::uint64_t size = 0;               // Bytes written.
    std::uint64_t synced = 0;             // Bytes a sync made durable.
    bool ever_synced = false;             // A sync succeeded at least once.
    bool entry_durable = false;           // Its directory was fsynced after the entry appeared.
    std::uint64_t entry_seq = 0;          // When the entry appeared (create, rename).
    std::optional<std::string> replaced;  // Content a rename replaced; put back by a cut.
  };

  // Wraps `base` (the process's default file system unless given).
  explicit PowerLossFileSystem(
      std::shared_ptr<rocksdb::FileSystem> base = rocksdb::FileSystem::Default());

  const char* Name() const override { return "PowerLossFileSystem"; }

  // Simulates the power cut: waits for the operations in flight, makes
  // every later operation fail, then truncates and deletes files as the
  // model above says. Call once; the process should end (`_exit`) soon
  // after, since the open database can only fail from then on.
  PowerCutReport Cut();
  // True once Cut() has started.
  bool dead() const { return dead_.load(std::memory_order_acquire); }
  // Successful syncs of write-ahead-log files (*.log) seen so far.
  std::uint64_t wal_syncs() const { return wal_syncs_.load(std::memory_order_relaxed); }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewSequentialFile(const std::string& fname, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomAccessFile(const std::string& fname,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                        rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& target,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& fname, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& dirname,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;

  // For the file objects the wrapper hands out (power_loss_fs.cc), not for
  // tests. Guarded runs `op` (returning rocksdb::IOStatus) with the cut held
  // off, or returns IOError without running it once the cut has started.
  template <typename Op>
  rocksdb::IOStatus Guarded(Op&& op) {
    // Checked before taking the lock as well: glibc's rwlock lets new
    // readers pass a waiting writer, so operations arriving during the cut
    // must not queue for the lock.
    if (dead()) return DeadError();
    std::shared_lock lock(cut_mu_);
    if (dead()) return DeadError();
    return op();
  }
  static rocksdb::IOStatus DeadError();
  void NoteAppend(const std::shared_ptr<FileState>& file, std::uint64_t bytes);
  void NoteWriteAt(const std::shared_ptr<FileState>& file, std::uint64_t end);
  void NoteTruncate(const std::shared_ptr<FileState>& file, std::uint64_t size);
  std::uint64_t SizeOf(const std::shared_ptr<FileState>& file);
  void NoteSync(const std::shared_ptr<FileState>& file, std::uint64_t size_at_start,
                const std::string& fname);
  void NoteDirectorySync(const std::string& dirname, std::uint64_t seq_at_start);
  std::uint64_t NextSeq() const { return seq_.load(std::memory_order_acquire); }

 private:
  // Starts tracking `fname` (normalized) as a new entry whose bytes all
  // need a sync. Caller holds state_mu_.
  std::shared_ptr<FileState> TrackNewLocked(const std::string& fname, bool entry_durable);
  // What `fname` (normalized) would hold after a cut now, when small enough
  // to keep; nullopt when it would not exist. Caller holds state_mu_.
  std::optional<std::string> ContentAfterCutLocked(const std::string& fname);

  std::atomic<bool> dead_{false};
  std::atomic<std::uint64_t> wal_syncs_{0};
  std::atomic<std::uint64_t> seq_{1};
  // Shared by every file operation, exclusive for Cut(): nothing is in
  // flight while the cut rewrites the files.
  std::shared_mutex cut_mu_;
  std::mutex state_mu_;  // Guards files_ and every FileState.
  std::map<std::string, std::shared_ptr<FileState>> files_;
};

}  // namespace kimera

#endif  // KIMERA_TESTS_RELIABILITY_POWER_LOSS_FS_H_
