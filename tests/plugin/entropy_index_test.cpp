// The entropy index kept exact under concurrent stores, re-stores and
// removes, in each placement: inside the record database, and apart from it.
#include "kimera/entropy_index.h"

#include <rocksdb/write_batch.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "plugin_test_support.h"

namespace kimera {
namespace {

using test::Expected;
using test::IndexPlacement;

constexpr std::array<IndexPlacement, 3> kPlacements = {IndexPlacement::kRecordDatabase,
                                                       IndexPlacement::kSeparateOverMemory,
                                                       IndexPlacement::kSeparateOverRocks};

// Runs `ops` random stores (new or changed entropy), re-stores and removes
// over a pool of `ids` ids from `threads` threads.
void RandomWorkload(EntropyStore& store, int threads, int ops, int ids, std::uint64_t seed) {
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(t));
      std::uniform_int_distribution<int> pick(0, ids - 1);
      std::uniform_int_distribution<int> action(0, 99);
      for (int i = 0; i < ops / threads; ++i) {
        const std::string id = test::Numbered("id", pick(rng));
        const int a = action(rng);
        Status s;
        if (a < 20) {
          s = store.Remove(id);
          if (s.IsNotFound()) s = Status::OK();
        } else {
          s = store.Store(test::RandomIdentity(id, rng));
        }
        if (!s.ok()) {
          BOOST_TEST_MESSAGE(s.ToString());
          ++failures;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  BOOST_REQUIRE_EQUAL(failures.load(), 0);
}

BOOST_AUTO_TEST_SUITE(entropy_index)

BOOST_AUTO_TEST_CASE(keys_order_by_entropy_descending_then_id) {
  const std::vector<std::pair<double, std::string>> in_order = {
      {1e300, "a"}, {64.5, "a"},   {2.5, "a"}, {2.5, "b"}, {2.5, "ba"},
      {1.0, ""},    {1e-300, "z"}, {0.0, "a"}, {0.0, "b"}};
  for (std::size_t i = 0; i + 1 < in_order.size(); ++i) {
    const bool ascending = EncodeIndexKey(in_order[i].first, in_order[i].second) <
                           EncodeIndexKey(in_order[i + 1].first, in_order[i + 1].second);
    BOOST_TEST(ascending, "key of (" << in_order[i].first << ", " << in_order[i].second
                                     << ") sorts before the next");
  }
  for (const auto& [h, id] : in_order) {
    double decoded = -1;
    std::string decoded_id;
    BOOST_REQUIRE(DecodeIndexKey(EncodeIndexKey(h, id), &decoded, &decoded_id));
    BOOST_TEST(decoded == h);
    BOOST_TEST(decoded_id == id);
  }
  BOOST_TEST(EncodeIndexKey(-0.0, "a") == EncodeIndexKey(0.0, "a"));
  double h = 0;
  std::string id;
  BOOST_TEST(!DecodeIndexKey("i-not-ordered", &h, &id));
  BOOST_TEST(!DecodeIndexKey("x123", &h, &id));
}

BOOST_AUTO_TEST_CASE(random_concurrent_workload_keeps_index_exact) {
  for (IndexPlacement placement : kPlacements) {
    BOOST_TEST_CONTEXT(test::PlacementName(placement)) {
      test::TempDir dir;
      auto store = test::OpenPlaced(dir, placement);
      RandomWorkload(*store, 4, 20'000, 2'000, 42);
      test::RequireIndexExact(*store);
      std::uint64_t n = 0;
      BOOST_REQUIRE(store->Count(std::nullopt, &n).ok());
      BOOST_TEST_MESSAGE(test::PlacementName(placement)
                         << ": 20000 operations, " << n << " identities, index exact");
    }
  }
}

BOOST_AUTO_TEST_CASE(same_id_stored_by_two_threads_never_leaves_stale_entry) {
  for (IndexPlacement placement : kPlacements) {
    BOOST_TEST_CONTEXT(test::PlacementName(placement)) {
      test::TempDir dir;
      auto store = test::OpenPlaced(dir, placement);
      constexpr int kIds = 4;
      constexpr int kRounds = 1'500;
      std::vector<std::thread> threads;
      // Boost.Test's checks are not thread-safe: each thread keeps its first
      // failure and the main thread checks them after the join.
      std::vector<std::string> failures(2);
      for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < kRounds; ++i) {
            for (int k = 0; k < kIds; ++k) {
              const std::string id = test::Numbered("contested", k);
              // Each thread writes its own entropies, so a lost update shows
              // as an index entry that matches neither the record nor the other.
              Status s = i % 50 == 49 && t == 0
                             ? store->Remove(id)
                             : store->Store(test::ScarOfEntropy(id, t + 0.001 * (i % 997)));
              if (s.IsNotFound()) s = Status::OK();
              if (!s.ok()) {
                failures[t] = s.ToString();
                return;
              }
            }
          }
        });
      }
      for (auto& t : threads) t.join();
      for (const std::string& failure : failures) BOOST_REQUIRE_MESSAGE(failure.empty(), failure);
      test::RequireIndexExact(*store);
      for (int k = 0; k < kIds; ++k) {
        const std::string id = test::Numbered("contested", k);
        int ordered_keys = 0;
        BOOST_REQUIRE(store->index()
                          .ForEachOrdered({},
                                          [&](std::string_view, const IndexEntry& e) {
                                            ordered_keys += e.id == id;
                                            return true;
                                          })
                          .ok());
        Identity record;
        const bool stored = store->Fetch(id, &record).ok();
        BOOST_TEST(ordered_keys == (stored ? 1 : 0));
      }
    }
  }
}

