#include "kimera/metrics_endpoint.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <prometheus/exposer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

// inet_pton reads up to the first NUL, which a TOML string may contain.
bool IsIpv6(const std::string& address) {
  in6_addr v6;
  return address.find('\0') == std::string::npos && inet_pton(AF_INET6, address.c_str(), &v6) == 1;
}

bool IsIpv4(const std::string& address) {
  in_addr v4;
  return address.find('\0') == std::string::npos && inet_pton(AF_INET, address.c_str(), &v4) == 1;
}

// civetweb's listening_ports syntax: IPv6 addresses go in brackets.
std::string HostPort(const std::string& address, int port) {
  const std::string host = IsIpv6(address) ? "[" + address + "]" : address;
  return host + ":" + std::to_string(port);
}

// Why civetweb could not listen on address:port. civetweb only says "null
// context ... possible problem binding to port", so bind a socket the same
// way and report the system's reason ("Address already in use").
std::string BindFailureReason(const std::string& address, int port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  if (IsIpv6(address)) {
    family = AF_INET6;
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr);
    length = sizeof(*v6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, address.c_str(), &v4->sin_addr);
    length = sizeof(*v4);
  }
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  std::string reason = "port in use or address not available";
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) reason = std::strerror(errno);
  close(fd);
  return reason;
}

}  // namespace

bool MetricsEndpoint::SupportsIpv6() {
  constexpr unsigned kCivetwebFeatureIpv6 = 8;  // civetweb.h, mg_check_feature.
  return mg_check_feature(kCivetwebFeatureIpv6) != 0;
}

Status MetricsEndpoint::CheckConfig(const MetricsConfig& config) {
  if (!IsIpv4(config.bind_address) && !IsIpv6(config.bind_address)) {
    return Status::InvalidArgument(
        "key 'metrics.bind_address' must be an IPv4 or IPv6 address such as 127.0.0.1, "
        "0.0.0.0 or ::1 (got \"" +
        config.bind_address + "\")");
  }
  if (IsIpv6(config.bind_address) && !SupportsIpv6()) {
    return Status::InvalidArgument(
        "key 'metrics.bind_address' is an IPv6 address (\"" + config.bind_address +
        "\"), but the civetweb library serving /metrics was built without IPv6 (as "
        "Debian's civetweb 1.15 is): use an IPv4 address such as 127.0.0.1");
  }
  const bool user = !config.basic_auth_user.empty();
  const bool password = !config.basic_auth_password.empty();
  if (password && !user) {
    return Status::InvalidArgument(
        "key 'metrics.basic_auth_password' is set without 'metrics.basic_auth_user': "
        "set both to require basic auth, or neither");
  }
  if (user && !password) {
    return Status::InvalidArgument(
        "key 'metrics.basic_auth_password' must be set and not empty when "
        "'metrics.basic_auth_user' is set");
  }
  if (config.basic_auth_user.find(':') != std::string::npos) {
    return Status::InvalidArgument(
        "key 'metrics.basic_auth_user' must not contain ':' (basic auth cannot carry it)");
  }
  return Status::OK();
}

Status MetricsEndpoint::Start(
    const MetricsConfig& config,
    const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables,
    std::unique_ptr<MetricsEndpoint>* out) {
  if (config.port < 0 || config.port > 65535) {
    return Status::InvalidArgument("metrics port " + std::to_string(config.port) +
                                   " is out of range 0..65535");
  }
  if (Status s = CheckConfig(config); !s.ok()) return s;
  const std::string listen = HostPort(config.bind_address, config.port);
  // civetweb gives each open connection a worker thread until it has read
  // the request, 30 s by default: two idle connections took 2 workers down
  // for good. Enough workers for many stalled clients, and a request
  // deadline that frees a worker held by one. Keep-alive stays off (the
  // default), so no connection holds a worker between scrapes.
  const std::vector<std::string> options = {
      "listening_ports",    listen,
      "num_threads",        std::to_string(kWorkerThreads),
      "request_timeout_ms", std::to_string(kRequestTimeoutMs),
      "enable_keep_alive",  "no",
  };
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
      endpoint->exposer_ = std::make_unique<prometheus::Exposer>(options);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown error";
    }
  });
  starter.join();
  if (!endpoint->exposer_) {
    // civetweb's own text says nothing the bind reason does not; keep any
    // other error.
    const bool generic = error.find("null context") != std::string::npos;
    return Status::Unavailable("cannot serve /metrics on " + listen + ": " +
                               BindFailureReason(config.bind_address, config.port) +
                               (generic ? "" : " (" + error + ")"));
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

std::string MetricsEndpoint::address() const { return HostPort(bind_address_, port_); }

}  // namespace kimera
