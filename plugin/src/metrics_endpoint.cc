#include "kimera/metrics_endpoint.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
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

// "host:port", with an IPv6 host in brackets.
std::string HostPort(const std::string& address, int port) {
  const std::string host = IsIpv6(address) ? "[" + address + "]" : address;
  return host + ":" + std::to_string(port);
}

// The socket address to listen on; `address` passed CheckConfig.
socklen_t SocketAddress(const std::string& address, int port, sockaddr_storage* out) {
  *out = sockaddr_storage{};
  if (IsIpv6(address)) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr);
    return sizeof(*v6);
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address.c_str(), &v4->sin_addr);
  return sizeof(*v4);
}

// Why the server could not listen on address:port. libmicrohttpd only
// returns NULL, so bind a socket the same way and report the system's reason
// ("Address already in use").
std::string BindFailureReason(const std::string& address, int port) {
  sockaddr_storage storage;
  const socklen_t length = SocketAddress(address, port, &storage);
  const int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  std::string reason = "port in use or address not available";
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) reason = std::strerror(errno);
  close(fd);
  return reason;
}

MHD_Result Queue(MHD_Connection* connection, unsigned int code, const std::string& body) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  const MHD_Result result = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return result;
}

}  // namespace

// The libmicrohttpd daemon and what it serves. Handle() runs on the daemon's
// threads.
struct MetricsEndpoint::Server {
  std::string user, password;  // Basic auth when user is not empty.
  std::mutex mu;               // Guards collectables.
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables;
  std::shared_ptr<prometheus::Registry> own = std::make_shared<prometheus::Registry>();
  prometheus::Counter* bytes = nullptr;
  prometheus::Counter* scrapes = nullptr;
  prometheus::Summary* latencies = nullptr;
  MHD_Daemon* daemon = nullptr;

