#include "power_loss_fs.h"

#include <algorithm>
#include <filesystem>
#include <utility>

namespace kimera {
namespace {

using FileState = PowerLossFileSystem::FileState;

// RocksDB names a file as its folder plus a name, but a folder given with a
// trailing slash or "./" must still match the directory it fsyncs.
std::string Normalize(const std::string& path) {
  std::string out = std::filesystem::path(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string ParentOf(const std::string& normalized) {
  return std::filesystem::path(normalized).parent_path().string();
}

bool IsWal(const std::string& fname) {
  return fname.size() > 4 && fname.compare(fname.size() - 4, 4, ".log") == 0;
}

// Renames only ever replace small files (CURRENT, IDENTITY, OPTIONS); a
// bigger one is not copied, and a cut then leaves the rename in place.
constexpr std::uint64_t kMaxReplacedBytes = 1u << 20;

class TrackedWritableFile : public rocksdb::FSWritableFileWrapper {
 public:
  TrackedWritableFile(std::unique_ptr<rocksdb::FSWritableFile> target, PowerLossFileSystem* fs,
                      std::shared_ptr<FileState> state, std::string fname)
      : rocksdb::FSWritableFileWrapper(target.get()),
        owned_(std::move(target)),
        fs_(fs),
        state_(std::move(state)),
        fname_(std::move(fname)) {}

  ~TrackedWritableFile() override {
    // The real file's destructor closes it, and POSIX close truncates the
    // file to the length it believes in, which after a cut would grow the
    // file back; the process ends right after a cut, so leak it instead.
    const rocksdb::IOStatus s = fs_->Guarded([this] {
      owned_.reset();
      return rocksdb::IOStatus::OK();
    });
    if (!s.ok()) (void)owned_.release();
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      rocksdb::IOStatus s = target()->Append(data, options, dbg);
      if (s.ok()) fs_->NoteAppend(state_, data.size());
      return s;
    });
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      rocksdb::IOStatus s = target()->Append(data, options, info, dbg);
      if (s.ok()) fs_->NoteAppend(state_, data.size());
      return s;
    });
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      rocksdb::IOStatus s = target()->PositionedAppend(data, offset, options, dbg);
      if (s.ok()) fs_->NoteWriteAt(state_, offset + data.size());
      return s;
    });
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      rocksdb::IOStatus s = target()->PositionedAppend(data, offset, options, info, dbg);
      if (s.ok()) fs_->NoteWriteAt(state_, offset + data.size());
      return s;
    });
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      rocksdb::IOStatus s = target()->Truncate(size, options, dbg);
      if (s.ok()) fs_->NoteTruncate(state_, size);
      return s;
    });
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] { return target()->Close(options, dbg); });
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] { return target()->Flush(options, dbg); });
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    return SyncWith([&] { return target()->Sync(options, dbg); });
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return SyncWith([&] { return target()->Fsync(options, dbg); });
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      const std::uint64_t size = fs_->SizeOf(state_);
      rocksdb::IOStatus s = target()->RangeSync(offset, nbytes, options, dbg);
      // Only a range reaching the written end counts: RocksDB's periodic
      // bytes_per_sync ranges trail it, and their data is synced for real
      // by the Sync that finishes the file.
      if (s.ok() && offset + nbytes >= size) fs_->NoteSync(state_, size, fname_);
      return s;
    });
  }
  rocksdb::IOStatus Allocate(uint64_t offset, uint64_t len, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] { return target()->Allocate(offset, len, options, dbg); });
  }

 private:
  template <typename Op>
  rocksdb::IOStatus SyncWith(Op&& op) {
    return fs_->Guarded([&] {
      // Appends may run during a sync (IsSyncThreadSafe); only what was
      // written before it started is surely on disk after it.
      const std::uint64_t size = fs_->SizeOf(state_);
      rocksdb::IOStatus s = op();
      if (s.ok()) fs_->NoteSync(state_, size, fname_);
      return s;
    });
  }

  std::unique_ptr<rocksdb::FSWritableFile> owned_;
  PowerLossFileSystem* fs_;
  std::shared_ptr<FileState> state_;
  std::string fname_;
};

class TrackedRandomRWFile : public rocksdb::FSRandomRWFileWrapper {
 public:
  TrackedRandomRWFile(std::unique_ptr<rocksdb::FSRandomRWFile> target, PowerLossFileSystem* fs,
                      std::shared_ptr<FileState> state, std::string fname)
      : rocksdb::FSRandomRWFileWrapper(target.get()),
        owned_(std::move(target)),
        fs_(fs),
        state_(std::move(state)),
        fname_(std::move(fname)) {}

