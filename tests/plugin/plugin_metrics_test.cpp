// The plugin's metrics as /metrics shows them: histogram accuracy, exact
// population percentiles, bounded label values and the detailed mode.
#include "plugin_metrics.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kimera/identity_json.h"
#include "plugin_test_support.h"

namespace kimera {
namespace {

using test::IndexPlacement;

double NearestRank(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::max<std::size_t>(rank, 1) - 1];
}

void RequireQuantilesExact(const EntropyStore& store, const std::vector<double>& stored) {
  const auto samples = test::ParseSamples(store.MetricsText());
  for (double q : {0.5, 0.9, 0.99}) {
    const std::string label = q == 0.5 ? "0.5" : q == 0.9 ? "0.9" : "0.99";
    const double gauge =
        test::SampleValue(samples, "kimera_stored_entropy_quantile", {{"quantile", label}});
    const double exact = NearestRank(stored, q);
    BOOST_TEST_MESSAGE("q" << label << ": gauge " << gauge << ", exact " << exact);
    BOOST_TEST(std::abs(gauge - exact) <= 0.001,
               "quantile " << label << ": gauge " << gauge << ", exact " << exact);
  }
}

std::size_t SeriesCount(const std::string& text) { return test::ParseSamples(text).size(); }

BOOST_AUTO_TEST_SUITE(plugin_metrics)

BOOST_AUTO_TEST_CASE(identity_of_2_5_bits_fills_histogram_exactly) {
  test::TempDir dir;
  auto store = test::OpenPlaced(dir, IndexPlacement::kRecordDatabase);
  Identity scar;
  scar.id = "scar-2.5";
  scar.identity_type = IdentityType::kScar;
  scar.related_ids = {"a", "b", "c", "d"};  // log2(4) * 1.25 = 2.5 bits.
  scar.weight = 1.25;
  BOOST_REQUIRE_EQUAL(Entropy(scar), 2.5);
  BOOST_REQUIRE(store->Store(scar).ok());

  const auto samples = test::ParseSamples(store->MetricsText());
  const std::map<std::string, std::string> scar_label = {{"identity_type", "scar"}};
  BOOST_TEST(test::SampleValue(samples, "kimera_identity_entropy_count", scar_label) == 1.0);
  BOOST_TEST(test::SampleValue(samples, "kimera_identity_entropy_sum", scar_label) == 2.5);
  std::size_t buckets = 0;
  for (const auto& s : samples) {
    if (s.name != "kimera_identity_entropy_bucket") continue;
    const double le = s.labels.at("le") == "+Inf" ? INFINITY : std::stod(s.labels.at("le"));
    const double want = s.labels.at("identity_type") == "scar" && le >= 2.5 ? 1.0 : 0.0;
    BOOST_TEST(s.value == want, "bucket " << s.labels.at("identity_type") << " le=" << le);
    buckets += s.labels.at("identity_type") == "scar";
  }
  BOOST_TEST(buckets == EntropyBuckets().size() + 1);
  for (const char* other : {"geoid", "other"}) {
    BOOST_TEST(test::SampleValue(samples, "kimera_identity_entropy_count",
                                 {{"identity_type", other}}) == 0.0);
  }
  BOOST_TEST(test::SampleValue(samples, "kimera_identity_operations_total",
                               {{"operation_type", "store"}, {"identity_type", "scar"}}) == 1.0);
  BOOST_TEST(test::SampleValue(samples, "kimera_active_identities", scar_label) == 1.0);
  BOOST_TEST(test::SampleValue(samples, "kimera_storage_entropy_sum",
                               {{"operation", "store"}, {"identity_type", "scar"}}) == 2.5);
  BOOST_TEST(test::SampleValue(samples, "kimera_tau_distribution_sum", scar_label) ==
             EffectiveTau(2.5));
  BOOST_TEST(test::SampleValue(samples, "kimera_entropy_category_identities",
                               {{"category", "medium"}}) == 1.0);
  BOOST_TEST(test::SampleValue(samples, "kimera_build_info", {}) == 1.0);
}

BOOST_AUTO_TEST_CASE(percentile_gauges_equal_exact_percentiles_of_stored_set) {
  for (IndexPlacement placement :
       {IndexPlacement::kRecordDatabase, IndexPlacement::kSeparateOverMemory}) {
    BOOST_TEST_CONTEXT(test::PlacementName(placement)) {
      test::TempDir dir;
      auto store = test::OpenPlaced(dir, placement);
      std::mt19937_64 rng(11);
      std::uniform_real_distribution<double> bits(0.0, 12.0);
      std::map<std::string, double> stored;
      for (int i = 0; i < 5'000; ++i) {
        const std::string id = test::Numbered("s", i);
        // A few heavy scars beyond the fixed cells, and many exact ties.
        const double h = i % 97 == 0 ? 64 + bits(rng) : i % 5 == 0 ? 1.0 : bits(rng);
        BOOST_REQUIRE(store->Store(test::ScarOfEntropy(id, h)).ok());
        stored[id] = h;
      }
      // Re-stores move entropies: the old value must leave the population.
      for (int i = 0; i < 5'000; i += 3) {
        const std::string id = test::Numbered("s", i);
        const double h = bits(rng) / 4;
        BOOST_REQUIRE(store->Store(test::ScarOfEntropy(id, h)).ok());
        stored[id] = h;
      }
      auto values = [&] {
        std::vector<double> v;
        for (const auto& [id, h] : stored) v.push_back(h);
        return v;
      };
      RequireQuantilesExact(*store, values());

      for (int i = 0; i < 5'000; i += 2) {
        const std::string id = test::Numbered("s", i);
        BOOST_REQUIRE(store->Remove(id).ok());
        stored.erase(id);
      }
      RequireQuantilesExact(*store, values());
      const auto samples = test::ParseSamples(store->MetricsText());
      BOOST_TEST(test::SampleValue(samples, "kimera_entropy_index_entries", {}) ==
                 static_cast<double>(stored.size()));
    }
  }
}

BOOST_AUTO_TEST_CASE(unknown_identity_types_do_not_add_series) {
  test::TempDir dir;
  auto store = test::OpenPlaced(dir, IndexPlacement::kRecordDatabase);
  BOOST_REQUIRE(store->Store(test::ScarOfEntropy("known", 1.0)).ok());
  const std::size_t before = SeriesCount(store->MetricsText());
  int rejected = 0;
  for (int i = 0; i < 10'000; ++i) {
    std::string json = R"({"id":"u)";
    json += std::to_string(i);
    json += R"(","identity_type":"type_)";
    json += std::to_string(i);
    json += R"(","raw":"x","tags":["a","b"]})";
    Identity identity;
    const Status s = IdentityFromJsonText(json, &identity);
    if (!s.ok()) {
      BOOST_REQUIRE(s.IsInvalidArgument());
      ++rejected;
      continue;
    }
    // Whatever the parser lets through still carries a bounded type.
    BOOST_REQUIRE(store->Store(identity).ok());
  }
  BOOST_TEST(rejected == 10'000);
  const std::string text = store->MetricsText();
  BOOST_TEST(SeriesCount(text) == before);
  std::set<std::string> types;
  for (const auto& s : test::ParseSamples(text)) {
    if (auto it = s.labels.find("identity_type"); it != s.labels.end()) types.insert(it->second);
  }
  BOOST_TEST((types == std::set<std::string>{"geoid", "other", "scar"}));
}

