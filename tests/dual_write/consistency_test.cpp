#include "kimera/consistency.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <set>

#include "audit_log.h"
#include "dual_write_test_support.h"
#include "kimera/dual_write_store.h"
#include "kimera/identity_json.h"
#include "legacy_format.h"
#include "rocksdb_database.h"

using kimera::CheckResult;
using kimera::DualWriteConfig;
using kimera::DualWriteStore;
using kimera::Identity;
using kimera::RocksDbStore;
using kimera::Status;
using kimera_test::Geoid;
using kimera_test::Id;
using kimera_test::Scar;
using kimera_test::TempDir;

namespace {

std::unique_ptr<DualWriteStore> OpenLegacy(const TempDir& dir, DualWriteConfig config = {}) {
  std::unique_ptr<RocksDbStore> primary;
  BOOST_REQUIRE(RocksDbStore::Open(dir.Sub("primary"), {}, &primary).ok());
  std::unique_ptr<kimera::SecondaryStore> secondary;
  config.enabled = true;
  BOOST_REQUIRE(kimera::OpenSecondary(config, &DatabaseOf(*primary), {}, &secondary).ok());
  std::unique_ptr<DualWriteStore> store;
  BOOST_REQUIRE(
      DualWriteStore::Open(std::move(primary), std::move(secondary), config, nullptr, &store).ok());
  store->Start();
  return store;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(consistency)

BOOST_AUTO_TEST_CASE(diff_names_each_changed_field) {
  Identity a = Geoid("g1");
  Identity b = a;
  b.weight = 2.5;
  b.raw = "other";
  auto diffs = kimera::DiffFields(a, b);
  BOOST_REQUIRE_EQUAL(diffs.size(), 2u);
  BOOST_CHECK_EQUAL(diffs[0].field, "raw");
  BOOST_CHECK_EQUAL(diffs[0].primary_value, "\"text\"");
  BOOST_CHECK_EQUAL(diffs[0].secondary_value, "\"other\"");
  BOOST_CHECK_EQUAL(diffs[1].field, "weight");
  BOOST_CHECK(kimera::CanonicalDigest(a) != kimera::CanonicalDigest(b));
  auto check = kimera::CompareSides("g1", &a, &b);
  BOOST_CHECK(check.result == CheckResult::kMismatch);
  BOOST_CHECK_EQUAL(check.entropy_drift, 0.0);
}

BOOST_AUTO_TEST_CASE(extra_keys_are_compared_as_one_field_and_take_no_part_in_drift) {
  Identity a = Geoid("g1");
  a.extra["content"] = "c";
  a.extra["metadata"] = {{"terms", {{{"intensity", 3}}}}};
  Identity b = a;
  b.extra.erase("content");
  auto diffs = kimera::DiffFields(a, b);
  BOOST_REQUIRE_EQUAL(diffs.size(), 1u);
  BOOST_CHECK_EQUAL(diffs[0].field, "extra");
  BOOST_CHECK_EQUAL(diffs[0].primary_value,
                    R"({"content":"c","metadata":{"terms":[{"intensity":3}]}})");
  BOOST_CHECK_EQUAL(diffs[0].secondary_value, R"({"metadata":{"terms":[{"intensity":3}]}})");
  // The digest covers them: a side that lost them is not passed unseen.
  BOOST_CHECK(kimera::CanonicalDigest(a) != kimera::CanonicalDigest(b));
  auto check = kimera::CompareSides("g1", &a, &b);
  BOOST_CHECK(check.result == CheckResult::kMismatch);
  BOOST_CHECK_EQUAL(check.entropy_drift, 0.0);

  // All of them lost: reported against {}.
  b.extra = nullptr;
  diffs = kimera::DiffFields(a, b);
  BOOST_REQUIRE_EQUAL(diffs.size(), 1u);
  BOOST_CHECK_EQUAL(diffs[0].secondary_value, "{}");
  BOOST_CHECK(kimera::CompareSides("g1", &a, &b).result == CheckResult::kMismatch);
}

BOOST_AUTO_TEST_CASE(no_extra_keys_leave_the_digest_of_the_11_fields) {
  Identity a = Geoid("g1");
  Identity b = a;
  b.extra = nlohmann::json::object();  // None, spelled {} rather than null.
  BOOST_CHECK_EQUAL(kimera::CanonicalDigest(a), kimera::CanonicalDigest(b));
  BOOST_CHECK(kimera::DiffFields(a, b).empty());
  BOOST_CHECK(kimera::CompareSides("g1", &a, &b).result == CheckResult::kConsistent);
}

BOOST_AUTO_TEST_CASE(entropy_drift_is_reported) {
  Identity a = Scar("s1", 1.0);
  Identity b = a;
  b.related_ids.push_back("g4");
  auto check = kimera::CompareSides("s1", &a, &b);
  BOOST_CHECK(check.result == CheckResult::kMismatch);
  BOOST_CHECK_CLOSE(check.entropy_drift, 2.0 - std::log2(3.0), 1e-9);
}

BOOST_AUTO_TEST_CASE(legacy_row_round_trips_the_projection) {
  for (const Identity& i : {Geoid("g1"), Scar("s1")}) {
    Identity stamped = i;
    stamped.created_at = 1'700'000'000'123'456;
    stamped.updated_at = 1'700'000'001'000'000;
    Identity back;
    BOOST_REQUIRE(
        kimera::DecodeLegacyRow(i.id, i.identity_type, kimera::EncodeLegacyRow(stamped), &back)
            .ok());
    BOOST_CHECK(back == kimera::ProjectToLegacy(stamped));
  }
}

BOOST_AUTO_TEST_CASE(sweep_finds_record_changed_behind_the_back_and_repair_fixes_it) {
  TempDir dir;
  auto store = OpenLegacy(dir);
  for (int i = 0; i < 50; ++i) BOOST_REQUIRE(store->Store(Geoid(Id("g", i))).ok());
  Identity changed;
  BOOST_REQUIRE(store->secondary().Get("g7", &changed).ok());
  changed.echo = "tampered";
  BOOST_REQUIRE(store->secondary().Put(changed).ok());

  kimera::SweepReport report;
  BOOST_REQUIRE(store->Sweep({}, &report).ok());
  BOOST_CHECK_EQUAL(report.visited, 50u);
  BOOST_REQUIRE_EQUAL(report.differences, 1u);
  BOOST_CHECK_EQUAL(report.listed[0].id, "g7");
  BOOST_CHECK(report.listed[0].result == CheckResult::kMismatch);
  BOOST_REQUIRE_EQUAL(report.listed[0].fields.size(), 1u);
  BOOST_CHECK_EQUAL(report.listed[0].fields[0].field, "echo");
  BOOST_CHECK_EQUAL(report.listed[0].fields[0].primary_value, "\"echo of text\"");
  BOOST_CHECK_EQUAL(report.listed[0].fields[0].secondary_value, "\"tampered\"");

  kimera::SweepOptions repair;
  repair.repair = true;
  BOOST_REQUIRE(store->Sweep(repair, &report).ok());
  BOOST_CHECK_EQUAL(report.repaired, 1u);
  BOOST_REQUIRE(store->Sweep(repair, &report).ok());
  BOOST_CHECK_EQUAL(report.differences, 0u);
  BOOST_CHECK_EQUAL(report.repaired, 0u);
}

BOOST_AUTO_TEST_CASE(sweep_finds_extra_keys_lost_by_the_legacy_secondary_and_repair_restores_them) {
  TempDir dir;
  auto store = OpenLegacy(dir);
  Identity g = Geoid("g1");
  g.extra["content"] = "legacy content";
  g.extra["metadata"] = {{"k", 1}};
  BOOST_REQUIRE(store->Store(g).ok());
  BOOST_REQUIRE(store->Store(Geoid("g2")).ok());
  Identity changed;
  BOOST_REQUIRE(store->secondary().Get("g1", &changed).ok());
  BOOST_REQUIRE(changed.extra == g.extra);
  changed.extra.erase("metadata");
  BOOST_REQUIRE(store->secondary().Put(changed).ok());

  kimera::SweepReport report;
  BOOST_REQUIRE(store->Sweep({}, &report).ok());
  BOOST_REQUIRE_EQUAL(report.differences, 1u);
  BOOST_CHECK_EQUAL(report.listed[0].id, "g1");
  BOOST_REQUIRE_EQUAL(report.listed[0].fields.size(), 1u);
  BOOST_CHECK_EQUAL(report.listed[0].fields[0].field, "extra");

  kimera::SweepOptions repair;
  repair.repair = true;
  BOOST_REQUIRE(store->Sweep(repair, &report).ok());
  BOOST_CHECK_EQUAL(report.repaired, 1u);
  BOOST_REQUIRE(store->secondary().Get("g1", &changed).ok());
  BOOST_CHECK(changed.extra == g.extra);
  BOOST_REQUIRE(store->Sweep({}, &report).ok());
  BOOST_CHECK_EQUAL(report.differences, 0u);
}

BOOST_AUTO_TEST_CASE(planted_faults_are_all_reported_and_nothing_else) {
  // 100,000 identities with 1,000 planted faults; KIMERA_DW_PLANT_N scales it.
  std::size_t n = 100000;
  if (const char* env = std::getenv("KIMERA_DW_PLANT_N")) n = std::stoul(env);
  const std::size_t faults = n / 100;
  TempDir dir;
  auto store = OpenLegacy(dir);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "id%07zu", i);
    BOOST_REQUIRE(store->Store(i % 3 == 0 ? Scar(id, 0.5) : Geoid(id, Id("t", i))).ok());
  }
  // kind -> expected field ("" for missing / extra).
  std::map<std::string, std::pair<CheckResult, std::string>> planted;
  kimera::SecondaryStore& sec = store->secondary();
  const std::size_t stride = n / faults;
  for (std::size_t k = 0; k < faults; ++k) {
    char id[32];
    std::snprintf(id, sizeof id, "id%07zu", k * stride + 1);  // Geoids and scars alike.
    Identity row;
    switch (k % 4) {
      case 0: {  // Changed field.
        BOOST_REQUIRE(sec.Get(id, &row).ok());
        const bool scar = row.identity_type == kimera::IdentityType::kScar;
        if (scar) {
          row.related_ids.push_back("zz");
        } else {
          row.lang_axis = "fr";
        }
        BOOST_REQUIRE(sec.Put(row).ok());
        planted[id] = {CheckResult::kMismatch, scar ? "related_ids" : "lang_axis"};
        break;
      }
      case 1:  // Missing record.
        BOOST_REQUIRE(sec.Delete(id).ok());
        planted[id] = {CheckResult::kMissingSecondary, ""};
        break;
      case 2: {  // Extra record (only in the secondary).
        Identity extra = Geoid(std::string(id) + "x");
        extra.created_at = extra.updated_at = 1'700'000'000'000'000;
        BOOST_REQUIRE(sec.Put(extra).ok());
        planted[extra.id] = {CheckResult::kMissingPrimary, ""};
        break;
      }
      case 3:  // Changed weight.
        BOOST_REQUIRE(sec.Get(id, &row).ok());
        row.weight += 0.25;
        BOOST_REQUIRE(sec.Put(row).ok());
        planted[id] = {CheckResult::kMismatch, "weight"};
        break;
    }
  }
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  kimera::SweepReport report;
  BOOST_REQUIRE(store->Sweep({}, &report).ok());
  BOOST_TEST_MESSAGE("planted " << faults << " faults in " << n << " identities: load "
                                << load_seconds << " s, sweep " << report.seconds << " s");
  BOOST_CHECK_EQUAL(report.differences, planted.size());
  BOOST_REQUIRE_EQUAL(report.listed.size(), planted.size());
  for (const kimera::IdCheck& c : report.listed) {
    auto it = planted.find(c.id);
    BOOST_REQUIRE_MESSAGE(it != planted.end(), "unexpected difference " << c.id);
    BOOST_CHECK_MESSAGE(c.result == it->second.first, c.id << " " << CheckResultName(c.result));
    if (!it->second.second.empty()) {
      BOOST_REQUIRE_EQUAL(c.fields.size(), 1u);
      BOOST_CHECK_EQUAL(c.fields[0].field, it->second.second);
    }
  }
  kimera::SweepOptions repair;
  repair.repair = true;
  BOOST_REQUIRE(store->Sweep(repair, &report).ok());
  BOOST_CHECK_EQUAL(report.repaired, planted.size());
  BOOST_REQUIRE(store->Sweep({}, &report).ok());
  BOOST_CHECK(report.clean());
}

