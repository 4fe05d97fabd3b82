// Conformance of the write side of IdentityStore on every stack: what Store
// keeps and stamps, what it rejects (and that a rejected write changes
// nothing), and Remove.
#include <boost/test/unit_test.hpp>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "conformance_stacks.h"

namespace kimera::conformance {

BOOST_AUTO_TEST_SUITE(conformance)

BOOST_AUTO_TEST_CASE_TEMPLATE(fetch_returns_every_field_stored, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  Identity geoid = Stamped(Geoid("g-\xc3\xa9t\xc3\xa9", {0.5, 2.0}, "fr"), kT0, kT0 + 1);
  geoid.echo = std::string("\xc3\xa9") + "cho";
  geoid.tags = {"x", "y"};
  geoid.weight = 0.75;
  geoid.related_ids = {"s1"};
  geoid.meta["source"] = {{"n", 3}, {"ok", true}, {"none", nullptr}, {"list", {1, "two", 3.5}}};
  Identity scar = Stamped(Scar("s1", 3, 0.5), kT0 + 2, kT0 + 2);
  scar.raw = "why";
  scar.tags = {"t"};
  scar.meta = {{"kind", "link"}};
  for (const Identity& in : {geoid, scar}) {
    BOOST_REQUIRE_MESSAGE(store.Store(in).ok(), in.id);
    const Identity out = MustFetch(store, in.id);
    BOOST_TEST((out == in), Show(out) << " != " << Show(in));
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(extra_keys_come_back_from_every_read, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  Identity geoid = Stamped(Geoid("g", {1.0, 1.0}), kT0, kT0 + 1);
  geoid.extra["content"] = "legacy content";
  geoid.extra["metadata"] = {{"terms", {{{"intensity", 5}}}}, {"n", {1, 2.5, nullptr}}};
  Identity scar = Stamped(Scar("s", 4, 0.5), kT0, kT0 + 2);
  scar.extra["content"] = {{"links", 4}};
  scar.extra["metadata"] = nullptr;
  Identity plain = Stamped(Geoid("p", {1.0}), kT0, kT0 + 3);
  for (const Identity& in : {geoid, scar, plain}) BOOST_REQUIRE(store.Store(in).ok());
  auto expect_same = [](const std::vector<Identity>& got, const std::vector<Identity>& want) {
    BOOST_REQUIRE_EQUAL(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      BOOST_TEST((got[i] == want[i]), Show(got[i]) << " != " << Show(want[i]));
      BOOST_TEST(got[i].extra == want[i].extra, Show(got[i]));
    }
  };
  expect_same({MustFetch(store, "g"), MustFetch(store, "s"), MustFetch(store, "p")},
              {geoid, scar, plain});
  std::vector<Identity> many;
  BOOST_REQUIRE(store.FetchMany({"s", "absent", "g"}, &many).ok());
  expect_same(many, {scar, geoid});
  std::vector<Identity> scanned;
  BOOST_REQUIRE(store
                    .Scan({},
                          [&](const Identity& identity) {
                            scanned.push_back(identity);
                            return true;
                          })
                    .ok());
  expect_same(scanned, {geoid, plain, scar});
  std::vector<Identity> listed;
  BOOST_REQUIRE(store.List({}, &listed).ok());
  expect_same(listed, {plain, scar, geoid});
  // Entropy ignores the extra keys (the look-alike terms in "metadata"
  // included): g has two equal terms, 1 bit; s log2(4) * 0.5, 1 bit too.
  std::vector<Identity> found;
  BOOST_REQUIRE(store.FindByEntropy(0.999, 1.001, 10, &found).ok());
  expect_same(found, {geoid, scar});

  // Decay rewrites the record: its extra keys stay, untouched by the scaling.
  BOOST_REQUIRE(store.ApplyDecay("g", kT0 + 2 * kDay, {}).ok());
  const Identity decayed = MustFetch(store, "g");
  BOOST_TEST(decayed.extra == geoid.extra);
  BOOST_TEST(decayed.weight < geoid.weight);

  // A replacement's keys replace the old ones; one without any drops them.
  Identity replaced = geoid;
  replaced.extra = {{"other", true}};
  BOOST_REQUIRE(store.Store(replaced).ok());
  BOOST_TEST(MustFetch(store, "g").extra == (nlohmann::json{{"other", true}}));
  replaced.extra = nullptr;
  BOOST_REQUIRE(store.Store(replaced).ok());
  BOOST_TEST(MustFetch(store, "g").extra.empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(fetch_of_absent_id_is_not_found, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  Identity out;
  BOOST_TEST(store.Fetch("nobody", &out).IsNotFound());
  BOOST_REQUIRE(store.Store(Geoid("a", {1})).ok());
  BOOST_TEST(store.Fetch("A", &out).IsNotFound());
  BOOST_TEST(store.Fetch("a ", &out).IsNotFound());
  BOOST_TEST(store.Fetch("nobody", &out).IsNotFound());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(insert_sets_zero_timestamps_to_now, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  Micros before = SystemNow();
  BOOST_REQUIRE(store.Store(Geoid("a", {1})).ok());
  Micros after = SystemNow();
  Identity out = MustFetch(store, "a");
  BOOST_TEST(out.created_at >= before);
  BOOST_TEST(out.created_at <= after);
  BOOST_TEST(out.updated_at == out.created_at);

  // Only the zero one is set.
  Identity in = Geoid("b", {1});
  in.created_at = kT0;
  before = SystemNow();
  BOOST_REQUIRE(store.Store(in).ok());
  after = SystemNow();
  out = MustFetch(store, "b");
  BOOST_TEST(out.created_at == kT0);
  BOOST_TEST(out.updated_at >= before);
  BOOST_TEST(out.updated_at <= after);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(insert_keeps_given_timestamps, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_REQUIRE(store.Store(Stamped(Geoid("a", {1}), 5, 6)).ok());
  const Identity out = MustFetch(store, "a");
  BOOST_TEST(out.created_at == 5);
  BOOST_TEST(out.updated_at == 6);
}

// A given updated_at with no created_at is also the creation time: no record
// is updated before it was created, and the record stored can be stored back.
BOOST_AUTO_TEST_CASE_TEMPLATE(insert_with_zero_created_at_and_an_earlier_updated_at_is_consistent,
                              S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  const Micros t = SystemNow() - kHour;
  Identity in = Geoid("a", {1, 2});
  in.updated_at = t;
  Status s = store.Store(in);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  const Identity out = MustFetch(store, "a");
  BOOST_TEST(out.created_at == t);
  BOOST_TEST(out.updated_at == t);
  const Identity expected = Stamped(in, t, t);
  BOOST_TEST((out == expected), Show(out) << " != " << Show(expected));

  // Stored back it is a replace: the first created_at stays, updated_at is now.
  const Micros before = SystemNow();
  s = store.Store(out);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  const Micros after = SystemNow();
  const Identity back = MustFetch(store, "a");
  BOOST_TEST(back.created_at == t);
  BOOST_TEST(back.updated_at >= before);
  BOOST_TEST(back.updated_at <= after);
  BOOST_TEST(MustCount(store, std::nullopt) == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(replace_keeps_first_created_at_and_sets_updated_at_to_now, S,
                              Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_REQUIRE(store.Store(Stamped(Geoid("a", {1}), kT0, kT0)).ok());

  Micros before = SystemNow();
  BOOST_REQUIRE(store.Store(Stamped(Geoid("a", {3}, "fr"), kT0 + 50, kT0 + 50)).ok());
  Micros after = SystemNow();
  Identity out = MustFetch(store, "a");
  BOOST_TEST(out.created_at == kT0);
  BOOST_TEST(out.updated_at >= before);
  BOOST_TEST(out.updated_at <= after);
  BOOST_TEST(out.lang_axis == "fr");
  BOOST_TEST(out.meta["terms"][0]["intensity"].get<double>() == 3.0);
  BOOST_TEST(MustCount(store, std::nullopt) == 1u);

  // Zero timestamps in the replacement change nothing of the rule.
  before = SystemNow();
  BOOST_REQUIRE(store.Store(Geoid("a", {4})).ok());
  after = SystemNow();
  out = MustFetch(store, "a");
  BOOST_TEST(out.created_at == kT0);
  BOOST_TEST(out.updated_at >= before);
  BOOST_TEST(out.updated_at <= after);
  BOOST_TEST(out.meta["terms"][0]["intensity"].get<double>() == 4.0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(rejects_bad_input_naming_field_and_id_and_writes_nothing, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  struct Bad {
    Identity identity;
    std::string field;  // The message must contain it.
    std::string id;     // And this (the id as quoted); empty: not checked.
  };
  std::vector<Bad> bad;
  bad.push_back({Geoid("", {1}), "id", ""});
  bad.push_back({Geoid(std::string(513, 'x'), {1}), "id", std::string(64, 'x')});
  bad.push_back({Geoid("bad-id-\xff", {1}), "id", "bad-id-"});
  auto with = [](const char* id, auto&& change) {
    Identity identity = Geoid(id, {1});
    change(identity);
    return identity;
  };
  bad.push_back(
      {with("nan-weight", [](Identity& i) { i.weight = std::numeric_limits<double>::quiet_NaN(); }),
       "weight", "nan-weight"});
  bad.push_back(
      {with("inf-weight", [](Identity& i) { i.weight = kInfinity; }), "weight", "inf-weight"});
  bad.push_back(
      {with("negative-weight", [](Identity& i) { i.weight = -1; }), "weight", "negative-weight"});
  bad.push_back({Scar("heavy-scar", 2, 2 * kMaxScarWeight), "weight", "heavy-scar"});
  bad.push_back(
      {with("bad-type", [](Identity& i) { i.identity_type = static_cast<IdentityType>(7); }),
       "identity_type", "bad-type"});
  bad.push_back({Stamped(Geoid("backwards", {1}), kT0, kT0 - 1), "updated_at", "backwards"});
  bad.push_back({Geoid("nan-intensity", {1, std::numeric_limits<double>::quiet_NaN()}), "intensity",
                 "nan-intensity"});
  bad.push_back({with("bad-raw", [](Identity& i) { i.raw = "abc\xff"; }), "raw", "bad-raw"});
  bad.push_back({with("bad-echo", [](Identity& i) { i.echo = "\xc3"; }), "echo", "bad-echo"});
  bad.push_back(
      {with("bad-lang", [](Identity& i) { i.lang_axis = "\xfe"; }), "lang_axis", "bad-lang"});
  bad.push_back({with("bad-tag",
                      [](Identity& i) {
                        i.tags = {"ok", "\xff"};
                      }),
                 "tags[1]", "bad-tag"});
  bad.push_back({with("bad-related", [](Identity& i) { i.related_ids = {"\xff"}; }),
                 "related_ids[0]", "bad-related"});
  bad.push_back({with("meta-array", [](Identity& i) { i.meta = nlohmann::json::array(); }), "meta",
                 "meta-array"});
  bad.push_back({with("meta-deep",
                      [](Identity& i) {
                        nlohmann::json deep = nlohmann::json::object();
                        for (int d = 0; d < kMaxMetaDepth + 2; ++d) deep = {{"d", deep}};
                        i.meta = deep;
                      }),
                 "meta", "meta-deep"});
  // The encoded size has no field of its own: the message names the record.
  bad.push_back({with("huge", [](Identity& i) { i.raw.assign(kMaxRecordBytes + 1, 'a'); }),
                 "record", "huge"});
  // Extra keys count towards it: this one is too large only because of them.
  bad.push_back({with("huge-extra",
                      [](Identity& i) {
                        i.raw.assign(kMaxRecordBytes - 4096, 'a');
                        i.extra["content"] = std::string(8192, 'c');
                      }),
                 "record", "huge-extra"});
  bad.push_back({with("extra-reserved", [](Identity& i) { i.extra["weight"] = 2; }), "weight",
                 "extra-reserved"});
  bad.push_back({with("extra-bad-utf8", [](Identity& i) { i.extra["content"] = "\xff"; }),
                 "content", "extra-bad-utf8"});

  for (const Bad& b : bad) {
    BOOST_TEST_CONTEXT("id '" << b.id << "', field " << b.field) {
      const Status s = store.Store(b.identity);
      BOOST_TEST(s.IsInvalidArgument(), s.ToString().substr(0, 300));
      BOOST_TEST(Contains(s.message(), b.field), s.message().substr(0, 300));
      if (!b.id.empty()) BOOST_TEST(Contains(s.message(), b.id), s.message().substr(0, 300));
      Identity out;
      BOOST_TEST(store.Fetch(b.identity.id, &out).IsNotFound());
    }
  }
  BOOST_TEST(MustCount(store, std::nullopt) == 0u);
  BOOST_TEST(ScanIds(store).empty());
  BOOST_TEST(FindIds(store, -kInfinity, kInfinity, 100).empty());
  BOOST_TEST(ListIds(store, {}).empty());

  // A bad replacement leaves the stored identity exactly as it was.
  const Identity keep = Stamped(Geoid("keep", {1, 2}), kT0, kT0);
  BOOST_REQUIRE(store.Store(keep).ok());
  const Identity stored = MustFetch(store, "keep");
  for (Identity replacement :
       {with("keep", [](Identity& i) { i.weight = -2; }),
        with("keep", [](Identity& i) { i.raw = "\xff"; }),
        with("keep", [](Identity& i) { i.raw.assign(kMaxRecordBytes + 1, 'b'); }),
        with("keep",
             [](Identity& i) { i.extra["content"] = std::string(kMaxRecordBytes, 'c'); })}) {
    BOOST_TEST(store.Store(replacement).IsInvalidArgument());
    const Identity out = MustFetch(store, "keep");
    BOOST_TEST((out == stored), Show(out) << " != " << Show(stored));
  }
  BOOST_TEST(MustCount(store, std::nullopt) == 1u);
  BOOST_TEST(FindIds(store, -kInfinity, kInfinity, 100) == Names{"keep"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(store_many_stores_each_as_store_would, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  const Identity first = Stamped(Geoid("m-old", {1.0}), kT0, kT0);
  BOOST_REQUIRE(store.Store(first).ok());
  std::vector<Identity> batch;
  for (int i = 0; i < 40; ++i) {
    batch.push_back(Stamped(Geoid(Padded("m-", i), {1.0, 2.0 + i}), kT0 + i, kT0 + i));
  }
  batch.push_back(Scar("m-scar", 4, 0.5));  // No timestamps: stamped now.
  Identity replaced = Geoid("m-old", {1.0, 1.0});
  replaced.created_at = kT0 + kDay;  // The first created_at wins.
  batch.push_back(replaced);
  std::size_t stored = 99;
  const Micros before = SystemNow();
  const Status s = store.StoreMany(batch, &stored);
  const Micros after = SystemNow();
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(stored == batch.size());
  for (int i = 0; i < 40; ++i) BOOST_TEST((MustFetch(store, batch[i].id) == batch[i]));
  const Identity scar = MustFetch(store, "m-scar");
  BOOST_TEST(scar.created_at >= before);
  BOOST_TEST(scar.created_at <= after);
  BOOST_TEST(scar.updated_at == scar.created_at);
  const Identity old = MustFetch(store, "m-old");
  BOOST_TEST(old.created_at == kT0);
  BOOST_TEST(old.updated_at >= before);
  BOOST_TEST(old.meta == replaced.meta);
  std::uint64_t n = 0;
  BOOST_REQUIRE(store.Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 42u);
  BOOST_REQUIRE(store.Count(IdentityType::kScar, &n).ok());
  BOOST_TEST(n == 1u);
  // Two equal terms and a scar of 4 links at weight 0.5 have 1 bit each.
  std::vector<Identity> found;
  BOOST_REQUIRE(store.FindByEntropy(0.999, 1.001, 10, &found).ok());
  BOOST_TEST((Ids(found) == std::vector<std::string>{"m-old", "m-scar"}));
  // An empty batch stores nothing and is not an error.
  BOOST_REQUIRE(store.StoreMany({}, &stored).ok());
  BOOST_TEST(stored == 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(store_many_refuses_bad_or_repeated_input_and_writes_nothing, S,
                              Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  Identity bad = Geoid("r-bad", {1.0});
  bad.weight = -1.0;
  const std::vector<std::pair<std::vector<Identity>, std::string>> cases = {
      {{Geoid("r-a", {1.0}), bad, Geoid("r-b", {1.0})}, "identities[1]: "},
      {{Geoid("r-a", {1.0}), Geoid("r-b", {1.0}), Geoid("r-a", {2.0})},
       "identities[2]: id 'r-a' is identities[0] again"},
  };
  for (const auto& [batch, message] : cases) {
    std::size_t stored = 99;
    const Status s = store.StoreMany(batch, &stored);
    BOOST_TEST(s.IsInvalidArgument(), s.ToString());
    BOOST_TEST(Contains(s.message(), message), s.message());
    BOOST_TEST(stored == 0u);
  }
  const std::vector<Identity> too_many(kMaxStoreMany + 1, Geoid("r-x", {1.0}));
  const Status s = store.StoreMany(too_many, nullptr);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());
  BOOST_TEST(Contains(s.message(), "at most 10000"), s.message());
  std::uint64_t n = 99;
  BOOST_REQUIRE(store.Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 0u);
}

// A failure below the checks (here a stored record that cannot be decoded,
// which no store overwrites) leaves exactly the first *stored identities:
// none where the store commits the group atomically.
BOOST_AUTO_TEST_CASE_TEMPLATE(store_many_failing_part_way_reports_what_it_stored, S,
                              CorruptibleStacks) {
  S stack;
  IdentityStore& store = stack.store();
  stack.PlantUndecodable("p-1");
  const std::vector<Identity> batch = {Geoid("p-0", {1.0}), Geoid("p-1", {1.0}),
                                       Geoid("p-2", {1.0})};
  std::size_t stored = 99;
  const Status s = store.StoreMany(batch, &stored);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(Contains(s.message(), "p-1"), s.message());
  BOOST_TEST(stored == (S::kAtomicStoreMany ? 0u : 1u));
  Identity out;
  BOOST_TEST(store.Fetch("p-0", &out).ok() == (stored == 1));
  BOOST_TEST(store.Fetch("p-2", &out).IsNotFound());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(remove_deletes_and_absent_id_is_not_found, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_REQUIRE(store.Store(Stamped(Geoid("gone-id", {1, 1}), kT0, kT0)).ok());
  BOOST_REQUIRE(store.Store(Stamped(Scar("stays", 2, 1), kT0, kT0)).ok());

  BOOST_REQUIRE(store.Remove("gone-id").ok());
  Identity out;
  BOOST_TEST(store.Fetch("gone-id", &out).IsNotFound());
  Status s = store.Remove("gone-id");
  BOOST_TEST(s.IsNotFound(), s.ToString());
  BOOST_TEST(Contains(s.message(), "gone-id"), s.message());
  s = store.Remove("never-stored");
  BOOST_TEST(s.IsNotFound(), s.ToString());
  BOOST_TEST(Contains(s.message(), "never-stored"), s.message());

  BOOST_TEST(MustCount(store, std::nullopt) == 1u);
  BOOST_TEST(MustCount(store, IdentityType::kGeoid) == 0u);
  BOOST_TEST(ScanIds(store) == Names{"stays"}, boost::test_tools::per_element());
  BOOST_TEST(ListIds(store, {}) == Names{"stays"}, boost::test_tools::per_element());
  BOOST_TEST(FindIds(store, 0, 10, 100) == Names{"stays"}, boost::test_tools::per_element());

  // Stored again, the id is a new insert: the given created_at is kept.
  BOOST_REQUIRE(store.Store(Stamped(Geoid("gone-id", {1}), kT0 + 100, kT0 + 100)).ok());
  out = MustFetch(store, "gone-id");
  BOOST_TEST(out.created_at == kT0 + 100);
  BOOST_TEST(out.updated_at == kT0 + 100);
  BOOST_TEST(MustCount(store, std::nullopt) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera::conformance
