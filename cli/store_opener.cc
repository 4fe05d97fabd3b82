#include "store_opener.h"

#include "kimera/config_loader.h"
#include "kimera/entropy_store.h"
#include "kimera/store_factory.h"

namespace kimera_cli {

kimera::Status OpenStoreForCli(const GlobalOptions& global,
                               std::unique_ptr<kimera::IdentityStore>* out) {
  // Every command opens the same configured stack as `kimera serve` (so the
  // entropy index stays current), without serving /metrics.
  kimera::KimeraConfig config;
  kimera::Status s = kimera::LoadConfig(global.config_path, &config);
  if (!s.ok()) return s;
  if (global.db_path_given || config.db_path.empty()) config.db_path = global.db_path;
  std::unique_ptr<kimera::EntropyStore> store;
  s = kimera::OpenConfiguredStore(config, /*serve_metrics=*/false, &store);
  if (!s.ok()) return s;
  *out = std::move(store);
  return kimera::Status::OK();
}

}  // namespace kimera_cli
