#include <cmath>

#include "decay_ledger.h"
#include "decay_test_support.h"
#include "kimera/entropy_index.h"

namespace kimera::decay_test {
namespace {

// Overwrites the index entry of `id` with `tau`, behind the store's back.
void PlantTau(EntropyStore& store, const std::string& id, double tau) {
  const IndexEntry before = FindEntry(store, id);
  IndexEntry after = before;
  after.tau = tau;
  rocksdb::WriteBatch batch;
  store.index().AddChanges(id, &before, &after, &batch);
  BOOST_REQUIRE(store.index().database().Write(&batch).ok());
}

std::size_t FailuresFor(const DecayVerificationReport& report, DecayCheck check,
                        const std::string& id) {
  std::size_t n = 0;
  for (const auto& f : report.failures) n += f.check == check && f.id == id;
  return n;
}

// `id` failed `check` once, and no other id failed it.
void RequireOnlyFailure(const DecayVerificationReport& report, DecayCheck check,
                        const std::string& id) {
  BOOST_TEST(FailuresFor(report, check, id) == 1u);
  BOOST_TEST(report.failures_by_check[static_cast<std::size_t>(check)] == 1u);
}

void RequireStatus(EntropyStore& store, double value) {
  const std::string text = store.MetricsText();
  BOOST_REQUIRE_EQUAL(MetricValue(text, "kimera_decay_verification_status"), value);
  BOOST_REQUIRE_GT(MetricValue(text, "kimera_decay_verification_last_run_timestamp_seconds"), 0);
}

// Three tagged identities of entropy exactly 1 bit, 10, 20 and 30 days old.
std::vector<std::string> EqualEntropyGroup(EntropyStore& store, const ManualClock& clock) {
  std::vector<std::string> ids;
  for (int days : {10, 20, 30}) {
    Identity identity;
    identity.id = Numbered("pair", days);
    identity.tags = {"a", "b"};
    identity.created_at = clock() - static_cast<Micros>(days * kDay * 1e6);
    BOOST_REQUIRE(store.Store(identity).ok());
    ids.push_back(identity.id);
  }
  return ids;
}

BOOST_AUTO_TEST_SUITE(decay_verifier)

BOOST_AUTO_TEST_CASE(every_check_passes_on_healthy_data) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 3000);
  const auto report = Verify(*store, clock());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_TEST(report.verified == 3000u);
  BOOST_TEST(report.scenarios == DecayVerifier::kMaxScenarios);
  BOOST_REQUIRE(report.correlation.has_value());
  BOOST_TEST(*report.correlation >= kMinAgeCorrelation);
  RequireStatus(*store, 1);
  const std::string text = store->MetricsText();
  for (std::size_t c = 0; c < kDecayCheckCount; ++c) {
    const std::string check = DecayCheckName(static_cast<DecayCheck>(c));
    BOOST_TEST(MetricValue(text, "kimera_decay_verification_checks_total{check=\"" + check +
                                     "\",result=\"pass\"}") == 1);
    BOOST_TEST(MetricValue(text, "kimera_decay_verification_checks_total{check=\"" + check +
                                     "\",result=\"fail\"}") == 0);
  }
  BOOST_TEST(MetricValue(text, "kimera_decay_age_correlation") >= kMinAgeCorrelation);
}

BOOST_AUTO_TEST_CASE(a_sample_from_a_random_offset_passes) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 2000);
  std::unique_ptr<DecayVerifier> verifier;
  BOOST_REQUIRE(DecayVerifier::Open(*store, {.sample_size = 300, .seed = 0}, &verifier).ok());
  for (int run = 0; run < 5; ++run) {
    DecayVerificationReport report;
    BOOST_REQUIRE(verifier->Run(clock(), &report).ok());
    BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
    BOOST_TEST(report.sampled == 300u);
  }
}

