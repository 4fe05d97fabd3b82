// MetricsExposition: what /metrics shows of one store, and the endpoint
// that serves it. The store's registry (families updated as calls run), its
// own scrape-time collector, and the collectables the layers beside it add
// (decay bands, dual-write gauges), in that order.
//
// Thread-safety: safe for concurrent use; Add may run while scrapes do.
#ifndef KIMERA_METRICS_EXPOSITION_H_
#define KIMERA_METRICS_EXPOSITION_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kimera/metrics_endpoint.h"
#include "kimera/plugin_config.h"
#include "kimera/status.h"

namespace prometheus {
class Collectable;
class Registry;
}  // namespace prometheus

namespace kimera {

class MetricsExposition {
 public:
  // Both collectables are borrowed by the endpoint as weak references: the
  // owner keeps them alive while the exposition runs.
  MetricsExposition(const MetricsConfig& config, std::shared_ptr<prometheus::Registry> registry,
                    std::shared_ptr<prometheus::Collectable> own);
  // Stops the endpoint first: no scrape runs after.
  ~MetricsExposition();

  // Starts serving /metrics (when not already) with every collectable added
  // so far. Unavailable naming the address when it cannot bind.
  Status Start();
  // Adds a scrape-time collectable, served from the next scrape on.
  void Add(std::shared_ptr<prometheus::Collectable> collectable);
  // The text /metrics serves (whether or not the endpoint runs).
  std::string Text() const;
  // The endpoint, or nullptr before Start.
  const MetricsEndpoint* endpoint() const { return endpoint_.get(); }

 private:
  const MetricsConfig config_;
  const std::shared_ptr<prometheus::Registry> registry_;
  const std::shared_ptr<prometheus::Collectable> own_;
  mutable std::mutex mu_;  // Guards added_.
  std::vector<std::shared_ptr<prometheus::Collectable>> added_;
  std::unique_ptr<MetricsEndpoint> endpoint_;  // Last: stops before the rest goes.
};

}  // namespace kimera

#endif  // KIMERA_METRICS_EXPOSITION_H_