BOOST_AUTO_TEST_CASE(sweep_during_writes_reports_no_false_difference) {
  TempDir dir;
  auto store = OpenLegacy(dir);
  for (int i = 0; i < 5000; ++i) BOOST_REQUIRE(store->Store(Geoid(Id("g", i))).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};  // Stores and removes that succeeded.
  std::atomic<int> failed{0};   // Any other result (a remove of an absent id is NotFound).
  std::string first_failure;    // Written by the writer only, read after join().
  std::thread writer([&] {
    auto count = [&](const Status& st) {
      if (st.ok()) {
        ++written;
      } else if (!st.IsNotFound() && failed++ == 0) {
        first_failure = st.ToString();
      }
    };
    for (int i = 0; !stop; ++i) {
      count(store->Store(Geoid(Id("g", i % 6000), Id("v", i))));
      if (i % 7 == 0) count(store->Remove(Id("g", (i * 13) % 6000)));
    }
  });
  // Let the writer get going, so the verification runs against a moving store.
  while (written.load() < 100 && failed.load() == 0) std::this_thread::yield();
  kimera::SweepReport report;
  const int before = written.load();
  Status s = store->VerifyUntilClean(5, {}, &report);
  const int during = written.load() - before;
  stop = true;
  writer.join();
  BOOST_REQUIRE(s.ok());
  BOOST_CHECK_MESSAGE(report.clean(), report.differences << " differences");
  BOOST_TEST(failed.load() == 0, first_failure);
  BOOST_TEST(during > 0, "the writer made no progress while VerifyUntilClean ran");
  BOOST_TEST_MESSAGE("writes during VerifyUntilClean: " << during);
}

