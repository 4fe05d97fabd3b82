#include "kimera/memory_store.h"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace kimera {
namespace {

// Builds "<prefix><n>" by appending: GCC 12 warns falsely (-Wrestrict) on
// "literal" + std::to_string(n).
std::string Numbered(std::string prefix, long long n) {
  prefix += std::to_string(n);
  return prefix;
}

// A clock the test moves by hand.
struct ManualClock {
  std::shared_ptr<std::atomic<Micros>> now = std::make_shared<std::atomic<Micros>>(1'000'000);
  Micros operator()() const { return now->load(); }
};

Identity Geoid(const std::string& id, const std::vector<double>& intensities,
               const std::string& lang_axis = "en") {
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kGeoid;
  identity.raw = "raw " + id;
  identity.lang_axis = lang_axis;
  nlohmann::json terms = nlohmann::json::array();
  for (std::size_t i = 0; i < intensities.size(); ++i) {
    terms.push_back({{"term", Numbered("t", i)}, {"intensity", intensities[i]}});
  }
  identity.meta["terms"] = terms;
  return identity;
}

Identity Scar(const std::string& id, std::size_t links, double weight) {
  Identity identity;
  identity.id = id;
  identity.identity_type = IdentityType::kScar;
  identity.weight = weight;
  for (std::size_t i = 0; i < links; ++i) identity.related_ids.push_back(Numbered("r", i));
  return identity;
}

std::vector<std::string> Ids(const std::vector<Identity>& identities) {
  std::vector<std::string> ids;
  for (const Identity& identity : identities) ids.push_back(identity.id);
  return ids;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_store)

BOOST_AUTO_TEST_CASE(stores_fetches_and_removes) {
  MemoryStore store;
  Identity in = Geoid("a", {1, 2});
  BOOST_REQUIRE(store.Store(in).ok());
  Identity out;
  BOOST_REQUIRE(store.Fetch("a", &out).ok());
  BOOST_TEST(out.id == "a");
  BOOST_TEST(out.meta == in.meta);
  BOOST_TEST(out.created_at != 0);
  BOOST_REQUIRE(store.Remove("a").ok());
  BOOST_TEST(store.Fetch("a", &out).IsNotFound());
}

BOOST_AUTO_TEST_CASE(remove_of_absent_id_is_not_found) {
  MemoryStore store;
  const Status s = store.Remove("nobody");
  BOOST_TEST(s.IsNotFound());
  BOOST_TEST(Contains(s.message(), "nobody"));
}

BOOST_AUTO_TEST_CASE(replace_keeps_first_created_at) {
  ManualClock clock;
  MemoryStore store(clock);
  *clock.now = 100;
  BOOST_REQUIRE(store.Store(Geoid("a", {1})).ok());
  *clock.now = 200;
  Identity again = Geoid("a", {3});
  again.created_at = 150;
  again.updated_at = 150;
  BOOST_REQUIRE(store.Store(again).ok());
  Identity out;
  BOOST_REQUIRE(store.Fetch("a", &out).ok());
  BOOST_TEST(out.created_at == 100);
  BOOST_TEST(out.updated_at == 200);
  BOOST_TEST(out.meta["terms"][0]["intensity"].get<double>() == 3.0);
}

BOOST_AUTO_TEST_CASE(insert_keeps_given_timestamps) {
  ManualClock clock;
  MemoryStore store(clock);
  Identity in = Geoid("a", {1});
  in.created_at = 5;
  in.updated_at = 6;
  BOOST_REQUIRE(store.Store(in).ok());
  Identity out;
  BOOST_REQUIRE(store.Fetch("a", &out).ok());
  BOOST_TEST(out.created_at == 5);
  BOOST_TEST(out.updated_at == 6);
}

BOOST_AUTO_TEST_CASE(list_filters_orders_and_limits) {
  ManualClock clock;
  MemoryStore store(clock);
  *clock.now = 10;
  BOOST_REQUIRE(store.Store(Geoid("g1", {1}, "en")).ok());
  *clock.now = 30;
  BOOST_REQUIRE(store.Store(Geoid("g2", {1}, "fr")).ok());
  BOOST_REQUIRE(store.Store(Geoid("g0", {1}, "en")).ok());  // Same time as g2: id breaks the tie.
  *clock.now = 20;
  BOOST_REQUIRE(store.Store(Scar("s1", 2, 1)).ok());

  std::vector<Identity> out;
  BOOST_REQUIRE(store.List({}, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"g0", "g2", "s1", "g1"}),
             boost::test_tools::per_element());

