// kimera get ID: one identity as a JSON line.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "identity_output.h"
#include "kimera/identity.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

int RunGet(const GlobalOptions& global, const std::string& id) {
  std::unique_ptr<kimera::IdentityStore> store;
  if (kimera::Status s = OpenStoreForCli(global, Access::kRead, &store); !s.ok()) {
    return ReportOpenFailure(global, s);
  }
  kimera::Identity identity;
  kimera::Status s = store->Fetch(id, &identity);
  if (s.IsNotFound()) {
    PrintError("id '" + kimera::DisplayId(id) + "' not found");
    return kExitNotFound;
  }
  if (!s.ok()) {
    PrintError(s.ToString());
    return kExitStorage;
  }
  if (!WriteIdentityLine(stdout, identity) || std::fflush(stdout) != 0) {
    PrintError("writing to standard output failed");
    return kExitStorage;
  }
  return kExitOk;
}

}  // namespace

void AddGetCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "get",
      "Print one identity as a JSON line with its entropy and effective tau (exit 2 when "
      "absent).");
  auto id = std::make_shared<std::string>();
  cmd->add_option("ID", *id, "Identity id")->required();
  SetCommandBody(cmd, [&global, id] { return RunGet(global, *id); });
}

}  // namespace kimera_cli
