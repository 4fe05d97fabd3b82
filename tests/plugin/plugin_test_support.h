// Shared fixtures of the plugin tests: temporary folders, stores opened on
// them, identities of known entropy, brute-force answers, a loopback HTTP
// client and a reader of the Prometheus text format.
//
// Thread-safety: the free functions are safe to call from any thread;
// fixtures are owned by one test.
#ifndef KIMERA_TESTS_PLUGIN_TEST_SUPPORT_H_
#define KIMERA_TESTS_PLUGIN_TEST_SUPPORT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../temp_dir.h"
#include "kimera/entropy_index.h"
#include "kimera/entropy_store.h"
#include "kimera/identity.h"
#include "kimera/memory_store.h"
#include "kimera/rocksdb_store.h"
#include "rocksdb_database.h"

namespace kimera::test {

// prefix followed by n ("id7"). Built by appending: GCC 12 warns falsely
// (-Wrestrict) about "literal" + std::to_string(n).
template <typename N>
std::string Numbered(const char* prefix, N n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

// Time that moves only when told.
struct ManualClock {
  std::shared_ptr<std::atomic<Micros>> now =
      std::make_shared<std::atomic<Micros>>(1'764'000'000'000'000);
  Micros operator()() const { return now->load(); }
  void Advance(double seconds) const { now->fetch_add(static_cast<Micros>(seconds * 1e6)); }
};

inline RocksDbOptions SmallOptions() {
  RocksDbOptions options;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  return options;
}

inline std::unique_ptr<RocksDbStore> OpenRocks(const std::string& path, Clock clock = SystemNow) {
  std::unique_ptr<RocksDbStore> store;
  const Status s = RocksDbStore::Open(path, SmallOptions(), &store, std::move(clock));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return store;
}

// Metrics recorded but not served: most tests read MetricsText() directly.
inline PluginConfig QuietConfig() {
  PluginConfig config;
  config.metrics.serve = false;
  config.metrics.port = 0;
  return config;
}

inline std::unique_ptr<EntropyStore> Wrap(std::unique_ptr<IdentityStore> inner,
                                          const PluginConfig& config, Clock clock = SystemNow) {
  std::unique_ptr<EntropyStore> store;
  const Status s = EntropyStore::Open(std::move(inner), config, &store, nullptr, std::move(clock));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return store;
}

// How the index is kept relative to the records, for the tests run in each.
enum class IndexPlacement { kRecordDatabase, kSeparateOverMemory, kSeparateOverRocks };

inline const char* PlacementName(IndexPlacement p) {
  switch (p) {
    case IndexPlacement::kRecordDatabase:
      return "index in the record database";
    case IndexPlacement::kSeparateOverMemory:
      return "separate index over a MemoryStore";
    case IndexPlacement::kSeparateOverRocks:
      return "separate index over a RocksDbStore";
  }
  return "?";
}

inline std::unique_ptr<EntropyStore> OpenPlaced(const TempDir& dir, IndexPlacement placement,
                                                PluginConfig config = QuietConfig()) {
  std::unique_ptr<IdentityStore> inner;
  if (placement == IndexPlacement::kSeparateOverMemory) {
    inner = std::make_unique<MemoryStore>();
  } else {
    inner = OpenRocks(dir.str("data"));
  }
  if (placement != IndexPlacement::kRecordDatabase) config.index.separate_path = dir.str("index");
  auto store = Wrap(std::move(inner), config);
  BOOST_REQUIRE_EQUAL(store->index_in_record_database(),
                      placement == IndexPlacement::kRecordDatabase);
  return store;
}

// A scar with two relations has entropy log2(2) * weight = weight exactly.
inline Identity ScarOfEntropy(const std::string& id, double entropy) {
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kScar;
  identity.weight = entropy;
  identity.related_ids = {"a", "b"};
  return identity;
}

inline Identity GeoidWithTerms(const std::string& id, const std::vector<double>& intensities) {
  Identity identity;
  identity.id = id;
  identity.raw = "text of " + id;
  nlohmann::json terms = nlohmann::json::array();
  for (std::size_t i = 0; i < intensities.size(); ++i) {
    terms.push_back({{"term", Numbered("t", i)}, {"intensity", intensities[i]}});
  }
  identity.meta = {{"terms", std::move(terms)}};
  return identity;
}

// A random identity: geoids with random terms or tags (tags give exact ties
// such as 2.0 bits), scars with a random weight.
inline Identity RandomIdentity(const std::string& id, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<int> small(1, 8);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int k = kind(rng);
  if (k < 5) {
    std::vector<double> intensities(static_cast<std::size_t>(small(rng)));
    for (double& x : intensities) x = 0.01 + unit(rng) * 10;
    return GeoidWithTerms(id, intensities);
  }
  if (k < 7) {
    Identity identity;
    identity.id = id;
    for (int i = 0, n = small(rng); i < n; ++i) identity.tags.push_back(Numbered("tag", i));
    return identity;
  }
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kScar;
  identity.weight = k == 9 ? 1.0 : unit(rng) * 3;
  for (int i = 0, n = small(rng); i < n; ++i) identity.related_ids.push_back(Numbered("r", i));
  return identity;
}

// What the index must hold, recomputed from every record.
struct Expected {
  std::string id;
  double entropy;
  IdentityType type;
};

inline std::vector<Expected> BruteForce(IdentityStore& store) {
  std::vector<Expected> out;
  const Status s = store.Scan({}, [&](const Identity& identity) {
    out.push_back({identity.id, Entropy(identity), identity.identity_type});
    return true;
  });
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

// Highest entropy first, ties by id: the order of the index and of FindByEntropy.
inline void SortByEntropy(std::vector<Expected>* rows) {
  std::sort(rows->begin(), rows->end(), [](const Expected& a, const Expected& b) {
    return a.entropy != b.entropy ? a.entropy > b.entropy : a.id < b.id;
  });
}

inline std::string ProblemsOf(const IndexCheckReport& report) {
  std::string text;
  for (const auto& p : report.problems) text += "\n  " + p;
  return text;
}

inline void RequireCheckOk(EntropyStore& store) {
  IndexCheckReport report;
  const Status s = store.Check(false, &report);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_REQUIRE_MESSAGE(report.ok(), "index check found " << report.problem_count
                                                          << " problems:" << ProblemsOf(report));
}

// Compares every view of the index with the brute-force entropy of the records.
inline void RequireIndexExact(EntropyStore& store) {
  std::vector<Expected> expected = BruteForce(store);
  SortByEntropy(&expected);

  std::vector<IndexEntry> ordered;
  Status s = store.index().ForEachOrdered({}, [&](std::string_view, const IndexEntry& e) {
    ordered.push_back(e);
    return true;
  });
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_REQUIRE_EQUAL(ordered.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_REQUIRE_EQUAL(ordered[i].id, expected[i].id);
    BOOST_REQUIRE_EQUAL(ordered[i].entropy, expected[i].entropy);
    BOOST_REQUIRE(ordered[i].identity_type == expected[i].type);
  }

  // An index of its own keeps a by-id entry per record; one sharing the
  // records' database keeps none.
  std::map<std::string, Expected> by_id;
  for (const auto& e : expected) by_id.emplace(e.id, e);
  std::size_t seen = 0;
  s = store.index().ForEachById([&](const IndexEntry& e) {
    auto it = by_id.find(e.id);
    BOOST_REQUIRE_MESSAGE(it != by_id.end(), "by-id entry without record: " << e.id);
    BOOST_REQUIRE_EQUAL(e.entropy, it->second.entropy);
    BOOST_REQUIRE(e.identity_type == it->second.type);
    BOOST_REQUIRE_EQUAL(e.tau, EffectiveTau(e.entropy, store.config().entropy.decay));
    ++seen;
    return true;
  });
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_REQUIRE_EQUAL(seen, store.index().keeps_by_id() ? expected.size() : 0u);

  std::array<std::uint64_t, 2> per_type{};
  for (const auto& e : expected) ++per_type[static_cast<std::size_t>(e.type)];
  std::uint64_t n = 0;
  BOOST_REQUIRE(store.Count(IdentityType::kGeoid, &n).ok());
  BOOST_REQUIRE_EQUAL(n, per_type[0]);
  BOOST_REQUIRE(store.Count(IdentityType::kScar, &n).ok());
  BOOST_REQUIRE_EQUAL(n, per_type[1]);
  BOOST_REQUIRE(store.Count(std::nullopt, &n).ok());
  BOOST_REQUIRE_EQUAL(n, expected.size());

  RequireCheckOk(store);

  // Random ranges, including ones whose ends fall exactly on stored values.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> bits(0.0, 4.0);
  std::uniform_int_distribution<std::size_t> limit_of(1, 60);
  std::uniform_int_distribution<std::size_t> row(0, expected.empty() ? 0 : expected.size() - 1);
  for (int q = 0; q < 300; ++q) {
    double lo = bits(rng), hi = bits(rng);
    if (q % 3 == 0 && !expected.empty()) {
      lo = expected[row(rng)].entropy;
      hi = expected[row(rng)].entropy;
    }
    if (lo > hi) std::swap(lo, hi);
    const std::size_t limit = limit_of(rng);
    std::vector<Identity> found;
    s = store.FindByEntropy(lo, hi, limit, &found);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    std::vector<const Expected*> want;
    for (const auto& e : expected) {
      if (e.entropy >= lo && e.entropy <= hi && want.size() < limit) want.push_back(&e);
    }
    BOOST_REQUIRE_EQUAL(found.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      BOOST_REQUIRE_EQUAL(found[i].id, want[i]->id);
      BOOST_REQUIRE_EQUAL(Entropy(found[i]), want[i]->entropy);
    }
  }
}

// One sample line of the Prometheus text format.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

inline std::vector<Sample> ParseSamples(const std::string& text) {
  std::vector<Sample> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    Sample sample;
    std::size_t i = line.find_first_of("{ ");
    sample.name = line.substr(0, i);
    if (i != std::string::npos && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        const std::string key = line.substr(i, eq - i);
        std::string value;
        std::size_t j = eq + 2;  // Past =".
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) ++j;
          value.push_back(line[j]);
        }
        sample.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;
    }
    sample.value = std::strtod(line.c_str() + i, nullptr);
    out.push_back(std::move(sample));
  }
  return out;
}

// The value of the one sample named `name` whose labels include `labels`.
inline double SampleValue(const std::vector<Sample>& samples, const std::string& name,
                          const std::map<std::string, std::string>& labels) {
  const Sample* found = nullptr;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    const bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& kv) {
      auto it = s.labels.find(kv.first);
      return it != s.labels.end() && it->second == kv.second;
    });
    if (!match) continue;
    BOOST_REQUIRE_MESSAGE(found == nullptr, "more than one sample of " << name);
    found = &s;
  }
  BOOST_REQUIRE_MESSAGE(found != nullptr, "no sample of " << name);
  return found->value;
}

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

inline std::string Base64(const std::string& in) {
  static const char* const kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// GET http://127.0.0.1:port/path over a real socket (HTTP/1.0, so the body
// ends when the server closes). `user` non-empty adds basic auth.
inline HttpResponse HttpGet(int port, const std::string& path, const std::string& user = {},
                            const std::string& password = {}) {
  HttpResponse response;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    BOOST_FAIL("cannot connect to 127.0.0.1:" << port);
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  if (!user.empty()) request += "Authorization: Basic " + Base64(user + ":" + password) + "\r\n";
  request += "\r\n";
  BOOST_REQUIRE(::send(fd, request.data(), request.size(), 0) ==
                static_cast<ssize_t>(request.size()));
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const std::size_t split = raw.find("\r\n\r\n");
  BOOST_REQUIRE_MESSAGE(split != std::string::npos, "no HTTP header in: " << raw);
  response.headers = raw.substr(0, split);
  response.body = raw.substr(split + 4);
  std::sscanf(raw.c_str(), "HTTP/%*s %d", &response.status);
  return response;
}

}  // namespace kimera::test

#endif  // KIMERA_TESTS_PLUGIN_TEST_SUPPORT_H_
