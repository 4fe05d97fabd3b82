#include "kimera/metrics_endpoint.h"

#include <prometheus/exposer.h>
#include <unistd.h>

#include <exception>
#include <thread>

namespace kimera {
namespace {

// Nice value added to the threads that answer scrapes. On a busy machine a
// scraper asking back to back would otherwise take CPU from the threads that
// store at the same priority (the load check measured a 15-19 % store-rate
// drop under 10 such scrapers on 2 cores); at +10 scrapes get the CPU that
// stores leave, and a scrape waits a little longer instead.
constexpr int kScrapeThreadNice = 10;

}  // namespace

Status MetricsEndpoint::Start(
    const MetricsConfig& config,
    const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables,
    std::unique_ptr<MetricsEndpoint>* out) {
  if (config.port < 0 || config.port > 65535) {
    return Status::InvalidArgument("metrics port " + std::to_string(config.port) +
                                   " is out of range 0..65535");
  }
  const std::string listen = config.bind_address + ":" + std::to_string(config.port);
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  endpoint->bind_address_ = config.bind_address;
  // The exposer starts civetweb's threads from a short-lived thread whose
  // nice value is raised first: on Linux the nice value is per thread and
  // new threads inherit it, so only the scrape threads run at the lower
  // priority, never the caller's. civetweb reports a failed bind by throwing
  // from the constructor.
  std::string error;
  std::thread starter([&] {
    if (nice(kScrapeThreadNice) == -1) {
      // Not lowered (an unusual rlimit): scrapes run at the caller's priority.
    }
    try {
      endpoint->exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown error";
    }
  });
  starter.join();
  if (!endpoint->exposer_) {
    return Status::Unavailable("cannot serve /metrics on " + listen +
                               " (port in use or address not available): " + error);
  }
  if (!config.basic_auth_user.empty()) {
    endpoint->exposer_->RegisterAuth(
        [user = config.basic_auth_user, password = config.basic_auth_password](
            const std::string& u, const std::string& p) { return u == user && p == password; },
        "kimera");
  }
  for (const auto& c : collectables) endpoint->exposer_->RegisterCollectable(c);
  const std::vector<int> ports = endpoint->exposer_->GetListeningPorts();
  endpoint->port_ = ports.empty() ? config.port : ports.front();
  *out = std::move(endpoint);
  return Status::OK();
}

MetricsEndpoint::~MetricsEndpoint() = default;

void MetricsEndpoint::Register(const std::weak_ptr<prometheus::Collectable>& collectable) {
  exposer_->RegisterCollectable(collectable);
}

std::string MetricsEndpoint::address() const { return bind_address_ + ":" + std::to_string(port_); }

}  // namespace kimera
