#include "store_opener.h"

#include "kimera/store_factory.h"

namespace kimera_cli {

kimera::Status OpenEntropyStoreForCli(const GlobalOptions& global,
                                      std::unique_ptr<kimera::EntropyStore>* out,
                                      kimera::KimeraConfig* config_out) {
  // Every command opens the same configured stack as `kimera serve` (so the
  // entropy index stays current), without serving /metrics.
  kimera::KimeraConfig config;
  kimera::Status s = kimera::LoadConfig(global.config_path, &config);
  if (!s.ok()) return s;
  if (global.db_path_given || config.db_path.empty()) config.db_path = global.db_path;
  s = kimera::OpenConfiguredStore(config, /*serve_metrics=*/false, out);
  if (s.ok() && config_out != nullptr) *config_out = std::move(config);
  return s;
}

kimera::Status OpenStoreForCli(const GlobalOptions& global,
                               std::unique_ptr<kimera::IdentityStore>* out) {
  std::unique_ptr<kimera::EntropyStore> store;
  kimera::Status s = OpenEntropyStoreForCli(global, &store);
  if (!s.ok()) return s;
  *out = std::move(store);
  return kimera::Status::OK();
}

}  // namespace kimera_cli
