#include "store_opener.h"

#include <string>
#include <vector>

#include "kimera/store_factory.h"

namespace kimera_cli {

void ApplyAccess(const GlobalOptions& global, Access access, kimera::KimeraConfig* config) {
  config->storage.read_only = access == Access::kRead;
  config->storage.create_if_missing = access == Access::kCreate;
  config->storage.salvage = global.salvage;
}

void PrintRecoveryReports(const std::vector<std::string>& reports) {
  for (const std::string& report : reports) PrintError("warning: " + report);
}

kimera::Status OpenConfiguredForCli(const GlobalOptions& global, Access access,
                                    kimera::ConfiguredStore* out,
                                    kimera::KimeraConfig* config_out) {
  // Every command opens the same configured stack as `kimera serve` (so the
  // entropy index stays current), without serving /metrics.
  kimera::KimeraConfig config;
  kimera::Status s = kimera::LoadConfig(global.config_path, &config);
  if (!s.ok()) return s;
  if (global.db_path_given || config.db_path.empty()) config.db_path = global.db_path;
  ApplyAccess(global, access, &config);
  std::vector<std::string> reports;
  s = kimera::OpenConfiguredStore(config, /*serve_metrics=*/false, out, &reports);
  if (!s.ok()) return s;
  PrintRecoveryReports(reports);
  if (config_out != nullptr) *config_out = std::move(config);
  return s;
}

kimera::Status OpenEntropyStoreForCli(const GlobalOptions& global, Access access,
                                      std::unique_ptr<kimera::EntropyStore>* out,
                                      kimera::KimeraConfig* config) {
  kimera::ConfiguredStore stack;
  kimera::Status s = OpenConfiguredForCli(global, access, &stack, config);
  if (!s.ok()) return s;
  stack.dual_write.reset();
  *out = std::move(stack.store);
  return s;
}

kimera::Status OpenStoreForCli(const GlobalOptions& global, Access access,
                               std::unique_ptr<kimera::IdentityStore>* out) {
  std::unique_ptr<kimera::EntropyStore> store;
  kimera::Status s = OpenEntropyStoreForCli(global, access, &store);
  if (!s.ok()) return s;
  *out = std::move(store);
  return kimera::Status::OK();
}

int ReportOpenFailure(const GlobalOptions& global, const kimera::Status& status) {
  PrintError("cannot open database '" + global.db_path + "': " + status.ToString());
  return status.IsInvalidArgument() ? kExitBadInput : kExitStorage;
}

}  // namespace kimera_cli