// The index's stored totals in the closed database at `path`, checked
// against its entries; `*geoids` gets the stored total of geoids.
void RequireStoredTotalsExact(const std::string& path, bool keeps_by_id, std::int64_t* geoids) {
  std::unique_ptr<RocksDbDatabase> database;
  BOOST_REQUIRE(RocksDbDatabase::Open(path, RocksDbOptions{}, &database).ok());
  std::unique_ptr<EntropyIndex> index;
  bool created = false;
  BOOST_REQUIRE(EntropyIndex::Open(database.get(), keeps_by_id, &index, &created).ok());
  BOOST_REQUIRE(!created);
  IndexSummary stored, entries;
  bool complete = false;
  BOOST_REQUIRE(index->ReadSummary(&stored, &complete).ok());
  BOOST_REQUIRE_MESSAGE(complete, "no stored totals after a clean close");
  BOOST_REQUIRE(index
                    ->ForEachOrdered({},
                                     [&](std::string_view, const IndexEntry& e) {
                                       entries.Add(e);
                                       return true;
                                     })
                    .ok());
  BOOST_REQUIRE(stored == entries);
  *geoids = stored.types[0];
}

// Writes `value` at the index's key `key` in the closed database at `path`.
void PutRaw(const std::string& path, const std::string& key, const std::string& value) {
  std::unique_ptr<RocksDbDatabase> database;
  BOOST_REQUIRE(RocksDbDatabase::Open(path, RocksDbOptions{}, &database).ok());
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  BOOST_REQUIRE(database->ColumnFamily(kEntropyIndexColumnFamily, &cf).ok());
  rocksdb::WriteBatch batch;
  batch.Put(cf, key, value);
  BOOST_REQUIRE(database->Write(&batch).ok());
}