BOOST_AUTO_TEST_CASE(few_distinct_points_pass_correlation_without_a_value) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  EqualEntropyGroup(*store, clock);
  auto report = Verify(*store, clock());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_REQUIRE(report.correlation.has_value());
  BOOST_TEST(MetricValue(store->MetricsText(), "kimera_decay_age_correlation") ==
             *report.correlation);
  BOOST_REQUIRE(store->Remove("pair10").ok());
  report = Verify(*store, clock());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_TEST(!report.correlation.has_value());
  // The gauge stays exposed (an absent() alert must not fire) and says "no value", not the last r.
  const std::string text = store->MetricsText();
  BOOST_TEST(text.find("\nkimera_decay_age_correlation Nan\n") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(correlation_appears_with_the_first_status_even_without_a_value) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  BOOST_TEST(store->MetricsText().find("\nkimera_decay_age_correlation ") == std::string::npos);
  EqualEntropyGroup(*store, clock);
  BOOST_REQUIRE(store->Remove("pair10").ok());
  const auto report = Verify(*store, clock());
  BOOST_REQUIRE(!report.correlation.has_value());
  RequireStatus(*store, 1);
  BOOST_TEST(store->MetricsText().find("\nkimera_decay_age_correlation Nan\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(stored_tau_disagreeing_with_entropy_fails_formula_order_and_semigroup) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 2000);
  const auto group = EqualEntropyGroup(*store, clock);
  BOOST_REQUIRE(Verify(*store, clock()).ok());
  RequireStatus(*store, 1);

  // The oldest of the group now claims a tau 100 times too long.
  const IndexEntry entry = FindEntry(*store, "pair30");
  PlantTau(*store, "pair30", entry.tau * 100);
  const auto report = Verify(*store, clock());
  BOOST_TEST(!report.ok());
  BOOST_TEST(FailuresFor(report, DecayCheck::kFormula, "pair30") == 1u);
  BOOST_TEST(FailuresFor(report, DecayCheck::kOrder, "pair30") == 1u);
  BOOST_TEST(FailuresFor(report, DecayCheck::kSemigroup, "pair30") == 1u);
  BOOST_TEST(report.failures_by_check[static_cast<std::size_t>(DecayCheck::kFormula)] == 1u);
  BOOST_TEST(report.passed(DecayCheck::kBounds));
  BOOST_TEST(report.passed(DecayCheck::kHalfLife));
  BOOST_TEST(report.passed(DecayCheck::kNoCompounding));
  for (const auto& f : report.failures) {
    BOOST_TEST_MESSAGE(f.ToString());
    if (f.check == DecayCheck::kFormula) {
      BOOST_TEST(f.detail.find("index holds entropy") == 0u);
    }
  }
  RequireStatus(*store, 0);
  const std::string text = store->MetricsText();
  BOOST_TEST(
      MetricValue(text,
                  R"(kimera_decay_verification_checks_total{check="formula",result="fail"})") == 1);
  BOOST_TEST(
      MetricValue(text,
                  R"(kimera_decay_verification_checks_total{check="formula",result="pass"})") == 1);
}

BOOST_AUTO_TEST_CASE(non_positive_tau_fails_half_life_and_bounds) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 500);
  PlantTau(*store, "id7", 0.0);
  const auto report = Verify(*store, clock());
  BOOST_TEST(!report.passed(DecayCheck::kHalfLife));
  BOOST_TEST(FailuresFor(report, DecayCheck::kBounds, "id7") == 1u);
  BOOST_TEST(FailuresFor(report, DecayCheck::kFormula, "id7") == 1u);
  RequireStatus(*store, 0);
}

BOOST_AUTO_TEST_CASE(many_wrong_taus_fail_correlation) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  const auto ids = Populate(*store, clock, 1000);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> scale(0.2, 5.0);
  for (std::size_t i = 0; i < ids.size(); i += 3) {
    const IndexEntry entry = FindEntry(*store, ids[i]);
    PlantTau(*store, ids[i], entry.tau * scale(rng));
  }
  const auto report = Verify(*store, clock());
  BOOST_TEST(!report.passed(DecayCheck::kCorrelation));
  BOOST_REQUIRE(report.correlation.has_value());
  BOOST_TEST(*report.correlation < kMinAgeCorrelation);
  BOOST_TEST(MetricValue(store->MetricsText(), "kimera_decay_age_correlation") ==
             *report.correlation);
  RequireStatus(*store, 0);
}

