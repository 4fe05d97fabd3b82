// Conformance of IdentityStore on every stack for ApplyDecay, Sync, and
// stores, removes, queries and syncs running at once from several threads.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "conformance_stacks.h"

namespace kimera::conformance {

BOOST_AUTO_TEST_SUITE(conformance)

BOOST_AUTO_TEST_CASE_TEMPLATE(apply_decay_twice_equals_decay_once_for_a_geoid, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  const std::vector<double> intensities = {0.5, 1.5, 3.0};
  const auto stored = [&](const char* id) {
    Identity identity = Stamped(Geoid(id, intensities), kT0, kT0);
    identity.weight = 2.0;
    return identity;
  };
  for (const char* id : {"twice", "once"}) BOOST_REQUIRE(store.Store(stored(id)).ok());
  const Micros t1 = kT0 + 3 * kDay;
  const Micros t2 = kT0 + 10 * kDay;
  BOOST_REQUIRE(store.ApplyDecay("twice", t1, {}).ok());
  BOOST_REQUIRE(store.ApplyDecay("twice", t2, {}).ok());
  BOOST_REQUIRE(store.ApplyDecay("once", t2, {}).ok());

  // p = 0.1, 0.3, 0.6; tau = 14 days * (1 + 0.1 H); ten days of decay.
  double h = 0;
  for (double p : {0.1, 0.3, 0.6}) h -= p * std::log2(p);
  const double factor = std::exp(-10.0 * 86'400 / (1'209'600.0 * (1 + 0.1 * h)));
  for (const char* id : {"twice", "once"}) {
    BOOST_TEST_CONTEXT("id " << id) {
      Identity out = MustFetch(store, id);
      BOOST_TEST(out.weight == 2.0 * factor, boost::test_tools::tolerance(1e-12));
      for (std::size_t i = 0; i < intensities.size(); ++i) {
        BOOST_TEST(out.meta["terms"][i]["intensity"].get<double>() == intensities[i] * factor,
                   boost::test_tools::tolerance(1e-12));
      }
      // Everything else as stored, but the two times.
      Identity expected = stored(id);
      expected.updated_at = t2;
      expected.decay_applied_at = t2;
      out.weight = expected.weight;
      out.meta = expected.meta;
      BOOST_TEST((out == expected), Show(out) << " != " << Show(expected));
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(apply_decay_recomputes_a_scars_tau_at_each_step, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  const DecayParams params{86'400.0, 0.5};  // Not the defaults: the call's own are used.
  for (const char* id : {"scar-twice", "scar-once"}) {
    BOOST_REQUIRE(store.Store(Stamped(Scar(id, 4, 1.5), kT0, kT0)).ok());  // H = 3
  }
  BOOST_REQUIRE(store.ApplyDecay("scar-twice", kT0 + kDay, params).ok());
  BOOST_REQUIRE(store.ApplyDecay("scar-twice", kT0 + 3 * kDay, params).ok());
  BOOST_REQUIRE(store.ApplyDecay("scar-once", kT0 + 3 * kDay, params).ok());

  const auto tau_days = [](double h) { return 1 + 0.5 * h; };
  const double w1 = 1.5 * std::exp(-1.0 / tau_days(2 * 1.5));
  const double w_twice = w1 * std::exp(-2.0 / tau_days(2 * w1));
  const double w_once = 1.5 * std::exp(-3.0 / tau_days(2 * 1.5));
  const Identity twice = MustFetch(store, "scar-twice");
  const Identity once = MustFetch(store, "scar-once");
  BOOST_TEST(twice.weight == w_twice, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(once.weight == w_once, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(twice.weight < once.weight);  // A lower entropy decays faster.
  BOOST_TEST(twice.decay_applied_at == kT0 + 3 * kDay);
  BOOST_TEST(twice.updated_at == kT0 + 3 * kDay);
  BOOST_TEST(twice.created_at == kT0);

  // The entropy queries see the decayed weights.
  using boost::test_tools::per_element;
  BOOST_TEST(FindIds(store, 3, 3, 10).empty());
  BOOST_TEST(FindIds(store, 0, 10, 10) == (Names{"scar-once", "scar-twice"}), per_element());
  const double h = 2 * w_twice;
  BOOST_TEST(FindIds(store, h * (1 - 1e-9), h * (1 + 1e-9), 10) == Names{"scar-twice"},
             per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(apply_decay_refuses_a_time_before_the_last_one, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_REQUIRE(store.Store(Stamped(Geoid("decayed", {1, 2}), kT0, kT0)).ok());
  BOOST_REQUIRE(store.Store(Stamped(Geoid("fresh", {1, 2}), kT0, kT0)).ok());
  BOOST_REQUIRE(store.ApplyDecay("decayed", kT0 + 2 * kDay, {}).ok());
  const Identity decayed = MustFetch(store, "decayed");
  const Identity fresh = MustFetch(store, "fresh");

  Status s = store.ApplyDecay("decayed", kT0 + kDay, {});
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());
  BOOST_TEST(Contains(s.message(), "decayed"), s.message());
  // Never decayed: the time counts from created_at.
  s = store.ApplyDecay("fresh", kT0 - 1, {});
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());
  BOOST_TEST(Contains(s.message(), "fresh"), s.message());
  Identity out = MustFetch(store, "decayed");
  BOOST_TEST((out == decayed), Show(out) << " != " << Show(decayed));
  out = MustFetch(store, "fresh");
  BOOST_TEST((out == fresh), Show(out) << " != " << Show(fresh));

  s = store.ApplyDecay("absent", kT0 + kDay, {});
  BOOST_TEST(s.IsNotFound(), s.ToString());
  BOOST_TEST(store.Fetch("absent", &out).IsNotFound());
  BOOST_TEST(MustCount(store, std::nullopt) == 2u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(sync_keeps_every_acknowledged_write, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  BOOST_TEST(store.Sync().ok());
  std::vector<Identity> stored;
  for (int i = 0; i < 20; ++i) {
    const std::string id = Padded("s", i);
    BOOST_REQUIRE(store.Store(i % 2 ? Geoid(id, {1.0 + i}) : Scar(id, 2, i)).ok());
    stored.push_back(MustFetch(store, id));
  }
  BOOST_REQUIRE(store.Remove("s0003").ok());
  stored.erase(stored.begin() + 3);
  const Status s = store.Sync();
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(store.Sync().ok());
  for (const Identity& in : stored) {
    const Identity out = MustFetch(store, in.id);
    BOOST_TEST((out == in), Show(out) << " != " << Show(in));
  }
  BOOST_TEST(MustCount(store, std::nullopt) == stored.size());
}

namespace {

// Failures seen by worker threads, counted; the first few are kept to report.
class Failures {
 public:
  void Add(const std::string& what) {
    std::lock_guard lock(mu_);
    if (++count_ <= 5) first_ += "\n  " + what;
  }
  int count() const {
    std::lock_guard lock(mu_);
    return count_;
  }
  std::string first() const {
    std::lock_guard lock(mu_);
    return first_;
  }

 private:
  mutable std::mutex mu_;  // Guards count_ and first_.
  int count_ = 0;
  std::string first_;
};

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(concurrent_stores_removes_and_reads, S, Stacks) {
  S stack;
  IdentityStore& store = stack.store();
  constexpr int kWriters = 4;
  constexpr int kOps = 1000;
  const auto own_id = [](int t, int i) { return Numbered(Numbered("t", t) + "-", i); };
  const auto is_scar = [](int i) { return i % 5 == 0; };
  const auto is_removed = [](int i) { return i % 4 == 3; };
  Failures failures;
  std::atomic<int> writers_left{kWriters};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const std::string id = own_id(t, i);
        const Identity in = is_scar(i) ? Scar(id, 2 + i % 3, 1.0) : Geoid(id, {1.0 + i, 1.0});
        Status s = store.Store(in);
        if (!s.ok()) failures.Add("store " + id + ": " + s.ToString());
        Identity out;
        s = store.Fetch(id, &out);
        if (!s.ok() || out.id != id || out.identity_type != in.identity_type) {
          failures.Add("fetch " + id + ": " + s.ToString());
        }
        s = store.Store(Geoid("shared", {1.0}));
        if (!s.ok()) failures.Add("store shared: " + s.ToString());
        if (is_removed(i)) {
          s = store.Remove(id);
          if (!s.ok()) failures.Add("remove " + id + ": " + s.ToString());
          if (!store.Fetch(id, &out).IsNotFound()) failures.Add("removed " + id + " still found");
        }
      }
      --writers_left;
    });
  }
  // Queries run against the writes; every answer must be well-formed. No
  // id changes entropy, so an entropy answer can be checked exactly.
  threads.emplace_back([&] {
    while (writers_left.load() > 0) {
      std::vector<Identity> out;
      Status s = store.FindByEntropy(0.5, 1e9, 50, &out);
      if (!s.ok()) failures.Add("find: " + s.ToString());
      for (std::size_t i = 0; i < out.size(); ++i) {
        const double h = Entropy(out[i]);
        if (h < 0.5) failures.Add("find returned " + out[i].id + " below the bound");
        if (i > 0 &&
            std::make_pair(-Entropy(out[i - 1]), out[i - 1].id) >= std::make_pair(-h, out[i].id)) {
          failures.Add("find out of order at " + out[i].id);
        }
      }
      s = store.List({}, &out);
      if (!s.ok()) failures.Add("list: " + s.ToString());
      for (std::size_t i = 1; i < out.size(); ++i) {
        if (std::make_pair(-out[i - 1].updated_at, out[i - 1].id) >=
            std::make_pair(-out[i].updated_at, out[i].id)) {
          failures.Add("list out of order at " + out[i].id);
        }
      }
      std::string last;
      s = store.Scan({}, [&](const Identity& identity) {
        if (!last.empty() && identity.id <= last) failures.Add("scan out of order at " + last);
        last = identity.id;
        return true;
      });
      if (!s.ok()) failures.Add("scan: " + s.ToString());
      std::uint64_t n = 0;
      s = store.Count(IdentityType::kScar, &n);
      if (!s.ok()) failures.Add("count: " + s.ToString());
    }
  });
  threads.emplace_back([&] {
    while (writers_left.load() > 0) {
      const Status s = store.Sync();
      if (!s.ok()) failures.Add("sync: " + s.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (auto& thread : threads) thread.join();
  BOOST_TEST(failures.count() == 0, failures.first());

  std::uint64_t kept = 0, scars = 0;
  for (int i = 0; i < kOps; ++i) {
    kept += is_removed(i) ? 0 : 1;
    scars += !is_removed(i) && is_scar(i) ? 1 : 0;
  }
  kept *= kWriters;
  scars *= kWriters;
  BOOST_TEST(MustCount(store, std::nullopt) == kept + 1);
  BOOST_TEST(MustCount(store, IdentityType::kScar) == scars);
  BOOST_TEST(MustCount(store, IdentityType::kGeoid) == kept + 1 - scars);
  BOOST_TEST(FindIds(store, 0, 1e9, kept + 100).size() == kept + 1);
  BOOST_TEST(ScanIds(store).size() == kept + 1);
  for (int t = 0; t < kWriters; ++t) {
    for (int i = 0; i < kOps; ++i) {
      const std::string id = own_id(t, i);
      Identity out;
      const Status s = store.Fetch(id, &out);
      if (is_removed(i)) {
        BOOST_REQUIRE_MESSAGE(s.IsNotFound(), id << ": " << s.ToString());
      } else if (is_scar(i)) {
        BOOST_REQUIRE_MESSAGE(s.ok(), id << ": " << s.ToString());
        BOOST_REQUIRE_EQUAL(out.related_ids.size(), static_cast<std::size_t>(2 + i % 3));
      } else {
        BOOST_REQUIRE_MESSAGE(s.ok(), id << ": " << s.ToString());
        BOOST_REQUIRE_EQUAL(out.meta["terms"][0]["intensity"].get<double>(), 1.0 + i);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera::conformance