  BOOST_REQUIRE(store.List({IdentityType::kGeoid, std::nullopt, 2}, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"g0", "g2"}), boost::test_tools::per_element());

  BOOST_REQUIRE(store.List({std::nullopt, std::string("en"), 100}, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"g0", "g1"}), boost::test_tools::per_element());

  BOOST_REQUIRE(store.List({IdentityType::kScar, std::string("en"), 100}, &out).ok());
  BOOST_TEST(out.empty());

  BOOST_REQUIRE(store.List({std::nullopt, std::nullopt, 0}, &out).ok());
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(count_by_type) {
  MemoryStore store;
  BOOST_REQUIRE(store.Store(Geoid("g1", {1})).ok());
  BOOST_REQUIRE(store.Store(Geoid("g2", {1})).ok());
  BOOST_REQUIRE(store.Store(Scar("s1", 2, 1)).ok());
  std::uint64_t n = 0;
  BOOST_REQUIRE(store.Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 3u);
  BOOST_REQUIRE(store.Count(IdentityType::kGeoid, &n).ok());
  BOOST_TEST(n == 2u);
  BOOST_REQUIRE(store.Count(IdentityType::kScar, &n).ok());
  BOOST_TEST(n == 1u);
}

BOOST_AUTO_TEST_CASE(find_by_entropy_orders_limits_and_bounds) {
  MemoryStore store;
  BOOST_REQUIRE(store.Store(Geoid("h0", {1})).ok());           // H = 0
  BOOST_REQUIRE(store.Store(Geoid("h1", {1, 1})).ok());        // H = 1
  BOOST_REQUIRE(store.Store(Geoid("h2", {1, 1, 1, 1})).ok());  // H = 2
  BOOST_REQUIRE(store.Store(Scar("s2", 4, 1.0)).ok());         // H = 2
  BOOST_REQUIRE(store.Store(Scar("s3", 8, 1.0)).ok());         // H = 3

  std::vector<Identity> out;
  BOOST_REQUIRE(store.FindByEntropy(0, 10, 100, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"s3", "h2", "s2", "h1", "h0"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(store.FindByEntropy(1, 2, 100, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"h2", "s2", "h1"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(store.FindByEntropy(0, 10, 2, &out).ok());
  BOOST_TEST(Ids(out) == (std::vector<std::string>{"s3", "h2"}), boost::test_tools::per_element());
  BOOST_REQUIRE(store.FindByEntropy(5, 10, 2, &out).ok());
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(scan_starts_after_and_stops_early) {
  MemoryStore store;
  for (int i = 0; i < 600; ++i) {
    char id[8];
    std::snprintf(id, sizeof(id), "k%04d", i);
    BOOST_REQUIRE(store.Store(Geoid(id, {1})).ok());
  }
  std::vector<std::string> seen;
  BOOST_REQUIRE(store
                    .Scan("k0009",
                          [&](const Identity& identity) {
                            seen.push_back(identity.id);
                            return true;
                          })
                    .ok());
  BOOST_REQUIRE(seen.size() == 590u);
  BOOST_TEST(seen.front() == "k0010");
  BOOST_TEST(seen.back() == "k0599");
  BOOST_TEST(std::is_sorted(seen.begin(), seen.end()));

  seen.clear();
  BOOST_REQUIRE(store
                    .Scan({},
                          [&](const Identity& identity) {
                            seen.push_back(identity.id);
                            return seen.size() < 3;
                          })
                    .ok());
  BOOST_TEST(seen == (std::vector<std::string>{"k0000", "k0001", "k0002"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(scan_visitor_may_write_to_the_store) {
  MemoryStore store;
  BOOST_REQUIRE(store.Store(Geoid("a", {1})).ok());
  BOOST_REQUIRE(store.Store(Geoid("b", {1})).ok());
  BOOST_REQUIRE(store
                    .Scan({},
                          [&](const Identity& identity) {
                            BOOST_CHECK(store.Store(identity).ok());
                            return true;
                          })
                    .ok());
}

BOOST_AUTO_TEST_CASE(rejects_bad_input_and_writes_nothing) {
  MemoryStore store;
  std::vector<std::pair<Identity, std::string>> bad;
  bad.emplace_back(Geoid("", {1}), "id");
  bad.emplace_back(Geoid(std::string(513, 'x'), {1}), "id");
  Identity nan_weight = Geoid("nan-weight", {1});
  nan_weight.weight = std::numeric_limits<double>::quiet_NaN();
  bad.emplace_back(nan_weight, "weight");
  Identity negative = Geoid("negative-weight", {1});
  negative.weight = -1;
  bad.emplace_back(negative, "weight");
  bad.emplace_back(Geoid("nan-intensity", {1, std::numeric_limits<double>::quiet_NaN()}),
                   "intensity");
  Identity utf8 = Geoid("bad-utf8", {1});
  utf8.raw = "abc\xff";
  bad.emplace_back(utf8, "raw");
  Identity meta = Geoid("meta-array", {1});
  meta.meta = nlohmann::json::array();
  bad.emplace_back(meta, "meta");
  Identity huge = Geoid("huge", {1});
  huge.raw.assign(kMaxRecordBytes + 1, 'a');
  bad.emplace_back(huge, "huge");

  for (const auto& [identity, field] : bad) {
    const Status s = store.Store(identity);
    BOOST_TEST_CONTEXT("field " << field) {
      BOOST_TEST(s.IsInvalidArgument());
      BOOST_TEST(Contains(s.message(), field), s.message().substr(0, 200));
      if (!identity.id.empty() && identity.id.size() <= 64) {
        BOOST_TEST(Contains(s.message(), identity.id), s.message().substr(0, 200));
      }
    }
    Identity out;
    BOOST_TEST(store.Fetch(identity.id, &out).IsNotFound());
  }
  std::uint64_t n = 1;
  BOOST_REQUIRE(store.Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 0u);
}

BOOST_AUTO_TEST_CASE(decay_twice_equals_decay_once) {
  ManualClock clock;
  MemoryStore store(clock);
  for (const char* id : {"twice", "once"}) {
    Identity in = Geoid(id, {0.5, 1.5, 3.0});
    in.weight = 2.0;
    in.created_at = 1'000'000;
    BOOST_REQUIRE(store.Store(in).ok());
  }
  const Micros t1 = 1'000'000 + 3LL * 86'400'000'000LL;
  const Micros t2 = 1'000'000 + 10LL * 86'400'000'000LL;
  BOOST_REQUIRE(store.ApplyDecay("twice", t1, {}).ok());
  BOOST_REQUIRE(store.ApplyDecay("twice", t2, {}).ok());
  BOOST_REQUIRE(store.ApplyDecay("once", t2, {}).ok());
  Identity twice, once;
  BOOST_REQUIRE(store.Fetch("twice", &twice).ok());
  BOOST_REQUIRE(store.Fetch("once", &once).ok());
  BOOST_TEST(twice.weight < 2.0);
  BOOST_TEST(twice.weight == once.weight, boost::test_tools::tolerance(1e-12));
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(twice.meta["terms"][i]["intensity"].get<double>() ==
                   once.meta["terms"][i]["intensity"].get<double>(),
               boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(twice.decay_applied_at == t2);
  BOOST_TEST(twice.updated_at == t2);

  const Status s = store.ApplyDecay("twice", t1, {});
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(Contains(s.message(), "twice"));
  Identity after;
  BOOST_REQUIRE(store.Fetch("twice", &after).ok());
  BOOST_TEST((after == twice));
  BOOST_TEST(store.ApplyDecay("absent", t2, {}).IsNotFound());
}

BOOST_AUTO_TEST_CASE(concurrent_stores_and_reads) {
  MemoryStore store;
  constexpr int kThreads = 4;
  constexpr int kOps = 2000;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const std::string id = Numbered(Numbered("t", t) + "-", i);
        if (!store.Store(Geoid(id, {1.0 + i})).ok()) ++failures;
        Identity out;
        if (!store.Fetch(id, &out).ok() || out.id != id) ++failures;
        if (!store.Store(Geoid("shared", {1.0})).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(failures.load() == 0);
  std::uint64_t n = 0;
  BOOST_REQUIRE(store.Count(std::nullopt, &n).ok());
  BOOST_TEST(n == kThreads * kOps + 1u);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kOps; ++i) {
      Identity out;
      BOOST_REQUIRE(store.Fetch(Numbered(Numbered("t", t) + "-", i), &out).ok());
      BOOST_REQUIRE(out.meta["terms"][0]["intensity"].get<double>() == 1.0 + i);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera
