#include "kimera/store_factory.h"

#include <prometheus/registry.h>

#include "kimera/distinct_folders.h"
#include "kimera/dual_write_store.h"
#include "kimera/entropy_index.h"
#include "kimera/rocksdb_store.h"
#include "kimera/secondary_store.h"
#include "rocksdb_database.h"

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

ConfiguredStore::ConfiguredStore() = default;
ConfiguredStore::ConfiguredStore(ConfiguredStore&&) noexcept = default;
ConfiguredStore& ConfiguredStore::operator=(ConfiguredStore&& other) noexcept {
  if (this != &other) {
    Close();
    store = std::move(other.store);
    dual_write = std::move(other.dual_write);
    forms = std::move(other.forms);
  }
  return *this;
}

ConfiguredStore::~ConfiguredStore() { Close(); }

void ConfiguredStore::Close() {
  if (dual_write) dual_write->Stop();
  forms.reset();  // Borrows the plugin and the records' database.
  dual_write.reset();
  store.reset();
}

Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics, ConfiguredStore* out,
                           std::vector<std::string>* recovery_reports) {
  Status s = CheckDistinctFolders(DatabaseFolders(config));
  if (!s.ok()) return s;
  std::unique_ptr<RocksDbStore> rocks;
  s = RocksDbStore::Open(config.db_path, config.storage, &rocks);
  if (!s.ok()) return s;
  RocksDbStore* records = rocks.get();
  std::vector<std::string> reports;
  if (!DatabaseOf(*records).recovery_report().empty()) {
    reports.push_back(DatabaseOf(*records).recovery_report());
  }
  PluginConfig plugin = config.plugin;
  const bool serve = plugin.metrics.serve && serve_metrics;
  plugin.metrics.serve = false;  // Started below, once the stack is wired.
  // One registry for every layer, so /metrics shows dual-write next to the
  // plugin's own families.
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<IdentityStore> inner;
  DualWriteStore* dual = nullptr;
  // A read-only stack cannot replay the dual-write journal or repair, and
  // its reads go to the primary, which needs no second side.
  if (config.dual_write.enabled && !config.storage.read_only) {
    std::unique_ptr<SecondaryStore> secondary;
    s = OpenSecondary(config.dual_write, &DatabaseOf(*rocks), config.storage, &secondary);
    if (!s.ok()) return s;
    std::unique_ptr<DualWriteStore> opened;
    // Joins the records' writes first: its journal entry or legacy rows go
    // into every record batch.
    s = DualWriteStore::Open(std::move(rocks), std::move(secondary), config.dual_write,
                             registry.get(), &opened);
    if (!s.ok()) return s;
    dual = opened.get();
    inner = std::move(opened);
  } else {
    inner = std::move(rocks);
  }
  ConfiguredStore stack;
  // Joins second, when the index shares the records' database.
  s = EntropyStore::Open(std::move(inner), plugin, &stack.store, std::move(registry), SystemNow,
                         records);
  if (!s.ok()) return s;
  stack.dual_write = std::make_unique<DualWriteAdmin>(stack.store.get(), dual, records);
  // Beside the plugin, which times its calls; it joins no write and starts
  // no thread.
  s = FormStore::Open(*records, *stack.store, SystemNow, &stack.forms);
  if (!s.ok()) return s;
  // Every participant has joined: background writers may start.
  if (dual != nullptr) dual->Start();
  if (serve) {
    s = stack.store->StartEndpoint();
    if (!s.ok()) return s;
  }
  const RocksDbDatabase& index = stack.store->index().database();
  if (&index != &DatabaseOf(*records) && !index.recovery_report().empty()) {
    reports.push_back(index.recovery_report());
  }
  if (recovery_reports != nullptr) *recovery_reports = std::move(reports);
  *out = std::move(stack);
  return Status::OK();
}

Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics,
                           std::unique_ptr<EntropyStore>* out,
                           std::vector<std::string>* recovery_reports) {
  ConfiguredStore stack;
  Status s = OpenConfiguredStore(config, serve_metrics, &stack, recovery_reports);
  if (!s.ok()) return s;
  stack.forms.reset();
  stack.dual_write.reset();
  *out = std::move(stack.store);
  return Status::OK();
}

}  // namespace kimera
