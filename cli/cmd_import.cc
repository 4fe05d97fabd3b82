// kimera import FILE: JSON Lines in, one identity per line.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "commands.h"
#include "kimera/identity_json.h"
#include "line_reader.h"
#include "progress.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

constexpr std::size_t kMaxLineBytes = 32u << 20;  // 32 MiB.
constexpr std::size_t kBatchBytes = 8u << 20;     // Input bytes per StoreMany.

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

std::uint64_t RegularFileSize(std::FILE* file) {
  struct stat st;
  if (fstat(fileno(file), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
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

  LineReader reader(input, kMaxLineBytes);
  ProgressBar progress("identities", RegularFileSize(input));
  std::uint64_t imported = 0;
  std::uint64_t bad = 0;
  std::string line;
  kimera::Identity identity;

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

  // Parsed lines go to the store in batches: one atomic StoreMany (one
  // WriteBatch on the embedded store) per batch_size identities or
  // kBatchBytes of input; one write per line was where an import's time
  // went.
  // A crash leaves whole batches, in file order; running the same import
  // again completes it (each line is an upsert).
  std::vector<kimera::Identity> batch;
  std::vector<std::uint64_t> batch_lines;
  std::unordered_set<std::string> batch_ids;
  std::size_t batch_bytes = 0;
  // Stores the batch. An error stops the import; *at then names the line
  // that failed, or the lines not stored (all of the batch when it was one
  // atomic write; an "identities[i]" in the error counts from the batch's
  // first line).
  auto flush = [&](std::string* at) -> kimera::Status {
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
          report_bad(batch_lines[i], s.message());
          continue;
        }
        if (!s.ok()) {
          *at = "line " + std::to_string(batch_lines[i]);
          return s;
        }
        ++imported;
      }
    } else if (!s.ok()) {
      *at = stored + 1 == batch.size() ? "line " + std::to_string(batch_lines[stored])
                                       : "lines " + std::to_string(batch_lines[stored]) + "-" +
                                             std::to_string(batch_lines.back());
      return s;
    }
    batch.clear();
    batch_lines.clear();
    batch_ids.clear();
    batch_bytes = 0;
    progress.Update(imported, reader.bytes_read());
    return kimera::Status::OK();
  };
  std::string failed_line;

  for (;;) {
    // Nothing waits in a batch while the input may block (a pipe).
    if (!batch.empty() && !reader.LineReady()) {
      if (kimera::Status s = flush(&failed_line); !s.ok()) return stopped(failed_line, s);
    }
    const LineReader::Result r = reader.Next(&line);
    if (r == LineReader::Result::kEnd) break;
    if (r == LineReader::Result::kError) {
      progress.Clear();
      PrintError("reading '" + path + "' failed: " + std::strerror(errno));
      PrintError("import stopped after " + std::to_string(imported) + " identities");
      return kExitStorage;
    }
    if (r == LineReader::Result::kTooLong) {
      report_bad(reader.line_number(), "line longer than 32 MiB, skipped");
      continue;
    }
    if (IsBlank(line)) continue;
    if (kimera::Status s = ParseLine(line, &identity); !s.ok()) {
      report_bad(reader.line_number(), s.message());
      continue;
    }
    // A batch holds an id once (StoreMany refuses it twice): a repeat
    // goes into the next batch, after the one it repeats.
    if (batch_ids.count(identity.id) != 0) {
      if (kimera::Status s = flush(&failed_line); !s.ok()) return stopped(failed_line, s);
    }
    batch_ids.insert(identity.id);
    batch_lines.push_back(reader.line_number());
    batch_bytes += line.size();
    batch.push_back(std::move(identity));
    if (batch.size() >= batch_size || batch_bytes >= kBatchBytes) {
      if (kimera::Status s = flush(&failed_line); !s.ok()) return stopped(failed_line, s);
    }
  }
  if (kimera::Status s = flush(&failed_line); !s.ok()) return stopped(failed_line, s);
  progress.Update(imported, reader.bytes_read());
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
