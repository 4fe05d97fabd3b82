// kimera import FILE: JSON Lines in, one identity per line.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "import_reader.h"
#include "line_reader.h"
#include "progress.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

constexpr std::size_t kMaxLineBytes = 32u << 20;  // 32 MiB.
constexpr std::size_t kBatchBytes = 8u << 20;     // Input bytes per StoreMany.
// Parsed chunks waiting for the store: enough to ride out a slow write,
// few enough to bound memory (each holds at most kBatchBytes of input).
constexpr std::size_t kQueuedChunks = 4;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// The reading thread and what it uses, kept alive by whichever of the two
// threads ends last: an import stopped by a store error leaves behind a
// reader that may be blocked on an idle pipe, and does not wait for it.
struct ReadSide {
  ReadSide(std::unique_ptr<std::FILE, FileCloser> file, std::FILE* input)
      : owned(std::move(file)), reader(input, kMaxLineBytes), queue(kQueuedChunks) {}
  std::unique_ptr<std::FILE, FileCloser> owned;
  LineReader reader;
  ChunkQueue queue;
};

class ReaderThread {
 public:
  ReaderThread(std::shared_ptr<ReadSide> side, const ChunkLimits& limits, bool may_block)
      : side_(std::move(side)), may_block_(may_block) {
    thread_ =
        std::thread([side = side_, limits] { ReadChunks(side->reader, limits, side->queue); });
  }
  ~ReaderThread() {
    side_->queue.Stop();
    if (finished_ || !may_block_) {
      thread_.join();
    } else {
      thread_.detach();
    }
  }
  ReaderThread(const ReaderThread&) = delete;
  ReaderThread& operator=(const ReaderThread&) = delete;

  // The last chunk was taken: the thread has returned or is returning.
  void Finished() { finished_ = true; }

 private:
  std::shared_ptr<ReadSide> side_;
  const bool may_block_;
  bool finished_ = false;
  std::thread thread_;
};

int RunImport(const GlobalOptions& global, const std::string& path, std::size_t batch_size) {
  std::unique_ptr<std::FILE, FileCloser> owned;
  std::FILE* input = stdin;
  if (path != "-") {
    owned.reset(std::fopen(path.c_str(), "rb"));
    if (!owned) {
      PrintError("cannot open '" + path + "': " + std::strerror(errno));
      return kExitStorage;
    }
    input = owned.get();
  }

  std::unique_ptr<kimera::IdentityStore> store;
  if (kimera::Status s = OpenStoreForCli(global, Access::kCreate, &store); !s.ok()) {
    return ReportOpenFailure(global, s);
  }

  // A regular file has a size for the progress bar, and its reads never wait.
  struct stat st;
  const bool regular = fstat(fileno(input), &st) == 0 && S_ISREG(st.st_mode);
  ProgressBar progress("identities", regular ? static_cast<std::uint64_t>(st.st_size) : 0);
  // Lines are read and parsed on a thread of their own, a batch ahead of the
  // stores here: one atomic StoreMany (one WriteBatch on the embedded store)
  // per batch_size identities or kBatchBytes of input; one write per line
  // was where an import's time went. A crash leaves whole batches, in file
  // order; running the same import again completes it (each line is an
  // upsert).
  ChunkLimits limits;
  limits.identities = batch_size;
  limits.bytes = kBatchBytes;
  auto side = std::make_shared<ReadSide>(std::move(owned), input);
  ReaderThread reading(side, limits, /*may_block=*/!regular);

  std::uint64_t imported = 0;
  std::uint64_t bad = 0;
  auto report_bad = [&](std::uint64_t line_number, const std::string& reason) {
    ++bad;
    progress.Clear();
    std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(line_number),
                 reason.c_str());
  };
  auto stopped = [&](const std::string& where, const kimera::Status& s) {
    progress.Clear();
    PrintError(where + ": " + s.ToString());
    PrintError("import stopped after " + std::to_string(imported) + " identities");
    return kExitStorage;
  };

  // Stores a chunk's batch. An error stops the import; *at then names the
  // line that failed, or the lines not stored (all of the batch when it was
  // one atomic write; an "identities[i]" in the error counts from the
  // batch's first line).
  auto store_batch = [&](const ImportChunk& chunk, std::string* at) -> kimera::Status {
    const std::vector<kimera::Identity>& batch = chunk.batch;
    if (batch.empty()) return kimera::Status::OK();
    std::size_t stored = 0;
    kimera::Status s = store->StoreMany(batch, &stored);
    imported += stored;
    if (s.IsInvalidArgument()) {
      // Some line breaks a rule only a store checks (the model's, or the
      // timestamp window): the rest of the batch again, one line at a time,
      // so that each bad line is reported with its number and the others
      // are stored.
      for (std::size_t i = stored; i < batch.size(); ++i) {
        s = store->Store(batch[i]);
        if (s.IsInvalidArgument()) {
          report_bad(chunk.lines[i], s.message());
          continue;
        }
        if (!s.ok()) {
          *at = "line " + std::to_string(chunk.lines[i]);
          return s;
        }
        ++imported;
      }
    } else if (!s.ok()) {
      *at = stored + 1 == batch.size() ? "line " + std::to_string(chunk.lines[stored])
                                       : "lines " + std::to_string(chunk.lines[stored]) + "-" +
                                             std::to_string(chunk.lines.back());
      return s;
    }
    return kimera::Status::OK();
  };

  for (;;) {
    const ImportChunk chunk = side->queue.Pop();
    if (chunk.end != ImportChunk::End::kNo) reading.Finished();
    for (const auto& [line_number, reason] : chunk.bad) report_bad(line_number, reason);
    std::string failed_line;
    if (kimera::Status s = store_batch(chunk, &failed_line); !s.ok()) {
      return stopped(failed_line, s);
    }
    progress.Update(imported, chunk.bytes_read);
    if (chunk.end == ImportChunk::End::kError) {
      progress.Clear();
      PrintError("reading '" + path + "' failed: " + std::strerror(chunk.error));
      PrintError("import stopped after " + std::to_string(imported) + " identities");
      return kExitStorage;
    }
    if (chunk.end == ImportChunk::End::kInput) break;
  }
  progress.Finish();

  if (kimera::Status s = store->Sync(); !s.ok()) {
    PrintError("sync failed: " + s.ToString());
    return kExitStorage;
  }
  std::fprintf(stderr, "imported %llu %s, %llu bad %s\n", static_cast<unsigned long long>(imported),
               imported == 1 ? "identity" : "identities", static_cast<unsigned long long>(bad),
               bad == 1 ? "line" : "lines");
  return bad == 0 ? kExitOk : kExitBadInput;
}

}  // namespace

void AddImportCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Import identities from JSON Lines: one identity per line, bare or as {\"identity\": {...}}. "
      "Bad lines are reported and skipped (exit 1).");
  auto path = std::make_shared<std::string>();
  cmd->add_option("FILE", *path, "JSON Lines file; - reads standard input")->required();
  auto batch = std::make_shared<std::size_t>(100);
  cmd->add_option("--batch", *batch,
                  "identities per atomic write (default 100; 1 stores each line on its own)")
      ->check(CLI::Range(std::size_t{1}, kimera::kMaxStoreMany));
  SetCommandBody(cmd, [&global, path, batch] { return RunImport(global, *path, *batch); });
}

}  // namespace kimera_cli
