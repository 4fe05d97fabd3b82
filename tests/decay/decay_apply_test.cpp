#include <cmath>

#include "decay_test_support.h"

namespace kimera::decay_test {
namespace {

bool Close(double a, double b, double tol = 1e-12) {
  return a == b || std::fabs(a - b) <= tol * std::max(std::fabs(a), std::fabs(b));
}

std::vector<double> Intensities(const Identity& identity) {
  std::vector<double> out;
  for (const auto& t : identity.meta["terms"]) out.push_back(t["intensity"].get<double>());
  return out;
}

struct Fixture {
  Fixture() : store(OpenStore(dir.str("db"), clock)) {
    BOOST_REQUIRE(DecayVerifier::Open(*store, {.sample_size = 100000, .seed = 9}, &verifier).ok());
  }
  void Apply(Micros now, std::size_t chunk = 7) {
    DecayApplyResult result;
    const Status s = ApplyDecayAll(*store, *verifier, now, chunk, &result);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    BOOST_REQUIRE_EQUAL(result.failed, 0u);
    last = result;
  }
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<EntropyStore> store;
  std::unique_ptr<DecayVerifier> verifier;
  DecayApplyResult last;
};

BOOST_AUTO_TEST_SUITE(decay_apply)

BOOST_FIXTURE_TEST_CASE(apply_twice_equals_once_over_the_whole_interval_for_geoids, Fixture) {
  const Micros t0 = clock();
  std::vector<Identity> originals;
  for (int i = 0; i < 50; ++i) {
    Identity g = Geoid(Numbered("g", i), {0.5 + i, 1.0, 3.0 + i % 4}, 1.0 + i * 0.1);
    g.created_at = t0 - static_cast<Micros>(i * kDay * 1e6);
    BOOST_REQUIRE(store->Store(g).ok());
    BOOST_REQUIRE(store->Fetch(g.id, &g).ok());
    originals.push_back(g);
  }
  const Micros t1 = t0 + static_cast<Micros>(3.5 * kDay * 1e6);
  const Micros t2 = t0 + static_cast<Micros>(11.25 * kDay * 1e6);
  Apply(t1);
  BOOST_TEST(last.applied == 50u);
  Apply(t2);
  const DecayParams& params = store->config().entropy.decay;
  for (const Identity& g0 : originals) {
    Identity g;
    BOOST_REQUIRE(store->Fetch(g0.id, &g).ok());
    const double tau = EffectiveTau(Entropy(g0), params);
    const double factor = std::exp(-static_cast<double>(t2 - g0.created_at) / 1e6 / tau);
    BOOST_TEST_CONTEXT(g0.id) {
      BOOST_TEST(Close(g.weight, g0.weight * factor));
      const auto x0 = Intensities(g0), x = Intensities(g);
      for (std::size_t k = 0; k < x0.size(); ++k) BOOST_TEST(Close(x[k], x0[k] * factor));
      BOOST_TEST(Close(Entropy(g), Entropy(g0)));
      BOOST_TEST(g.decay_applied_at == t2);
      BOOST_TEST(g.updated_at == t2);
    }
  }
  DecayVerificationReport report;
  BOOST_REQUIRE(verifier->Run(t2, &report).ok());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_TEST(report.ledger_checked == 50u);
}

BOOST_FIXTURE_TEST_CASE(scar_tau_follows_its_falling_entropy_step_by_step, Fixture) {
  const DecayParams& params = store->config().entropy.decay;
  const Micros t0 = clock();
  Identity s = Scar("s", 4, 2.0);  // H = log2(4) * 2 = 4 bits.
  s.created_at = t0;
  BOOST_REQUIRE(store->Store(s).ok());
  Identity once = Scar("once", 4, 2.0);
  once.created_at = t0;
  const Micros t1 = t0 + static_cast<Micros>(10 * kDay * 1e6);
  const Micros t2 = t0 + static_cast<Micros>(30 * kDay * 1e6);
  Apply(t1);
  BOOST_REQUIRE(store->Store(once).ok());  // Joins after the first step.
  Apply(t2);

  const auto seconds = [](Micros a, Micros b) { return static_cast<double>(b - a) / 1e6; };
  const double tau0 = EffectiveTau(4.0, params);
  const double w1 = 2.0 * std::exp(-seconds(t0, t1) / tau0);
  const double tau1 = EffectiveTau(2.0 * w1, params);  // Entropy before the second step.
  const double w2 = w1 * std::exp(-seconds(t1, t2) / tau1);
  Identity got, got_once;
  BOOST_REQUIRE(store->Fetch("s", &got).ok());
  BOOST_REQUIRE(store->Fetch("once", &got_once).ok());
  BOOST_TEST(Close(got.weight, w2));
  BOOST_TEST(Close(got_once.weight, 2.0 * std::exp(-seconds(t0, t2) / tau0)));
  // Decaying in steps is faster for a scar: its tau shrinks with its weight.
  BOOST_TEST(got.weight < got_once.weight);
  // The index follows the new entropy and tau.
  const IndexEntry entry = FindEntry(*store, "s");
  BOOST_TEST(entry.entropy == Entropy(got));
  BOOST_TEST(Close(entry.entropy, 2.0 * w2));
  BOOST_TEST(entry.tau == EffectiveTau(entry.entropy, params));
  DecayVerificationReport report;
  BOOST_REQUIRE(verifier->Run(t2, &report).ok());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_TEST(report.ledger_checked == 2u);
}

BOOST_FIXTURE_TEST_CASE(each_step_is_timed_as_apply_decay, Fixture) {
  Populate(*store, clock, 120);
  Apply(clock() + 1'000'000);
  const std::string text = store->MetricsText();
  BOOST_TEST(
      MetricValue(
          text,
          R"(kimera_storage_operations_duration_seconds_count{operation_type="apply_decay"})") ==
      120);
}

BOOST_FIXTURE_TEST_CASE(identities_decayed_after_now_are_skipped, Fixture) {
  Populate(*store, clock, 30, 1);
  Apply(clock() + 10'000'000);
  BOOST_TEST(last.applied == 30u);
  Apply(clock());
  BOOST_TEST(last.applied == 0u);
  BOOST_TEST(last.skipped == 30u);
}

BOOST_FIXTURE_TEST_CASE(a_restored_record_starts_a_new_chain, Fixture) {
  Identity g = Geoid("g", {1, 2}, 3.0);
  g.created_at = clock();
  BOOST_REQUIRE(store->Store(g).ok());
  clock.Advance(kDay);
  Apply(clock());
  // The host re-stores it with a new weight (updated_at moves): the next
  // application counts the chain from the new weight.
  BOOST_REQUIRE(store->Fetch("g", &g).ok());
  g.weight = 5.0;
  clock.Advance(60);
  BOOST_REQUIRE(store->Store(g).ok());
  DecayVerificationReport report;
  BOOST_REQUIRE(verifier->Run(clock(), &report).ok());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_TEST(report.ledger_checked == 0u);
  clock.Advance(kDay);
  Apply(clock());
  BOOST_REQUIRE(verifier->Run(clock(), &report).ok());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_TEST(report.ledger_checked == 1u);
}

// As the reference's Python arithmetic: True * f is f and False * f is 0.0,
// so a boolean intensity decays as 1 or 0 and becomes a number; the entropy
// (true counts as 1.0) and the verification agree with that.
BOOST_FIXTURE_TEST_CASE(boolean_intensities_decay_as_one_and_zero, Fixture) {
  const Micros t0 = clock();
  Identity g = Geoid("b", {});
  g.meta["terms"] = nlohmann::json::parse(
      R"([{"intensity": true}, {"intensity": 3.0}, {"intensity": false}, {"intensity": "2"}])");
  g.created_at = t0;
  BOOST_REQUIRE(store->Store(g).ok());
  BOOST_REQUIRE(store->Fetch("b", &g).ok());
  const double tau = EffectiveTau(Entropy(g), store->config().entropy.decay);
  const Micros t1 = t0 + static_cast<Micros>(3 * kDay * 1e6);
  Apply(t1);
  BOOST_TEST(last.applied == 1u);
  Identity after;
  BOOST_REQUIRE(store->Fetch("b", &after).ok());
  const double factor = std::exp(-3 * kDay / tau);
  const nlohmann::json& terms = after.meta["terms"];
  BOOST_TEST(terms[0]["intensity"].is_number_float());
  BOOST_TEST(Close(terms[0]["intensity"].get<double>(), factor));
  BOOST_TEST(Close(terms[1]["intensity"].get<double>(), 3.0 * factor));
  BOOST_TEST(terms[2]["intensity"].get<double>() == 0.0);
  BOOST_TEST(terms[3]["intensity"] == "2");
  BOOST_TEST(Close(Entropy(after), Entropy(g)));
  DecayVerificationReport report;
  BOOST_REQUIRE(verifier->Run(t1, &report).ok());
  BOOST_REQUIRE_MESSAGE(report.ok(), FailuresOf(report));
  BOOST_TEST(report.ledger_checked == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera::decay_test
