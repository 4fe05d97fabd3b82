// Open time of an indexed store, against the count of every index entry that
// an open without stored totals makes.
//
// Stores N identities (the benchmarks' ~250-byte set, in batches of 1,000)
// into an EntropyStore over a RocksDbStore and closes it. Then, in one run:
//   1. opens it three times and keeps the median: the open reads the index's
//      stored totals (per-type counts and population cells);
//   2. deletes those totals, as a crash leaves none (a writable open sets
//      them aside until its clean close), and opens it once: the open counts
//      every entry, which is what every open cost before.
// Both opens include RocksDB's own open. Prints both, their ratio, and the
// counts each open found, which must agree.
//
// Usage: open_bench [--count N] [--quick]   (default 1,000,000; --quick 100,000)
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "kimera/entropy_index.h"
#include "kimera/entropy_store.h"
#include "kimera/rocksdb_store.h"
#include "rocksdb_database.h"

namespace {

using bench::Clock;
using bench::Fixed;
using bench::Require;
using bench::Seconds;

constexpr std::size_t kBatch = 1000;

std::unique_ptr<kimera::EntropyStore> Open(const std::filesystem::path& dir, double* seconds) {
  const auto start = Clock::now();
  auto store = bench::OpenIndexed(dir);
  if (seconds != nullptr) *seconds = Seconds(start);
  return store;
}

std::uint64_t Count(kimera::EntropyStore& store) {
  std::uint64_t n = 0;
  Require(store.Count(std::nullopt, &n), "count");
  return n;
}

// N identities: the benchmarks' set, repeated under new ids past its size, so
// that memory holds one template set whatever N.
void Fill(const std::filesystem::path& dir, std::size_t count) {
  auto store = Open(dir, nullptr);
  const std::vector<kimera::Identity> templates =
      bench::Generate(std::min(count, bench::kTemplates));
  std::vector<kimera::Identity> batch;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < count; i += kBatch) {
    bench::Repeated(templates, i, std::min(count, i + kBatch), &batch);
    Require(store->StoreMany(batch, nullptr), "store");
  }
  std::printf("stored %zu identities in %.1f s (%.0f /s)\n", count, Seconds(start),
              static_cast<double>(count) / Seconds(start));
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t count = bench::ParseCount(argc, argv);
  bench::TempDir dir;
  Fill(dir.path, count);

  std::vector<double> opens;
  std::uint64_t read_count = 0;
  for (int i = 0; i < 3; ++i) {
    double seconds = 0;
    auto store = Open(dir.path, &seconds);
    opens.push_back(seconds);
    read_count = Count(*store);
  }
  std::sort(opens.begin(), opens.end());
  {
    // Behind the closed store's back: its close writes the totals.
    std::unique_ptr<kimera::RocksDbDatabase> database;
    Require(kimera::RocksDbDatabase::Open(dir.path.string(), {}, &database), "open database");
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    Require(database->ColumnFamily(kimera::kEntropyIndexColumnFamily, &cf), "index family");
    rocksdb::WriteBatch batch;
    batch.DeleteRange(cf, "s", "t");
    Require(database->Write(&batch), "deleting the totals");
  }
  double counting = 0;
  std::uint64_t counted = 0;
  {
    auto store = Open(dir.path, &counting);
    counted = Count(*store);
  }

  std::printf("\n%-58s %12s\n", "open of an indexed store", "seconds");
  std::printf("%-58s %12s\n", "reading the stored totals (median of 3)",
              Fixed(opens[1], 3).c_str());
  std::printf("%-58s %12s\n", "counting every index entry (no stored totals)",
              Fixed(counting, 3).c_str());
  std::printf("%-58s %12s\n", "ratio counting / reading", Fixed(counting / opens[1], 1).c_str());
  std::printf("%-58s %12llu / %llu\n", "identities: by the totals / by counting",
              static_cast<unsigned long long>(read_count),
              static_cast<unsigned long long>(counted));
  return read_count == count && counted == count ? 0 : 1;
}
