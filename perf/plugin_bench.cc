// The plugin's cost and speed, measured side by side in one run.
//
// Stores the same ~250-byte identities (geoids with Zipf-weighted terms, one
// in five a scar) into a bare RocksDbStore, an EntropyStore with metrics off
// and one with metrics on (serving /metrics), in interleaved chunks so that
// drift of the machine hits all three alike. Then times find_by_entropy
// (random range, limit 10) against SQLite with a B-tree index on entropy
// doing the same query on the same data, and the scrape of /metrics at 100k
// identities and at the full count.
//
// Usage: plugin_bench [--count N] [--quick]   (default 1,000,000; --quick 100,000)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_support.h"
#include "kimera/entropy_store.h"
#include "kimera/identity.h"
#include "kimera/record_codec.h"
#include "kimera/rocksdb_store.h"
#include "sqlite_peer.h"

namespace {

using bench::Clock;
using bench::Fixed;
using bench::Generate;
using bench::Numbered;
using bench::Require;
using bench::Seconds;
using bench::Target;
using bench::TempDir;

std::unique_ptr<kimera::RocksDbStore> OpenRocks(const std::filesystem::path& dir) {
  std::unique_ptr<kimera::RocksDbStore> store;
  Require(kimera::RocksDbStore::Open(dir.string(), kimera::RocksDbOptions{}, &store), "open");
  return store;
}

std::unique_ptr<kimera::EntropyStore> OpenPlugin(const std::filesystem::path& dir, bool metrics) {
  kimera::PluginConfig config;
  config.metrics.enabled = metrics;
  config.metrics.port = 0;
  std::unique_ptr<kimera::EntropyStore> store;
  Require(kimera::EntropyStore::Open(OpenRocks(dir), config, &store), "open plugin");
  return store;
}

// GET /metrics over loopback; returns the body size, 0 on failure.
std::size_t Scrape(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  const char request[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request, sizeof request - 1, 0) < 0) {
    ::close(fd);
    return 0;
  }
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const std::size_t split = raw.find("\r\n\r\n");
  return split == std::string::npos ? 0 : raw.size() - split - 4;
}

struct ScrapeFigures {
  std::size_t identities = 0;
  double text_ms = 0, http_ms = 0;
  std::size_t text_bytes = 0, http_bytes = 0;
};

ScrapeFigures MeasureScrape(const kimera::EntropyStore& store, std::size_t identities) {
  constexpr int kRounds = 20;
  ScrapeFigures f;
  f.identities = identities;
  auto start = Clock::now();
  for (int i = 0; i < kRounds; ++i) f.text_bytes = store.MetricsText().size();
  f.text_ms = Seconds(start) * 1e3 / kRounds;
  start = Clock::now();
  for (int i = 0; i < kRounds; ++i) f.http_bytes = Scrape(store.endpoint()->port());
  f.http_ms = Seconds(start) * 1e3 / kRounds;
  return f;
}

