// OpenConfiguredStore: the whole store stack a configuration describes —
// the embedded RocksDbStore at config.db_path, wrapped by the EntropyStore
// plugin (and by dual-write when the configuration turns it on).
//
// Thread-safety: a plain function; the store it returns is thread-safe.
#ifndef KIMERA_STORE_FACTORY_H_
#define KIMERA_STORE_FACTORY_H_

#include <memory>

#include "kimera/config_loader.h"
#include "kimera/entropy_store.h"
#include "kimera/status.h"

namespace kimera {

// Opens the stack. Busy when another process holds the database; the
// metrics endpoint starts only when `serve_metrics` and the configuration
// both say so.
Status OpenConfiguredStore(const KimeraConfig& config, bool serve_metrics,
                           std::unique_ptr<EntropyStore>* out);

}  // namespace kimera

#endif  // KIMERA_STORE_FACTORY_H_
