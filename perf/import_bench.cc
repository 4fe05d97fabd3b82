// Import rate of generated identities into a fresh RocksDbStore.
//
// Generates realistic identities (geoids with 5-50 Zipf-weighted terms, scars
// with 2-50 relations), then times two runs, each into its own fresh store:
// Store() of the ready identities, and the import path of `kimera import`
// (IdentityFromJsonText of one JSON line, then Store()).
//
// Then the same two with StoreMany in batches (--batch, default 1000; one
// WriteBatch each), as `kimera import` writes now.
//
// Usage: import_bench [--count N]   (default 100000)
//        import_bench --count N --jsonl FILE   writes the identities as JSON
//          Lines to FILE, prints the mean encoded record size and JSON line
//          size, and times nothing (perf/import_vs_db_bench.py uses it).
//        --seed N: other contents under the same ids (default 20261126).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_support.h"
#include "kimera/identity.h"
#include "kimera/identity_json.h"
#include "kimera/rocksdb_store.h"
#include "record_codec.h"

namespace {

constexpr std::size_t kVocabulary = 5000;

// Samples k in [lo, hi] with probability proportional to 1 / (k - lo + 1)^s.
class Zipf {
 public:
  Zipf(int lo, int hi, double s) : lo_(lo) {
    std::vector<double> weights;
    for (int k = lo; k <= hi; ++k) weights.push_back(1.0 / std::pow(k - lo + 1, s));
    dist_ = std::discrete_distribution<int>(weights.begin(), weights.end());
  }
  int operator()(std::mt19937_64& rng) { return lo_ + dist_(rng); }

 private:
  int lo_;
  std::discrete_distribution<int> dist_;
};

std::vector<kimera::Identity> Generate(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Zipf term_count(5, 50, 1.6);
  Zipf relation_count(2, 50, 1.2);
  Zipf vocabulary(0, kVocabulary - 1, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const kimera::Micros base = 1'764'000'000'000'000;  // Late 2025.
  static const char* const kLangs[] = {"en", "fr", "de", "ja"};

  std::vector<kimera::Identity> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    kimera::Identity identity;
    const bool scar = i % 5 == 4;  // One in five is a relationship.
    char id[32];
    std::snprintf(id, sizeof id, "%s_%08zu", scar ? "scar" : "geoid", i);
    identity.id = id;
    identity.lang_axis = kLangs[i % 4];
    identity.created_at = base + static_cast<kimera::Micros>(unit(rng) * 3e13);
    identity.updated_at = identity.created_at;
    if (scar) {
      identity.identity_type = kimera::IdentityType::kScar;
      identity.raw = "relation";
      identity.weight = 0.25 + 1.75 * unit(rng);
      const int n = relation_count(rng);
      for (int r = 0; r < n; ++r) {
        char related[24];
        std::snprintf(related, sizeof related, "g%d", vocabulary(rng));
        identity.related_ids.emplace_back(related);
      }
    } else {
      identity.identity_type = kimera::IdentityType::kGeoid;
      nlohmann::json terms = nlohmann::json::array();
      const int n = term_count(rng);
      for (int t = 0; t < n; ++t) {
        // Term frequencies follow Zipf's law: the r-th term has intensity ~ 1/r.
        const int rank = vocabulary(rng);
        char term[24];
        std::snprintf(term, sizeof term, "t%d", rank);
        terms.push_back({{"term", term}, {"intensity", std::round(1000.0 / (rank + 1)) + 1}});
      }
      identity.meta = {{"terms", std::move(terms)}};
      identity.raw = "text " + std::to_string(i);
      identity.echo = identity.raw;
    }
    out.push_back(std::move(identity));
  }
  return out;
}

std::unique_ptr<kimera::RocksDbStore> OpenFresh(const std::filesystem::path& dir) {
  std::unique_ptr<kimera::RocksDbStore> store;
  kimera::Status s = kimera::RocksDbStore::Open(dir.string(), kimera::RocksDbOptions{}, &store);
  if (!s.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), s.ToString().c_str());
    std::exit(3);
  }
  return store;
}

