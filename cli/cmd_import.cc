// kimera import FILE: JSON Lines in, one identity per line.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "kimera/identity_json.h"
#include "line_reader.h"
#include "progress.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

constexpr std::size_t kMaxLineBytes = 32u << 20;  // 32 MiB.

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

int RunImport(const GlobalOptions& global, const std::string& path) {
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

  auto report_bad = [&](const std::string& reason) {
    ++bad;
    progress.Clear();
    std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(reader.line_number()),
                 reason.c_str());
  };

  for (;;) {
    const LineReader::Result r = reader.Next(&line);
    if (r == LineReader::Result::kEnd) break;
    if (r == LineReader::Result::kError) {
      progress.Clear();
      PrintError("reading '" + path + "' failed: " + std::strerror(errno));
      return kExitStorage;
    }
    if (r == LineReader::Result::kTooLong) {
      report_bad("line longer than 32 MiB, skipped");
      continue;
    }
    if (IsBlank(line)) continue;
    if (kimera::Status s = ParseLine(line, &identity); !s.ok()) {
      report_bad(s.message());
      continue;
    }
    kimera::Status s = store->Store(identity);
    if (s.IsInvalidArgument()) {
      report_bad(s.message());
      continue;
    }
    if (!s.ok()) {
      progress.Clear();
      PrintError("line " + std::to_string(reader.line_number()) + ": " + s.ToString());
      PrintError("import stopped after " + std::to_string(imported) + " identities");
      return kExitStorage;
    }
    ++imported;
    progress.Update(imported, reader.bytes_read());
  }
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
  SetCommandBody(cmd, [&global, path] { return RunImport(global, *path); });
}

}  // namespace kimera_cli
