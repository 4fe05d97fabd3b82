// kimera export: every identity as JSON Lines, in id order.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "identity_output.h"
#include "kimera/entropy_index.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

constexpr std::size_t kListedLost = 20;

// After a scan stopped at damaged data (a corrupt SST block), exports the
// records after `last_id` one by one, in id order, from the ids the entropy
// index knows: each read that fails goes to `*lost` and the rest still comes
// out. `*write_failed` reports a failed write of the output.
kimera::Status ExportRest(kimera::EntropyStore& store, const std::string& last_id, bool any,
                          std::FILE* out, std::uint64_t* exported, std::vector<std::string>* lost,
                          bool* write_failed) {
  std::vector<std::string> ids;
  kimera::Status s =
      store.index().ForEachOrdered("", [&](std::string_view, const kimera::IndexEntry& entry) {
        if (!any || entry.id > last_id) ids.push_back(entry.id);
        return true;
      });
  if (!s.ok()) return s;
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    kimera::Identity identity;
    kimera::Status read = store.Fetch(id, &identity);
    if (read.IsNotFound()) continue;
    if (!read.ok()) {
      lost->push_back(id);
      continue;
    }
    if (!WriteIdentityLine(out, identity)) {
      *write_failed = true;
      return kimera::Status::OK();
    }
    ++*exported;
  }
  return kimera::Status::OK();
}

struct ExportOptions {
  std::string output;  // Default: standard output.
};

// Opens a new temporary file in the folder of `path` (so that the final
// rename stays within one file system), with the permissions a plain fopen
// would have given. nullptr with errno set on failure.
std::FILE* OpenTemporaryBeside(const std::string& path, std::string* temp_path) {
  const std::size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string name = folder + "." + base + ".tmp-XXXXXX";
  const int fd = mkstemp(name.data());
  if (fd < 0) return nullptr;
  const mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  std::FILE* file = fdopen(fd, "wb");
  if (file == nullptr) {
    const int saved = errno;
    close(fd);
    unlink(name.c_str());
    errno = saved;
    return nullptr;
  }
  *temp_path = std::move(name);
  return file;
}

int RunExport(const GlobalOptions& global, const ExportOptions& options) {
  std::unique_ptr<kimera::EntropyStore> store;
  if (kimera::Status s = OpenEntropyStoreForCli(global, Access::kRead, &store); !s.ok()) {
    return ReportOpenFailure(global, s);
  }

  std::FILE* out = stdout;
  std::FILE* owned = nullptr;
  std::string temp_path;
  if (!options.output.empty() && options.output != "-") {
    owned = OpenTemporaryBeside(options.output, &temp_path);
    if (owned == nullptr) {
      PrintError("cannot write '" + options.output + "': " + std::strerror(errno));
      return kExitStorage;
    }
    out = owned;
  }

  bool write_failed = false;
  std::uint64_t exported = 0;
  std::string last_id;
  kimera::Status s = store->Scan("", [&](const kimera::Identity& identity) {
    if (!WriteIdentityLine(out, identity)) {
      write_failed = true;
      return false;
    }
    ++exported;
    last_id = identity.id;
    return true;
  });
  std::vector<std::string> lost;
  if (s.IsCorruption() && global.salvage && !write_failed) {
    s = ExportRest(*store, last_id, exported > 0, out, &exported, &lost, &write_failed);
  }
  if (std::fflush(out) != 0) write_failed = true;
  int write_errno = errno;
  if (owned != nullptr) {
    // The data must be on disk before the rename makes it the export.
    if (!write_failed && fsync(fileno(owned)) != 0) {
      write_failed = true;
      write_errno = errno;
    }
    if (std::fclose(owned) != 0 && !write_failed) {
      write_failed = true;
      write_errno = errno;
    }
    if (s.ok() && !write_failed && std::rename(temp_path.c_str(), options.output.c_str()) != 0) {
      write_failed = true;
      write_errno = errno;
    }
    // A failed export leaves no partial file, and an older export at the
    // same path untouched.
    if (!s.ok() || write_failed) std::remove(temp_path.c_str());
  }

  if (!s.ok()) {
    PrintError("export stopped after " + std::to_string(exported) + " identities: " + s.ToString() +
               (s.IsCorruption() && !global.salvage
                    ? " (run again with --salvage to export every record that can still be read)"
                    : ""));
    return kExitStorage;
  }
  if (write_failed) {
    PrintError("writing the export failed: " + std::string(std::strerror(write_errno)));
    return kExitStorage;
  }
  if (!lost.empty()) {
    std::string ids;
    for (std::size_t i = 0; i < lost.size() && i < kListedLost; ++i) ids += " " + lost[i];
    if (lost.size() > kListedLost) ids += " ...";
    PrintError("warning: salvaged export: " + std::to_string(exported) + " identities written, " +
               std::to_string(lost.size()) + " unreadable (damaged storage) and left out:" + ids);
  }
  return kExitOk;
}

}  // namespace

void AddExportCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write every identity as JSON Lines: the reference fields, any other keys it was stored "
      "with, then \"entropy\" and \"effective_tau\". With -o the file is written under a temporary "
      "name beside it and renamed when complete: a failed export leaves no partial file.");
  auto options = std::make_shared<ExportOptions>();
  cmd->add_option("-o,--output", options->output, "Write to FILE instead of standard output")
      ->type_name("FILE");
  SetCommandBody(cmd, [&global, options] { return RunExport(global, *options); });
}

}  // namespace kimera_cli
