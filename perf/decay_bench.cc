// How much a decay sweep plus verification slows concurrent stores.
//
// Fills a fresh RocksDbStore wrapped by the EntropyStore plugin with --count
// identities (geoids with 3-20 terms, one in five a scar, ages up to a year),
// then runs three phases of --seconds each, side by side in one run:
//   A1  2 threads storing continuously, no sweep;
//   B   the same 2 threads, with sweep + verification running back to back;
//   A2  the same as A1 again (the baseline is the mean of A1 and A2, so a
//       drift of the machine during the run does not count as slowdown).
// Then times one sweep and one verification alone (no writers).
//
// Usage: decay_bench [--count N] [--seconds S] [--sample N] [--duty D]
//        (defaults 200000, 8, 1000, the sweep's default duty cycle)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kimera/decay_sweep.h"
#include "kimera/entropy_store.h"
#include "kimera/rocksdb_store.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t kWriters = 2;
constexpr std::size_t kWriterIds = 50000;  // Ids each writer cycles through.

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string Numbered(const char* prefix, std::size_t n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
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
      identity.related_ids.push_back(Numbered("r", i));
    return identity;
  }
  identity.raw = "text of " + id;
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0, n = terms(rng); i < n; ++i) {
    list.push_back({{"term", Numbered("t", static_cast<std::size_t>(rng() % 5000))},
                    {"intensity", 0.01 + unit(rng) * 10}});
  }
  identity.meta = {{"terms", std::move(list)}};
  return identity;
}

// Runs kWriters storing threads for `seconds`, and then until `done()`;
// returns stores per second.
double StoreRate(
    kimera::EntropyStore& store, double seconds, std::uint64_t seed,
    const std::function<bool()>& done = [] { return true; }) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> stores{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + t);
      std::uint64_t n = 0;
      const std::string prefix = Numbered("w", t) + "_";
      for (std::size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        kimera::Identity identity =
            Make(prefix + std::to_string(i % kWriterIds), rng, kimera::SystemNow());
        if (store.Store(identity).ok()) ++n;
      }
      stores += n;
    });
  }
  const auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  while (!done()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& th : threads) th.join();
  return static_cast<double>(stores.load()) / SecondsSince(start);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 200000, sample = 1000;
  double seconds = 8;
  double duty = kimera::DecaySweepOptions{}.max_duty_cycle;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--count") == 0) count = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::strtod(argv[i + 1], nullptr);
    if (std::strcmp(argv[i], "--sample") == 0) sample = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--duty") == 0) duty = std::strtod(argv[i + 1], nullptr);
  }

  std::string dir = (std::filesystem::temp_directory_path() / "kimera_decay_bench_XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  int code = 0;
  {
    std::unique_ptr<kimera::RocksDbStore> rocks;
    kimera::Status s = kimera::RocksDbStore::Open(dir, kimera::RocksDbOptions{}, &rocks);
    std::unique_ptr<kimera::EntropyStore> store;
    kimera::PluginConfig config;
    config.metrics.serve = false;
    if (s.ok()) s = kimera::EntropyStore::Open(std::move(rocks), config, &store);
    if (!s.ok()) {
      std::fprintf(stderr, "decay_bench: %s\n", s.ToString().c_str());
      return 1;
    }

    const auto fill_start = SteadyClock::now();
    std::mt19937_64 rng(20261126);
    const kimera::Micros now = kimera::SystemNow();
    for (std::size_t i = 0; i < count; ++i) {
      if (!store->Store(Make(Numbered("id", i), rng, now)).ok()) {
        std::fprintf(stderr, "decay_bench: store failed\n");
        return 1;
      }
    }
    std::printf(
        "decay_bench: %zu identities stored in %.1f s; %zu writer threads, %.1f s per "
        "phase, verification sample %zu, sweep duty cycle %.2f\n",
        count, SecondsSince(fill_start), kWriters, seconds, sample, duty);

    kimera::DecaySweepOptions options;
    options.config.verification_sample = sample;
    options.max_duty_cycle = duty;
    std::unique_ptr<kimera::DecaySweep> sweep;
    s = kimera::DecaySweep::Open(*store, options, &sweep);
    if (!s.ok()) {
      std::fprintf(stderr, "decay_bench: %s\n", s.ToString().c_str());
      return 1;
    }

    const double a1 = StoreRate(*store, seconds, 1);
    std::atomic<bool> stop{false};
    std::vector<double> sweep_seconds, verify_seconds;
    std::atomic<std::size_t> sweeps_done{0};
    bool all_passed = true;
    std::thread sweeper([&] {
      while (!stop.load()) {
        kimera::DecaySweepResult result;
        if (!sweep->RunOnce(kimera::SystemNow(), &result).ok()) break;
        if (stop.load()) break;  // Cut short: not a whole pass.
        sweep_seconds.push_back(result.seconds);
        verify_seconds.push_back(result.verification.seconds);
        all_passed = all_passed && result.verification.ok();
        ++sweeps_done;
      }
    });
    // At least two whole sweeps run while the writers store.
    const double b = StoreRate(*store, seconds, 2, [&] { return sweeps_done.load() >= 2; });
    stop = true;
    sweeper.join();
    const double a2 = StoreRate(*store, seconds, 3);
    const double baseline = (a1 + a2) / 2;
    const double slowdown = 100 * (1 - b / baseline);

    const auto mean = [](const std::vector<double>& v) {
      double sum = 0;
      for (double x : v) sum += x;
      return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
    };
    std::printf("stores/s, no sweep (A1, A2):          %.0f, %.0f (baseline %.0f)\n", a1, a2,
                baseline);
    std::printf("stores/s, sweep+verification running: %.0f\n", b);
    std::printf("slowdown: %.1f %% (target < 20 %%)\n", slowdown);
    std::printf(
        "sweeps completed while storing: %zu, mean sweep %.3f s, mean verification "
        "%.3f s, all verifications passed: %s\n",
        sweep_seconds.size(), mean(sweep_seconds), mean(verify_seconds), all_passed ? "yes" : "NO");

    // Alone: one sweep at the configured duty cycle and one flat out.
    kimera::DecaySweepResult result;
    s = sweep->RunOnce(kimera::SystemNow(), &result);
    std::uint64_t total = 0;
    (void)store->Count(std::nullopt, &total);
    std::printf("alone at %llu identities: sweep %.3f s (duty %.2f), verification of %zu: %.3f s\n",
                static_cast<unsigned long long>(total), result.seconds, duty,
                result.verification.verified, result.verification.seconds);
    kimera::DecaySweepOptions flat = options;
    flat.max_duty_cycle = 1;
    flat.config.verification_sample = 0;
    std::unique_ptr<kimera::DecaySweep> flat_sweep;
    if (s.ok()) s = kimera::DecaySweep::Open(*store, flat, &flat_sweep);
    kimera::DecaySweepResult flat_result;
    if (s.ok()) s = flat_sweep->RunOnce(kimera::SystemNow(), &flat_result);
    std::printf("alone at %llu identities: sweep %.3f s flat out (no pauses)\n",
                static_cast<unsigned long long>(total), flat_result.seconds);
    if (!s.ok()) {
      std::fprintf(stderr, "decay_bench: %s\n", s.ToString().c_str());
      code = 1;
    }
    if (!all_passed || !result.verification.ok()) code = 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return code;
}