  ~TrackedRandomRWFile() override {
    // As for writable files: no close reaches the disk after a cut.
    const rocksdb::IOStatus s = fs_->Guarded([this] {
      owned_.reset();
      return rocksdb::IOStatus::OK();
    });
    if (!s.ok()) (void)owned_.release();
  }

  rocksdb::IOStatus Write(uint64_t offset, const rocksdb::Slice& data,
                          const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      rocksdb::IOStatus s = target()->Write(offset, data, options, dbg);
      if (s.ok()) fs_->NoteWriteAt(state_, offset + data.size());
      return s;
    });
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] { return target()->Flush(options, dbg); });
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      const std::uint64_t size = fs_->SizeOf(state_);
      rocksdb::IOStatus s = target()->Sync(options, dbg);
      if (s.ok()) fs_->NoteSync(state_, size, fname_);
      return s;
    });
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return Sync(options, dbg);
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] { return target()->Close(options, dbg); });
  }

 private:
  std::unique_ptr<rocksdb::FSRandomRWFile> owned_;
  PowerLossFileSystem* fs_;
  std::shared_ptr<FileState> state_;
  std::string fname_;
};

class TrackedDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  TrackedDirectory(std::unique_ptr<rocksdb::FSDirectory> target, PowerLossFileSystem* fs,
                   std::string dirname)
      : rocksdb::FSDirectoryWrapper(std::move(target)), fs_(fs), dirname_(std::move(dirname)) {}

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] {
      // An entry added while the fsync runs may have missed it.
      const std::uint64_t seq = fs_->NextSeq();
      rocksdb::IOStatus s = rocksdb::FSDirectoryWrapper::Fsync(options, dbg);
      if (s.ok()) fs_->NoteDirectorySync(dirname_, seq);
      return s;
    });
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& options,
                                        rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& dir_options) override {
    return fs_->Guarded([&] {
      const std::uint64_t seq = fs_->NextSeq();
      rocksdb::IOStatus s =
          rocksdb::FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options);
      if (s.ok()) fs_->NoteDirectorySync(dirname_, seq);
      return s;
    });
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->Guarded([&] { return rocksdb::FSDirectoryWrapper::Close(options, dbg); });
  }

 private:
  PowerLossFileSystem* fs_;
  std::string dirname_;
};

}  // namespace

PowerLossFileSystem::PowerLossFileSystem(std::shared_ptr<rocksdb::FileSystem> base)
    : rocksdb::FileSystemWrapper(base) {}

rocksdb::IOStatus PowerLossFileSystem::DeadError() {
  return rocksdb::IOStatus::IOError("power cut: the file system is gone");
}

std::shared_ptr<FileState> PowerLossFileSystem::TrackNewLocked(const std::string& fname,
                                                               bool entry_durable) {
  auto state = std::make_shared<FileState>();
  state->entry_durable = entry_durable;
  state->entry_seq = seq_.fetch_add(1, std::memory_order_acq_rel);
  files_[fname] = state;
  return state;
}

std::optional<std::string> PowerLossFileSystem::ContentAfterCutLocked(const std::string& fname) {
  auto it = files_.find(fname);
  std::uint64_t keep = 0;
  if (it != files_.end()) {
    const FileState& file = *it->second;
    if (!file.entry_durable) return file.replaced;
    if (!file.ever_synced) return std::nullopt;
    keep = file.synced;
  } else {
    // Not written here: on disk since before this process, so durable.
    if (!target()->FileExists(fname, rocksdb::IOOptions(), nullptr).ok()) return std::nullopt;
    if (!target()->GetFileSize(fname, rocksdb::IOOptions(), &keep, nullptr).ok()) {
      return std::nullopt;
    }
  }
  if (keep > kMaxReplacedBytes) return std::nullopt;
  std::string content;
  if (!rocksdb::ReadFileToString(target(), fname, &content).ok()) return std::nullopt;
  content.resize(std::min<std::size_t>(content.size(), keep));
  return content;
}

void PowerLossFileSystem::NoteAppend(const std::shared_ptr<FileState>& file, std::uint64_t bytes) {
  std::lock_guard lock(state_mu_);
  file->size += bytes;
}

void PowerLossFileSystem::NoteWriteAt(const std::shared_ptr<FileState>& file, std::uint64_t end) {
  std::lock_guard lock(state_mu_);
  file->size = std::max(file->size, end);
}

void PowerLossFileSystem::NoteTruncate(const std::shared_ptr<FileState>& file, std::uint64_t size) {
  std::lock_guard lock(state_mu_);
  file->size = size;
  file->synced = std::min(file->synced, size);
}

