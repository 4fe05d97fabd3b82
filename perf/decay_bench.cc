// How much a decay sweep plus verification slows concurrent stores, and how
// long a sweep and a verification take alone.
//
// Fills a fresh RocksDbStore wrapped by the EntropyStore plugin with --count
// identities (geoids with 3-20 terms, one in five a scar, ages up to a year),
// then, side by side in one run, alternates phases of 2 threads storing
// continuously (re-storing the stored identities with new content, so the
// store keeps --count identities and every phase does the same work):
//   A0 B1 A1 B2 A2 ... B<reps> A<reps>
// A: no sweep. B: sweeps with verification back to back (each starting as
// the last ends: the worst case, an interval shorter than a sweep) at the
// configured pacing (DecayConfig::sweep_duty_cycle); a B phase lasts
// --seconds and then until the sweep in progress has covered every identity,
// so it holds whole sweeps only. A0 lasts --seconds, A_r as long as B_r.
// Repetition r compares B_r with the mean of A_{r-1} and A_r (a drift of the
// machine does not count as slowdown); the median of the repetitions is the
// figure.
// Then, with no writers: one sweep at the configured pacing, one flat out,
// and one verification.
//
// Usage: decay_bench [--count N] [--seconds S] [--reps R] [--sample N]
//                    [--duty D] [--alone]
//        (defaults 200000, 6, 3, 1000, the default duty cycle; --alone skips
//        the phases with writers)
#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "bench_support.h"
#include "kimera/decay_sweep.h"
#include "kimera/entropy_store.h"
#include "kimera/rocksdb_store.h"

namespace {

constexpr std::size_t kWriters = 2;

struct Args {
  std::size_t count = 200000, sample = 1000, reps = 3;
  double seconds = 6;
  double duty = kimera::DecayConfig{}.sweep_duty_cycle;
  bool alone = false;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (flag == "--alone") {
      a.alone = true;
    } else if (value != nullptr && flag == "--count") {
      a.count = std::strtoull(argv[++i], nullptr, 10);
    } else if (value != nullptr && flag == "--seconds") {
      a.seconds = std::strtod(argv[++i], nullptr);
    } else if (value != nullptr && flag == "--reps") {
      a.reps = std::max<std::size_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (value != nullptr && flag == "--sample") {
      a.sample = std::strtoull(argv[++i], nullptr, 10);
    } else if (value != nullptr && flag == "--duty") {
      a.duty = std::strtod(argv[++i], nullptr);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--count N] [--seconds S] [--reps R] [--sample N] [--duty D] "
                   "[--alone]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return a;
}

kimera::Identity Make(const std::string& id, std::mt19937_64& rng, kimera::Micros now) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> terms(3, 20), relations(2, 12);
  kimera::Identity identity;
  identity.id = id;
  identity.created_at = now - static_cast<kimera::Micros>(unit(rng) * 365 * 86400e6);
  if (rng() % 5 == 4) {
    identity.identity_type = kimera::IdentityType::kScar;
    identity.weight = 0.1 + unit(rng) * 2;
    for (int i = 0, n = relations(rng); i < n; ++i)
      identity.related_ids.push_back(bench::Numbered("r", static_cast<std::size_t>(i)));
    return identity;
  }
  identity.raw = "text of " + id;
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0, n = terms(rng); i < n; ++i) {
    list.push_back({{"term", bench::Numbered("t", static_cast<std::size_t>(rng() % 5000))},
                    {"intensity", 0.01 + unit(rng) * 10}});
  }
  identity.meta = {{"terms", std::move(list)}};
  return identity;
}

// Runs kWriters threads re-storing ids "id<k>" (k < count, writer t taking
// every kWriters-th from a seeded start) for `seconds`, and then until
// `done()`; returns stores per second over the whole time.
double StoreRate(
    kimera::EntropyStore& store, std::size_t count, double seconds, std::uint64_t seed,
    const std::function<bool()>& done = [] { return true; }) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> stores{0};
  std::vector<std::thread> threads;
  const auto start = bench::Clock::now();
  for (std::size_t t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + t);
      std::uint64_t n = 0;
      const std::size_t first = static_cast<std::size_t>(rng() % count);
      for (std::size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::size_t k = (first + t + i * kWriters) % count;
        kimera::Identity identity = Make(bench::Numbered("id", k), rng, kimera::SystemNow());
        if (store.Store(identity).ok()) ++n;
      }
      stores += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  while (!done()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (auto& th : threads) th.join();
  return static_cast<double>(stores.load()) / bench::Seconds(start);
}

// What the sweeps of one B phase did.
struct SweepPhase {
  std::size_t sweeps = 0;
  std::uint64_t min_identities = ~std::uint64_t{0};  // Covered by the smallest sweep.
  double sweep_seconds = 0, verify_seconds = 0;      // Sums.
  double seconds = 0;                                // The phase.
  bool passed = true;
};

// One B phase: sweeps back to back from its start; the writers stop when
// the first sweep to end after `seconds` ends. Returns stores per second.
double StoreRateWhileSweeping(kimera::EntropyStore& store, kimera::DecaySweep& sweep,
                              std::size_t count, double seconds, std::uint64_t seed,
                              SweepPhase* phase) {
  std::atomic<bool> finished{false};
  const auto start = bench::Clock::now();
  std::thread sweeper([&] {
    do {
      kimera::DecaySweepResult r;
      bench::Require(sweep.RunNow(&r), "decay sweep");
      ++phase->sweeps;
      phase->min_identities = std::min(phase->min_identities, r.identities);
      phase->sweep_seconds += r.seconds;
      phase->verify_seconds += r.verification.seconds;
      phase->passed = phase->passed && r.verification.ok();
    } while (bench::Seconds(start) < seconds);
    finished = true;
  });
  const double rate = StoreRate(store, count, seconds, seed, [&] { return finished.load(); });
  sweeper.join();
  phase->seconds = bench::Seconds(start);
  return rate;
}

