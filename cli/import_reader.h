// The reading half of `kimera import`: a thread that reads JSON Lines and
// parses them into batches, handed through a bounded queue to the thread
// that stores them, so parsing one batch overlaps storing the one before.
//
// Thread-safety: ChunkQueue may be used from any thread; ReadChunks runs on
// one thread and owns its LineReader while it runs.
#ifndef KIMERA_CLI_IMPORT_READER_H_
#define KIMERA_CLI_IMPORT_READER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kimera/identity.h"
#include "line_reader.h"

namespace kimera_cli {

// Lines of input, read and parsed: the identities of one batch with their
// line numbers, and the lines refused before and among them, in file order.
struct ImportChunk {
  enum class End {
    kNo,     // More chunks follow.
    kInput,  // The input has ended after this chunk.
    kError,  // Reading failed after this chunk; `error` holds errno.
  };
  std::vector<kimera::Identity> batch;
  std::vector<std::uint64_t> lines;                        // Line of each identity.
  std::vector<std::pair<std::uint64_t, std::string>> bad;  // Line, why it was refused.
  std::uint64_t bytes_read = 0;                            // Input consumed up to here.
  End end = End::kNo;
  int error = 0;
};

// A bounded queue of chunks, in order, from one producer to one consumer.
class ChunkQueue {
 public:
  explicit ChunkQueue(std::size_t capacity) : capacity_(capacity) {}

  // Waits for room; false (the chunk dropped) once the consumer stopped.
  bool Push(ImportChunk chunk);
  // Waits for the next chunk.
  ImportChunk Pop();
  // The consumer gives up: every Push from now on returns false at once.
  void Stop();

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<ImportChunk> chunks_;
  const std::size_t capacity_;
  bool stopped_ = false;
};

// Limits of one chunk: identities, input bytes of those identities, and
// refused lines (so a file of bad lines is reported as it is read).
struct ChunkLimits {
  std::size_t identities = 100;
  std::size_t bytes = 8u << 20;
  std::size_t bad_lines = 1000;
};

// Reads `reader` to its end into chunks pushed on `queue`, the last one
// marked kInput or kError; returns early when the queue is stopped. A chunk
// holds an id once (a repeat starts the next chunk), and is handed over
// before any read that may block (a pipe), so that nothing waits in it while
// the input is idle.
void ReadChunks(LineReader& reader, const ChunkLimits& limits, ChunkQueue& queue);

}  // namespace kimera_cli

#endif  // KIMERA_CLI_IMPORT_READER_H_
