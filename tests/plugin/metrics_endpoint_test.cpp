// /metrics over real HTTP on loopback, linted by the real promtool.
#include "kimera/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "plugin_metrics.h"
#include "plugin_test_support.h"

namespace kimera {
namespace {

using test::IndexPlacement;

PluginConfig ServingConfig() {
  PluginConfig config;
  config.metrics.port = 0;  // A free port.
  return config;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr.
};

// Runs `command` through the shell with `input` on its standard input.
CommandResult RunWithInput(const std::string& command, const std::string& input,
                           const test::TempDir& dir) {
  const std::string in_path = dir.str("stdin.txt");
  std::ofstream(in_path, std::ios::binary) << input;
  CommandResult result;
  FILE* pipe = ::popen((command + " < '" + in_path + "' 2>&1").c_str(), "r");
  BOOST_REQUIRE(pipe != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Holds a listening socket on a loopback port until destroyed.
struct BusyPort {
  BusyPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_REQUIRE(::listen(fd, 1) == 0);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~BusyPort() { ::close(fd); }
  int fd = -1;
  int port = 0;
};

BOOST_AUTO_TEST_SUITE(metrics_endpoint)

BOOST_AUTO_TEST_CASE(scrape_over_loopback_passes_promtool) {
  test::TempDir dir;
  PluginConfig config = ServingConfig();
  config.metrics.detailed = true;  // Lint the identity_id series too.
  auto store = test::Wrap(test::OpenRocks(dir.str("data")), config);
  BOOST_REQUIRE(store->endpoint() != nullptr);
  const int port = store->endpoint()->port();
  BOOST_TEST(port > 0);
  BOOST_TEST(store->endpoint()->address() == test::Numbered("127.0.0.1:", port));

  std::mt19937_64 rng(1);
  for (int i = 0; i < 300; ++i) {
    BOOST_REQUIRE(store->Store(test::RandomIdentity(test::Numbered("m", i % 200), rng)).ok());
  }
  BOOST_REQUIRE(store->Remove("m1").ok());
  BOOST_TEST(store->Remove("absent").IsNotFound());
  std::vector<Identity> found;
  BOOST_REQUIRE(store->FindByEntropy(0.5, 2.5, 10, &found).ok());
  IndexCheckReport report;
  BOOST_REQUIRE(store->Check(false, &report).ok());

  const test::HttpResponse response = test::HttpGet(port, "/metrics");
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.body.find("# TYPE kimera_identity_entropy histogram") != std::string::npos);
  for (const char* family : {"kimera_tau_distribution",
                             "kimera_storage_entropy",
                             "kimera_identity_operations_total",
                             "kimera_storage_operations_duration_seconds",
                             "kimera_storage_errors_total",
                             "kimera_active_identities",
                             "kimera_entropy_change",
                             "kimera_entropy_change_rate",
                             "kimera_entropy_category_identities",
                             "kimera_stored_entropy_quantile",
                             "kimera_entropy_query_rows_returned",
                             "kimera_entropy_query_index_entries_scanned",
                             "kimera_entropy_index_entries",
                             "kimera_entropy_index_updates_total",
                             "kimera_entropy_index_check_duration_seconds",
                             "kimera_entropy_index_inconsistencies",
                             "kimera_rocksdb_estimated_keys",
                             "kimera_rocksdb_live_sst_bytes",
                             "kimera_rocksdb_block_cache_usage_bytes",
                             "kimera_rocksdb_pending_compaction_bytes",
                             "kimera_rocksdb_write_stalled",
                             "kimera_build_info"}) {
    BOOST_TEST(response.body.find(std::string("# TYPE ") + family + " ") != std::string::npos,
               "family " << family << " is served");
  }

  const CommandResult lint = RunWithInput("promtool check metrics", response.body, dir);
  BOOST_TEST(lint.exit_code == 0, "promtool exit " << lint.exit_code << ": " << lint.output);
  BOOST_TEST(lint.output.empty(), "promtool findings:\n" << lint.output);

  // The endpoint serves what MetricsText() shows, plus its own exposer_* series.
  auto kimera_series = [](const std::string& body) {
    std::size_t n = 0;
    for (const auto& s : test::ParseSamples(body)) n += s.name.rfind("kimera_", 0) == 0;
    return n;
  };
  BOOST_TEST(kimera_series(store->MetricsText()) == kimera_series(response.body));
  BOOST_TEST(test::SampleValue(test::ParseSamples(response.body),
                               "kimera_stored_entropy_quantile_count", {}) == 199.0);
}

BOOST_AUTO_TEST_CASE(port_in_use_gives_unavailable_not_crash) {
  BusyPort busy;
  test::TempDir dir;
  PluginConfig config = ServingConfig();
  config.metrics.port = busy.port;
  std::unique_ptr<EntropyStore> store;
  const Status s = EntropyStore::Open(test::OpenRocks(dir.str("data")), config, &store);
  BOOST_TEST(s.IsUnavailable(), s.ToString());
  BOOST_TEST(s.message().find(std::to_string(busy.port)) != std::string::npos, s.message());
  BOOST_TEST(store == nullptr);

  // The database was released: a store on the same folder opens afterwards.
  config.metrics.port = 0;
  auto reopened = test::Wrap(test::OpenRocks(dir.str("data")), config);
  BOOST_TEST(reopened->endpoint() != nullptr);
}

// Closing a store while Prometheus scrapes it: every scrape in flight ends
// before the state its collector reads goes away (a scrape that outlived the
// index would read freed memory; ASan in CI sees it when the crash does not).
BOOST_AUTO_TEST_CASE(closing_while_scraped_ends_the_scrapes_first) {
  test::TempDir dir;
  for (int cycle = 0; cycle < 20; ++cycle) {
    auto store = test::Wrap(test::OpenRocks(dir.str("data")), ServingConfig());
    BOOST_REQUIRE(store->Store(test::GeoidWithTerms(std::to_string(cycle), {1, 2, 3})).ok());
    const int port = store->endpoint()->port();
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::thread scraper([&] {
      while (!stop.load()) {
        // No test macros here: the server may go away mid-request.
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
          const char request[] = "GET /metrics HTTP/1.0\r\n\r\n";
          if (::send(fd, request, sizeof request - 1, MSG_NOSIGNAL) > 0) {
            char buf[65536];
            ssize_t total = 0;
            for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) total += n;
            if (total > 0) answered.fetch_add(1);
          }
        }
        ::close(fd);
      }
    });
    while (answered.load() < 2) std::this_thread::yield();
    store.reset();  // Scrapes still arriving.
    stop = true;
    scraper.join();
  }
}

BOOST_AUTO_TEST_CASE(second_store_on_a_served_port_is_unavailable) {
  test::TempDir a_dir, b_dir;
  auto a = test::Wrap(test::OpenRocks(a_dir.str("data")), ServingConfig());
  PluginConfig config = ServingConfig();
  config.metrics.port = a->endpoint()->port();
  std::unique_ptr<EntropyStore> b;
  BOOST_TEST(EntropyStore::Open(test::OpenRocks(b_dir.str("data")), config, &b).IsUnavailable());
  BOOST_TEST(test::HttpGet(a->endpoint()->port(), "/metrics").status == 200);
}

BOOST_AUTO_TEST_CASE(basic_auth_rejects_missing_or_wrong_credentials) {
  test::TempDir dir;
  PluginConfig config = ServingConfig();
  config.metrics.basic_auth_user = "prometheus";
  config.metrics.basic_auth_password = "s3cret:pass";
  auto store = test::Wrap(test::OpenRocks(dir.str("data")), config);
  const int port = store->endpoint()->port();
  BOOST_TEST(test::HttpGet(port, "/metrics").status == 401);
  BOOST_TEST(test::HttpGet(port, "/metrics", "prometheus", "wrong").status == 401);
  BOOST_TEST(test::HttpGet(port, "/metrics", "someone", "s3cret:pass").status == 401);
  const test::HttpResponse ok = test::HttpGet(port, "/metrics", "prometheus", "s3cret:pass");
  BOOST_TEST(ok.status == 200);
  BOOST_TEST(ok.body.find("# TYPE kimera_identity_entropy histogram") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(added_collectable_is_served) {
  test::TempDir dir;
  auto store = test::Wrap(test::OpenRocks(dir.str("data")), ServingConfig());
  auto extra = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge().Name("kimera_test_extra").Help("x").Register(*extra).Add({}).Set(7);
  store->AddCollectable(extra);
  const test::HttpResponse response = test::HttpGet(store->endpoint()->port(), "/metrics");
  BOOST_TEST(response.body.find("kimera_test_extra 7") != std::string::npos);
  BOOST_TEST(store->MetricsText().find("kimera_test_extra 7") != std::string::npos);
}

// Nice value of thread `tid` of this process (field 19 of its stat line).
int ThreadNice(const std::string& tid) {
  std::ifstream in("/proc/self/task/" + tid + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 19 && fields >> field; ++i) {
  }
  return std::stoi(field);
}

BOOST_AUTO_TEST_CASE(scrape_threads_run_below_the_callers_priority) {
  test::TempDir dir;
  const int caller = ThreadNice(std::to_string(::gettid()));
  auto store = test::Wrap(test::OpenRocks(dir.str("data")), ServingConfig());
  // libmicrohttpd's threads name themselves once running: wait for them.
  std::vector<std::string> scrape_threads;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (scrape_threads.size() < MetricsEndpoint::kServerThreads &&
         std::chrono::steady_clock::now() < deadline) {
    scrape_threads.clear();
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      std::getline(comm, name);
      if (name.rfind("MHD-", 0) == 0) scrape_threads.push_back(task.path().filename().string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_TEST(scrape_threads.size() == MetricsEndpoint::kServerThreads);
  for (const std::string& tid : scrape_threads) {
    BOOST_TEST(ThreadNice(tid) == std::min(caller + 10, 19));
  }
  BOOST_TEST(ThreadNice(std::to_string(::gettid())) == caller);
  BOOST_TEST(test::HttpGet(store->endpoint()->port(), "/metrics").body.find("kimera_") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(out_of_range_port_is_invalid_argument) {
  test::TempDir dir;
  PluginConfig config = ServingConfig();
  config.metrics.port = 70'000;
  std::unique_ptr<EntropyStore> store;
  BOOST_TEST(
      EntropyStore::Open(test::OpenRocks(dir.str("data")), config, &store).IsInvalidArgument());
}

// Half of basic auth used to serve /metrics without credentials (password
// alone) or accept an empty password; a bad address failed only at bind.
BOOST_AUTO_TEST_CASE(half_configured_auth_or_bad_address_is_invalid_argument) {
  struct Case {
    std::string user, password, address, key;
  };
  const std::vector<Case> cases = {
      {"", "pw", "127.0.0.1", "metrics.basic_auth_password"},
      {"alice", "", "127.0.0.1", "metrics.basic_auth_password"},
      {"al:ice", "pw", "127.0.0.1", "metrics.basic_auth_user"},
      {"", "", "not an ip", "metrics.bind_address"},
      {"", "", "localhost", "metrics.bind_address"},
      {"", "", "127.0.0.1:80", "metrics.bind_address"},
      {"", "", std::string("127.0.0.1\0x", 11), "metrics.bind_address"},
  };
  for (const Case& c : cases) {
    test::TempDir dir;
    PluginConfig config = ServingConfig();
    config.metrics.basic_auth_user = c.user;
    config.metrics.basic_auth_password = c.password;
    config.metrics.bind_address = c.address;
    std::unique_ptr<EntropyStore> store;
    const Status s = EntropyStore::Open(test::OpenRocks(dir.str("data")), config, &store);
    BOOST_TEST(s.IsInvalidArgument(), c.user << "/" << c.password << "/" << c.address);
    BOOST_TEST(s.message().find(c.key) != std::string::npos, s.message());
    BOOST_TEST(MetricsEndpoint::CheckConfig(config.metrics).IsInvalidArgument());
  }
  MetricsConfig ipv6;
  ipv6.bind_address = "::1";
  // Served (tests/serve: test_ipv6_loopback_serves_metrics).
  BOOST_TEST(MetricsEndpoint::SupportsIpv6());
  BOOST_TEST(MetricsEndpoint::CheckConfig(ipv6).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