  Server() {
    // The names and units prometheus-cpp's Exposer gave its own metrics,
    // which dashboards and docs/metrics.md use.
    bytes = &prometheus::BuildCounter()
                 .Name("exposer_transferred_bytes_total")
                 .Help("Transferred bytes to metrics services")
                 .Register(*own)
                 .Add({});
    scrapes = &prometheus::BuildCounter()
                   .Name("exposer_scrapes_total")
                   .Help("Number of times metrics were scraped")
                   .Register(*own)
                   .Add({});
    latencies =
        &prometheus::BuildSummary()
             .Name("exposer_request_latencies")
             .Help("Latencies of serving scrape requests, in microseconds")
             .Register(*own)
             .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}});
    collectables.push_back(own);
  }
  ~Server() {
    if (daemon != nullptr) MHD_stop_daemon(daemon);
  }

  bool Authorized(MHD_Connection* connection) const {
    if (user.empty()) return true;
    char* given_password = nullptr;
    char* given_user = MHD_basic_auth_get_username_password(connection, &given_password);
    const bool ok = given_user != nullptr && given_password != nullptr && user == given_user &&
                    password == given_password;
    if (given_user != nullptr) MHD_free(given_user);
    if (given_password != nullptr) MHD_free(given_password);
    return ok;
  }

  std::string Exposition() {
    std::vector<std::shared_ptr<prometheus::Collectable>> live;
    {
      std::lock_guard lock(mu);
      for (const auto& weak : collectables) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
    }
    std::vector<prometheus::MetricFamily> families;
    for (const auto& c : live) {
      std::vector<prometheus::MetricFamily> more = c->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
    return prometheus::TextSerializer().Serialize(families);
  }

  MHD_Result Handle(MHD_Connection* connection, const char* url, const char* method) {
    const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    if (!get && std::strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
      return Queue(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    }
    if (std::strcmp(url, "/metrics") != 0) return Queue(connection, MHD_HTTP_NOT_FOUND, "");
    if (!Authorized(connection)) {
      const std::string body = "401 Unauthorized\n";
      MHD_Response* response = MHD_create_response_from_buffer(
          body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
      if (response == nullptr) return MHD_NO;
      const MHD_Result result = MHD_queue_basic_auth_fail_response(connection, "kimera", response);
      MHD_destroy_response(response);
      return result;
    }
    const auto start = std::chrono::steady_clock::now();
    const std::string body = Exposition();
    MHD_Response* response = MHD_create_response_from_buffer(
        body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    const MHD_Result result = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    bytes->Increment(static_cast<double>(body.size()));
    scrapes->Increment();
    latencies->Observe(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
    return result;
  }

  static MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char* /*version*/, const char* /*upload_data*/,
                           size_t* upload_data_size, void** /*request*/) {
    // A body (which no scrape has) is read and dropped before the answer.
    if (*upload_data_size != 0) {
      *upload_data_size = 0;
      return MHD_YES;
    }
    return static_cast<Server*>(cls)->Handle(connection, url, method);
  }
};

bool MetricsEndpoint::SupportsIpv6() {
  return MHD_is_feature_supported(MHD_FEATURE_IPv6) == MHD_YES;
}

Status MetricsEndpoint::CheckConfig(const MetricsConfig& config) {
  if (!IsIpv4(config.bind_address) && !IsIpv6(config.bind_address)) {
    return Status::InvalidArgument(
        "key 'metrics.bind_address' must be an IPv4 or IPv6 address such as 127.0.0.1, "
        "0.0.0.0 or ::1 (got \"" +
        config.bind_address + "\")");
  }
  if (IsIpv6(config.bind_address) && !SupportsIpv6()) {
    return Status::InvalidArgument("key 'metrics.bind_address' is an IPv6 address (\"" +
                                   config.bind_address +
                                   "\"), but the libmicrohttpd serving /metrics was built "
                                   "without IPv6: use an IPv4 address such as 127.0.0.1");
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
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  endpoint->bind_address_ = config.bind_address;
  endpoint->server_ = std::make_unique<Server>();
  Server* server = endpoint->server_.get();
  server->user = config.basic_auth_user;
  server->password = config.basic_auth_password;
  server->collectables.insert(server->collectables.end(), collectables.begin(), collectables.end());

  sockaddr_storage address;
  SocketAddress(config.bind_address, config.port, &address);
  // Event-driven: an open connection costs a socket, not a thread, so idle
  // or trickling clients cannot starve scrapes; each is closed after
  // kConnectionTimeoutSeconds without progress, and at most kMaxConnections
  // are open at once. epoll has no FD_SETSIZE limit.
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (address.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  // The daemon starts its threads from a short-lived thread whose nice
  // value is raised first: on Linux the nice value is per thread and new
  // threads inherit it, so only the scrape threads run at the lower
  // priority, never the caller's.
  std::thread starter([&] {
    if (nice(kScrapeThreadNice) == -1) {
      // Not lowered (an unusual rlimit): scrapes run at the caller's priority.
    }
    server->daemon =
        MHD_start_daemon(flags, 0, nullptr, nullptr, &Server::Answer, server, MHD_OPTION_SOCK_ADDR,
                         &address, MHD_OPTION_THREAD_POOL_SIZE,
                         static_cast<unsigned int>(kServerThreads), MHD_OPTION_CONNECTION_LIMIT,
                         static_cast<unsigned int>(kMaxConnections), MHD_OPTION_CONNECTION_TIMEOUT,
                         static_cast<unsigned int>(kConnectionTimeoutSeconds), MHD_OPTION_END);
  });
  starter.join();
  if (server->daemon == nullptr) {
    return Status::Unavailable("cannot serve /metrics on " +
                               HostPort(config.bind_address, config.port) + ": " +
                               BindFailureReason(config.bind_address, config.port));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
  endpoint->port_ = info != nullptr && info->port != 0 ? info->port : config.port;
  *out = std::move(endpoint);
  return Status::OK();
}

MetricsEndpoint::~MetricsEndpoint() = default;

void MetricsEndpoint::Register(const std::weak_ptr<prometheus::Collectable>& collectable) {
  std::lock_guard lock(server_->mu);
  server_->collectables.push_back(collectable);
}

std::string MetricsEndpoint::address() const { return HostPort(bind_address_, port_); }

}  // namespace kimera
