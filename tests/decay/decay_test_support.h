// Shared fixtures of the decay tests: a temporary folder, a RocksDB-backed
// EntropyStore on a manual clock, populations of identities of known ages,
// and a reader of one metric sample.
//
// Thread-safety: fixtures are owned by one test.
#ifndef KIMERA_TESTS_DECAY_TEST_SUPPORT_H_
#define KIMERA_TESTS_DECAY_TEST_SUPPORT_H_

#include <stdlib.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../temp_dir.h"
#include "kimera/decay_sweep.h"
#include "kimera/decay_verifier.h"
#include "kimera/entropy_index.h"
#include "kimera/entropy_store.h"
#include "kimera/rocksdb_store.h"

namespace kimera::decay_test {

constexpr double kDay = 86400;

// prefix + decimal n. (Appending avoids GCC 12's false -Wrestrict on
// "literal" + std::string.)
inline std::string Numbered(const char* prefix, long long n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

using test::TempDir;

// Time that moves only when told; copies share the time.
struct ManualClock {
  std::shared_ptr<std::atomic<Micros>> now =
      std::make_shared<std::atomic<Micros>>(1'764'000'000'000'000);
  Micros operator()() const { return now->load(); }
  void Set(Micros t) const { now->store(t); }
  void Advance(double seconds) const { now->fetch_add(static_cast<Micros>(seconds * 1e6)); }
};

inline PluginConfig QuietConfig(double k = 0.1) {
  PluginConfig config;
  config.metrics.serve = false;
  config.metrics.port = 0;
  config.entropy.decay.k = k;
  return config;
}

// A RocksDbStore at `path` wrapped by the plugin, both on `clock`.
inline std::unique_ptr<EntropyStore> OpenStore(const std::string& path, const ManualClock& clock,
                                               const PluginConfig& config = QuietConfig()) {
  RocksDbOptions options;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  std::unique_ptr<RocksDbStore> rocks;
  Status s = RocksDbStore::Open(path, options, &rocks, clock);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::unique_ptr<EntropyStore> store;
  s = EntropyStore::Open(std::move(rocks), config, &store, nullptr, clock);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return store;
}

inline RocksDbStore& RocksOf(EntropyStore& store) {
  auto* rocks = dynamic_cast<RocksDbStore*>(store.target());
  BOOST_REQUIRE(rocks != nullptr);
  return *rocks;
}

inline Identity Geoid(const std::string& id, const std::vector<double>& intensities,
                      double weight = 1.0) {
  Identity identity;
  identity.id = id;
  identity.raw = "text of " + id;
  identity.weight = weight;
  nlohmann::json terms = nlohmann::json::array();
  for (std::size_t i = 0; i < intensities.size(); ++i) {
    terms.push_back({{"term", Numbered("t", i)}, {"intensity", intensities[i]}});
  }
  identity.meta = {{"terms", std::move(terms)}};
  return identity;
}

inline Identity Scar(const std::string& id, std::size_t relations, double weight) {
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kScar;
  identity.weight = weight;
  for (std::size_t i = 0; i < relations; ++i) identity.related_ids.push_back(Numbered("r", i));
  return identity;
}

// A healthy population: `n` identities of every kind (random terms, tags
// giving exact entropy ties, scars), created over the last `max_age_days`
// (explicit created_at, so ages are known). Returns the ids.
inline std::vector<std::string> Populate(EntropyStore& store, const ManualClock& clock,
                                         std::size_t n, double max_age_days = 400,
                                         std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> small(1, 6);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i) {
    std::ostringstream id;
    id << "id" << i;
    Identity identity;
    const double kind = unit(rng);
    if (kind < 0.5) {
      std::vector<double> x(static_cast<std::size_t>(small(rng)));
      for (double& v : x) v = 0.05 + unit(rng) * 5;
      identity = Geoid(id.str(), x, 0.2 + unit(rng) * 3);
    } else if (kind < 0.75) {
      identity.id = id.str();
      for (int t = 0, m = small(rng); t < m; ++t) identity.tags.push_back(Numbered("tag", t));
    } else {
      identity = Scar(id.str(), static_cast<std::size_t>(small(rng)), 0.1 + unit(rng) * 2);
    }
    identity.created_at = clock() - static_cast<Micros>(unit(rng) * max_age_days * kDay * 1e6);
    const Status s = store.Store(identity);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    ids.push_back(identity.id);
  }
  return ids;
}

// The ordered index entry of `id`, found by a scan (the index keeps no by-id
// view when it shares the records' database).
inline IndexEntry FindEntry(const EntropyStore& store, const std::string& id) {
  IndexEntry found;
  bool seen = false;
  const Status s = store.index().ForEachOrdered({}, [&](std::string_view, const IndexEntry& e) {
    if (e.id != id) return true;
    found = e;
    seen = true;
    return false;
  });
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_REQUIRE_MESSAGE(seen, "no index entry for " << id);
  return found;
}

// The value of the sample `name{labels}` in the Prometheus text, or NaN.
inline double MetricValue(const std::string& text, const std::string& name_and_labels) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name_and_labels + " ", 0) == 0) {
      return std::strtod(line.c_str() + name_and_labels.size() + 1, nullptr);
    }
  }
  return std::nan("");
}

inline std::string FailuresOf(const DecayVerificationReport& report) {
  std::string text;
  for (const auto& f : report.failures) text += "\n  " + f.ToString();
  return text;
}

inline DecayVerificationReport Verify(EntropyStore& store, Micros now, std::size_t sample = 100000,
                                      std::unique_ptr<DecayVerifier>* keep = nullptr) {
  std::unique_ptr<DecayVerifier> verifier;
  DecayVerifierOptions options;
  options.sample_size = sample;
  options.seed = 42;
  Status s = DecayVerifier::Open(store, options, &verifier);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  DecayVerificationReport report;
  s = verifier->Run(now, &report);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  if (keep) *keep = std::move(verifier);
  return report;
}

}  // namespace kimera::decay_test

#endif  // KIMERA_TESTS_DECAY_TEST_SUPPORT_H_
