// OpenConfiguredStore: the whole store stack a configuration describes —
// the embedded RocksDbStore at config.db_path, wrapped by the EntropyStore
// plugin (and by dual-write when the configuration turns it on), and the
// echo forms (FormStore) beside it in the records' database.
//
// The one place that wires the layers: it hands each layer the others it
// needs (the records' RocksDbStore to the plugin and the dual-write admin),
// lets every write participant of the records' store join before any
// background thread starts, and at close stops those threads before the
// layers leave, in the reverse order of their joining.
//
// Thread-safety: a plain function; the store it returns is thread-safe.
#ifndef KIMERA_STORE_FACTORY_H_
#define KIMERA_STORE_FACTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "kimera/config_loader.h"
#include "kimera/dual_write_admin.h"
#include "kimera/entropy_store.h"
#include "kimera/form_store.h"
#include "kimera/status.h"

namespace kimera {

// The stack OpenConfiguredStore built.
struct ConfiguredStore {
  ConfiguredStore();
  ConfiguredStore(ConfiguredStore&&) noexcept;
  // Close(), and the other's stack moves in.
  ConfiguredStore& operator=(ConfiguredStore&&) noexcept;
  ~ConfiguredStore();

  // Stops dual-write's background threads, then closes the layers from the
  // top: the forms (which borrow the plugin and the records' database),
  // then the plugin leaves the records' participants, then dual-write, then
  // the engine closes. Idempotent; the destructor calls it.
  void Close();

  // The host's store: the plugin over the rest of the stack.
  std::unique_ptr<EntropyStore> store;
  // Dual-write administration (verify, repair, stats, cleanup); present
  // even when dual-write is off, whose calls then say so. Borrows `store`.
  std::unique_ptr<DualWriteAdmin> dual_write;
  // The echo forms, in the records' database and timed by `store`; null
  // when the records are not in a RocksDbStore. Read-only with the stack
  // (config.storage.read_only): its writes then fail with IOError. Borrows
  // `store`: reset it first when taking `store` out of the stack.
  std::unique_ptr<FormStore> forms;
};

// Opens the stack. Before anything is opened, InvalidArgument naming both
// paths when two of its folders (config.db_path, a second-database
// dual_write.secondary, index.separate_path) are one folder or nested.
// Busy when another process holds the database; the metrics endpoint starts
// only when `serve_metrics` and the configuration both say so.
//
// With config.storage.read_only every database is opened read-only (see
// RocksDbOptions::read_only) and the dual-write layer is left out: reads go
// to the primary, and nothing is replayed or repaired. NotFound "no database
// at PATH" when a folder holds no database and config.storage forbids
// creating one. config.storage.salvage applies to every database opened.
// `recovery_reports`, when given, receives one line per database of the
// stack (records, separate index) whose write-ahead-log replay could not
// recover everything (RocksDbDatabase::recovery_report); empty when none.
Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics, ConfiguredStore* out,
                           std::vector<std::string>* recovery_reports = nullptr);
// The same, for a host that needs only the store.
Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics,
                           std::unique_ptr<EntropyStore>* out,
                           std::vector<std::string>* recovery_reports = nullptr);

}  // namespace kimera

#endif  // KIMERA_STORE_FACTORY_H_