BOOST_AUTO_TEST_CASE(a_clean_close_stores_the_totals_that_the_next_open_reads) {
  for (IndexPlacement placement :
       {IndexPlacement::kRecordDatabase, IndexPlacement::kSeparateOverRocks}) {
    BOOST_TEST_CONTEXT(test::PlacementName(placement)) {
      test::TempDir dir;
      const bool separate = placement != IndexPlacement::kRecordDatabase;
      const std::string index_path = dir.str(separate ? "index" : "data");
      std::uint64_t geoids = 0;
      {
        auto store = test::OpenPlaced(dir, placement);
        RandomWorkload(*store, 2, 3'000, 600, 9);
        BOOST_REQUIRE(store->Count(IdentityType::kGeoid, &geoids).ok());
        BOOST_REQUIRE_GT(geoids, 0u);
      }
      std::int64_t stored_geoids = 0;
      RequireStoredTotalsExact(index_path, separate, &stored_geoids);
      BOOST_TEST(stored_geoids == static_cast<std::int64_t>(geoids));
      // A wrong total, as a bug or a bad disk would leave.
      const std::string geoids_key("st\0", 3);
      PutRaw(index_path, geoids_key, RocksDbDatabase::EncodeCounter(123'456));
      {
        // The open took the stored total, not a count of the entries...
        auto store = test::OpenPlaced(dir, placement);
        std::uint64_t n = 0;
        BOOST_REQUIRE(store->Count(IdentityType::kGeoid, &n).ok());
        BOOST_TEST(n == 123'456u);
        // ...and set the totals aside while open: a crash leaves none.
        IndexSummary summary;
        bool complete = true;
        BOOST_REQUIRE(store->index().ReadSummary(&summary, &complete).ok());
        BOOST_TEST(!complete);
        // The check finds the count wrong; the repair counts again.
        IndexCheckReport report;
        BOOST_REQUIRE(store->Check(false, &report).ok());
        BOOST_TEST(test::ProblemsOf(report).find("count of geoid is 123456") != std::string::npos,
                   test::ProblemsOf(report));
        BOOST_REQUIRE(store->Check(true, &report).ok());
        BOOST_REQUIRE(store->Count(IdentityType::kGeoid, &n).ok());
        BOOST_TEST(n == geoids);
        test::RequireIndexExact(*store);
        RandomWorkload(*store, 2, 1'000, 600, 10);
        BOOST_REQUIRE(store->Count(IdentityType::kGeoid, &geoids).ok());
      }
      RequireStoredTotalsExact(index_path, separate, &stored_geoids);
      BOOST_TEST(stored_geoids == static_cast<std::int64_t>(geoids));
      // A total that cannot be read does not keep the store from opening:
      // the open counts the entries.
      PutRaw(index_path, geoids_key, "bad");
      auto store = test::OpenPlaced(dir, placement);
      test::RequireIndexExact(*store);
    }
  }
}

BOOST_AUTO_TEST_CASE(find_by_entropy_returns_highest_first_with_ties_by_id) {
  test::TempDir dir;
  auto store = test::OpenPlaced(dir, IndexPlacement::kRecordDatabase);
  for (const char* id : {"c", "a", "b"})
    BOOST_REQUIRE(store->Store(test::ScarOfEntropy(id, 2)).ok());
  BOOST_REQUIRE(store->Store(test::ScarOfEntropy("low", 0.5)).ok());
  BOOST_REQUIRE(store->Store(test::ScarOfEntropy("high", 3)).ok());
  std::vector<Identity> found;
  BOOST_REQUIRE(store->FindByEntropy(0.5, 2.0, 10, &found).ok());
  std::vector<std::string> ids;
  for (const auto& f : found) ids.push_back(f.id);
  BOOST_TEST(ids == (std::vector<std::string>{"a", "b", "c", "low"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(store->FindByEntropy(2.0, 2.0, 2, &found).ok());
  BOOST_REQUIRE_EQUAL(found.size(), 2u);
  BOOST_TEST(found[0].id == "a");
  BOOST_TEST(found[1].id == "b");
  BOOST_REQUIRE(store->FindByEntropy(3.0, 1.0, 10, &found).ok());
  BOOST_TEST(found.empty());
  BOOST_REQUIRE(store->FindByEntropy(0, std::numeric_limits<double>::infinity(), 0, &found).ok());
  BOOST_TEST(found.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
