// Decay verification of a live store: verification runs again and again while
// other threads apply decay to single ids, apply decay to everything, re-store,
// create and remove the same ids. A healthy store must never fail a check.
#include <atomic>
#include <mutex>
#include <thread>

#include "../test_time_scale.h"
#include "decay_test_support.h"
#include "kimera/memory_store.h"

namespace kimera::decay_test {
namespace {

constexpr std::size_t kPopulation = 1500;
constexpr int kVerifications = 25;
constexpr std::uint64_t kMinOperations = 300;  // Of each writer, before the runs may end.

// What the writer threads did. Boost.Test assertions belong to the main
// thread: a writer records its first error and stops everyone.
struct Counters {
  std::atomic<std::uint64_t> decays{0}, stores{0}, bulk_applications{0};
  std::atomic<bool> stop{false};
  std::mutex error_mu;
  std::string error;  // Guarded by error_mu.

  bool Fails(bool ok, const std::string& what) {
    if (ok) return false;
    std::lock_guard lock(error_mu);
    if (error.empty()) error = what;
    stop = true;
    return true;
  }
};

// New content for an existing id: a geoid with other terms, or a scar with
// other relations (its entropy moves, so its index entry moves too).
Identity Rewritten(const std::string& id, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (rng() % 3 == 0) return Scar(id, 2 + rng() % 6, 0.1 + unit(rng) * 2);
  std::vector<double> x(1 + rng() % 6);
  for (double& v : x) v = 0.05 + unit(rng) * 5;
  return Geoid(id, x, 0.2 + unit(rng) * 3);
}

// Single-id decay at the system time, as `kimera serve`'s workload does.
void DecaySingleIds(EntropyStore& store, const std::vector<std::string>& ids, Counters& c) {
  std::mt19937_64 rng(7);
  const DecayParams& params = store.config().entropy.decay;
  while (!c.stop.load()) {
    const Status s = store.ApplyDecay(ids[rng() % ids.size()], SystemNow(), params);
    // InvalidArgument: a decay of everything stepped past the time read
    // just before this call; the store refuses to decay backwards.
    if (c.Fails(s.ok() || s.IsNotFound() || s.IsInvalidArgument(),
                "single-id decay: " + s.ToString())) {
      return;
    }
    ++c.decays;
  }
}

// Re-stores existing ids with new content, creates ids stamped by the store's
// clock, and removes some of the created ones again. The created ids cycle
// through kPopulation names, so the store stays bounded: with a growing store
// a slow build (ThreadSanitizer) never finished a decay of everything while
// the stores went on, and the test never ended.
void StoreAndRemove(EntropyStore& store, const std::vector<std::string>& ids, Counters& c) {
  std::mt19937_64 rng(8);
  const auto created = [](long long n) {
    return Numbered("new", n % static_cast<long long>(kPopulation));
  };
  for (long long n = 0; !c.stop.load(); ++n) {
    Status s = store.Store(Rewritten(ids[rng() % ids.size()], rng));
    if (s.ok()) s = store.Store(Rewritten(created(n), rng));
    if (s.ok() && n % 3 == 2) {
      s = store.Remove(created(n - 1));
      if (s.IsNotFound()) s = Status::OK();  // Removed in an earlier cycle, not stored since.
    }
    if (c.Fails(s.ok(), "store: " + s.ToString())) return;
    ++c.stores;
  }
}

// Decay of every identity at the system time, again and again, keeping the
// decay ledger that verification checks.
void DecayEverything(EntropyStore& store, DecayVerifier& verifier, Counters& c) {
  while (!c.stop.load()) {
    DecayApplyResult result;
    const Status s = ApplyDecayAll(store, verifier, SystemNow(), 200, &result, &c.stop);
    if (c.Fails(s.ok() || s.IsAborted(), "decay of everything: " + s.ToString()) ||
        c.Fails(result.failed == 0,
                "decay of everything: " + (result.errors.empty() ? "" : result.errors.front()))) {
      return;
    }
    if (s.ok()) ++c.bulk_applications;
  }
}

// Runs the writers against `store` and verifies with a background-style sweep
// (its time read after its snapshot) until enough of everything happened.
void VerifyWhileWriting(EntropyStore& store) {
  ManualClock past;
  past.Set(SystemNow());
  const std::vector<std::string> ids = Populate(store, past, kPopulation, 400);
  DecaySweepOptions options;
  options.config.chunk_size = 250;
  options.config.verification_sample = kPopulation;
  options.config.sweep_duty_cycle = 1;
  options.verifier_seed = 3;
  std::unique_ptr<DecaySweep> sweep;
  BOOST_REQUIRE(DecaySweep::Open(store, options, &sweep, SystemNow).ok());
  DecayApplyResult applied;
  BOOST_REQUIRE(ApplyDecayAll(store, sweep->verifier(), SystemNow(), 200, &applied).ok());

  Counters c;
  std::vector<std::thread> writers;
  writers.emplace_back([&] { DecaySingleIds(store, ids, c); });
  writers.emplace_back([&] { StoreAndRemove(store, ids, c); });
  writers.emplace_back([&] { DecayEverything(store, sweep->verifier(), c); });
  // A sanitizer build runs everything tens of times slower: fewer runs and operations still
  // interleave every writer with the sweeps, which is what it is there to check.
  const bool slow_build = testing::TimeScale() > 1;
  const int verifications = slow_build ? 4 : kVerifications;
  const std::uint64_t min_operations = slow_build ? 40 : kMinOperations;
  std::size_t failed_runs = 0, verified = 0, ledger_checked = 0;
  for (int run = 0;
       !c.stop.load() && (run < verifications || c.decays.load() < min_operations ||
                          c.stores.load() < min_operations || c.bulk_applications.load() < 2);
       ++run) {
    DecaySweepResult result;
    const Status s = sweep->RunNow(&result);
    if (c.Fails(s.ok() && result.verified, "sweep: " + s.ToString())) break;
    if (!result.verification.ok()) {
      ++failed_runs;
      BOOST_TEST_MESSAGE("run " << run << " failed:" << FailuresOf(result.verification));
    }
    verified += result.verification.verified;
    ledger_checked += result.verification.ledger_checked;
  }
  c.stop = true;
  for (auto& t : writers) t.join();
  BOOST_TEST_MESSAGE("decays " << c.decays.load() << ", stores " << c.stores.load()
                               << ", bulk applications " << c.bulk_applications.load()
                               << ", rows verified " << verified << ", judged by the ledger "
                               << ledger_checked);
  BOOST_TEST(c.error.empty(), c.error);
  BOOST_TEST(failed_runs == 0u);
  BOOST_TEST(verified > 0u);
  BOOST_TEST(ledger_checked > 0u);
}

BOOST_AUTO_TEST_SUITE(decay_concurrency)

BOOST_AUTO_TEST_CASE(verification_never_fails_while_decay_and_stores_run_on_the_same_ids) {
  TempDir dir;
  std::unique_ptr<RocksDbStore> rocks;
  BOOST_REQUIRE(RocksDbStore::Open(dir.str("db"), RocksDbOptions{}, &rocks, SystemNow).ok());
  std::unique_ptr<EntropyStore> store;
  BOOST_REQUIRE(
      EntropyStore::Open(std::move(rocks), QuietConfig(), &store, nullptr, SystemNow).ok());
  VerifyWhileWriting(*store);
}

BOOST_AUTO_TEST_CASE(with_the_index_in_a_database_of_its_own_too) {
  TempDir dir;
  PluginConfig config = QuietConfig();
  config.index.separate_path = dir.str("index");
  std::unique_ptr<EntropyStore> store;
  BOOST_REQUIRE(EntropyStore::Open(std::make_unique<MemoryStore>(SystemNow), config, &store,
                                   nullptr, SystemNow)
                    .ok());
  VerifyWhileWriting(*store);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera::decay_test
