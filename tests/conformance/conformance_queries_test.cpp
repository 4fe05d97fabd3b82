// Conformance of the read side of IdentityStore on every stack: FetchMany,
// List, Count, FindByEntropy and Scan, what they report for a record no
// decoder accepts, and a Scan whose visitor writes.
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <vector>

#include "conformance_stacks.h"

namespace kimera::conformance {

BOOST_AUTO_TEST_SUITE(conformance)

BOOST_AUTO_TEST_CASE_TEMPLATE(fetch_many_keeps_order_skips_absent_and_replaces_out, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  for (const char* id : {"a", "b", "c"}) BOOST_REQUIRE(store.Store(Geoid(id, {1})).ok());
  std::vector<Identity> out = {Geoid("stale", {1})};
  BOOST_REQUIRE(store.FetchMany({"c", "missing", "a", "b"}, &out).ok());
  BOOST_TEST(Ids(out) == (Names{"c", "a", "b"}), boost::test_tools::per_element());
  for (const Identity& identity : out) {
    const Identity single = MustFetch(store, identity.id);
    BOOST_TEST((identity == single), Show(identity) << " != " << Show(single));
  }
  // One entry per id asked for, so an id asked twice comes twice.
  BOOST_REQUIRE(store.FetchMany({"b", "a", "b"}, &out).ok());
  BOOST_TEST(Ids(out) == (Names{"b", "a", "b"}), boost::test_tools::per_element());
  BOOST_REQUIRE(store.FetchMany({"missing"}, &out).ok());
  BOOST_TEST(out.empty());
  out = {Geoid("stale", {1})};
  BOOST_REQUIRE(store.FetchMany({}, &out).ok());
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(list_filters_orders_and_limits, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_REQUIRE(store.Store(Stamped(Geoid("g1", {1}, "en"), 10, 10)).ok());
  BOOST_REQUIRE(store.Store(Stamped(Geoid("g2", {1}, "fr"), 30, 30)).ok());
  BOOST_REQUIRE(store.Store(Stamped(Geoid("g0", {1}, "en"), 30, 30)).ok());  // Tie: by id.
  BOOST_REQUIRE(store.Store(Stamped(Scar("s1", 2, 1), 20, 20)).ok());

  BOOST_TEST(ListIds(store, {}) == (Names{"g0", "g2", "s1", "g1"}),
             boost::test_tools::per_element());
  BOOST_TEST(ListIds(store, {IdentityType::kGeoid, std::nullopt, 2}) == (Names{"g0", "g2"}),
             boost::test_tools::per_element());
  BOOST_TEST(ListIds(store, {std::nullopt, std::string("en"), 100}) == (Names{"g0", "g1"}),
             boost::test_tools::per_element());
  BOOST_TEST(ListIds(store, {std::nullopt, std::string("fr"), 100}) == Names{"g2"},
             boost::test_tools::per_element());
  BOOST_TEST(ListIds(store, {IdentityType::kScar, std::nullopt, 100}) == Names{"s1"},
             boost::test_tools::per_element());
  BOOST_TEST(ListIds(store, {IdentityType::kScar, std::string("en"), 100}).empty());
  BOOST_TEST(ListIds(store, {std::nullopt, std::nullopt, 0}).empty());

  // A replaced identity moves to the front: its updated_at is now.
  BOOST_REQUIRE(store.Store(Geoid("g1", {2}, "en")).ok());
  BOOST_TEST(ListIds(store, {}) == (Names{"g1", "g0", "g2", "s1"}),
             boost::test_tools::per_element());
  std::vector<Identity> out;
  BOOST_REQUIRE(store.List({std::nullopt, std::nullopt, 1}, &out).ok());
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  const Identity g1 = MustFetch(store, "g1");
  BOOST_TEST((out[0] == g1), Show(out[0]) << " != " << Show(g1));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(list_default_limit_is_100, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  for (int i = 0; i <= 100; ++i) {
    BOOST_REQUIRE(store.Store(Stamped(Geoid(Padded("n", i), {1}), 1000 + i, 1000 + i)).ok());
  }
  const Names ids = ListIds(store, {});
  BOOST_REQUIRE_EQUAL(ids.size(), 100u);
  BOOST_TEST(ids.front() == "n0100");
  BOOST_TEST(ids.back() == "n0001");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(count_by_type, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_TEST(MustCount(store, std::nullopt) == 0u);
  BOOST_TEST(MustCount(store, IdentityType::kGeoid) == 0u);
  BOOST_TEST(MustCount(store, IdentityType::kScar) == 0u);
  BOOST_REQUIRE(store.Store(Geoid("g1", {1})).ok());
  BOOST_REQUIRE(store.Store(Geoid("g2", {1})).ok());
  BOOST_REQUIRE(store.Store(Scar("s1", 2, 1)).ok());
  BOOST_TEST(MustCount(store, std::nullopt) == 3u);
  BOOST_TEST(MustCount(store, IdentityType::kGeoid) == 2u);
  BOOST_TEST(MustCount(store, IdentityType::kScar) == 1u);

  // A replacement of another type moves the id between the counts.
  BOOST_REQUIRE(store.Store(Scar("g2", 3, 1)).ok());
  BOOST_TEST(MustCount(store, std::nullopt) == 3u);
  BOOST_TEST(MustCount(store, IdentityType::kGeoid) == 1u);
  BOOST_TEST(MustCount(store, IdentityType::kScar) == 2u);
  BOOST_REQUIRE(store.Store(Geoid("g1", {5, 5})).ok());
  BOOST_REQUIRE(store.Remove("s1").ok());
  BOOST_TEST(MustCount(store, std::nullopt) == 2u);
  BOOST_TEST(MustCount(store, IdentityType::kGeoid) == 1u);
  BOOST_TEST(MustCount(store, IdentityType::kScar) == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(find_by_entropy_orders_limits_and_bounds, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_REQUIRE(store.Store(Geoid("h0", {1})).ok());           // H = 0
  BOOST_REQUIRE(store.Store(Geoid("h1", {1, 1})).ok());        // H = 1
  BOOST_REQUIRE(store.Store(Geoid("h2", {1, 1, 1, 1})).ok());  // H = 2
  BOOST_REQUIRE(store.Store(Scar("s2", 4, 1.0)).ok());         // H = 2
  BOOST_REQUIRE(store.Store(Scar("s3", 8, 1.0)).ok());         // H = 3
  using boost::test_tools::per_element;
  const Names all = {"s3", "h2", "s2", "h1", "h0"};
  BOOST_TEST(FindIds(store, 0, 10, 100) == all, per_element());
  BOOST_TEST(FindIds(store, -kInfinity, kInfinity, 100) == all, per_element());
  BOOST_TEST(FindIds(store, 0, kInfinity, 5) == all, per_element());
  BOOST_TEST(FindIds(store, 1, 2, 100) == (Names{"h2", "s2", "h1"}), per_element());
  BOOST_TEST(FindIds(store, 2, 2, 100) == (Names{"h2", "s2"}), per_element());
  BOOST_TEST(FindIds(store, 0, 0, 100) == Names{"h0"}, per_element());
  BOOST_TEST(FindIds(store, -1, 0.5, 100) == Names{"h0"}, per_element());
  BOOST_TEST(FindIds(store, 0, 10, 2) == (Names{"s3", "h2"}), per_element());
  BOOST_TEST(FindIds(store, 1.5, 2.5, 1) == Names{"h2"}, per_element());
  BOOST_TEST(FindIds(store, 5, 10, 2).empty());
  BOOST_TEST(FindIds(store, 0, 10, 0).empty());
  BOOST_TEST(FindIds(store, 2, 1, 100).empty());  // min > max.

  std::vector<Identity> out;
  BOOST_REQUIRE(store.FindByEntropy(3, 3, 10, &out).ok());
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  const Identity s3 = MustFetch(store, "s3");
  BOOST_TEST((out[0] == s3), Show(out[0]) << " != " << Show(s3));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(find_by_entropy_breaks_ties_by_id, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  for (const char* id : {"tie-c", "tie-a", "tie-b"}) {
    BOOST_REQUIRE(store.Store(Geoid(id, {2, 2})).ok());  // H = 1
  }
  BOOST_REQUIRE(store.Store(Scar("s1", 2, 1.0)).ok());  // H = 1
  BOOST_REQUIRE(store.Store(Scar("z2", 4, 1.0)).ok());  // H = 2
  using boost::test_tools::per_element;
  BOOST_TEST(FindIds(store, 1, 1, 100) == (Names{"s1", "tie-a", "tie-b", "tie-c"}), per_element());
  BOOST_TEST(FindIds(store, 0, 5, 3) == (Names{"z2", "s1", "tie-a"}), per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(find_by_entropy_follows_replace_and_remove, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_REQUIRE(store.Store(Geoid("a", {1, 1})).ok());        // H = 1
  BOOST_REQUIRE(store.Store(Geoid("b", {1, 1, 1, 1})).ok());  // H = 2
  BOOST_REQUIRE(store.Store(Geoid("a", {3, 3, 3, 3})).ok());  // H = 2
  using boost::test_tools::per_element;
  BOOST_TEST(FindIds(store, 1, 1, 100).empty());
  BOOST_TEST(FindIds(store, 2, 2, 100) == (Names{"a", "b"}), per_element());
  BOOST_REQUIRE(store.Store(Scar("b", 2, 0.5)).ok());  // H = 0.5
  BOOST_TEST(FindIds(store, 0, 10, 100) == (Names{"a", "b"}), per_element());
  BOOST_TEST(FindIds(store, 0.5, 0.5, 100) == Names{"b"}, per_element());
  BOOST_REQUIRE(store.Remove("a").ok());
  BOOST_TEST(FindIds(store, 0, 10, 100) == Names{"b"}, per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(scan_visits_in_id_order_after_start_and_stops_early, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_TEST(ScanIds(store).empty());
  constexpr int kIds = 600;
  // Inserted out of order (7 is prime to 600, so i * 7 % 600 visits every i).
  for (int i = 0; i < kIds; ++i) {
    BOOST_REQUIRE(store.Store(Geoid(Padded("k", i * 7 % kIds), {1.0 + i})).ok());
  }
  Names seen = ScanIds(store);
  BOOST_REQUIRE_EQUAL(seen.size(), static_cast<std::size_t>(kIds));
  for (int i = 0; i < kIds; ++i) BOOST_REQUIRE_EQUAL(seen[i], Padded("k", i));

  seen = ScanIds(store, "k0009");
  BOOST_REQUIRE_EQUAL(seen.size(), 590u);
  BOOST_TEST(seen.front() == "k0010");
  BOOST_TEST(seen.back() == "k0599");
  BOOST_TEST(ScanIds(store, "k0009x").front() == "k0010");  // Not a stored id.
  BOOST_TEST(ScanIds(store, "k0599").empty());
  BOOST_TEST(ScanIds(store, "z").empty());
  BOOST_TEST(ScanIds(store, "a").size() == static_cast<std::size_t>(kIds));

  seen.clear();
  BOOST_REQUIRE(store
                    .Scan({},
                          [&](const Identity& identity) {
                            seen.push_back(identity.id);
                            return seen.size() < 3;
                          })
                    .ok());
  BOOST_TEST(seen == (Names{"k0000", "k0001", "k0002"}), boost::test_tools::per_element());

  // The visitor gets the whole record.
  Identity visited;
  BOOST_REQUIRE(store
                    .Scan("k0041",
                          [&](const Identity& identity) {
                            visited = identity;
                            return false;
                          })
                    .ok());
  const Identity stored = MustFetch(store, "k0042");
  BOOST_TEST((visited == stored), Show(visited) << " != " << Show(stored));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(undecodable_record_is_corruption_naming_the_id, S,
                              CorruptibleStacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_REQUIRE(store.Store(Geoid("a-good", {1})).ok());
  BOOST_REQUIRE(store.Store(Geoid("c-good", {1})).ok());
  stack.PlantUndecodable("broken-id");

  Identity out;
  Status s = store.Fetch("broken-id", &out);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(Contains(s.message(), "broken-id"), s.message());
  BOOST_TEST(MustFetch(store, "a-good").id == "a-good");
  std::vector<Identity> many;
  s = store.FetchMany({"a-good", "broken-id"}, &many);
  BOOST_TEST(s.IsCorruption(), s.ToString());

  Names seen;
  s = store.Scan({}, [&](const Identity& identity) {
    seen.push_back(identity.id);
    return true;
  });
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(Contains(s.message(), "broken-id"), s.message());
  BOOST_TEST(seen == Names{"a-good"}, boost::test_tools::per_element());
  BOOST_TEST(ScanIds(store, "broken-id") == Names{"c-good"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(scan_visitor_may_write_to_the_store, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  for (const char* id : {"a", "b", "c"}) BOOST_REQUIRE(store.Store(Geoid(id, {1})).ok());
  Names seen;
  BOOST_REQUIRE(store
                    .Scan({},
                          [&](const Identity& identity) {
                            seen.push_back(identity.id);
                            if (identity.id == "b") {
                              BOOST_CHECK(store.Remove(identity.id).ok());
                            } else {
                              Identity rewritten = identity;
                              rewritten.raw = "rewritten " + identity.id;
                              BOOST_CHECK(store.Store(rewritten).ok());
                            }
                            return true;
                          })
                    .ok());
  BOOST_TEST(seen == (Names{"a", "b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(MustFetch(store, "a").raw == "rewritten a");
  BOOST_TEST(MustFetch(store, "c").raw == "rewritten c");
  Identity out;
  BOOST_TEST(store.Fetch("b", &out).IsNotFound());
  BOOST_TEST(MustCount(store, std::nullopt) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera::conformance
