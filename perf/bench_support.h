// What the benchmarks share: timing, failing fast, the generated identities
// and a temporary folder. Header-only; benchmarks are single programs.
#ifndef KIMERA_PERF_BENCH_SUPPORT_H_
#define KIMERA_PERF_BENCH_SUPPORT_H_

#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kimera/entropy_store.h"
#include "kimera/identity.h"
#include "kimera/rocksdb_store.h"
#include "kimera/status.h"

namespace bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline void Require(const kimera::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// The indexed stack at `dir`: an EntropyStore, metrics off, over a
// RocksDbStore opened with `options`.
inline std::unique_ptr<kimera::EntropyStore> OpenIndexed(
    const std::filesystem::path& dir, const kimera::RocksDbOptions& options = {}) {
  kimera::PluginConfig config;
  config.metrics.enabled = false;
  std::unique_ptr<kimera::RocksDbStore> rocks;
  Require(kimera::RocksDbStore::Open(dir.string(), options, &rocks), "open");
  std::unique_ptr<kimera::EntropyStore> store;
  Require(kimera::EntropyStore::Open(std::move(rocks), config, &store), "open plugin");
  return store;
}

inline std::string Numbered(const char* prefix, std::size_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

// Samples k in [0, n) with probability proportional to 1 / (k + 1)^s.
class Zipf {
 public:
  Zipf(int n, double s) {
    std::vector<double> weights;
    for (int k = 0; k < n; ++k) weights.push_back(1.0 / std::pow(k + 1, s));
    dist_ = std::discrete_distribution<int>(weights.begin(), weights.end());
  }
  int operator()(std::mt19937_64& rng) { return dist_(rng); }

 private:
  std::discrete_distribution<int> dist_;
};

// ~250-byte identities: geoids with Zipf-weighted terms, one in five a scar.
// The same seed everywhere, so every benchmark stores the same data.
inline std::vector<kimera::Identity> Generate(std::size_t count) {
  std::mt19937_64 rng(20261126);
  Zipf vocabulary(2000, 1.0);
  std::uniform_int_distribution<int> term_count(3, 7);
  std::uniform_int_distribution<int> relation_count(2, 8);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  static const char* const kLangs[] = {"en", "fr", "de", "ja"};
  const kimera::Micros base = 1'764'000'000'000'000;
  std::vector<kimera::Identity> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    kimera::Identity& identity = out[i];
    const bool scar = i % 5 == 4;
    identity.id = Numbered(scar ? "scar_" : "geoid_", i);
    identity.lang_axis = kLangs[i % 4];
    identity.created_at = base + static_cast<kimera::Micros>(unit(rng) * 3e13);
    identity.updated_at = identity.created_at;
    if (scar) {
      identity.identity_type = kimera::IdentityType::kScar;
      identity.raw = "relation between geoids";
      identity.weight = 0.25 + 1.75 * unit(rng);
      for (int r = 0, n = relation_count(rng); r < n; ++r) {
        identity.related_ids.push_back(
            Numbered("geoid_", static_cast<std::size_t>(vocabulary(rng))));
      }
    } else {
      nlohmann::json terms = nlohmann::json::array();
      for (int t = 0, n = term_count(rng); t < n; ++t) {
        const int rank = vocabulary(rng);
        terms.push_back({{"term", Numbered("w", static_cast<std::size_t>(rank))},
                         {"intensity", std::round(100.0 / (rank + 1)) + 1}});
      }
      identity.meta = {{"terms", std::move(terms)}};
      identity.raw = Numbered("a short text of identity number ", i);
      identity.raw += ", with a few words about its weighted terms";
      identity.echo = "echo";
      identity.tags = {"t" + std::to_string(i % 7), "bench"};
    }
  }
  return out;
}

// The templates Repeated copies: the first N of Generate, at most this many.
inline constexpr std::size_t kTemplates = 100'000;

// Replaces `*batch` by identities [begin, end) of a set that repeats
// `templates` under new ids ("copy_<n>") past their count, so that memory
// holds one template set whatever the size of the set.
inline void Repeated(const std::vector<kimera::Identity>& templates, std::size_t begin,
                     std::size_t end, std::vector<kimera::Identity>* batch) {
  batch->clear();
  for (std::size_t j = begin; j < end; ++j) {
    kimera::Identity& identity = batch->emplace_back(templates[j % templates.size()]);
    if (j >= templates.size()) identity.id = Numbered("copy_", j);
  }
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kimera-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(3);
    }
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// `n` query ranges of find_by_entropy, [lo, lo + w] with lo uniform in
// [0, 4) and w in [0, 1) bits; the same seed everywhere.
inline std::vector<std::pair<double, double>> RandomRanges(std::size_t n) {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> low(0.0, 4.0), width(0.0, 1.0);
  std::vector<std::pair<double, double>> ranges(n);
  for (auto& r : ranges) {
    r.first = low(rng);
    r.second = r.first + width(rng);
  }
  return ranges;
}

inline std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// One line of the targets table: PASS or MISS, what, and the measured value.
inline void Target(const char* what, bool met, const std::string& measured) {
  std::printf("  %-4s  %-58s %s\n", met ? "PASS" : "MISS", what, measured.c_str());
}

// The identity count from [--count N] [--quick] (default 1,000,000; --quick
// 100,000; at least 1,000). Exits 2 with the usage on anything else.
inline std::size_t ParseCount(int argc, char** argv) {
  std::size_t count = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      count = 100'000;
    } else if (std::strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
      count = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--count N] [--quick]\n", argv[0]);
      std::exit(2);
    }
  }
  return count < 1000 ? 1000 : count;
}

}  // namespace bench

#endif  // KIMERA_PERF_BENCH_SUPPORT_H_