BOOST_AUTO_TEST_CASE(cleanup_refused_until_off_and_clean_sweep_after_switch) {
  TempDir dir;
  DualWriteConfig config;
  {
    auto store = OpenLegacy(dir, config);
    BOOST_REQUIRE(store->Store(Geoid("g1")).ok());
  }
  std::unique_ptr<RocksDbStore> primary;
  config.enabled = true;
  {
    BOOST_REQUIRE(RocksDbStore::Open(dir.Sub("primary"), {}, &primary).ok());
    Status s = DualWriteStore::Cleanup(&DatabaseOf(*primary), config);
    BOOST_CHECK(s.IsInvalidArgument());
    BOOST_CHECK(s.message().find("dual-write is on") != std::string::npos);
    config.enabled = false;
    s = DualWriteStore::Cleanup(&DatabaseOf(*primary), config);
    BOOST_CHECK(s.message().find("no full sweep") != std::string::npos);
    primary.reset();
  }
  {
    auto store = OpenLegacy(dir, config);
    kimera::SweepReport report;
    BOOST_REQUIRE(store->Sweep({}, &report).ok());
  }
  // Cut over to the secondary: the clean sweep now predates the switch.
  config.read_from = kimera::ReadSource::kSecondary;
  {
    auto store = OpenLegacy(dir, config);
    Identity g;
    BOOST_REQUIRE(store->Fetch("g1", &g).ok());
  }
  config.enabled = false;
  {
    BOOST_REQUIRE(RocksDbStore::Open(dir.Sub("primary"), {}, &primary).ok());
    Status s = DualWriteStore::Cleanup(&DatabaseOf(*primary), config);
    BOOST_CHECK(s.message().find("before the last switch") != std::string::npos);
    primary.reset();
  }
  {
    auto store = OpenLegacy(dir, config);
    kimera::SweepReport report;
    BOOST_REQUIRE(store->Sweep({}, &report).ok());
    BOOST_CHECK(report.clean());
  }
  BOOST_REQUIRE(RocksDbStore::Open(dir.Sub("primary"), {}, &primary).ok());
  Status s = DualWriteStore::Cleanup(&DatabaseOf(*primary), config);
  BOOST_CHECK_MESSAGE(s.ok(), s.ToString());
  BOOST_CHECK(!DatabaseOf(*primary).HasColumnFamily(kimera::kLegacyGeoidsColumnFamily));
  BOOST_CHECK(!DatabaseOf(*primary).HasColumnFamily(kimera::kAuditColumnFamily));
}

BOOST_AUTO_TEST_SUITE_END()
