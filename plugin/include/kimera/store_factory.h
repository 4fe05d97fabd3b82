// OpenConfiguredStore: the whole store stack a configuration describes —
// the embedded RocksDbStore at config.db_path, wrapped by the EntropyStore
// plugin (and by dual-write when the configuration turns it on).
//
// Thread-safety: a plain function; the store it returns is thread-safe.
#ifndef KIMERA_STORE_FACTORY_H_
#define KIMERA_STORE_FACTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "kimera/config_loader.h"
#include "kimera/entropy_store.h"
#include "kimera/status.h"

namespace kimera {

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
Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics,
                           std::unique_ptr<EntropyStore>* out,
                           std::vector<std::string>* recovery_reports = nullptr);

}  // namespace kimera

#endif  // KIMERA_STORE_FACTORY_H_
