// Configuration of the entropy plugin: metrics, entropy model and index.
//
// Every field carries its default. Environment variables override the file
// (see config_loader.h): KIMERA_METRICS_ENABLED, KIMERA_METRICS_PORT,
// KIMERA_METRICS_DETAILED.
//
// Thread-safety: a plain value; copy it freely.
#ifndef KIMERA_PLUGIN_CONFIG_H_
#define KIMERA_PLUGIN_CONFIG_H_

#include <cstdint>
#include <string>

#include "kimera/identity.h"

namespace kimera {

struct MetricsConfig {
  bool enabled = true;                     // Default on; off keeps the index, records nothing.
  bool serve = true;                       // Default on: serve /metrics while enabled.
  std::string bind_address = "127.0.0.1";  // Default loopback only; IPv4 or IPv6.
  int port = 8080;                         // Default 8080 (0 picks a free port).
  bool detailed = false;                   // Default off; on adds <= 100 identity_id series.
  std::string basic_auth_user;             // Default empty: no authentication.
  std::string basic_auth_password;         // Default empty; required when a user is set.
};

struct EntropyConfig {
  DecayParams decay;                         // Default base_tau 1,209,600 s, k 0.1.
  double low_entropy_below = 1.0;            // Default 1.0 bit: "low" category is H < this.
  double high_entropy_from = 3.0;            // Default 3.0 bits: "high" category is H >= this.
  double change_rate_window_seconds = 60.0;  // Default 60 s window for kimera_entropy_change_rate.
  // The window a stored created_at / updated_at must fall in (0 means "now"
  // and is always accepted). A time outside it makes every later decay
  // verification fail, so Store refuses it with InvalidArgument.
  std::int64_t earliest_timestamp_seconds = 0;  // Default 0: not before 1970-01-01T00:00:00Z.
  std::int64_t max_future_seconds = 86'400;     // Default 1 day ahead of the store's clock.
};

struct IndexConfig {
  // Folder of an index database of its own (default empty). Required when
  // the wrapped store is not a RocksDbStore. When empty and the wrapped
  // store is a RocksDbStore, the index lives in the store's database and
  // commits in the records' batches; when set, it is used in every case.
  std::string separate_path;
};

struct PluginConfig {
  MetricsConfig metrics;
  EntropyConfig entropy;
  IndexConfig index;
};

}  // namespace kimera

#endif  // KIMERA_PLUGIN_CONFIG_H_
