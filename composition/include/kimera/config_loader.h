// The kimera TOML configuration file and its environment overrides.
//
// Sections: [storage] (the embedded RocksDB), [metrics], [entropy],
// [index], [decay], [dual_write]. Every key is optional and has the default of the struct it
// fills; kimera.toml at the repository root lists them all. An unknown key,
// a wrong type or an impossible value (also: basic auth half configured or
// with an empty password, a bind_address that is not an IP address; see
// MetricsEndpoint::CheckConfig) stops the load with InvalidArgument naming
// the file, the key and the reason; nothing is opened. So does a file that
// is missing, unreadable or a folder.
//
// Environment variables override the file: KIMERA_METRICS_ENABLED (0/1),
// KIMERA_METRICS_PORT, KIMERA_METRICS_DETAILED (0/1), KIMERA_ID_DUAL_WRITE (0/1). KIMERA_CONFIG
// names the file when no path is given. A bad value is InvalidArgument naming
// the variable.
//
// Thread-safety: pure functions of their arguments and the environment.
#ifndef KIMERA_CONFIG_LOADER_H_
#define KIMERA_CONFIG_LOADER_H_

#include <string>

#include "kimera/decay_config.h"
#include "kimera/dual_write_config.h"
#include "kimera/plugin_config.h"
#include "kimera/rocksdb_options.h"
#include "kimera/status.h"

namespace kimera {

struct KimeraConfig {
  std::string db_path = "./kimera-data";  // Default ./kimera-data ([storage] path).
  RocksDbOptions storage;
  PluginConfig plugin;
  DecayConfig decay;                  // The [decay] section.
  DualWriteConfig dual_write;         // The [dual_write] section.
  std::string source = "(defaults)";  // The file it was read from.
};

// Reads `path` into `*out` (defaults for keys it omits). Empty `path` uses
// $KIMERA_CONFIG when set, else only the defaults. Then applies the
// environment overrides.
Status LoadConfig(const std::string& path, KimeraConfig* out);

// Parses TOML text; `source` names it in errors. No environment applied.
Status ParseConfig(const std::string& text, const std::string& source, KimeraConfig* out);

// Applies the KIMERA_METRICS_* environment variables to `*config`.
Status ApplyEnvironment(KimeraConfig* config);

}  // namespace kimera

#endif  // KIMERA_CONFIG_LOADER_H_
