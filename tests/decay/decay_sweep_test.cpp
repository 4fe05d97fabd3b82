#include <algorithm>
#include <chrono>
#include <thread>

#include "../test_time_scale.h"
#include "decay_test_support.h"
#include "kimera/config_loader.h"
#include "rocksdb_database.h"

namespace kimera::decay_test {
namespace {

constexpr const char* kBands[] = {"0-1d", "1-7d", "7-14d", "14-30d", "30-90d", "90d+"};

DecaySweepOptions Options(std::size_t chunk = 100, double duty = 1.0) {
  DecaySweepOptions options;
  options.config.chunk_size = chunk;
  options.config.verification_sample = 500;
  options.config.sweep_duty_cycle = duty;
  options.verifier_seed = 11;
  return options;
}

BOOST_AUTO_TEST_SUITE(decay_sweep)

BOOST_AUTO_TEST_CASE(a_sweep_observes_every_identity_once) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 2500, 200);
  std::unique_ptr<DecaySweep> sweep;
  BOOST_REQUIRE(DecaySweep::Open(*store, Options(), &sweep, clock).ok());
  DecaySweepResult result;
  BOOST_REQUIRE(sweep->RunOnce(clock(), &result).ok());
  BOOST_TEST(result.identities == 2500u);
  BOOST_TEST(result.chunks == 25u);
  BOOST_REQUIRE(result.verified);
  BOOST_REQUIRE_MESSAGE(result.verification.ok(), FailuresOf(result.verification));

  const std::string text = store->MetricsText();
  const double geoids =
      MetricValue(text, R"(kimera_identity_age_seconds_count{identity_type="geoid"})");
  const double scars =
      MetricValue(text, R"(kimera_identity_age_seconds_count{identity_type="scar"})");
  BOOST_TEST(geoids + scars == 2500);
  BOOST_TEST(MetricValue(text, R"(kimera_identity_decay_factor_count{identity_type="geoid"})") ==
             geoids);
  BOOST_TEST(MetricValue(text, R"(kimera_identity_decay_factor_count{identity_type="other"})") ==
             0);
  BOOST_TEST(MetricValue(text, "kimera_decay_sweep_duration_seconds_count") == 1);
  BOOST_TEST(MetricValue(text, "kimera_decay_verification_status") == 1);
  // The mean decay factor falls from band to band.
  for (const char* type : {"geoid", "scar"}) {
    double previous = 1.0;
    for (const char* band : kBands) {
      const double mean =
          MetricValue(text, std::string("kimera_decay_factor_by_age_band{age_band=\"") + band +
                                "\",identity_type=\"" + type + "\"}");
      BOOST_TEST_CONTEXT(type << " " << band) {
        BOOST_TEST(mean > 0);
        BOOST_TEST(mean < previous);
      }
      previous = mean;
    }
  }
  // A second sweep observes everyone again.
  BOOST_REQUIRE(sweep->RunOnce(clock(), &result).ok());
  BOOST_TEST(MetricValue(store->MetricsText(),
                         R"(kimera_identity_age_seconds_count{identity_type="geoid"})") ==
             2 * geoids);
}

BOOST_AUTO_TEST_CASE(a_failed_verification_in_a_sweep_sets_the_status_to_zero) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 300);
  std::unique_ptr<DecaySweep> sweep;
  BOOST_REQUIRE(DecaySweep::Open(*store, Options(), &sweep, clock).ok());
  DecaySweepResult result;
  BOOST_REQUIRE(sweep->RunOnce(clock() - static_cast<Micros>(100 * kDay * 1e6), &result).ok());
  BOOST_TEST(!result.verification.passed(DecayCheck::kBounds));
  BOOST_TEST(MetricValue(store->MetricsText(), "kimera_decay_verification_status") == 0);
}

BOOST_AUTO_TEST_CASE(a_sweep_refuses_a_record_whose_checksum_fails) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 50);
  // One byte of id7's record, past its header, changed behind the store's back:
  // the header (and its created_at) still reads fine, only the checksum knows.
  RocksDbStore& rocks = RocksOf(*store);
  rocksdb::ColumnFamilyHandle* records = nullptr;
  BOOST_REQUIRE(DatabaseOf(rocks).ColumnFamily(kIdentitiesColumnFamily, &records).ok());
  std::string value;
  BOOST_REQUIRE(DatabaseOf(rocks).db()->Get(rocksdb::ReadOptions(), records, "id7", &value).ok());
  value[value.size() - 12] ^= 0x20;
  rocksdb::WriteBatch batch;
  BOOST_REQUIRE(batch.Put(records, "id7", value).ok());
  BOOST_REQUIRE(DatabaseOf(rocks).Write(&batch).ok());
  // No verification: the sweep's own read must see the damage, not a full decode after it.
  DecaySweepOptions options = Options();
  options.config.verification_sample = 0;
  std::unique_ptr<DecaySweep> sweep;
  BOOST_REQUIRE(DecaySweep::Open(*store, options, &sweep, clock).ok());
  DecaySweepResult result;
  const Status s = sweep->RunOnce(clock(), &result);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.message().find("'id7'") != std::string::npos, s.ToString());
  BOOST_TEST(s.message().find("checksum") != std::string::npos, s.ToString());
}

