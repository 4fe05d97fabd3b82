// EntropyStore as a whole: opening, reopening, wrapping existing data, the
// index check and its repair, and running with metrics disabled.
#include "kimera/entropy_store.h"

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kimera/entropy_index.h"
#include "plugin_test_support.h"
#include "rocksdb_database.h"

namespace kimera {
namespace {

using test::IndexPlacement;

void StoreRandom(EntropyStore& store, int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < count; ++i) {
    const Status s = store.Store(test::RandomIdentity(test::Numbered("id", i), rng));
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
}

std::vector<IndexEntry> OrderedEntries(const EntropyStore& store) {
  std::vector<IndexEntry> out;
  BOOST_REQUIRE(store.index()
                    .ForEachOrdered({},
                                    [&](std::string_view, const IndexEntry& e) {
                                      out.push_back(e);
                                      return true;
                                    })
                    .ok());
  return out;
}

void Put(EntropyStore& store, const std::string& key, const std::string& value) {
  const EntropyIndex& index = store.index();
  BOOST_REQUIRE(
      index.database().db()->Put(rocksdb::WriteOptions(), index.column_family(), key, value).ok());
}

void Delete(EntropyStore& store, const std::string& key) {
  const EntropyIndex& index = store.index();
  BOOST_REQUIRE(
      index.database().db()->Delete(rocksdb::WriteOptions(), index.column_family(), key).ok());
}

// A by-id value as the index writes it: entropy, type, tau.
std::string ByIdValue(double entropy, IdentityType type) {
  std::string v(17, '\0');
  const double tau = EffectiveTau(entropy);
  std::memcpy(v.data(), &entropy, 8);
  v[8] = static_cast<char>(type);
  std::memcpy(v.data() + 9, &tau, 8);
  return v;
}

std::string OrderedValue(double entropy, IdentityType type) {
  return ByIdValue(entropy, type).substr(8);
}

// Removes the record of `id` without the plugin seeing it.
void RemoveBehindIndex(EntropyStore& store, const std::string& id) {
  if (store.index_in_record_database()) {
    auto& rocks = dynamic_cast<RocksDbStore&>(*store.target());
    rocksdb::ColumnFamilyHandle* records = nullptr;
    BOOST_REQUIRE(DatabaseOf(rocks).ColumnFamily(kIdentitiesColumnFamily, &records).ok());
    BOOST_REQUIRE(DatabaseOf(rocks).db()->Delete(rocksdb::WriteOptions(), records, id).ok());
  } else {
    BOOST_REQUIRE(store.target()->Remove(id).ok());
  }
}

struct Planted {
  const char* name;
  std::function<void(EntropyStore&)> plant;
  const char* mentions;  // A word the report must name.
  bool needs_by_id;      // Only an index of its own keeps by-id entries.
};

const std::vector<Planted>& PlantedProblems() {
  static const std::vector<Planted> kProblems = {
      {"by-id entry deleted", [](EntropyStore& s) { Delete(s, "iid7"); }, "id7", true},
      {"by-id entry at a wrong entropy",
       [](EntropyStore& s) { Put(s, "iid8", ByIdValue(9.75, IdentityType::kGeoid)); }, "id8", true},
      {"orphan by-id entry",
       [](EntropyStore& s) { Put(s, "ighost", ByIdValue(1.5, IdentityType::kGeoid)); }, "ghost",
       true},
      {"ordered entry deleted",
       [](EntropyStore& s) {
         IndexEntry e;
         BOOST_REQUIRE(s.IndexEntryOf("id9", &e).ok());
         Delete(s, EncodeIndexKey(e.entropy, "id9"));
       },
       "id9", false},
      {"ordered entry with a wrong tau",
       [](EntropyStore& s) {
         IndexEntry e;
         BOOST_REQUIRE(s.IndexEntryOf("id10", &e).ok());
         Put(s, EncodeIndexKey(e.entropy, "id10"), OrderedValue(e.entropy + 1, e.identity_type));
       },
       "id10", false},
      {"orphan ordered key",
       [](EntropyStore& s) {
         Put(s, EncodeIndexKey(1.234, "ghost"), OrderedValue(1.234, IdentityType::kGeoid));
       },
       "ghost", false},
      {"stale ordered key",
       [](EntropyStore& s) {
         Put(s, EncodeIndexKey(7.5, "id12"), OrderedValue(7.5, IdentityType::kGeoid));
       },
       "id12", false},
      {"record removed behind the index", [](EntropyStore& s) { RemoveBehindIndex(s, "id11"); },
       "id11", false},
  };
  return kProblems;
}

BOOST_AUTO_TEST_SUITE(entropy_store)

BOOST_AUTO_TEST_CASE(refuses_timestamps_outside_the_configured_window) {
  test::TempDir dir;
  test::ManualClock clock;
  PluginConfig config = test::QuietConfig();
  config.entropy.max_future_seconds = 3600;
  config.entropy.earliest_timestamp_seconds = 1'000'000'000;  // 2001-09-09.
  auto store = test::Wrap(test::OpenRocks(dir.str("data")), config, clock);
  Identity identity = test::ScarOfEntropy("t", 0.0);
  identity.created_at = clock() + 3601'000'000LL;
  Status s = store->Store(identity);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("identity 't': field 'created_at'") == 0u, s.message());
  BOOST_TEST(s.message().find("max_future_seconds") != std::string::npos, s.message());
  identity.created_at = 999'999'999'000'000LL;
  s = store->Store(identity);
  BOOST_TEST(s.message().find("earliest_timestamp_seconds") != std::string::npos, s.message());
  identity.created_at = clock() - 1'000'000;
  identity.updated_at = clock() + 7200'000'000LL;
  s = store->Store(identity);
  BOOST_TEST(s.message().find("field 'updated_at'") != std::string::npos, s.message());
  Identity absent;
  BOOST_TEST(store->Fetch("t", &absent).IsNotFound());
  identity.created_at = clock() + 3600'000'000LL;
  identity.updated_at = 0;
  BOOST_TEST(store->Store(identity).ok());
}

BOOST_AUTO_TEST_CASE(check_reports_each_planted_problem_and_repair_fixes_it) {
  for (IndexPlacement placement :
       {IndexPlacement::kRecordDatabase, IndexPlacement::kSeparateOverRocks,
        IndexPlacement::kSeparateOverMemory}) {
    for (const Planted& problem : PlantedProblems()) {
      if (problem.needs_by_id && placement == IndexPlacement::kRecordDatabase) continue;
      BOOST_TEST_CONTEXT(test::PlacementName(placement) << ", " << problem.name) {
        test::TempDir dir;
        auto store = test::OpenPlaced(dir, placement);
        StoreRandom(*store, 200, 5);
        test::RequireCheckOk(*store);
        problem.plant(*store);

        IndexCheckReport report;
        BOOST_REQUIRE(store->Check(false, &report).ok());
        BOOST_TEST(!report.ok());
        BOOST_TEST(report.repaired == 0u);
        BOOST_REQUIRE(!report.problems.empty());
        BOOST_TEST(test::ProblemsOf(report).find(problem.mentions) != std::string::npos,
                   "report names " << problem.mentions << ":" << test::ProblemsOf(report));
        BOOST_TEST_MESSAGE(problem.name << ":" << test::ProblemsOf(report));

        // Check without repair changes nothing.
        IndexCheckReport again;
        BOOST_REQUIRE(store->Check(false, &again).ok());
        BOOST_TEST(again.problem_count == report.problem_count);

        IndexCheckReport repaired;
        BOOST_REQUIRE(store->Check(true, &repaired).ok());
        BOOST_TEST(repaired.repaired == repaired.problem_count);
        test::RequireIndexExact(*store);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(repair_fixes_many_problems_at_once) {
  // An index of its own has every kind of key, so every problem applies.
  test::TempDir dir;
  auto store = test::OpenPlaced(dir, IndexPlacement::kSeparateOverRocks);
  StoreRandom(*store, 300, 6);
  for (const Planted& problem : PlantedProblems()) problem.plant(*store);
  IndexCheckReport report;
  BOOST_REQUIRE(store->Check(true, &report).ok());
  BOOST_TEST(report.problem_count >= PlantedProblems().size());
  test::RequireIndexExact(*store);
  const std::string text = store->MetricsText();
  const auto samples = test::ParseSamples(text);
  BOOST_TEST(test::SampleValue(samples, "kimera_entropy_index_inconsistencies", {}) ==
             static_cast<double>(0));
}

BOOST_AUTO_TEST_CASE(reopen_keeps_index) {
  for (IndexPlacement placement :
       {IndexPlacement::kRecordDatabase, IndexPlacement::kSeparateOverRocks}) {
    BOOST_TEST_CONTEXT(test::PlacementName(placement)) {
      test::TempDir dir;
      std::vector<IndexEntry> before;
      std::array<std::uint64_t, 3> counts{};
      std::array<double, 3> quantiles{};
      {
        auto store = test::OpenPlaced(dir, placement);
        StoreRandom(*store, 2'000, 8);
        for (int i = 0; i < 2'000; i += 7) {
          BOOST_REQUIRE(store->Remove(test::Numbered("id", i)).ok());
        }
        before = OrderedEntries(*store);
        BOOST_REQUIRE(store->Count(IdentityType::kGeoid, &counts[0]).ok());
        BOOST_REQUIRE(store->Count(IdentityType::kScar, &counts[1]).ok());
        BOOST_REQUIRE(store->Count(std::nullopt, &counts[2]).ok());
        quantiles = {store->EntropyQuantile(0.5), store->EntropyQuantile(0.9),
                     store->EntropyQuantile(0.99)};
      }
      auto store = test::OpenPlaced(dir, placement);
      const auto after = OrderedEntries(*store);
      BOOST_REQUIRE_EQUAL(after.size(), before.size());
      for (std::size_t i = 0; i < after.size(); ++i) {
        BOOST_REQUIRE_EQUAL(after[i].id, before[i].id);
        BOOST_REQUIRE_EQUAL(after[i].entropy, before[i].entropy);
      }
      std::uint64_t n = 0;
      BOOST_REQUIRE(store->Count(IdentityType::kGeoid, &n).ok());
      BOOST_TEST(n == counts[0]);
      BOOST_REQUIRE(store->Count(IdentityType::kScar, &n).ok());
      BOOST_TEST(n == counts[1]);
      BOOST_REQUIRE(store->Count(std::nullopt, &n).ok());
      BOOST_TEST(n == counts[2]);
      BOOST_TEST(store->EntropyQuantile(0.5) == quantiles[0]);
      BOOST_TEST(store->EntropyQuantile(0.9) == quantiles[1]);
      BOOST_TEST(store->EntropyQuantile(0.99) == quantiles[2]);
      test::RequireIndexExact(*store);
    }
  }
}

BOOST_AUTO_TEST_CASE(wrapping_existing_records_builds_index_at_open) {
  for (bool separate : {false, true}) {
    BOOST_TEST_CONTEXT((separate ? "separate index" : "index in the record database")) {
      test::TempDir dir;
      {
        auto rocks = test::OpenRocks(dir.str("data"));
        std::mt19937_64 rng(9);
        for (int i = 0; i < 1'500; ++i) {
          BOOST_REQUIRE(rocks->Store(test::RandomIdentity(test::Numbered("pre", i), rng)).ok());
        }
        BOOST_REQUIRE(!DatabaseOf(*rocks).HasColumnFamily(kEntropyIndexColumnFamily));
      }
      auto store = test::OpenPlaced(
          dir, separate ? IndexPlacement::kSeparateOverRocks : IndexPlacement::kRecordDatabase);
      std::uint64_t n = 0;
      BOOST_REQUIRE(store->Count(std::nullopt, &n).ok());
      BOOST_TEST(n == 1'500u);
      test::RequireIndexExact(*store);
    }
  }
}

BOOST_AUTO_TEST_CASE(apply_decay_moves_scar_in_index) {
  for (IndexPlacement placement :
       {IndexPlacement::kRecordDatabase, IndexPlacement::kSeparateOverMemory}) {
    BOOST_TEST_CONTEXT(test::PlacementName(placement)) {
      test::TempDir dir;
      auto store = test::OpenPlaced(dir, placement);
      BOOST_REQUIRE(store->Store(test::ScarOfEntropy("s", 2.0)).ok());
      Identity stored;
      BOOST_REQUIRE(store->Fetch("s", &stored).ok());
      BOOST_REQUIRE(
          store->ApplyDecay("s", stored.created_at + 86'400'000'000LL * 30, DecayParams{}).ok());
      IndexEntry e;
      BOOST_REQUIRE(store->IndexEntryOf("s", &e).ok());
      BOOST_TEST(e.entropy < 2.0);
      test::RequireIndexExact(*store);
    }
  }
}

BOOST_AUTO_TEST_CASE(disabled_metrics_record_nothing_but_keep_index) {
  test::TempDir dir;
  PluginConfig config;
  config.metrics.enabled = false;
  config.metrics.port = 0;  // serve stays true: disabled must win.
  auto store = test::Wrap(test::OpenRocks(dir.str("data")), config);
  BOOST_TEST(store->endpoint() == nullptr);
  for (int i = 0; i < 100; ++i) {
    BOOST_REQUIRE(store->Store(test::ScarOfEntropy(test::Numbered("s", i), i * 0.05)).ok());
  }
  BOOST_REQUIRE(store->Remove("s0").ok());
  BOOST_TEST(store->MetricsText().empty());
  std::uint64_t n = 0;
  BOOST_REQUIRE(store->Count(IdentityType::kScar, &n).ok());
  BOOST_TEST(n == 99u);
  std::vector<Identity> found;
  BOOST_REQUIRE(store->FindByEntropy(1.0, 2.0, 100, &found).ok());
  BOOST_REQUIRE_EQUAL(found.size(), 21u);  // 1.00, 1.05, ..., 2.00
  BOOST_TEST(found.front().id == "s40");
  BOOST_TEST(found.back().id == "s20");
  test::RequireIndexExact(*store);
}

BOOST_AUTO_TEST_CASE(other_store_without_separate_path_is_rejected) {
  std::unique_ptr<EntropyStore> store;
  Status s = EntropyStore::Open(std::make_unique<MemoryStore>(), test::QuietConfig(), &store);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());
  BOOST_TEST(s.message().find("separate_path") != std::string::npos);
  s = EntropyStore::Open(nullptr, test::QuietConfig(), &store);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_CHECK_THROW(wrap(std::make_unique<MemoryStore>(), test::QuietConfig()), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(store_many_over_a_separate_index_checks_every_identity_first) {
  // Over a MemoryStore the index lives at index.separate_path and the
  // identities are written one at a time: a bad one must still stop the
  // whole call before anything is written.
  test::TempDir dir;
  PluginConfig config = test::QuietConfig();
  config.index.separate_path = dir.str("index");
  std::unique_ptr<EntropyStore> store;
  Status s = EntropyStore::Open(std::make_unique<MemoryStore>(), config, &store);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  Identity bad = test::ScarOfEntropy("m2", 1.0);
  bad.weight = -1.0;
  std::size_t stored = 99;
  s = store->StoreMany({test::ScarOfEntropy("m0", 1.0), test::ScarOfEntropy("m1", 1.5), bad},
                       &stored);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());
  BOOST_TEST(s.message().find("identities[2]") != std::string::npos, s.message());
  BOOST_TEST(stored == 0u);
  std::uint64_t n = 99;
  BOOST_REQUIRE(store->Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 0u);
  s = store->StoreMany({test::ScarOfEntropy("m0", 1.0), test::ScarOfEntropy("m1", 1.5)}, &stored);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(stored == 2u);
  std::vector<Identity> found;
  BOOST_REQUIRE(store->FindByEntropy(1.5, 1.5, 10, &found).ok());
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(found[0].id == "m1");
  test::RequireIndexExact(*store);
}

BOOST_AUTO_TEST_CASE(wrap_is_a_one_line_swap) {
  test::TempDir dir;
  std::unique_ptr<IdentityStore> store = test::OpenRocks(dir.str("data"));
  store = wrap(std::move(store), test::QuietConfig());
  BOOST_REQUIRE(store->Store(test::ScarOfEntropy("x", 1.5)).ok());
  std::vector<Identity> found;
  BOOST_REQUIRE(store->FindByEntropy(1.5, 1.5, 10, &found).ok());
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(found[0].id == "x");
}

BOOST_AUTO_TEST_CASE(invalid_store_changes_nothing_and_counts_error) {
  test::TempDir dir;
  auto store = test::OpenPlaced(dir, IndexPlacement::kSeparateOverRocks);
  Identity bad = test::ScarOfEntropy("bad", 1.0);
  bad.weight = -1;
  BOOST_TEST(store->Store(bad).IsInvalidArgument());
  std::uint64_t n = 1;
  BOOST_REQUIRE(store->Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 0u);
  std::vector<std::string> intents;
  BOOST_REQUIRE(store->index().PendingIntents(&intents).ok());
  BOOST_TEST(intents.empty());
  const auto samples = test::ParseSamples(store->MetricsText());
  BOOST_TEST(test::SampleValue(samples, "kimera_storage_errors_total",
                               {{"operation_type", "store"}, {"reason", "invalid_argument"}}) ==
             1.0);
  BOOST_TEST(test::SampleValue(samples, "kimera_storage_operations_duration_seconds_count",
                               {{"operation_type", "store"}}) == 1.0);
  test::RequireIndexExact(*store);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
