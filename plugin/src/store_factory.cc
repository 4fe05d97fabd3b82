#include "kimera/store_factory.h"

#include <prometheus/registry.h>

#include "kimera/dual_write_store.h"
#include "kimera/rocksdb_store.h"
#include "kimera/secondary_store.h"

namespace kimera {

Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics,
                           std::unique_ptr<EntropyStore>* out) {
  std::unique_ptr<RocksDbStore> rocks;
  Status s = RocksDbStore::Open(config.db_path, config.storage, &rocks);
  if (!s.ok()) return s;
  PluginConfig plugin = config.plugin;
  plugin.metrics.serve = plugin.metrics.serve && serve_metrics;
  // One registry for every layer, so /metrics shows dual-write next to the
  // plugin's own families.
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<IdentityStore> inner;
  if (config.dual_write.enabled) {
    std::unique_ptr<SecondaryStore> secondary;
    s = OpenSecondary(config.dual_write, &rocks->database(), config.storage, &secondary);
    if (!s.ok()) return s;
    std::unique_ptr<DualWriteStore> dual;
    s = DualWriteStore::Open(std::move(rocks), std::move(secondary), config.dual_write,
                             registry.get(), &dual);
    if (!s.ok()) return s;
    inner = std::move(dual);
  } else {
    inner = std::move(rocks);
  }
  return EntropyStore::Open(std::move(inner), plugin, out, std::move(registry));
}

}  // namespace kimera