BOOST_AUTO_TEST_CASE(detailed_mode_keeps_at_most_100_identity_series) {
  test::TempDir dir;
  test::ManualClock clock;
  PluginConfig config = test::QuietConfig();
  config.metrics.detailed = true;
  auto store = test::Wrap(test::OpenRocks(dir.str("data"), clock), config, clock);
  for (int i = 0; i < 500; ++i) {
    BOOST_REQUIRE(store->Store(test::ScarOfEntropy(test::Numbered("d", i), 1.0)).ok());
  }
  clock.Advance(2);
  for (int i = 0; i < 500; ++i) {
    BOOST_REQUIRE(store->Store(test::ScarOfEntropy(test::Numbered("d", i), 2.0)).ok());
  }
  std::size_t per_id = 0, per_type = 0;
  for (const auto& s : test::ParseSamples(store->MetricsText())) {
    if (s.name != "kimera_entropy_change_rate") continue;
    if (s.labels.count("identity_id")) {
      ++per_id;
      BOOST_TEST(s.value == 0.5);  // +1 bit over 2 s.
    } else {
      ++per_type;
    }
  }
  BOOST_TEST(per_id == 100u);
  BOOST_TEST(per_type == 3u);

  // Without detailed mode there is no identity_id label at all.
  test::TempDir plain_dir;
  auto plain = test::OpenPlaced(plain_dir, IndexPlacement::kRecordDatabase);
  for (int i = 0; i < 50; ++i) {
    BOOST_REQUIRE(plain->Store(test::ScarOfEntropy(test::Numbered("d", i), 1.0)).ok());
    BOOST_REQUIRE(plain->Store(test::ScarOfEntropy(test::Numbered("d", i), 2.0)).ok());
  }
  BOOST_TEST(plain->MetricsText().find("identity_id") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(change_rate_sums_entropy_changes_over_window) {
  test::TempDir dir;
  test::ManualClock clock;
  PluginConfig config = test::QuietConfig();
  config.entropy.change_rate_window_seconds = 10;
  auto store = test::Wrap(test::OpenRocks(dir.str("data"), clock), config, clock);
  for (int i = 0; i < 10; ++i) {
    BOOST_REQUIRE(store->Store(test::ScarOfEntropy(test::Numbered("c", i), 1.0)).ok());
  }
  clock.Advance(1);
  for (int i = 0; i < 10; ++i) {
    BOOST_REQUIRE(store->Store(test::ScarOfEntropy(test::Numbered("c", i), 3.0)).ok());
  }
  auto rate = [&] {
    return test::SampleValue(test::ParseSamples(store->MetricsText()), "kimera_entropy_change_rate",
                             {{"identity_type", "scar"}});
  };
  BOOST_TEST(rate() == 2.0);  // 10 ids * +2 bits / 10 s.
  const auto samples = test::ParseSamples(store->MetricsText());
  BOOST_TEST(test::SampleValue(samples, "kimera_entropy_change_count",
                               {{"identity_type", "scar"}}) == 10.0);
  BOOST_TEST(test::SampleValue(samples, "kimera_entropy_change_sum", {{"identity_type", "scar"}}) ==
             20.0);
  clock.Advance(30);
  BOOST_TEST(rate() == 0.0);
}

BOOST_AUTO_TEST_CASE(find_by_entropy_records_rows_and_scanned_entries) {
  test::TempDir dir;
  auto store = test::OpenPlaced(dir, IndexPlacement::kRecordDatabase);
  for (int i = 0; i < 20; ++i) {
    BOOST_REQUIRE(store->Store(test::ScarOfEntropy(test::Numbered("f", i), i * 0.25)).ok());
  }
  std::vector<Identity> found;
  BOOST_REQUIRE(store->FindByEntropy(1.0, 2.0, 3, &found).ok());
  BOOST_REQUIRE_EQUAL(found.size(), 3u);
  const auto samples = test::ParseSamples(store->MetricsText());
  BOOST_TEST(test::SampleValue(samples, "kimera_entropy_query_rows_returned_sum", {}) == 3.0);
  BOOST_TEST(test::SampleValue(samples, "kimera_entropy_query_index_entries_scanned_sum", {}) ==
             3.0);
  BOOST_TEST(test::SampleValue(
                 samples, "kimera_identity_operations_total",
                 {{"operation_type", "find_by_entropy"}, {"identity_type", "other"}}) == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