std::unique_ptr<kimera::DecaySweep> OpenSweep(kimera::EntropyStore& store, std::size_t sample,
                                              double duty) {
  kimera::DecaySweepOptions options;
  options.config.verification_sample = sample;
  options.config.sweep_duty_cycle = duty;
  std::unique_ptr<kimera::DecaySweep> sweep;
  bench::Require(kimera::DecaySweep::Open(store, options, &sweep), "opening the decay sweep");
  return sweep;
}

// Returns false when a verification failed.
bool MeasureSlowdown(kimera::EntropyStore& store, const Args& args) {
  auto sweep = OpenSweep(store, args.sample, args.duty);
  std::vector<double> slowdowns;
  bool passed = true;
  double before = StoreRate(store, args.count, args.seconds, 100);
  for (std::size_t r = 1; r <= args.reps; ++r) {
    SweepPhase phase;
    const double b =
        StoreRateWhileSweeping(store, *sweep, args.count, args.seconds, 100 + 2 * r, &phase);
    const double after = StoreRate(store, args.count, phase.seconds, 101 + 2 * r);
    const double slowdown = 100 * (1 - b / ((before + after) / 2));
    slowdowns.push_back(slowdown);
    passed = passed && phase.passed;
    std::printf(
        "rep %zu: stores/s A %.0f | B %.0f | A %.0f: slowdown %.1f %%; B (%.0f s) held %zu "
        "whole sweep(s) of >= %llu identities (mean sweep %.2f s, verification %.3f s, %s)\n",
        r, before, b, after, slowdown, phase.seconds, phase.sweeps,
        static_cast<unsigned long long>(phase.min_identities),
        phase.sweep_seconds / static_cast<double>(phase.sweeps),
        phase.verify_seconds / static_cast<double>(phase.sweeps),
        phase.passed ? "verified" : "VERIFICATION FAILED");
    std::fflush(stdout);
    before = after;
  }
  std::sort(slowdowns.begin(), slowdowns.end());
  const std::size_t n = slowdowns.size();
  const double median =
      n % 2 == 1 ? slowdowns[n / 2] : (slowdowns[n / 2 - 1] + slowdowns[n / 2]) / 2;
  std::printf("median slowdown over %zu repetitions: %.1f %% (target < 20 %%)\n", n, median);
  bench::Target("sweep + verification slows 2 storing threads < 20 %", median < 20,
                bench::Fixed(median, 1) + " %");
  return passed;
}

// Returns false when the verification failed.
bool MeasureAlone(kimera::EntropyStore& store, const Args& args) {
  const unsigned long long total = store.StoredCount();
  auto paced = OpenSweep(store, args.sample, args.duty);
  kimera::DecaySweepResult result;
  bench::Require(paced->RunNow(&result), "decay sweep");
  std::printf("alone at %llu identities: sweep of %llu in %.3f s at duty cycle %.2f\n", total,
              static_cast<unsigned long long>(result.identities), result.seconds, args.duty);
  std::printf("alone at %llu identities: verification of %zu sampled in %.3f s (%s)\n", total,
              result.verification.verified, result.verification.seconds,
              result.verification.ok() ? "passed" : "FAILED");
  auto flat = OpenSweep(store, 0, 1);
  kimera::DecaySweepResult flat_result;
  bench::Require(flat->RunNow(&flat_result), "decay sweep");
  std::printf("alone at %llu identities: sweep of %llu in %.3f s flat out (duty cycle 1)\n", total,
              static_cast<unsigned long long>(flat_result.identities), flat_result.seconds);
  return result.verification.ok();
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  bench::TempDir dir;
  std::unique_ptr<kimera::RocksDbStore> rocks;
  bench::Require(kimera::RocksDbStore::Open(dir.path.string(), kimera::RocksDbOptions{}, &rocks),
                 "opening the store");
  kimera::PluginConfig config;
  config.metrics.serve = false;
  std::unique_ptr<kimera::EntropyStore> store;
  bench::Require(kimera::EntropyStore::Open(std::move(rocks), config, &store), "wrapping");

  const auto fill_start = bench::Clock::now();
  std::mt19937_64 rng(20261126);
  const kimera::Micros now = kimera::SystemNow();
  for (std::size_t i = 0; i < args.count; ++i) {
    bench::Require(store->Store(Make(bench::Numbered("id", i), rng, now)), "filling");
  }
  std::printf(
      "decay_bench: %zu identities stored in %.1f s; %zu writer threads, phases of >= %.1f s, "
      "%zu repetitions, verification sample %zu, sweep duty cycle %.2f\n",
      args.count, bench::Seconds(fill_start), kWriters, args.seconds, args.reps, args.sample,
      args.duty);
  std::fflush(stdout);

  bool passed = true;
  if (!args.alone) passed = MeasureSlowdown(*store, args);
  passed = MeasureAlone(*store, args) && passed;
  return passed ? 0 : 1;
}