BOOST_AUTO_TEST_CASE(index_built_with_another_k_fails_formula) {
  TempDir dir;
  ManualClock clock;
  {
    auto store = OpenStore(dir.str("db"), clock, QuietConfig(0.1));
    Populate(*store, clock, 300);
  }
  auto store = OpenStore(dir.str("db"), clock, QuietConfig(0.3));
  const auto report = Verify(*store, clock());
  BOOST_TEST(!report.passed(DecayCheck::kFormula));
  BOOST_TEST(report.failures_by_check[static_cast<std::size_t>(DecayCheck::kFormula)] > 100u);
  RequireStatus(*store, 0);
}

BOOST_AUTO_TEST_CASE(clock_going_backwards_fails_bounds) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 1000);
  BOOST_REQUIRE(Verify(*store, clock()).ok());
  // One identity created an hour in the future...
  Identity future = Geoid("future", {1, 2, 3});
  future.created_at = clock() + 3'600'000'000;
  BOOST_REQUIRE(store->Store(future).ok());
  auto report = Verify(*store, clock());
  BOOST_TEST(FailuresFor(report, DecayCheck::kBounds, "future") == 1u);
  BOOST_TEST(report.failures_by_check[static_cast<std::size_t>(DecayCheck::kBounds)] == 1u);
  RequireStatus(*store, 0);
  // ...and a clock set 30 days back: every younger identity has a negative age.
  BOOST_REQUIRE(store->Remove("future").ok());
  report = Verify(*store, clock() - static_cast<Micros>(30 * kDay * 1e6));
  BOOST_TEST(report.failures_by_check[static_cast<std::size_t>(DecayCheck::kBounds)] > 10u);
  for (const auto& f : report.failures) {
    if (f.check == DecayCheck::kBounds) BOOST_TEST(f.detail.find("negative age") == 0u);
  }
  RequireStatus(*store, 0);
  BOOST_REQUIRE(Verify(*store, clock()).ok());
  RequireStatus(*store, 1);
}

BOOST_AUTO_TEST_CASE(decay_applied_twice_the_original_way_fails_no_compounding) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  const auto ids = Populate(*store, clock, 1000);
  std::unique_ptr<DecayVerifier> verifier;
  BOOST_REQUIRE(DecayVerifier::Open(*store, {.sample_size = 100000, .seed = 5}, &verifier).ok());
  clock.Advance(2 * kDay);
  DecayApplyResult applied;
  BOOST_REQUIRE(ApplyDecayAll(*store, *verifier, clock(), 64, &applied).ok());
  BOOST_REQUIRE_EQUAL(applied.applied, 1000u);
  clock.Advance(3 * kDay);
  BOOST_REQUIRE(ApplyDecayAll(*store, *verifier, clock(), 64, &applied).ok());
  DecayVerificationReport report;
  BOOST_REQUIRE(verifier->Run(clock(), &report).ok());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_TEST(report.ledger_checked == 1000u);

  // The original system: weight *= exp(-total age / tau) on every call, two
  // calls, written back behind the store (timestamps untouched).
  Identity victim;
  std::string victim_id;
  for (const auto& id : ids) {
    BOOST_REQUIRE(store->Fetch(id, &victim).ok());
    if (victim.identity_type == IdentityType::kGeoid && Entropy(victim) > 0) break;
  }
  victim_id = victim.id;
  const double tau = EffectiveTau(Entropy(victim), store->config().entropy.decay);
  const double age = static_cast<double>(clock() - victim.created_at) / 1e6;
  ScaleWeights(&victim, std::exp(-age / tau));
  ScaleWeights(&victim, std::exp(-age / tau));
  BOOST_REQUIRE(RocksOf(*store).Restore(victim).ok());

  BOOST_REQUIRE(verifier->Run(clock(), &report).ok());
  BOOST_TEST(!report.ok());
  BOOST_TEST(FailuresFor(report, DecayCheck::kNoCompounding, victim_id) == 1u);
  BOOST_TEST(report.failures_by_check[static_cast<std::size_t>(DecayCheck::kNoCompounding)] == 1u);
  for (const auto& f : report.failures) BOOST_TEST_MESSAGE(f.ToString());
  RequireStatus(*store, 0);
}

