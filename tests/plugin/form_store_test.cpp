// FormStore on a real RocksDB: the echo forms beside the identities — store,
// replace, list, count, prune, remove by domain, decay, validation, reopen,
// metrics, and that the identities and their index are left alone.
#include "kimera/form_store.h"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "plugin_test_support.h"

namespace kimera {

// For Boost.Test's messages. Outside the unnamed namespace, where
// argument-dependent lookup finds it.
std::ostream& operator<<(std::ostream& out, const EchoFormRecord& form) {
  return out << FormToJson(form).dump() << " decay_applied_at " << form.decay_applied_at;
}

namespace {

constexpr Micros kSecond = 1'000'000;

EchoFormRecord Form(const std::string& anchor, const std::string& domain,
                    const std::vector<double>& intensities = {1.0, 2.0}) {
  EchoFormRecord form;
  form.anchor = anchor;
  form.domain = domain;
  form.phase = 0.25;
  nlohmann::json terms = nlohmann::json::array();
  double sum = 0;
  for (std::size_t i = 0; i < intensities.size(); ++i) {
    terms.push_back({{"term", test::Numbered("t", i)}, {"intensity", intensities[i]}});
    sum += intensities[i];
  }
  form.blob = {{"anchor", anchor}, {"terms", std::move(terms)}};
  form.intensity_sum = sum;
  return form;
}

// A store over RocksDB in a temporary folder, the plugin over it and the
// forms beside them, on a clock that moves only when told.
struct Fixture {
  Fixture() { Open(); }

