// MetricsEndpoint: serves /metrics over HTTP with prometheus-cpp's Exposer.
//
// Thread-safety: construction and destruction from one thread; the server
// answers scrapes on its own threads, which run at nice +10 so that scrapes
// yield the CPU to the host's own threads (stores) when cores are scarce.
#ifndef KIMERA_METRICS_ENDPOINT_H_
#define KIMERA_METRICS_ENDPOINT_H_

#include <memory>
#include <string>
#include <vector>

#include "kimera/plugin_config.h"
#include "kimera/status.h"

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace kimera {

class MetricsEndpoint {
 public:
  // Starts serving `collectables` at http://bind_address:port/metrics, with
  // basic auth when a user is configured. Unavailable with the address when
  // the port cannot be bound (for example already in use).
  static Status Start(const MetricsConfig& config,
                      const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables,
                      std::unique_ptr<MetricsEndpoint>* out);
  ~MetricsEndpoint();

  // Adds a collectable; served from the next scrape on.
  void Register(const std::weak_ptr<prometheus::Collectable>& collectable);

  // The port actually bound (useful when the configured port was 0).
  int port() const { return port_; }
  // "127.0.0.1:8080".
  std::string address() const;

 private:
  MetricsEndpoint() = default;

  std::string bind_address_;
  int port_ = 0;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace kimera

#endif  // KIMERA_METRICS_ENDPOINT_H_