BOOST_AUTO_TEST_CASE(a_sweep_does_not_stall_concurrent_stores) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 20000);
  std::unique_ptr<DecaySweep> sweep;
  BOOST_REQUIRE(DecaySweep::Open(*store, Options(500, 0.5), &sweep, clock).ok());
  std::atomic<bool> sweeping{false};
  std::atomic<bool> done{false};
  std::atomic<int> written{0};
  double slowest_store = 0;  // Seconds; written by the writer, read after join().
  std::thread writer([&] {
    // The writes start once the first sweep has, so at least one sweep runs under them.
    while (!sweeping.load()) std::this_thread::yield();
    for (int i = 0; i < 3000; ++i) {
      Identity g = Geoid(Numbered("w", i), {1.0 + i % 7, 2.0});
      const auto start = std::chrono::steady_clock::now();
      if (store->Store(g).ok()) ++written;
      slowest_store =
          std::max(slowest_store,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    done = true;
  });
  int sweeps = 0;
  double sweep_seconds = 0;
  do {
    sweeping = true;
    DecaySweepResult result;
    BOOST_REQUIRE(sweep->RunOnce(clock(), &result).ok());
    BOOST_REQUIRE_MESSAGE(result.verification.ok(), FailuresOf(result.verification));
    sweep_seconds += result.seconds;
    ++sweeps;
  } while (!done.load());
  writer.join();
  BOOST_TEST(written.load() == 3000);
  // A sweep reads in chunks and never holds a lock a store waits on for longer than one chunk.
  // The first stores start with the first sweep, so a store that waited for a whole sweep would
  // take about the sweep's time: the bound is half of it, and never below 50 ms (scaled for the
  // sanitizers), which no store needs on an idle machine (a few ms seen).
  const double bound = std::max(std::chrono::duration<double>(testing::Scaled(0.05)).count(),
                                sweep_seconds / sweeps / 2);
  BOOST_TEST(slowest_store < bound, "slowest store " << slowest_store << " s, bound " << bound);
  BOOST_TEST_MESSAGE("sweeps while writing: " << sweeps << " (" << sweep_seconds
                                              << " s), slowest store " << slowest_store << " s");
  std::uint64_t n = 0;
  BOOST_REQUIRE(store->Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 23000u);
  DecaySweepResult result;
  BOOST_REQUIRE(sweep->RunOnce(clock(), &result).ok());
  BOOST_TEST(result.identities == 23000u);
}

BOOST_AUTO_TEST_CASE(the_background_thread_sweeps_and_stops_promptly) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 500);
  DecaySweepOptions options = Options();
  options.config.sweep_interval_seconds = 3600;
  std::unique_ptr<DecaySweep> sweep;
  BOOST_REQUIRE(DecaySweep::Open(*store, options, &sweep, clock).ok());
  sweep->Start();
  const auto deadline = std::chrono::steady_clock::now() + testing::Scaled(20);
  while (sweep->last_result().identities == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_TEST(sweep->last_result().identities == 500u);
  BOOST_TEST(sweep->last_result().verified);
  const auto stop_started = std::chrono::steady_clock::now();
  sweep->Stop();
  const double stop_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_started).count();
  BOOST_TEST(stop_seconds < std::chrono::duration<double>(testing::Scaled(1.0)).count());
}

BOOST_AUTO_TEST_CASE(the_background_thread_applies_decay_when_configured) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 50);
  clock.Advance(kDay);
  DecaySweepOptions options = Options();
  options.config.sweep_interval_seconds = 0;
  options.config.apply_interval_seconds = 1;
  std::unique_ptr<DecaySweep> sweep;
  BOOST_REQUIRE(DecaySweep::Open(*store, options, &sweep, clock).ok());
  sweep->Start();
  const auto deadline = std::chrono::steady_clock::now() + testing::Scaled(20);
  Identity g;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_REQUIRE(store->Fetch("id49", &g).ok());
  } while (g.decay_applied_at != clock() && std::chrono::steady_clock::now() < deadline);
  sweep->Stop();
  BOOST_TEST(g.decay_applied_at == clock());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decay_config)

BOOST_AUTO_TEST_CASE(defaults_and_values_of_the_decay_section) {
  KimeraConfig config;
  BOOST_REQUIRE(ParseConfig("", "t.toml", &config).ok());
  BOOST_TEST(config.decay.sweep_interval_seconds == 60);
  BOOST_TEST(config.decay.verification_sample == 1000u);
  BOOST_TEST(config.decay.chunk_size == 1000u);
  BOOST_TEST(config.decay.apply_interval_seconds == 0);
  BOOST_TEST(config.decay.sweep_duty_cycle == 0.1);
  BOOST_REQUIRE(ParseConfig("[decay]\nsweep_interval_seconds = 5\nverification_sample = 20\n"
                            "chunk_size = 64\napply_interval_seconds = 3600\n"
                            "sweep_duty_cycle = 0.25\n",
                            "t.toml", &config)
                    .ok());
  BOOST_TEST(config.decay.sweep_interval_seconds == 5);
  BOOST_TEST(config.decay.verification_sample == 20u);
  BOOST_TEST(config.decay.chunk_size == 64u);
  BOOST_TEST(config.decay.apply_interval_seconds == 3600);
  BOOST_TEST(config.decay.sweep_duty_cycle == 0.25);
}

BOOST_AUTO_TEST_CASE(rejects_unknown_keys_and_bad_values) {
  KimeraConfig config;
  Status s = ParseConfig("[decay]\nsweep_every = 5\n", "t.toml", &config);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("decay.sweep_every") != std::string::npos);
  s = ParseConfig("[decay]\nchunk_size = 0\n", "t.toml", &config);
  BOOST_TEST(s.message().find("decay.chunk_size") != std::string::npos);
  s = ParseConfig("[decay]\nsweep_interval_seconds = -1\n", "t.toml", &config);
  BOOST_TEST(s.IsInvalidArgument());
  for (const char* duty : {"0", "1.5"}) {
    s = ParseConfig(std::string("[decay]\nsweep_duty_cycle = ") + duty + "\n", "t.toml", &config);
    BOOST_TEST(s.message().find("decay.sweep_duty_cycle") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera::decay_test
