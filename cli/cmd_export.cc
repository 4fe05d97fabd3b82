// kimera export: every identity as JSON Lines, in id order.
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

int RunExport(const GlobalOptions& global, const ExportOptions& options) {
  std::unique_ptr<kimera::EntropyStore> store;
  if (kimera::Status s = OpenEntropyStoreForCli(global, Access::kRead, &store); !s.ok()) {
    return ReportOpenFailure(global, s);
  }

  std::FILE* out = stdout;
  std::FILE* owned = nullptr;
  if (!options.output.empty() && options.output != "-") {
    owned = std::fopen(options.output.c_str(), "wb");
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
  const int write_errno = errno;
  if (owned != nullptr && std::fclose(owned) != 0) write_failed = true;

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
      "Write every identity as JSON Lines: the reference fields plus \"entropy\" and "
      "\"effective_tau\".");
  auto options = std::make_shared<ExportOptions>();
  cmd->add_option("-o,--output", options->output, "Write to FILE instead of standard output")
      ->type_name("FILE");
  SetCommandBody(cmd, [&global, options] { return RunExport(global, *options); });
}

}  // namespace kimera_cli
