// find_by_entropy (limit 10, full identities) against SQLite, with the
// latency of a single query as well as throughput.
//
// Stores N identities (the benchmarks' ~250-byte set, repeated under new ids
// past 100,000, so that memory holds one template set whatever N) into an
// EntropyStore over a RocksDbStore, and the same rows into two SQLite files
// with a B-tree index on entropy (SQLite's defaults, WAL mode):
//  * JSON rows: the reference system's columns, three JSON parses and two
//    timestamp parses per row found. This is the peer the target is judged
//    against: it is how the reference keeps and loads identities.
//  * record rows: the plugin's own record bytes, the same decode per row as
//    the plugin's, for reference.
// Every store is closed and opened again before the queries, so that all
// three answer from what they keep on disk and in their caches. Each side
// answers every query once untimed (the answers must be the same ids in the
// same order), then the queries are timed in interleaved slices, rotating
// which side goes first, each query timed alone for p50 and p99.
//
// Usage: find_bench [--count N] [--quick] [--dir PATH] [--cache-mib N]
//   (default 1,000,000; --quick 100,000). With --dir the stores are kept in
//   PATH and reused by the next run with the same N. --cache-mib sets the
//   RocksDB block cache (default: RocksDbOptions' default).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "sqlite_peer.h"

namespace {

using bench::Clock;
using bench::Fixed;
using bench::Require;
using bench::Seconds;

constexpr std::size_t kBatch = 1000;
constexpr std::size_t kLimit = 10;
constexpr kimera::SqliteRowFormat kFormats[2] = {kimera::SqliteRowFormat::kJson,
                                                 kimera::SqliteRowFormat::kRecord};

std::filesystem::path SqliteFile(const std::filesystem::path& dir, int k) {
  return dir / (std::string("peer-") + kimera::SqliteRowFormatName(kFormats[k]) + ".sqlite");
}

void Fill(const std::filesystem::path& dir, std::size_t count,
          const kimera::RocksDbOptions& options) {
  const std::vector<kimera::Identity> templates =
      bench::Generate(std::min(count, bench::kTemplates));
  std::vector<kimera::Identity> batch;
  auto store = bench::OpenIndexed(dir / "plugin", options);
  auto start = Clock::now();
  for (std::size_t i = 0; i < count; i += kBatch) {
    bench::Repeated(templates, i, std::min(count, i + kBatch), &batch);
    Require(store->StoreMany(batch, nullptr), "store");
  }
  std::printf("  plugin: stored %zu in %.1f s\n", count, Seconds(start));
  std::fflush(stdout);
  for (int k = 0; k < 2; ++k) {
    std::unique_ptr<kimera::SqlitePeer> peer;
    Require(kimera::SqlitePeer::Open(SqliteFile(dir, k).string(), kFormats[k], &peer), "sqlite");
    start = Clock::now();
    for (std::size_t i = 0; i < count; i += 10 * kBatch) {
      bench::Repeated(templates, i, std::min(count, i + 10 * kBatch), &batch);
      Require(peer->Load(batch, batch.size()), "sqlite load");
    }
    std::printf("  SQLite, %s rows: loaded %zu in %.1f s\n",
                kimera::SqliteRowFormatName(kFormats[k]), count, Seconds(start));
    std::fflush(stdout);
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const std::size_t at = std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
  return v[at];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 1'000'000;
  std::string keep;
  kimera::RocksDbOptions options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      count = 100'000;
    } else if (std::strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
      count = std::max<std::size_t>(1000, std::strtoull(argv[++i], nullptr, 10));
    } else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      keep = argv[++i];
    } else if (std::strcmp(argv[i], "--cache-mib") == 0 && i + 1 < argc) {
      options.block_cache_bytes = std::strtoull(argv[++i], nullptr, 10) << 20;
    } else {
      std::fprintf(stderr, "usage: %s [--count N] [--quick] [--dir PATH] [--cache-mib N]\n",
                   argv[0]);
      return 2;
    }
  }
  bench::TempDir temp;
  const std::filesystem::path dir = keep.empty() ? temp.path : std::filesystem::path(keep);
  const std::filesystem::path ready = dir / ("ready-" + std::to_string(count));
  std::printf("find_bench: %zu identities in %s, RocksDB block cache %zu MiB\n", count, dir.c_str(),
              options.block_cache_bytes >> 20);
  if (!std::filesystem::exists(ready)) {
    // Only what an earlier run left (of another N): --dir may name a folder
    // that holds other files too.
    std::filesystem::create_directories(dir);
    std::filesystem::remove_all(dir / "plugin");
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("ready-", 0) == 0 || name.rfind("peer-", 0) == 0) {
        std::filesystem::remove(entry.path());
      }
    }
    Fill(dir, count, options);
    std::ofstream(ready.string()) << count << "\n";
  }

  auto plugin = bench::OpenIndexed(dir / "plugin", options);
  std::unique_ptr<kimera::SqlitePeer> sqlite[2];
  for (int k = 0; k < 2; ++k) {
    Require(kimera::SqlitePeer::Open(SqliteFile(dir, k).string(), kFormats[k], &sqlite[k]),
            "sqlite");
  }
  auto find = [&](int side, const std::pair<double, double>& range,
                  std::vector<kimera::Identity>* found) {
    Require(side == 0 ? plugin->FindByEntropy(range.first, range.second, kLimit, found)
                      : sqlite[side - 1]->FindByEntropy(range.first, range.second, kLimit, found),
            "find");
  };

  const std::size_t queries = 20'000;
  const std::vector<std::pair<double, double>> ranges = bench::RandomRanges(queries);

  // Untimed: every side answers every query, and the answers must agree.
  std::vector<kimera::Identity> found;
  std::vector<std::vector<std::string>> expected(queries);
  std::size_t rows = 0, mismatches[2] = {0, 0};
  for (std::size_t q = 0; q < queries; ++q) {
    find(0, ranges[q], &found);
    rows += found.size();
    for (const auto& identity : found) expected[q].push_back(identity.id);
    for (int k = 0; k < 2; ++k) {
      find(k + 1, ranges[q], &found);
      std::vector<std::string> ids;
      for (const auto& identity : found) ids.push_back(identity.id);
      if (ids != expected[q]) ++mismatches[k];
    }
  }

  std::vector<double> latency[3];
  double total[3] = {0, 0, 0};
  const std::size_t slice = queries / 20;
  for (std::size_t begin = 0, round = 0; begin < queries; begin += slice, ++round) {
    for (std::size_t k = 0; k < 3; ++k) {
      const int side = static_cast<int>((round + k) % 3);
      for (std::size_t q = begin; q < std::min(queries, begin + slice); ++q) {
        const auto start = Clock::now();
        find(side, ranges[q], &found);
        const double s = Seconds(start);
        latency[side].push_back(s * 1e6);
        total[side] += s;
      }
    }
  }

  const char* names[3] = {"EntropyStore (RocksDB)", "SQLite, JSON rows (the reference's)",
                          "SQLite, record rows"};
  double rate[3];
  std::printf(
      "\nfind_by_entropy(limit %zu), full identities, %zu identities, %zu queries, %.2f "
      "rows per query\n",
      kLimit, count, queries, static_cast<double>(rows) / static_cast<double>(queries));
  std::printf("  %-40s %12s %10s %10s\n", "side", "queries/s", "p50 us", "p99 us");
  for (int side = 0; side < 3; ++side) {
    rate[side] = static_cast<double>(queries) / total[side];
    std::printf("  %-40s %12s %10s %10s\n", names[side], Fixed(rate[side], 0).c_str(),
                Fixed(Percentile(latency[side], 0.50), 1).c_str(),
                Fixed(Percentile(latency[side], 0.99), 1).c_str());
  }
  for (int k = 0; k < 2; ++k) {
    std::printf("  ratio EntropyStore / %-27s %12s   answers differing: %zu\n", names[k + 1],
                Fixed(rate[0] / rate[k + 1], 2).c_str(), mismatches[k]);
  }
  std::printf("  SQLite plan: %s\n\ntargets\n", sqlite[0]->QueryPlan().c_str());
  const bool same = mismatches[0] == 0 && mismatches[1] == 0;
  bench::Target("find_by_entropy >= 2x SQLite (JSON rows), same answers",
                rate[0] >= 2.0 * rate[1] && same,
                Fixed(rate[0] / rate[1], 2) + "x, same answers: " + (same ? "yes" : "no"));
  return same ? 0 : 1;
}