BOOST_AUTO_TEST_CASE(a_chain_that_compounded_fails_even_when_the_last_step_matches) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Identity g = Geoid("g", {1, 2, 4}, 2.0);
  g.created_at = clock() - static_cast<Micros>(10 * kDay * 1e6);
  BOOST_REQUIRE(store->Store(g).ok());
  std::unique_ptr<DecayVerifier> verifier;
  BOOST_REQUIRE(DecayVerifier::Open(*store, {.sample_size = 10, .seed = 1}, &verifier).ok());
  DecayApplyResult applied;
  BOOST_REQUIRE(ApplyDecayAll(*store, *verifier, clock(), 10, &applied).ok());
  // Behind the store: a second application counted from creation again, with
  // the ledger told the new weight (as if a buggy store had done it).
  Identity now;
  BOOST_REQUIRE(store->Fetch("g", &now).ok());
  const double tau = EffectiveTau(Entropy(now), store->config().entropy.decay);
  ScaleWeights(&now, std::exp(-10 * kDay / tau));
  BOOST_REQUIRE(RocksOf(*store).Restore(now).ok());
  DecayLedgerEntry entry;
  BOOST_REQUIRE(verifier->ledger().Lookup("g", &entry).ok());
  entry.weight = now.weight;
  rocksdb::WriteBatch batch;
  verifier->ledger().Put("g", entry, &batch);
  BOOST_REQUIRE(verifier->ledger().Write(&batch).ok());
  DecayVerificationReport report;
  BOOST_REQUIRE(verifier->Run(clock(), &report).ok());
  BOOST_TEST(FailuresFor(report, DecayCheck::kNoCompounding, "g") == 1u);
  RequireStatus(*store, 0);
}

BOOST_AUTO_TEST_CASE(an_index_entry_without_its_record_fails_formula) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 200);
  // An entry behind the store's back: at one snapshot it cannot be a race.
  IndexEntry orphan{"orphan", 1.5, IdentityType::kGeoid,
                    EffectiveTau(1.5, store->config().entropy.decay)};
  rocksdb::WriteBatch batch;
  store->index().AddChanges(orphan.id, nullptr, &orphan, &batch);
  BOOST_REQUIRE(store->index().database().Write(&batch).ok());
  const auto report = Verify(*store, clock());
  RequireOnlyFailure(report, DecayCheck::kFormula, "orphan");
  RequireStatus(*store, 0);
}

BOOST_AUTO_TEST_CASE(decay_factor_underflowing_to_zero_passes_bounds) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  // 1975: an age of ~52 years is ~1,350 tau at H = 0; exp(-age / tau) is 0 in
  // double arithmetic, which is the right answer, not a failure.
  Identity old = Geoid("old", {1});
  old.created_at = 157'766'400'000'000;
  BOOST_REQUIRE(store->Store(old).ok());
  const auto report = Verify(*store, clock());
  BOOST_TEST(report.failures.empty());
  RequireStatus(*store, 1);
}

BOOST_AUTO_TEST_CASE(a_clock_read_after_the_sample_still_fails_a_future_created_at) {
  TempDir dir;
  ManualClock clock;
  auto store = OpenStore(dir.str("db"), clock);
  Populate(*store, clock, 300);
  Identity future = Geoid("future", {1, 2, 3});
  future.created_at = clock() + 3'600'000'000;
  BOOST_REQUIRE(store->Store(future).ok());
  std::unique_ptr<DecayVerifier> verifier;
  BOOST_REQUIRE(DecayVerifier::Open(*store, {.sample_size = 1000, .seed = 2}, &verifier).ok());
  DecayVerificationReport report;
  BOOST_REQUIRE(verifier->Run(Clock(clock), &report).ok());
  BOOST_TEST(report.now == clock());
  RequireOnlyFailure(report, DecayCheck::kBounds, "future");
  RequireStatus(*store, 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera::decay_test
