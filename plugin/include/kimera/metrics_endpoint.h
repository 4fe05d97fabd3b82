// MetricsEndpoint: serves /metrics over HTTP with libmicrohttpd, in the
// Prometheus text format of prometheus-cpp's serializer.
//
// Slow or idle clients cannot take the endpoint down: the server is
// event-driven (kServerThreads threads poll every connection), so an open
// connection holds a socket, not a thread. A connection that makes no
// progress for kConnectionTimeoutSeconds is closed, and at most
// kMaxConnections are open at once; beyond that, new connections are refused
// until one closes.
//
// Thread-safety: construction and destruction from one thread; Register from
// any thread. The server answers scrapes on its own threads, which run at
// nice +10 so that scrapes yield the CPU to the host's own threads (stores)
// when cores are scarce.
#ifndef KIMERA_METRICS_ENDPOINT_H_
#define KIMERA_METRICS_ENDPOINT_H_

#include <memory>
#include <string>
#include <vector>

#include "kimera/plugin_config.h"
#include "kimera/status.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace kimera {

class MetricsEndpoint {
 public:
  static constexpr int kServerThreads = 2;
  static constexpr int kMaxConnections = 256;
  static constexpr int kConnectionTimeoutSeconds = 5;

  // True when the libmicrohttpd linked in can listen on IPv6 addresses
  // (Debian 12's can).
  static bool SupportsIpv6();

  // OK when `config` can be served: bind_address is an IPv4 address, or an
  // IPv6 one when SupportsIpv6() (no host names), and basic auth is either off (user and
  // password both empty) or complete (a user without ':' and a non-empty
  // password). Otherwise InvalidArgument naming the key ("key
  // 'metrics.bind_address' ...") and the reason. Does not check the port.
  static Status CheckConfig(const MetricsConfig& config);

  // Starts serving `collectables` at http://bind_address:port/metrics, with
  // basic auth when a user is configured, and the server's own
  // exposer_transferred_bytes_total, exposer_scrapes_total and
  // exposer_request_latencies (the names prometheus-cpp's Exposer used). InvalidArgument when
  // CheckConfig fails or the port is out of range; Unavailable with the address when the port
  // cannot be bound (for example already in use): its message is the whole explanation, callers
  // print it as is.
  static Status Start(const MetricsConfig& config,
                      const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables,
                      std::unique_ptr<MetricsEndpoint>* out);
  ~MetricsEndpoint();

  // Adds a collectable; served from the next scrape on.
  void Register(const std::weak_ptr<prometheus::Collectable>& collectable);

  // The port actually bound (useful when the configured port was 0).
  int port() const { return port_; }
  // "127.0.0.1:8080", or "[::1]:8080" for an IPv6 address.
  std::string address() const;

 private:
  struct Server;

  MetricsEndpoint() = default;

  std::string bind_address_;
  int port_ = 0;
  std::unique_ptr<Server> server_;
};

}  // namespace kimera

#endif  // KIMERA_METRICS_ENDPOINT_H_