std::uint64_t PowerLossFileSystem::SizeOf(const std::shared_ptr<FileState>& file) {
  std::lock_guard lock(state_mu_);
  return file->size;
}

void PowerLossFileSystem::NoteSync(const std::shared_ptr<FileState>& file,
                                   std::uint64_t size_at_start, const std::string& fname) {
  {
    std::lock_guard lock(state_mu_);
    file->synced = std::max(file->synced, std::min(size_at_start, file->size));
    file->ever_synced = true;
  }
  if (IsWal(fname)) wal_syncs_.fetch_add(1, std::memory_order_relaxed);
}

void PowerLossFileSystem::NoteDirectorySync(const std::string& dirname,
                                            std::uint64_t seq_at_start) {
  const std::string dir = Normalize(dirname);
  std::lock_guard lock(state_mu_);
  for (auto& [name, file] : files_) {
    if (file->entry_durable || file->entry_seq >= seq_at_start || ParentOf(name) != dir) continue;
    file->entry_durable = true;
    file->replaced.reset();
  }
}

PowerCutReport PowerLossFileSystem::Cut() {
  dead_.store(true, std::memory_order_release);
  std::unique_lock cut(cut_mu_);
  std::lock_guard lock(state_mu_);
  PowerCutReport report;
  const rocksdb::IOOptions io;
  for (const auto& [name, file] : files_) {
    std::uint64_t on_disk = 0;
    if (!target()->GetFileSize(name, io, &on_disk, nullptr).ok()) continue;
    if (!file->entry_durable || !file->ever_synced) {
      (void)target()->DeleteFile(name, io, nullptr);
      ++report.files_deleted;
      report.bytes_dropped += on_disk;
      if (!file->entry_durable && file->replaced.has_value()) {
        (void)rocksdb::WriteStringToFile(target(), *file->replaced, name, true);
        ++report.files_restored;
      }
    } else if (on_disk > file->synced) {
      (void)target()->Truncate(name, file->synced, io, nullptr);
      ++report.files_truncated;
      report.bytes_dropped += on_disk - file->synced;
    }
  }
  return report;
}

rocksdb::IOStatus PowerLossFileSystem::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return Guarded([&] {
    // An entry that already existed stays (only its bytes are new); a new
    // one needs a directory fsync.
    const bool existed = target()->FileExists(fname, options.io_options, dbg).ok();
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->NewWritableFile(fname, options, &file, dbg);
    if (!s.ok()) return s;
    std::shared_ptr<FileState> state;
    {
      std::lock_guard lock(state_mu_);
      state = TrackNewLocked(Normalize(fname), existed);
    }
    *result = std::make_unique<TrackedWritableFile>(std::move(file), this, std::move(state), fname);
    return s;
  });
}

rocksdb::IOStatus PowerLossFileSystem::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return Guarded([&] {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->ReopenWritableFile(fname, options, &file, dbg);
    if (!s.ok()) return s;
    const std::string name = Normalize(fname);
    std::shared_ptr<FileState> state;
    {
      std::lock_guard lock(state_mu_);
      auto it = files_.find(name);
      if (it != files_.end()) {
        state = it->second;
      } else {
        // Written before this process: all of it is durable.
        std::uint64_t size = 0;
        (void)target()->GetFileSize(fname, options.io_options, &size, dbg);
        state = TrackNewLocked(name, true);
        state->size = state->synced = size;
        state->ever_synced = true;
      }
    }
    *result = std::make_unique<TrackedWritableFile>(std::move(file), this, std::move(state), fname);
    return s;
  });
}

rocksdb::IOStatus PowerLossFileSystem::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return Guarded([&] {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, options, &file, dbg);
    if (!s.ok()) return s;
    std::shared_ptr<FileState> state;
    {
      // A recycled log is renamed and rewritten from its start: a new
      // entry whose old bytes count for nothing.
      std::lock_guard lock(state_mu_);
      files_.erase(Normalize(old_fname));
      state = TrackNewLocked(Normalize(fname), false);
    }
    *result = std::make_unique<TrackedWritableFile>(std::move(file), this, std::move(state), fname);
    return s;
  });
}

rocksdb::IOStatus PowerLossFileSystem::NewRandomRWFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSRandomRWFile>* result, rocksdb::IODebugContext* dbg) {
  return Guarded([&] {
    const bool existed = target()->FileExists(fname, options.io_options, dbg).ok();
    std::unique_ptr<rocksdb::FSRandomRWFile> file;
    rocksdb::IOStatus s = target()->NewRandomRWFile(fname, options, &file, dbg);
    if (!s.ok()) return s;
    const std::string name = Normalize(fname);
    std::shared_ptr<FileState> state;
    {
      std::lock_guard lock(state_mu_);
      auto it = files_.find(name);
      if (it != files_.end()) {
        state = it->second;
      } else {
        std::uint64_t size = 0;
        if (existed) (void)target()->GetFileSize(fname, options.io_options, &size, dbg);
        state = TrackNewLocked(name, existed);
        state->size = state->synced = size;
        state->ever_synced = existed;
      }
    }
    *result = std::make_unique<TrackedRandomRWFile>(std::move(file), this, std::move(state), fname);
    return s;
  });
}

