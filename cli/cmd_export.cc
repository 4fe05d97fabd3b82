// kimera export: every identity as JSON Lines, in id order.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "commands.h"
#include "identity_output.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

struct ExportOptions {
  std::string output;  // Default: standard output.
};

int RunExport(const GlobalOptions& global, const ExportOptions& options) {
  std::unique_ptr<kimera::IdentityStore> store;
  if (kimera::Status s = OpenStoreForCli(global, &store); !s.ok()) {
    PrintError("cannot open database '" + global.db_path + "': " + s.ToString());
    return kExitStorage;
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
  kimera::Status s = store->Scan("", [&](const kimera::Identity& identity) {
    if (!WriteIdentityLine(out, identity)) {
      write_failed = true;
      return false;
    }
    ++exported;
    return true;
  });
  if (std::fflush(out) != 0) write_failed = true;
  const int write_errno = errno;
  if (owned != nullptr && std::fclose(owned) != 0) write_failed = true;

  if (!s.ok()) {
    PrintError("export stopped after " + std::to_string(exported) + " identities: " + s.ToString());
    return kExitStorage;
  }
  if (write_failed) {
    PrintError("writing the export failed: " + std::string(std::strerror(write_errno)));
    return kExitStorage;
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
