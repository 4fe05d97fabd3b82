#include "kimera/store_factory.h"

#include <prometheus/registry.h>

#include "kimera/distinct_folders.h"
#include "kimera/dual_write_store.h"
#include "kimera/rocksdb_store.h"
#include "kimera/secondary_store.h"

namespace kimera {
namespace {

// Every folder the stack opens a database in, for CheckDistinctFolders.
std::vector<NamedFolder> DatabaseFolders(const KimeraConfig& config) {
  std::vector<NamedFolder> folders = {{"database", config.db_path}};
  if (config.dual_write.enabled && !config.dual_write.secondary_is_legacy_cfs()) {
    folders.push_back({"dual_write.secondary", config.dual_write.secondary});
  }
  if (!config.plugin.index.separate_path.empty()) {
    folders.push_back({"index.separate_path", config.plugin.index.separate_path});
  }
  return folders;
}

}  // namespace

Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics,
                           std::unique_ptr<EntropyStore>* out,
                           std::vector<std::string>* recovery_reports) {
  Status s = CheckDistinctFolders(DatabaseFolders(config));
  if (!s.ok()) return s;
  std::unique_ptr<RocksDbStore> rocks;
  s = RocksDbStore::Open(config.db_path, config.storage, &rocks);
  if (!s.ok()) return s;
  const RocksDbDatabase* records = &rocks->database();
  std::vector<std::string> reports;
  if (!records->recovery_report().empty()) reports.push_back(records->recovery_report());
  PluginConfig plugin = config.plugin;
  plugin.metrics.serve = plugin.metrics.serve && serve_metrics;
  // One registry for every layer, so /metrics shows dual-write next to the
  // plugin's own families.
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<IdentityStore> inner;
  // A read-only stack cannot replay the dual-write journal or repair, and
  // its reads go to the primary, which needs no second side.
  if (config.dual_write.enabled && !config.storage.read_only) {
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
  s = EntropyStore::Open(std::move(inner), plugin, out, std::move(registry));
  if (!s.ok()) return s;
  const RocksDbDatabase& index = (*out)->index().database();
  if (&index != records && !index.recovery_report().empty()) {
    reports.push_back(index.recovery_report());
  }
  if (recovery_reports != nullptr) *recovery_reports = std::move(reports);
  return Status::OK();
}

}  // namespace kimera