rocksdb::IOStatus PowerLossFileSystem::NewSequentialFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSSequentialFile>* result, rocksdb::IODebugContext* dbg) {
  return Guarded([&] { return target()->NewSequentialFile(fname, options, result, dbg); });
}

rocksdb::IOStatus PowerLossFileSystem::NewRandomAccessFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSRandomAccessFile>* result, rocksdb::IODebugContext* dbg) {
  return Guarded([&] { return target()->NewRandomAccessFile(fname, options, result, dbg); });
}

rocksdb::IOStatus PowerLossFileSystem::NewDirectory(const std::string& name,
                                                    const rocksdb::IOOptions& options,
                                                    std::unique_ptr<rocksdb::FSDirectory>* result,
                                                    rocksdb::IODebugContext* dbg) {
  return Guarded([&] {
    std::unique_ptr<rocksdb::FSDirectory> dir;
    rocksdb::IOStatus s = target()->NewDirectory(name, options, &dir, dbg);
    if (s.ok()) *result = std::make_unique<TrackedDirectory>(std::move(dir), this, name);
    return s;
  });
}

rocksdb::IOStatus PowerLossFileSystem::DeleteFile(const std::string& fname,
                                                  const rocksdb::IOOptions& options,
                                                  rocksdb::IODebugContext* dbg) {
  return Guarded([&] {
    rocksdb::IOStatus s = target()->DeleteFile(fname, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(state_mu_);
      files_.erase(Normalize(fname));
    }
    return s;
  });
}

rocksdb::IOStatus PowerLossFileSystem::RenameFile(const std::string& src,
                                                  const std::string& target_name,
                                                  const rocksdb::IOOptions& options,
                                                  rocksdb::IODebugContext* dbg) {
  return Guarded([&] {
    const std::string from = Normalize(src);
    const std::string to = Normalize(target_name);
    std::lock_guard lock(state_mu_);
    auto it = files_.find(from);
    if (it == files_.end()) {
      // A file written before this process (an old info LOG): the rename
      // is kept, as the model keeps every change to such files.
      return target()->RenameFile(src, target_name, options, dbg);
    }
    std::optional<std::string> replaced = ContentAfterCutLocked(to);
    rocksdb::IOStatus s = target()->RenameFile(src, target_name, options, dbg);
    if (!s.ok()) return s;
    std::shared_ptr<FileState> state = it->second;
    files_.erase(it);
    state->entry_durable = false;
    state->entry_seq = seq_.fetch_add(1, std::memory_order_acq_rel);
    state->replaced = std::move(replaced);
    files_[to] = std::move(state);
    return s;
  });
}

rocksdb::IOStatus PowerLossFileSystem::LinkFile(const std::string& src,
                                                const std::string& target_name,
                                                const rocksdb::IOOptions& options,
                                                rocksdb::IODebugContext* dbg) {
  return Guarded([&] { return target()->LinkFile(src, target_name, options, dbg); });
}

rocksdb::IOStatus PowerLossFileSystem::Truncate(const std::string& fname, size_t size,
                                                const rocksdb::IOOptions& options,
                                                rocksdb::IODebugContext* dbg) {
  return Guarded([&] {
    rocksdb::IOStatus s = target()->Truncate(fname, size, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(state_mu_);
      auto it = files_.find(Normalize(fname));
      if (it != files_.end()) {
        it->second->size = size;
        it->second->synced = std::min<std::uint64_t>(it->second->synced, size);
      }
    }
    return s;
  });
}

rocksdb::IOStatus PowerLossFileSystem::CreateDir(const std::string& dirname,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
  return Guarded([&] { return target()->CreateDir(dirname, options, dbg); });
}

rocksdb::IOStatus PowerLossFileSystem::CreateDirIfMissing(const std::string& dirname,
                                                          const rocksdb::IOOptions& options,
                                                          rocksdb::IODebugContext* dbg) {
  return Guarded([&] { return target()->CreateDirIfMissing(dirname, options, dbg); });
}

rocksdb::IOStatus PowerLossFileSystem::DeleteDir(const std::string& dirname,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
  return Guarded([&] { return target()->DeleteDir(dirname, options, dbg); });
}

}  // namespace kimera
