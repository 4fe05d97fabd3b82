// kimera remove ID...: deletes identities through the whole configured store
// stack, so the entropy index, the metrics and dual-write see each remove as
// they see one made by a host.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "kimera/identity.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

int RunRemove(const GlobalOptions& global, const std::vector<std::string>& ids) {
  std::unique_ptr<kimera::IdentityStore> store;
  if (kimera::Status s = OpenStoreForCli(global, Access::kWrite, &store); !s.ok()) {
    return ReportOpenFailure(global, s);
  }
  std::uint64_t removed = 0;
  std::uint64_t missing = 0;
  for (const std::string& id : ids) {
    kimera::Status s = store->Remove(id);
    if (s.IsNotFound()) {
      PrintError("id '" + kimera::DisplayId(id) + "' not found");
      ++missing;
      continue;
    }
    if (!s.ok()) {
      PrintError("removing '" + kimera::DisplayId(id) + "' failed: " + s.ToString());
      PrintError("remove stopped after " + std::to_string(removed) + " identities");
      return kExitStorage;
    }
    ++removed;
  }
  if (kimera::Status s = store->Sync(); !s.ok()) {
    PrintError("sync failed: " + s.ToString());
    return kExitStorage;
  }
  std::fprintf(stderr, "removed %llu %s, %llu not found\n",
               static_cast<unsigned long long>(removed), removed == 1 ? "identity" : "identities",
               static_cast<unsigned long long>(missing));
  return missing == 0 ? kExitOk : kExitNotFound;
}

}  // namespace

void AddRemoveCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "remove",
      "Delete identities by id, through the configured store (entropy index, metrics, "
      "dual-write). Exit 2 when an id is absent (the others are still removed).");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("ID", *ids, "Identity ids")->required();
  SetCommandBody(cmd, [&global, ids] { return RunRemove(global, *ids); });
}

}  // namespace kimera_cli
