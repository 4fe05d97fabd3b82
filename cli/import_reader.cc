#include "import_reader.h"

#include <cerrno>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "kimera/identity_json.h"

namespace kimera_cli {
namespace {

bool IsBlank(const std::string& line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string::npos;
}

// Parses one line: either a bare identity object or an object that carries
// the identity under "identity" (the reference's sample format).
kimera::Status ParseLine(const std::string& line, kimera::Identity* out) {
  const nlohmann::json value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // Parsing again costs nothing on the good path and gives the library's
    // own message with the position of the error.
    return kimera::IdentityFromJsonText(line, out);
  }
  if (value.is_object() && !value.contains("id")) {
    const auto wrapped = value.find("identity");
    if (wrapped != value.end()) {
      if (wrapped->is_object()) return kimera::IdentityFromJson(*wrapped, out);
      // "field 'id' is missing" would hide what the line meant to be.
      return kimera::Status::InvalidArgument(
          std::string("key 'identity' must hold an identity object (got ") + wrapped->type_name() +
          "), and there is no 'id' for a bare identity");
    }
  }
  return kimera::IdentityFromJson(value, out);
}

}  // namespace

bool ChunkQueue::Push(ImportChunk chunk) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return stopped_ || chunks_.size() < capacity_; });
  if (stopped_) return false;
  chunks_.push_back(std::move(chunk));
  changed_.notify_all();
  return true;
}

ImportChunk ChunkQueue::Pop() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !chunks_.empty(); });
  ImportChunk chunk = std::move(chunks_.front());
  chunks_.pop_front();
  changed_.notify_all();
  return chunk;
}

void ChunkQueue::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  chunks_.clear();
  changed_.notify_all();
}

void ReadChunks(LineReader& reader, const ChunkLimits& limits, ChunkQueue& queue) {
  ImportChunk chunk;
  std::unordered_set<std::string> ids;
  std::size_t bytes = 0;
  const auto hand_over = [&](ImportChunk::End end) {
    chunk.bytes_read = reader.bytes_read();
    chunk.end = end;
    const bool taken = queue.Push(std::move(chunk));
    chunk = ImportChunk{};
    ids.clear();
    bytes = 0;
    return taken;
  };
  std::string line;
  for (;;) {
    if ((!chunk.batch.empty() || !chunk.bad.empty()) && !reader.LineReady()) {
      if (!hand_over(ImportChunk::End::kNo)) return;
    }
    const LineReader::Result r = reader.Next(&line);
    if (r == LineReader::Result::kEnd) {
      hand_over(ImportChunk::End::kInput);
      return;
    }
    if (r == LineReader::Result::kError) {
      chunk.error = errno;
      hand_over(ImportChunk::End::kError);
      return;
    }
    if (r == LineReader::Result::kTooLong) {
      chunk.bad.emplace_back(reader.line_number(), "line longer than 32 MiB, skipped");
    } else if (!IsBlank(line)) {
      kimera::Identity identity;
      if (kimera::Status s = ParseLine(line, &identity); !s.ok()) {
        chunk.bad.emplace_back(reader.line_number(), s.message());
      } else {
        // A batch holds an id once (StoreMany refuses it twice): a repeat
        // goes into the next chunk, after the one it repeats.
        if (ids.count(identity.id) != 0 && !hand_over(ImportChunk::End::kNo)) return;
        ids.insert(identity.id);
        chunk.lines.push_back(reader.line_number());
        bytes += line.size();
        chunk.batch.push_back(std::move(identity));
      }
    }
    if (chunk.batch.size() >= limits.identities || bytes >= limits.bytes ||
        chunk.bad.size() >= limits.bad_lines) {
      if (!hand_over(ImportChunk::End::kNo)) return;
    }
  }
}

}  // namespace kimera_cli
