#include "kimera/store_factory.h"

#include "kimera/rocksdb_store.h"

namespace kimera {

Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics,
                           std::unique_ptr<EntropyStore>* out) {
  std::unique_ptr<RocksDbStore> rocks;
  Status s = RocksDbStore::Open(config.db_path, config.storage, &rocks);
  if (!s.ok()) return s;
  PluginConfig plugin = config.plugin;
  plugin.metrics.serve = plugin.metrics.serve && serve_metrics;
  return EntropyStore::Open(std::move(rocks), plugin, out);
}

}  // namespace kimera