void Check(const kimera::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Row(const char* what, std::size_t n, double seconds) {
  std::printf("%-36s %10.3f %14.0f\n", what, seconds, static_cast<double>(n) / seconds);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 100000;
  const char* jsonl = nullptr;
  std::size_t batch_size = 1000;
  std::uint64_t seed = 20261126;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
      count = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
      batch_size = std::max<std::size_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (std::strcmp(argv[i], "--jsonl") == 0 && i + 1 < argc) {
      jsonl = argv[++i];
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--count N] [--batch N] [--jsonl FILE] [--seed N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (count == 0) count = 1;

  const std::vector<kimera::Identity> identities = Generate(count, seed);
  std::size_t encoded_bytes = 0;
  std::size_t json_bytes = 0;
  std::size_t scars = 0;
  std::vector<std::string> lines;
  lines.reserve(count);
  for (const kimera::Identity& identity : identities) {
    std::string record;
    Check(kimera::EncodeRecord(identity, &record), "encode");
    encoded_bytes += record.size();
    lines.push_back(kimera::IdentityToJsonLine(identity));
    json_bytes += lines.back().size();
    if (identity.identity_type == kimera::IdentityType::kScar) ++scars;
  }

  if (jsonl != nullptr) {
    std::FILE* out = std::fopen(jsonl, "wb");
    if (out == nullptr) {
      std::fprintf(stderr, "cannot write %s: %s\n", jsonl, std::strerror(errno));
      return 1;
    }
    for (const std::string& line : lines) {
      std::fwrite(line.data(), 1, line.size(), out);
      std::fputc('\n', out);
    }
    if (std::fclose(out) != 0) {
      std::fprintf(stderr, "writing %s failed\n", jsonl);
      return 1;
    }
    std::printf("mean_encoded_record_bytes %.0f\nmean_json_line_bytes %.0f\n",
                static_cast<double>(encoded_bytes) / static_cast<double>(count),
                static_cast<double>(json_bytes) / static_cast<double>(count));
    return 0;
  }

  bench::TempDir tmp;
  double store_seconds = 0;
  {
    auto store = OpenFresh(tmp.path / "binary");
    const auto start = std::chrono::steady_clock::now();
    for (const kimera::Identity& identity : identities) Check(store->Store(identity), "store");
    Check(store->Sync(), "sync");
    store_seconds = Seconds(start);
  }

  double parse_seconds = 0;
  {
    kimera::Identity parsed;
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& line : lines)
      Check(kimera::IdentityFromJsonText(line, &parsed), "parse");
    parse_seconds = Seconds(start);
  }

  double json_seconds = 0;
  {
    auto store = OpenFresh(tmp.path / "json");
    kimera::Identity parsed;
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& line : lines) {
      Check(kimera::IdentityFromJsonText(line, &parsed), "parse");
      Check(store->Store(parsed), "store");
    }
    Check(store->Sync(), "sync");
    json_seconds = Seconds(start);
  }

  // Batches as `kimera import` makes them.
  double many_seconds = 0;
  {
    auto store = OpenFresh(tmp.path / "many");
    const auto start = std::chrono::steady_clock::now();
    std::vector<kimera::Identity> batch;
    for (std::size_t i = 0; i < identities.size(); i += batch_size) {
      batch.assign(identities.begin() + static_cast<std::ptrdiff_t>(i),
                   identities.begin() +
                       static_cast<std::ptrdiff_t>(std::min(i + batch_size, identities.size())));
      Check(store->StoreMany(batch, nullptr), "store many");
    }
    Check(store->Sync(), "sync");
    many_seconds = Seconds(start);
  }

  double json_many_seconds = 0;
  {
    auto store = OpenFresh(tmp.path / "json_many");
    const auto start = std::chrono::steady_clock::now();
    std::vector<kimera::Identity> batch;
    for (const std::string& line : lines) {
      Check(kimera::IdentityFromJsonText(line, &batch.emplace_back()), "parse");
      if (batch.size() == batch_size) {
        Check(store->StoreMany(batch, nullptr), "store many");
        batch.clear();
      }
    }
    Check(store->StoreMany(batch, nullptr), "store many");
    Check(store->Sync(), "sync");
    json_many_seconds = Seconds(start);
  }

  std::printf(
      "import of %zu generated identities (%zu geoid, %zu scar) into a fresh RocksDbStore\n", count,
      count - scars, scars);
  std::printf("mean encoded record %.0f bytes, mean JSON line %.0f bytes\n\n",
              static_cast<double>(encoded_bytes) / static_cast<double>(count),
              static_cast<double>(json_bytes) / static_cast<double>(count));
  std::printf("%-36s %10s %14s\n", "path", "seconds", "identities/s");
  Row("Store (RocksDbStore)", count, store_seconds);
  Row("IdentityFromJsonText alone", count, parse_seconds);
  Row("IdentityFromJsonText + Store", count, json_seconds);
  Row(("StoreMany, batches of " + std::to_string(batch_size)).c_str(), count, many_seconds);
  Row("IdentityFromJsonText + StoreMany", count, json_many_seconds);
  std::printf("\nbatched / one at a time: Store %.2fx, with parsing %.2fx\n",
              store_seconds / many_seconds, json_seconds / json_many_seconds);
  return 0;
}