  void Open() {
    auto rocks = test::OpenRocks(dir.str("data"), clock);
    RocksDbStore* records = rocks.get();
    store = test::Wrap(std::move(rocks), test::QuietConfig(), clock);
    const Status s = FormStore::Open(*records, *store, clock, &forms);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  void Reopen() {
    forms.reset();
    store.reset();
    Open();
  }

  void Put(const EchoFormRecord& form) const {
    const Status s = forms->Store(form);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  EchoFormRecord Get(const std::string& anchor) const {
    EchoFormRecord form;
    const Status s = forms->Fetch(anchor, &form);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    return form;
  }
  std::vector<std::string> Anchors(const std::optional<std::string>& domain,
                                   std::size_t limit = 100) const {
    std::vector<EchoFormRecord> listed;
    const Status s = forms->List(domain, limit, &listed);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    std::vector<std::string> out;
    for (const auto& form : listed) out.push_back(form.anchor);
    return out;
  }
  std::uint64_t CountOf(const std::optional<std::string>& domain) const {
    std::uint64_t n = 0;
    const Status s = forms->Count(domain, &n);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    return n;
  }

  test::TempDir dir;
  test::ManualClock clock;
  std::unique_ptr<EntropyStore> store;
  std::unique_ptr<FormStore> forms;
};

void RequireClose(double got, double want) {
  BOOST_TEST_CONTEXT("got " << got << ", want " << want) {
    BOOST_REQUIRE(std::fabs(got - want) <= 1e-12 * std::fabs(want));
  }
}

BOOST_AUTO_TEST_SUITE(form_store)

BOOST_FIXTURE_TEST_CASE(store_then_fetch_returns_the_form, Fixture) {
  const Micros now = clock();
  EchoFormRecord form = Form("a1", "cls", {0.5, 1.5});
  form.blob["nested"] = {{"list", {1, "two", nullptr, true}}};
  Put(form);
  const EchoFormRecord got = Get("a1");
  form.created_at = now;
  form.updated_at = now;
  BOOST_TEST(got == form);
  EchoFormRecord absent;
  const Status s = forms->Fetch("nope", &absent);
  BOOST_TEST(s.IsNotFound(), s.ToString());
}

BOOST_FIXTURE_TEST_CASE(replace_keeps_created_at_and_moves_updated_at, Fixture) {
  const Micros t0 = clock();
  Put(Form("a", "x", {1.0}));
  clock.Advance(10);
  EchoFormRecord again = Form("a", "y", {3.0});
  again.created_at = t0 + 5 * kSecond;  // Ignored: a replace keeps the first.
  Put(again);
  const EchoFormRecord got = Get("a");
  BOOST_TEST(got.created_at == t0);
  BOOST_TEST(got.updated_at == t0 + 10 * kSecond);
  BOOST_TEST(got.domain == "y");
  BOOST_TEST(got.blob == again.blob);
  // A created_at given on insert is used.
  EchoFormRecord given = Form("b", "x");
  given.created_at = t0 - 100 * kSecond;
  Put(given);
  BOOST_TEST(Get("b").created_at == t0 - 100 * kSecond);
  BOOST_TEST(Get("b").updated_at == t0 + 10 * kSecond);
}

BOOST_FIXTURE_TEST_CASE(lists_newest_first_and_by_domain, Fixture) {
  Put(Form("a", "x"));
  clock.Advance(1);
  Put(Form("b", "y"));
  clock.Advance(1);
  Put(Form("c", "x"));
  clock.Advance(1);
  Put(Form("a", "x"));  // Re-stored: newest again.
  using V = std::vector<std::string>;
  BOOST_TEST(Anchors(std::nullopt) == (V{"a", "c", "b"}), boost::test_tools::per_element());
  BOOST_TEST(Anchors(std::nullopt, 2) == (V{"a", "c"}), boost::test_tools::per_element());
  BOOST_TEST(Anchors(std::nullopt, 0).empty());
  BOOST_TEST(Anchors("x") == (V{"a", "c"}), boost::test_tools::per_element());
  BOOST_TEST(Anchors("y") == (V{"b"}), boost::test_tools::per_element());
  BOOST_TEST(Anchors("z").empty());
  // A domain that is a prefix of another lists only its own.
  Put(Form("d", "xx"));
  BOOST_TEST(Anchors("x") == (V{"a", "c"}), boost::test_tools::per_element());
  // Moving a form to another domain moves it between the lists.
  clock.Advance(1);
  Put(Form("c", "y"));
  BOOST_TEST(Anchors("x") == (V{"a"}), boost::test_tools::per_element());
  BOOST_TEST(Anchors("y") == (V{"c", "b"}), boost::test_tools::per_element());
  // Equal updated_at: by anchor.
  clock.Advance(1);
  Put(Form("q", "t"));
  Put(Form("p", "t"));
  BOOST_TEST(Anchors(std::nullopt, 3) == (V{"p", "q", "c"}), boost::test_tools::per_element());
  // A form listed is the whole form.
  std::vector<EchoFormRecord> listed;
  BOOST_REQUIRE(forms->List(std::string("y"), 1, &listed).ok());
  BOOST_REQUIRE_EQUAL(listed.size(), 1u);
  BOOST_TEST(listed[0] == Get("c"));
}

BOOST_FIXTURE_TEST_CASE(counts_by_domain, Fixture) {
  BOOST_TEST(CountOf(std::nullopt) == 0u);
  Put(Form("a", "x"));
  Put(Form("b", "x"));
  Put(Form("c", "y"));
  Put(Form("a", "x"));  // A replace adds nothing.
  BOOST_TEST(CountOf(std::nullopt) == 3u);
  BOOST_TEST(CountOf("x") == 2u);
  BOOST_TEST(CountOf("y") == 1u);
  BOOST_TEST(CountOf("none") == 0u);
  Put(Form("b", "y"));  // Moves domain.
  BOOST_TEST(CountOf("x") == 1u);
  BOOST_TEST(CountOf("y") == 2u);
  BOOST_TEST(CountOf(std::nullopt) == 3u);
}

BOOST_FIXTURE_TEST_CASE(prune_deletes_forms_created_before_the_cutoff, Fixture) {
  const Micros t0 = clock();
  for (int i = 0; i < 5; ++i) {
    Put(Form(test::Numbered("f", i), i % 2 ? "odd" : "even"));
    clock.Advance(1);
  }
  Put(Form("f0", "even"));  // Replaced now; still created at t0.
  std::uint64_t deleted = 99;
  BOOST_REQUIRE(forms->PruneCreatedBefore(t0 + 3 * kSecond, &deleted).ok());
  BOOST_TEST(deleted == 3u);  // f0, f1, f2; f3 was created at the cutoff.
  using V = std::vector<std::string>;
  BOOST_TEST(Anchors(std::nullopt) == (V{"f4", "f3"}), boost::test_tools::per_element());
  BOOST_TEST(CountOf(std::nullopt) == 2u);
  BOOST_TEST(CountOf("even") == 1u);
  BOOST_TEST(CountOf("odd") == 1u);
  EchoFormRecord gone;
  BOOST_TEST(forms->Fetch("f0", &gone).IsNotFound());
  BOOST_REQUIRE(forms->PruneCreatedBefore(t0 + 3 * kSecond, &deleted).ok());
  BOOST_TEST(deleted == 0u);
}

BOOST_FIXTURE_TEST_CASE(remove_domain_deletes_that_domain_only, Fixture) {
  for (int i = 0; i < 300; ++i) {  // More than one sweep chunk.
    Put(Form(test::Numbered("c", i), "cls"));
  }
  Put(Form("k1", "keep"));
  Put(Form("k2", "clsx"));
  std::uint64_t deleted = 0;
  BOOST_REQUIRE(forms->RemoveDomain("cls", &deleted).ok());
  BOOST_TEST(deleted == 300u);
  BOOST_TEST(CountOf("cls") == 0u);
  BOOST_TEST(CountOf(std::nullopt) == 2u);
  BOOST_TEST(Anchors("cls").empty());
  BOOST_TEST(Anchors(std::nullopt).size() == 2u);
  BOOST_REQUIRE(forms->RemoveDomain("cls", &deleted).ok());
  BOOST_TEST(deleted == 0u);
}

BOOST_AUTO_TEST_CASE(decay_never_compounds) {
  // The same forms in two stores: one decayed at t1 then t2, one at t2 only.
  const double tau = 3 * 86'400.0;
  Fixture twice;
  Fixture once;
  for (Fixture* f : {&twice, &once}) {
    f->Put(Form("a", "x", {1.0, 0.3, 7.25}));
    f->clock.Advance(3600);
    f->Put(Form("b", "x", {2.0}));
  }
  const Micros t0 = twice.clock() - 3600 * kSecond;
  const Micros t1 = t0 + 2 * 86'400 * kSecond;
  const Micros t2 = t0 + 5 * 86'400 * kSecond + 17;
  std::uint64_t updated = 0;
  BOOST_REQUIRE(twice.forms->Decay(tau, t1, &updated).ok());
  BOOST_TEST(updated == 2u);
  BOOST_REQUIRE(twice.forms->Decay(tau, t2, &updated).ok());
  BOOST_TEST(updated == 2u);
  BOOST_REQUIRE(once.forms->Decay(tau, t2, &updated).ok());
  BOOST_TEST(updated == 2u);
  for (const char* anchor : {"a", "b"}) {
    const EchoFormRecord a = twice.Get(anchor);
    const EchoFormRecord b = once.Get(anchor);
    BOOST_TEST(a.decay_applied_at == t2);
    BOOST_TEST(b.decay_applied_at == t2);
    RequireClose(a.intensity_sum, b.intensity_sum);
    const auto& ta = a.blob["terms"];
    const auto& tb = b.blob["terms"];
    BOOST_REQUIRE_EQUAL(ta.size(), tb.size());
    for (std::size_t i = 0; i < ta.size(); ++i) {
      RequireClose(ta[i]["intensity"].get<double>(), tb[i]["intensity"].get<double>());
    }
  }
  // And both equal the formula, from created_at.
  const double factor = std::exp(-static_cast<double>(t2 - t0) / 1e6 / tau);
  RequireClose(twice.Get("a").blob["terms"][2]["intensity"].get<double>(), 7.25 * factor);
  RequireClose(twice.Get("a").intensity_sum, (1.0 + 0.3 + 7.25) * factor);
}

BOOST_FIXTURE_TEST_CASE(a_form_stored_back_through_json_keeps_its_last_decay, Fixture) {
  // A host fetches a decayed form (the JSON carries no decay time), edits
  // nothing and stores it back; the next decay must count from the last one.
  const double tau = 86'400.0;
  Put(Form("a", "x", {4.0}));
  const Micros t0 = clock();
  std::uint64_t updated = 0;
  BOOST_REQUIRE(forms->Decay(tau, t0 + 86'400 * kSecond, &updated).ok());
  EchoFormRecord back;
  BOOST_REQUIRE(FormFromJson(FormToJson(Get("a")), &back).ok());
  BOOST_TEST(back.decay_applied_at == 0);
  Put(back);
  BOOST_REQUIRE(forms->Decay(tau, t0 + 2 * 86'400 * kSecond, &updated).ok());
  RequireClose(Get("a").blob["terms"][0]["intensity"].get<double>(), 4.0 * std::exp(-2.0));
}

BOOST_FIXTURE_TEST_CASE(decay_scales_boolean_and_number_intensities_and_the_sum, Fixture) {
  EchoFormRecord form = Form("a", "x", {});
  form.blob["terms"] = nlohmann::json::parse(R"([
    {"intensity": true}, {"intensity": false}, {"intensity": 2}, {"intensity": 2.5},
    {"intensity": "high"}, {"intensity": null}, {"weight": 1}, "bare"])");
  form.intensity_sum = 5.5;
  form.blob["other"] = {{"intensity", 4}};  // Not a term: left alone.
  const Micros stored_at = clock();
  Put(form);
  const Micros now = clock() + 86'400 * kSecond;
  std::uint64_t updated = 0;
  BOOST_REQUIRE(forms->Decay(86'400.0, now, &updated).ok());
  BOOST_TEST(updated == 1u);
  const double f = std::exp(-1.0);
  const EchoFormRecord got = Get("a");
  const auto& terms = got.blob["terms"];
  RequireClose(terms[0]["intensity"].get<double>(), f);
  BOOST_TEST(terms[1]["intensity"].is_number());
  BOOST_TEST(terms[1]["intensity"].get<double>() == 0.0);
  RequireClose(terms[2]["intensity"].get<double>(), 2 * f);
  RequireClose(terms[3]["intensity"].get<double>(), 2.5 * f);
  BOOST_TEST(terms[4]["intensity"] == "high");
  BOOST_TEST(terms[5]["intensity"].is_null());
  BOOST_TEST(terms[6] == form.blob["terms"][6]);
  BOOST_TEST(terms[7] == "bare");
  BOOST_TEST(got.blob["other"] == form.blob["other"]);
  RequireClose(got.intensity_sum, 5.5 * f);
  BOOST_TEST(got.decay_applied_at == now);
  BOOST_TEST(got.updated_at == stored_at);  // Decay does not move it.
  // Again at the same time: nothing to do.
  BOOST_REQUIRE(forms->Decay(86'400.0, now, &updated).ok());
  BOOST_TEST(updated == 0u);
  BOOST_TEST(Get("a") == got);
  for (double tau : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    const Status s = forms->Decay(tau, now + kSecond, &updated);
    BOOST_TEST(s.IsInvalidArgument(), "tau " << tau << ": " << s.ToString());
    BOOST_TEST(s.message().find("tau_seconds") != std::string::npos);
  }
  BOOST_TEST(Get("a") == got);
}

BOOST_FIXTURE_TEST_CASE(invalid_input_names_field_and_anchor_and_writes_nothing, Fixture) {
  struct Case {
    const char* name;
    std::function<void(EchoFormRecord*)> spoil;
    std::string field;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  nlohmann::json deep = nlohmann::json::object();
  for (int i = 0; i < 100; ++i) deep = nlohmann::json{{"n", std::move(deep)}};
  const std::vector<Case> cases = {
      {"empty anchor", [](EchoFormRecord* f) { f->anchor.clear(); }, "'anchor'"},
      {"long anchor", [](EchoFormRecord* f) { f->anchor = "bad" + std::string(1022, 'a'); },
       "'anchor'"},
      {"anchor not UTF-8", [](EchoFormRecord* f) { f->anchor = "bad\xff"; }, "'anchor'"},
      {"domain not UTF-8", [](EchoFormRecord* f) { f->domain.assign(1, static_cast<char>(0xC3)); },
       "'domain'"},
      {"phase NaN", [=](EchoFormRecord* f) { f->phase = nan; }, "'phase'"},
      {"intensity_sum inf",
       [](EchoFormRecord* f) { f->intensity_sum = std::numeric_limits<double>::infinity(); },
       "'intensity_sum'"},
      {"blob an array", [](EchoFormRecord* f) { f->blob = nlohmann::json::array(); }, "'blob'"},
      {"term intensity NaN", [=](EchoFormRecord* f) { f->blob["terms"][1]["intensity"] = nan; },
       "'blob.terms[1].intensity'"},
      {"blob string not UTF-8", [](EchoFormRecord* f) { f->blob["s"] = "\xfe"; }, "'blob.s'"},
      {"blob too deep", [&](EchoFormRecord* f) { f->blob["deep"] = deep; }, "'blob.deep.n.n"},
      {"blob too large",
       [](EchoFormRecord* f) { f->blob["big"] = std::string(kMaxRecordBytes, 'x'); }, "'blob'"},
  };
  // A good form stays as it was when a bad one would replace it.
  const EchoFormRecord good = Form("bad", "d");
  Put(good);
  const EchoFormRecord stored = Get("bad");
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      EchoFormRecord form = Form("bad", "d2", {1.0, 2.0});
      c.spoil(&form);
      const Status s = forms->Store(form);
      BOOST_TEST(s.IsInvalidArgument(), s.ToString());
      BOOST_TEST(s.message().find(c.field) != std::string::npos, s.message());
      if (!form.anchor.empty()) BOOST_TEST(s.message().find("'bad") != std::string::npos);
      BOOST_TEST(Get("bad") == stored);
      BOOST_TEST(CountOf(std::nullopt) == 1u);
      BOOST_TEST(CountOf("d2") == 0u);
    }
  }
  BOOST_TEST(Anchors(std::nullopt).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(forms_survive_reopen, Fixture) {
  Put(Form("a", "x", {1.0, 2.0}));
  clock.Advance(5);
  Put(Form("b", "y", {3.0}));
  std::uint64_t updated = 0;
  BOOST_REQUIRE(forms->Decay(100.0, clock() + kSecond, &updated).ok());
  const EchoFormRecord a = Get("a");
  const EchoFormRecord b = Get("b");
  Reopen();
  BOOST_TEST(Get("a") == a);
  BOOST_TEST(Get("b") == b);
  BOOST_TEST(CountOf(std::nullopt) == 2u);
  BOOST_TEST(CountOf("x") == 1u);
  using V = std::vector<std::string>;
  BOOST_TEST(Anchors(std::nullopt) == (V{"b", "a"}), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(metrics_count_every_form_call, Fixture) {
  Put(Form("a", "x"));
  Put(Form("b", "x"));
  EchoFormRecord form;
  BOOST_REQUIRE(forms->Fetch("a", &form).ok());
  BOOST_REQUIRE(forms->Fetch("missing", &form).IsNotFound());
  std::vector<EchoFormRecord> listed;
  BOOST_REQUIRE(forms->List(std::nullopt, 10, &listed).ok());
  std::uint64_t n = 0;
  BOOST_REQUIRE(forms->Count(std::nullopt, &n).ok());
  BOOST_REQUIRE(forms->PruneCreatedBefore(0, &n).ok());
  BOOST_REQUIRE(forms->RemoveDomain("x", &n).ok());
  BOOST_REQUIRE(forms->Decay(10.0, clock(), &n).ok());
  BOOST_REQUIRE(forms->Store(EchoFormRecord{}).IsInvalidArgument());
  const auto samples = test::ParseSamples(store->MetricsText());
  const std::map<std::string, double> want = {{"form_store", 3}, {"form_fetch", 2},
                                              {"form_list", 1},  {"form_count", 1},
                                              {"form_prune", 2}, {"form_decay", 1}};
  for (const auto& [op, count] : want) {
    BOOST_TEST_CONTEXT(op) {
      BOOST_TEST(test::SampleValue(samples, "kimera_storage_operations_duration_seconds_count",
                                   {{"operation_type", op}}) == count);
    }
  }
  BOOST_TEST(test::SampleValue(samples, "kimera_identity_operations_total",
                               {{"operation_type", "form_store"}, {"identity_type", "other"}}) ==
             2);
  BOOST_TEST(
      test::SampleValue(samples, "kimera_storage_errors_total",
                        {{"operation_type", "form_store"}, {"reason", "invalid_argument"}}) == 1);
  // The identities' own operations saw none of it.
  BOOST_TEST(test::SampleValue(samples, "kimera_storage_operations_duration_seconds_count",
                               {{"operation_type", "store"}}) == 0);
}

BOOST_FIXTURE_TEST_CASE(forms_leave_identities_and_their_index_alone, Fixture) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 40; ++i) {
    const Status s = store->Store(test::RandomIdentity(test::Numbered("id", i), rng));
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  const auto before = test::BruteForce(*store);
  for (int i = 0; i < 50; ++i) Put(Form(test::Numbered("id", i), i % 3 ? "a" : "cls"));
  std::uint64_t n = 0;
  BOOST_REQUIRE(forms->Decay(3600.0, clock() + 600 * kSecond, &n).ok());
  BOOST_REQUIRE(forms->RemoveDomain("cls", &n).ok());
  BOOST_REQUIRE(forms->PruneCreatedBefore(clock() + 1, &n).ok());
  BOOST_TEST(n == 33u);
  BOOST_TEST(store->StoredCount() == 40u);
  BOOST_REQUIRE(store->Count(std::nullopt, &n).ok());
  BOOST_TEST(n == 40u);
  const auto after = test::BruteForce(*store);
  BOOST_REQUIRE_EQUAL(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    BOOST_TEST(after[i].id == before[i].id);
    BOOST_TEST(after[i].entropy == before[i].entropy);
  }
  test::RequireIndexExact(*store);
}

BOOST_FIXTURE_TEST_CASE(random_operations_keep_lists_and_counts_exact, Fixture) {
  // A model of what is stored: anchor -> (domain, updated_at, created_at).
  struct Row {
    std::string domain;
    Micros updated_at;
    Micros created_at;
  };
  std::map<std::string, Row> model;
  std::mt19937_64 rng(5);
  const std::vector<std::string> domains = {"", "a", "ab", "b", "cls"};
  for (int step = 0; step < 600; ++step) {
    const int op = static_cast<int>(rng() % 20);
    const std::string anchor = test::Numbered("k", rng() % 60);
    const std::string domain = domains[rng() % domains.size()];
    if (rng() % 3 == 0) clock.Advance(1);
    if (op < 15) {
      Put(Form(anchor, domain));
      auto it = model.find(anchor);
      const Micros created = it == model.end() ? clock() : it->second.created_at;
      model[anchor] = {domain, clock(), created};
    } else if (op < 17) {
      std::uint64_t n = 0;
      BOOST_REQUIRE(forms->RemoveDomain(domain, &n).ok());
      const auto removed =
          std::erase_if(model, [&](const auto& kv) { return kv.second.domain == domain; });
      BOOST_REQUIRE_EQUAL(n, removed);
    } else if (op < 18) {
      const Micros cutoff = clock() - static_cast<Micros>(rng() % 40) * kSecond;
      std::uint64_t n = 0;
      BOOST_REQUIRE(forms->PruneCreatedBefore(cutoff, &n).ok());
      const auto removed =
          std::erase_if(model, [&](const auto& kv) { return kv.second.created_at < cutoff; });
      BOOST_REQUIRE_EQUAL(n, removed);
    } else {
      std::uint64_t n = 0;
      BOOST_REQUIRE(forms->Decay(1000.0, clock(), &n).ok());
    }
  }
  for (const std::optional<std::string>& domain :
       std::vector<std::optional<std::string>>{std::nullopt, "", "a", "ab", "b", "cls"}) {
    std::vector<std::pair<Micros, std::string>> want;
    for (const auto& [anchor, row] : model) {
      if (!domain || row.domain == *domain) want.emplace_back(-row.updated_at, anchor);
    }
    std::sort(want.begin(), want.end());
    std::vector<std::string> want_anchors;
    for (const auto& w : want) want_anchors.push_back(w.second);
    BOOST_TEST_CONTEXT("domain " << domain.value_or("(all)")) {
      BOOST_TEST(Anchors(domain, 1000) == want_anchors, boost::test_tools::per_element());
      BOOST_TEST(CountOf(domain) == want_anchors.size());
    }
  }
}

BOOST_FIXTURE_TEST_CASE(a_store_racing_decays_and_prunes_loses_nothing, Fixture) {
  constexpr int kWriters = 3;
  constexpr int kPerWriter = 200;
  constexpr int kSlots = 50;
  // Boost.Test's checks are not thread-safe: the threads count failures.
  constexpr int kOld = 40;
  // Old forms the prunes race the writers for; the writers' forms are new.
  for (int i = 0; i < kOld; ++i) {
    EchoFormRecord old = Form(test::Numbered("old", i), "old", {1.0});
    old.created_at = kSecond;
    BOOST_REQUIRE(forms->Store(old).ok());
  }
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::uint64_t pruned = 0;
  std::thread sweeper([&] {
    std::uint64_t n = 0;
    Micros now = clock();
    while (!done.load()) {
      now += kSecond;
      if (!forms->Decay(1e9, now, &n).ok()) ++failures;
      if (!forms->PruneCreatedBefore(2 * kSecond, &n).ok()) ++failures;
      pruned += n;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const EchoFormRecord form = Form(test::Numbered("w", w * kPerWriter + i % kSlots),
                                         i % 2 ? "odd" : "even", {1.0 + i});
        if (!forms->Store(form).ok()) ++failures;
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  sweeper.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(pruned == static_cast<std::uint64_t>(kOld));  // Each old form once, no new one.
  BOOST_TEST(CountOf("old") == 0u);
  const std::uint64_t total = kWriters * kSlots;
  BOOST_TEST(CountOf(std::nullopt) == total);
  BOOST_TEST(Anchors(std::nullopt, 1000).size() == total);
  BOOST_TEST(CountOf("odd") + CountOf("even") == total);
  BOOST_TEST(Anchors("odd", 1000).size() == CountOf("odd"));
  // Each form holds its writer's last store, decayed a little: a decay that
  // wrote back what it read before a store would leave an older, smaller one.
  for (int w = 0; w < kWriters; ++w) {
    for (int slot = 0; slot < kSlots; ++slot) {
      const EchoFormRecord form = Get(test::Numbered("w", w * kPerWriter + slot));
      const double last = 1.0 + (kPerWriter - kSlots + slot);
      const double x = form.blob["terms"][0]["intensity"].get<double>();
      BOOST_TEST(x <= last);
      BOOST_TEST(x > last * 0.999);
    }
  }
}

BOOST_AUTO_TEST_CASE(json_round_trip_and_errors) {
  EchoFormRecord form = Form("j1", "cls", {0.5});
  form.created_at = 1'764'000'000'123'456;
  form.updated_at = 1'764'000'100'000'001;
  const nlohmann::json json = FormToJson(form);
  BOOST_TEST(json["created_at"].get<double>() == 1'764'000'000.123456);
  BOOST_TEST(json["anchor"] == "j1");
  BOOST_TEST(!json.contains("decay_applied_at"));
  EchoFormRecord back;
  BOOST_REQUIRE(FormFromJson(json, &back).ok());
  BOOST_TEST(back == form);
  // Parsed from text too.
  BOOST_REQUIRE(FormFromJson(nlohmann::json::parse(json.dump()), &back).ok());
  BOOST_TEST(back == form);

  nlohmann::json no_times = json;
  no_times.erase("created_at");
  no_times.erase("updated_at");
  BOOST_REQUIRE(FormFromJson(no_times, &back).ok());
  BOOST_TEST(back.created_at == 0);

  const std::vector<std::pair<std::function<void(nlohmann::json*)>, std::string>> bad = {
      {[](nlohmann::json* j) { j->erase("anchor"); }, "'anchor' is missing"},
      {[](nlohmann::json* j) { (*j)["anchor"] = 3; }, "'anchor' must be a string"},
      {[](nlohmann::json* j) { j->erase("blob"); }, "form 'j1': field 'blob' is missing"},
      {[](nlohmann::json* j) { (*j)["blob"] = "x"; }, "form 'j1': field 'blob' must be"},
      {[](nlohmann::json* j) { j->erase("domain"); }, "form 'j1': field 'domain'"},
      {[](nlohmann::json* j) { (*j)["phase"] = true; }, "form 'j1': field 'phase' must be"},
      {[](nlohmann::json* j) { j->erase("intensity_sum"); }, "form 'j1': field 'intensity_sum'"},
      {[](nlohmann::json* j) { (*j)["created_at"] = "2026"; }, "form 'j1': field 'created_at'"},
      {[](nlohmann::json* j) { (*j)["updated_at"] = 1e300; }, "form 'j1': field 'updated_at'"},
  };
  for (const auto& [spoil, want] : bad) {
    nlohmann::json j = json;
    spoil(&j);
    EchoFormRecord out = form;
    const Status s = FormFromJson(j, &out);
    BOOST_TEST(s.IsInvalidArgument(), s.ToString());
    BOOST_TEST(s.message().find(want) != std::string::npos, s.message() << " lacks " << want);
    BOOST_TEST(out == form);  // Untouched on error.
  }
  BOOST_TEST(FormFromJson(nlohmann::json::array(), &back).IsInvalidArgument());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