void Row(const char* what, const std::string& value, const char* unit) {
  std::printf("  %-52s %16s  %s\n", what, value.c_str(), unit);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t count = bench::ParseCount(argc, argv);

  std::printf("plugin_bench: %zu identities, generating...\n", count);
  std::fflush(stdout);
  const std::vector<kimera::Identity> identities = Generate(count);
  std::size_t record_bytes = 0;
  for (const auto& identity : identities) {
    std::string value;
    Require(kimera::EncodeRecord(identity, &value), "encode");
    record_bytes += value.size() + identity.id.size();
  }

  TempDir dir;
  auto bare = OpenRocks(dir.path / "bare");
  auto off = OpenPlugin(dir.path / "off", false);
  auto on = OpenPlugin(dir.path / "on", true);
  kimera::IdentityStore* stores[3] = {bare.get(), off.get(), on.get()};
  double store_seconds[3] = {0, 0, 0};

  // Interleaved chunks, rotating which store goes first.
  const std::size_t chunk = 10'000;
  const std::size_t scrape_point = std::min<std::size_t>(100'000, count);
  ScrapeFigures at_100k;
  for (std::size_t begin = 0, round = 0; begin < count; begin += chunk, ++round) {
    const std::size_t end = std::min(count, begin + chunk);
    for (std::size_t k = 0; k < 3; ++k) {
      const std::size_t which = (round + k) % 3;
      const auto start = Clock::now();
      for (std::size_t i = begin; i < end; ++i)
        Require(stores[which]->Store(identities[i]), "store");
      store_seconds[which] += Seconds(start);
    }
    if (end == scrape_point) at_100k = MeasureScrape(*on, end);
  }
  const ScrapeFigures at_full = MeasureScrape(*on, count);
  const double rate[3] = {static_cast<double>(count) / store_seconds[0],
                          static_cast<double>(count) / store_seconds[1],
                          static_cast<double>(count) / store_seconds[2]};

  // find_by_entropy against SQLite on the same data.
  std::printf("loading SQLite...\n");
  std::fflush(stdout);
  std::unique_ptr<kimera::SqlitePeer> sqlite;
  Require(kimera::SqlitePeer::Open((dir.path / "peer.sqlite").string(), &sqlite), "sqlite");
  const auto load_start = Clock::now();
  Require(sqlite->Load(identities, 10'000), "sqlite load");
  const double sqlite_load_seconds = Seconds(load_start);

  const std::size_t queries = std::clamp<std::size_t>(count / 20, 5'000, 50'000);
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> low(0.0, 4.0), width(0.0, 1.0);
  std::vector<std::pair<double, double>> ranges(queries);
  for (auto& r : ranges) {
    r.first = low(rng);
    r.second = r.first + width(rng);
  }
  std::vector<kimera::Identity> found, peer_found;
  std::size_t mismatches = 0, rows = 0;
  for (const auto& [lo, hi] : ranges) {  // Same answers, checked once, untimed.
    Require(on->FindByEntropy(lo, hi, 10, &found), "find");
    Require(sqlite->FindByEntropy(lo, hi, 10, &peer_found), "sqlite find");
    rows += found.size();
    bool same = found.size() == peer_found.size();
    for (std::size_t i = 0; same && i < found.size(); ++i) same = found[i].id == peer_found[i].id;
    mismatches += !same;
  }
  auto start = Clock::now();
  for (const auto& [lo, hi] : ranges) Require(on->FindByEntropy(lo, hi, 10, &found), "find");
  const double plugin_find = static_cast<double>(queries) / Seconds(start);
  start = Clock::now();
  for (const auto& [lo, hi] : ranges) {
    Require(sqlite->FindByEntropy(lo, hi, 10, &peer_found), "sqlite find");
  }
  const double sqlite_find = static_cast<double>(queries) / Seconds(start);

  const double metrics_cost = 1.0 - rate[2] / rate[1];
  const double indexed_share = rate[2] / rate[0];

  std::printf("\nplugin_bench: %zu identities, %.0f bytes each on average (id + record)\n", count,
              static_cast<double>(record_bytes) / static_cast<double>(count));
  std::printf("  %-52s %16s  %s\n", "measure", "value", "unit");
  Row("store: bare RocksDbStore", Fixed(rate[0], 0), "identities/s");
  Row("store: EntropyStore, metrics off", Fixed(rate[1], 0), "identities/s");
  Row("store: EntropyStore, metrics on (serving)", Fixed(rate[2], 0), "identities/s");
  Row("ratio metrics on / off", Fixed(rate[2] / rate[1], 3), "");
  Row("ratio indexed off / bare", Fixed(rate[1] / rate[0], 3), "");
  Row("ratio indexed on / bare", Fixed(indexed_share, 3), "");
  Row("find_by_entropy (limit 10): EntropyStore", Fixed(plugin_find, 0), "queries/s");
  Row("find_by_entropy (limit 10): SQLite B-tree on entropy", Fixed(sqlite_find, 0), "queries/s");
  Row("ratio find EntropyStore / SQLite", Fixed(plugin_find / sqlite_find, 2), "");
  Row("find: queries, rows returned per query",
      std::to_string(queries) + ", " + Fixed(static_cast<double>(rows) / queries, 2), "");
  Row("find: answers differing from SQLite", std::to_string(mismatches), "queries");
  Row("SQLite load (10k rows per transaction)",
      Fixed(static_cast<double>(count) / sqlite_load_seconds, 0), "rows/s");
  for (const ScrapeFigures* f : std::vector<const ScrapeFigures*>{&at_100k, &at_full}) {
    const std::string at = " at " + std::to_string(f->identities) + " identities";
    Row(("scrape MetricsText()" + at).c_str(), Fixed(f->text_ms, 3), "ms");
    Row(("scrape HTTP GET /metrics" + at).c_str(), Fixed(f->http_ms, 3), "ms");
    Row(("scrape body size" + at).c_str(), std::to_string(f->http_bytes), "bytes");
  }
  std::printf("  SQLite plan: %s\n\ntargets\n", sqlite->QueryPlan().c_str());
  Target("metrics on vs off costs <= 3 % of store throughput", metrics_cost <= 0.03,
         Fixed(metrics_cost * 100, 2) + " %");
  Target("indexed store keeps >= 60 % of bare throughput", indexed_share >= 0.60,
         Fixed(indexed_share * 100, 1) + " %");
  Target(
      "find_by_entropy at least as fast as SQLite", plugin_find >= sqlite_find && mismatches == 0,
      Fixed(plugin_find / sqlite_find, 2) + "x, same answers: " + (mismatches == 0 ? "yes" : "no"));
  const double worst_http = std::max(at_100k.http_ms, at_full.http_ms);
  Target("a scrape takes < 10 ms", worst_http < 10, Fixed(worst_http, 3) + " ms (HTTP, worst)");
  const double growth = static_cast<double>(at_full.http_bytes) /
                        static_cast<double>(std::max<std::size_t>(at_100k.http_bytes, 1));
  Target(
      "scrape size does not grow with identities", growth < 1.01,
      std::to_string(at_100k.http_bytes) + " -> " + std::to_string(at_full.http_bytes) + " bytes");
  return 0;
}
