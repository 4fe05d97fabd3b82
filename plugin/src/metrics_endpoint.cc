#include "kimera/metrics_endpoint.h"

#include <prometheus/exposer.h>

#include <exception>

namespace kimera {

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
  try {
    // civetweb reports a failed bind by throwing from the constructor.
    endpoint->exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve /metrics on " + listen +
                               " (port in use or address not available): " + e.what());
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
