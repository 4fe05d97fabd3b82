#include "kimera/dual_write_store.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>
#include <thread>
#include <utility>

#include "../test_time_scale.h"
#include "dual_write_test_support.h"
#include "legacy_format.h"
#include "rocksdb_database.h"

using kimera::DualWriteConfig;
using kimera::DualWriteMode;
using kimera::DualWriteStore;
using kimera::Identity;
using kimera::RocksDbStore;
using kimera::Status;
using kimera_test::Faults;
using kimera_test::FaultySecondary;
using kimera_test::Geoid;
using kimera_test::Id;
using kimera_test::Scar;
using kimera_test::TempDir;

namespace {

struct Harness {
  std::shared_ptr<Faults> faults = std::make_shared<Faults>();
  prometheus::Registry registry;
  std::unique_ptr<DualWriteStore> store;

  // `second_db` empty: the legacy column families of the primary.
  Harness(const TempDir& dir, DualWriteConfig config, const std::string& second_db = "",
          const std::string& format = "legacy", kimera::RocksDbOptions options = {}) {
    std::unique_ptr<RocksDbStore> primary;
    BOOST_REQUIRE(RocksDbStore::Open(dir.Sub("primary"), options, &primary).ok());
    if (!second_db.empty()) {
      config.secondary = second_db;
      config.secondary_format = format;
    }
    std::unique_ptr<kimera::SecondaryStore> real;
    BOOST_REQUIRE(kimera::OpenSecondary(config, &DatabaseOf(*primary), options, &real).ok());
    auto faulty = std::make_unique<FaultySecondary>(std::move(real), faults);
    Status s =
        DualWriteStore::Open(std::move(primary), std::move(faulty), config, &registry, &store);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    store->Start();
  }

  bool SecondaryHas(const std::string& id, Identity* out = nullptr) {
    Identity tmp;
    Status s = store->secondary().Get(id, out ? out : &tmp);
    return s.ok();
  }

  // The primary's and the secondary's record of `id`; both must exist.
  std::pair<Identity, Identity> BothSides(const std::string& id) {
    std::pair<Identity, Identity> sides;
    BOOST_REQUIRE(store->Fetch(id, &sides.first).ok());
    BOOST_REQUIRE(SecondaryHas(id, &sides.second));
    return sides;
  }

  std::string Metrics() { return prometheus::TextSerializer().Serialize(registry.Collect()); }
};

// Ids waiting in the intent journal of `store`'s primary.
std::uint64_t JournalEntries(DualWriteStore& store) {
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  BOOST_REQUIRE(DatabaseOf(store.primary()).ColumnFamily(kimera::kJournalColumnFamily, &cf).ok());
  std::unique_ptr<rocksdb::Iterator> it(
      DatabaseOf(store.primary()).db()->NewIterator(rocksdb::ReadOptions(), cf));
  std::uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  BOOST_REQUIRE(it->status().ok());
  return n;
}

// The value of the shadow-read counter of `result` in the exposition `text`.
double ShadowReads(const std::string& text, const std::string& result) {
  const std::string series = "kimera_dual_write_shadow_reads_total{result=\"" + result + "\"} ";
  const std::size_t at = text.find(series);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, series);
  return std::stod(text.substr(at + series.size()));
}

DualWriteConfig Config(DualWriteMode mode) {
  DualWriteConfig c;
  c.enabled = true;
  c.mode = mode;
  c.repair_retry_initial_ms = 5;
  c.repair_retry_max_ms = 50;
  return c;
}

// The secondary kinds, as the harness opens them.
struct SecondaryKind {
  const char* name;
  bool second_db;
  const char* format;
};
constexpr SecondaryKind kSecondaryKinds[] = {{"legacy column families", false, "legacy"},
                                             {"second database, legacy format", true, "legacy"},
                                             {"second database, current format", true, "current"}};

std::string SecondFolder(const TempDir& dir, const SecondaryKind& kind) {
  return kind.second_db ? dir.Sub("second") : "";
}

// Checks the secondary's counts in Stats, and that a re-count agrees.
// A sweep of every id finds the sides equal.
void CheckSweepClean(DualWriteStore& store) {
  kimera::SweepReport report;
  BOOST_REQUIRE(store.Sweep({}, &report).ok());
  BOOST_CHECK_MESSAGE(report.clean(), report.differences << " differences");
}

void CheckSecondaryCounts(DualWriteStore& store, std::uint64_t geoids, std::uint64_t scars) {
  kimera::DualWriteStats stats;
  BOOST_REQUIRE(store.Stats(0, &stats).ok());
  BOOST_CHECK_EQUAL(stats.secondary_geoids, geoids);
  BOOST_CHECK_EQUAL(stats.secondary_scars, scars);
  BOOST_CHECK_EQUAL(stats.secondary_count, geoids + scars);
  kimera::SecondaryCountCheck check;
  BOOST_REQUIRE(store.secondary().CheckCounts(false, &check).ok());
  BOOST_CHECK_MESSAGE(check.exact(), "drift " << check.geoids_drift << " geoids, "
                                              << check.scars_drift << " scars");
}

// The primary's identities of `type`.
std::uint64_t PrimaryCount(DualWriteStore& store, kimera::IdentityType type) {
  std::uint64_t n = 0;
  BOOST_REQUIRE(store.primary().Count(type, &n).ok());
  return n;
}

bool WaitFor(const std::function<bool()>& done, double seconds = 5) {
  const auto deadline = std::chrono::steady_clock::now() + kimera::testing::Scaled(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dual_write_store)

BOOST_AUTO_TEST_CASE(legacy_write_lands_in_both_sides_with_same_fields) {
  TempDir dir;
  Harness h(dir, Config(DualWriteMode::kStrict));
  BOOST_REQUIRE(h.store->Store(Geoid("g1")).ok());
  BOOST_REQUIRE(h.store->Store(Scar("s1")).ok());
  Identity p, q;
  BOOST_REQUIRE(h.store->Fetch("g1", &p).ok());
  BOOST_REQUIRE(h.SecondaryHas("g1", &q));
  BOOST_CHECK(kimera::ProjectToLegacy(p) == q);
  BOOST_REQUIRE(h.store->Fetch("s1", &p).ok());
  BOOST_REQUIRE(h.SecondaryHas("s1", &q));
  BOOST_CHECK(kimera::ProjectToLegacy(p) == q);
  BOOST_REQUIRE(h.store->Remove("g1").ok());
  BOOST_CHECK(!h.SecondaryHas("g1"));
  kimera::IdCheck check;
  BOOST_REQUIRE(h.store->CheckId("s1", &check).ok());
  BOOST_CHECK(check.result == kimera::CheckResult::kConsistent);
}

BOOST_AUTO_TEST_CASE(extra_keys_land_in_every_kind_of_secondary) {
  for (const SecondaryKind& kind : kSecondaryKinds) {
    BOOST_TEST_CONTEXT(kind.name) {
      TempDir dir;
      Harness h(dir, Config(DualWriteMode::kStrict), SecondFolder(dir, kind), kind.format);
      Identity g = Geoid("g1");
      g.extra["content"] = "legacy content";
      g.extra["metadata"] = {{"source", "reference"}, {"n", {1, 2.5, nullptr}}};
      Identity s = Scar("s1");
      s.extra["metadata"] = {{"links", true}};
      BOOST_REQUIRE(h.store->Store(g).ok());
      BOOST_REQUIRE(h.store->Store(s).ok());
      for (const Identity& want : {g, s}) {
        const auto [p, q] = h.BothSides(want.id);
        BOOST_CHECK(p.extra == want.extra);
        BOOST_CHECK(q.extra == want.extra);
        BOOST_CHECK(h.store->secondary().Project(p) == q);
        kimera::IdCheck check;
        BOOST_REQUIRE(h.store->CheckId(want.id, &check).ok());
        BOOST_CHECK(check.result == kimera::CheckResult::kConsistent);
      }
      // A replacement without extra keys drops them on both sides.
      BOOST_REQUIRE(h.store->Store(Geoid("g1")).ok());
      const auto [p, q] = h.BothSides("g1");
      BOOST_CHECK(p.extra.empty());
      BOOST_CHECK(q.extra.empty());
      kimera::SweepReport report;
      BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
      BOOST_CHECK_EQUAL(report.differences, 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(legacy_type_change_moves_the_row_to_the_other_table) {
  TempDir dir;
  Harness h(dir, Config(DualWriteMode::kStrict));
  BOOST_REQUIRE(h.store->Store(Geoid("x")).ok());
  BOOST_REQUIRE(h.store->Store(Geoid("x", "again")).ok());
  BOOST_REQUIRE(h.store->Store(Scar("x")).ok());
  Identity q;
  BOOST_REQUIRE(h.SecondaryHas("x", &q));
  BOOST_CHECK(q.identity_type == kimera::IdentityType::kScar);
  CheckSecondaryCounts(*h.store, 0, 1);
  BOOST_REQUIRE(h.store->Store(Geoid("x", "back")).ok());
  BOOST_REQUIRE(h.SecondaryHas("x", &q));
  BOOST_CHECK(q.identity_type == kimera::IdentityType::kGeoid);
  BOOST_CHECK_EQUAL(q.raw, "back");
  CheckSecondaryCounts(*h.store, 1, 0);
  BOOST_REQUIRE(h.store->Remove("x").ok());
  CheckSecondaryCounts(*h.store, 0, 0);
  kimera::SweepReport report;
  BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
  BOOST_CHECK(report.clean());
}

BOOST_AUTO_TEST_CASE(strict_legacy_failure_returns_error_and_changes_nothing) {
  TempDir dir;
  Harness h(dir, Config(DualWriteMode::kStrict));
  BOOST_REQUIRE(h.store->Store(Geoid("g1", "first")).ok());
  Identity before_p, before_q;
  BOOST_REQUIRE(h.store->Fetch("g1", &before_p).ok());
  BOOST_REQUIRE(h.SecondaryHas("g1", &before_q));
  h.faults->fail_every_nth_write = 1;
  Status s = h.store->Store(Geoid("g1", "second"));
  BOOST_CHECK(s.IsAborted());
  BOOST_CHECK(!h.store->Store(Geoid("g2")).ok());
  Identity after_p, after_q;
  BOOST_REQUIRE(h.store->Fetch("g1", &after_p).ok());
  BOOST_REQUIRE(h.SecondaryHas("g1", &after_q));
  BOOST_CHECK(before_p == after_p);
  BOOST_CHECK(before_q == after_q);
  BOOST_CHECK(h.store->Fetch("g2", &after_p).IsNotFound());
  BOOST_CHECK(!h.SecondaryHas("g2"));
  BOOST_CHECK_EQUAL(h.store->repair_backlog(), 0u);
}

BOOST_AUTO_TEST_CASE(store_many_lands_on_both_sides_with_exact_counts) {
  for (const SecondaryKind& kind : kSecondaryKinds) {
    BOOST_TEST_CONTEXT(kind.name) {
      TempDir dir;
      Harness h(dir, Config(DualWriteMode::kStrict), SecondFolder(dir, kind), kind.format);
      for (int i = 0; i < 10; ++i) BOOST_REQUIRE(h.store->Store(Geoid(Id("g", i))).ok());
      // The most one call takes; two stored geoids become scars on the way.
      std::vector<Identity> batch;
      for (int i = 0; i < 2; ++i) batch.push_back(Scar(Id("g", i)));
      for (int i = 10; batch.size() < kimera::kMaxStoreMany; ++i) {
        batch.push_back(i % 4 == 0 ? Scar(Id("s", i)) : Geoid(Id("g", i)));
      }
      std::size_t stored = 0;
      const Status s = h.store->StoreMany(batch, &stored);
      BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
      BOOST_CHECK_EQUAL(stored, batch.size());
      const std::uint64_t scars = PrimaryCount(*h.store, kimera::IdentityType::kScar);
      const std::uint64_t geoids = PrimaryCount(*h.store, kimera::IdentityType::kGeoid);
      BOOST_CHECK_EQUAL(geoids + scars, batch.size() + 8);
      CheckSecondaryCounts(*h.store, geoids, scars);
      Identity p, q;
      BOOST_REQUIRE(h.store->Fetch("g0", &p).ok());
      BOOST_REQUIRE(h.SecondaryHas("g0", &q));
      BOOST_CHECK(p.identity_type == kimera::IdentityType::kScar);
      BOOST_CHECK(kimera::ProjectToLegacy(p) == q);
      kimera::SweepReport report;
      BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
      BOOST_CHECK(report.clean());
    }
  }
}

BOOST_AUTO_TEST_CASE(strict_legacy_store_many_failure_writes_nothing_on_either_side) {
  TempDir dir;
  Harness h(dir, Config(DualWriteMode::kStrict));
  BOOST_REQUIRE(h.store->Store(Geoid("g0", "first")).ok());
  h.faults->fail_every_nth_write = 3;
  std::size_t stored = 99;
  const Status s =
      h.store->StoreMany({Geoid("g0", "second"), Geoid("g1"), Scar("s2"), Geoid("g3")}, &stored);
  BOOST_CHECK_MESSAGE(s.IsAborted(), s.ToString());
  BOOST_CHECK_EQUAL(stored, 0u);
  Identity p;
  BOOST_REQUIRE(h.store->Fetch("g0", &p).ok());
  BOOST_CHECK_EQUAL(p.raw, "first");
  for (const char* id : {"g1", "s2", "g3"}) {
    BOOST_CHECK(h.store->Fetch(id, &p).IsNotFound());
    BOOST_CHECK(!h.SecondaryHas(id));
  }
  CheckSecondaryCounts(*h.store, 1, 0);
  BOOST_CHECK_EQUAL(h.store->repair_backlog(), 0u);
}

BOOST_AUTO_TEST_CASE(strict_second_database_failure_restores_primary) {
  TempDir dir;
  Harness h(dir, Config(DualWriteMode::kStrict), dir.Sub("second"), "current");
  BOOST_REQUIRE(h.store->Store(Geoid("g1", "first")).ok());
  Identity before_p, before_q;
  BOOST_REQUIRE(h.store->Fetch("g1", &before_p).ok());
  BOOST_REQUIRE(h.SecondaryHas("g1", &before_q));
  BOOST_CHECK(before_p == before_q);
  h.faults->fail_every_nth_write = 1;
  BOOST_CHECK(h.store->Store(Geoid("g1", "second")).IsAborted());
  BOOST_CHECK(h.store->Store(Geoid("g2")).IsAborted());
  BOOST_CHECK(h.store->Remove("g1").IsAborted());
  Identity after_p, after_q;
  BOOST_REQUIRE(h.store->Fetch("g1", &after_p).ok());
  BOOST_REQUIRE(h.SecondaryHas("g1", &after_q));
  BOOST_CHECK(before_p == after_p);
  BOOST_CHECK(before_q == after_q);
  BOOST_CHECK(h.store->Fetch("g2", &after_p).IsNotFound());
  kimera::SweepReport report;
  BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
  BOOST_CHECK(report.clean());
}

BOOST_AUTO_TEST_CASE(strict_second_database_failure_after_apply_restores_both_sides) {
  for (const char* format : {"legacy", "current"}) {
    BOOST_TEST_CONTEXT("format " << format) {
      TempDir dir;
      Harness h(dir, Config(DualWriteMode::kStrict), dir.Sub("second"), format);
      BOOST_REQUIRE(h.store->Store(Geoid("g1", "first")).ok());
      BOOST_REQUIRE(h.store->Store(Scar("s1")).ok());
      const auto g1 = h.BothSides("g1");
      const auto s1 = h.BothSides("s1");
      // Each write reaches the secondary, which then reports a failure.
      h.faults->Script({kimera_test::WriteFault::kApplyThenFail});
      BOOST_CHECK(h.store->Store(Geoid("g1", "second")).IsAborted());
      h.faults->Script({kimera_test::WriteFault::kApplyThenFail});
      BOOST_CHECK(h.store->Store(Geoid("g2")).IsAborted());
      h.faults->Script({kimera_test::WriteFault::kApplyThenFail});
      BOOST_CHECK(h.store->Remove("s1").IsAborted());
      h.faults->Script({kimera_test::WriteFault::kApplyThenFail});
      BOOST_CHECK(h.store->Store(Scar("g1")).IsAborted());
      BOOST_CHECK(h.BothSides("g1") == g1);
      BOOST_CHECK(h.BothSides("s1") == s1);
      Identity p;
      BOOST_CHECK(h.store->Fetch("g2", &p).IsNotFound());
      BOOST_CHECK(!h.SecondaryHas("g2"));
      // Unsynced writes: the entries wait for the sync that makes the
      // restores durable.
      BOOST_REQUIRE(h.store->Sync().ok());
      BOOST_CHECK_EQUAL(JournalEntries(*h.store), 0u);
      BOOST_CHECK_EQUAL(h.store->repair_backlog(), 0u);
      kimera::SweepReport report;
      BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
      BOOST_CHECK(report.clean());
      BOOST_CHECK_EQUAL(report.visited, 2u);
    }
  }
}

// A second database gets a StoreMany in one write after the primary's: when
// that write fails (here after it was applied), strict mode puts every
// identity of the group back on both sides.
BOOST_AUTO_TEST_CASE(strict_second_database_store_many_failure_leaves_none_on_either_side) {
  for (const char* format : {"legacy", "current"}) {
    BOOST_TEST_CONTEXT("format " << format) {
      TempDir dir;
      Harness h(dir, Config(DualWriteMode::kStrict), dir.Sub("second"), format);
      BOOST_REQUIRE(h.store->Store(Geoid("g0", "first")).ok());
      const auto g0 = h.BothSides("g0");
      h.faults->Script({kimera_test::WriteFault::kApplyThenFail});
      std::size_t stored = 99;
      const Status s =
          h.store->StoreMany({Scar("g0"), Geoid("g1"), Scar("s2"), Geoid("g3")}, &stored);
      BOOST_CHECK_MESSAGE(s.IsAborted(), s.ToString());
      BOOST_CHECK_MESSAGE(s.message().find("all 4 identities restored") != std::string::npos,
                          s.ToString());
      BOOST_CHECK_EQUAL(stored, 0u);
      BOOST_CHECK(h.BothSides("g0") == g0);
      for (const char* id : {"g1", "s2", "g3"}) {
        Identity p;
        BOOST_CHECK(h.store->Fetch(id, &p).IsNotFound());
        BOOST_CHECK(!h.SecondaryHas(id));
      }
      CheckSecondaryCounts(*h.store, 1, 0);
      BOOST_REQUIRE(h.store->Sync().ok());
      BOOST_CHECK_EQUAL(JournalEntries(*h.store), 0u);
      BOOST_CHECK_EQUAL(h.store->repair_backlog(), 0u);
      CheckSweepClean(*h.store);
    }
  }
}

// Best effort: the group stays on the primary, every id goes to the repair
// queue, and the repair makes the secondary equal.
BOOST_AUTO_TEST_CASE(best_effort_second_database_store_many_failure_queues_every_id) {
  for (const char* format : {"legacy", "current"}) {
    BOOST_TEST_CONTEXT("format " << format) {
      TempDir dir;
      DualWriteConfig config = Config(DualWriteMode::kBestEffort);
      config.repair_retry_initial_ms = 60000;  // Only the forced retry below repairs.
      Harness h(dir, config, dir.Sub("second"), format);
      h.faults->Script({kimera_test::WriteFault::kFail});
      std::size_t stored = 0;
      const Status s = h.store->StoreMany({Geoid("g1"), Scar("s2"), Geoid("g3")}, &stored);
      BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
      BOOST_CHECK_EQUAL(stored, 3u);
      BOOST_CHECK_EQUAL(h.store->repair_backlog(), 3u);
      for (const char* id : {"g1", "s2", "g3"}) BOOST_CHECK(!h.SecondaryHas(id));
      std::uint64_t repaired = 0;
      BOOST_REQUIRE(h.store->RetryRepairs(true, &repaired).ok());
      BOOST_CHECK_EQUAL(repaired, 3u);
      for (const char* id : {"g1", "s2", "g3"}) {
        const auto [p, q] = h.BothSides(id);
        BOOST_CHECK(h.store->secondary().Project(p) == q);
      }
      CheckSecondaryCounts(*h.store, 2, 1);
      CheckSweepClean(*h.store);
    }
  }
}

// Without synced writes a power cut can keep the primary's write (its log
// synced later, or by a flush) and lose the secondary's: the journal entry
// must outlive the secondary's write until that write is durable.
BOOST_AUTO_TEST_CASE(second_database_journal_entries_wait_for_a_secondary_sync) {
  for (const char* format : {"legacy", "current"}) {
    BOOST_TEST_CONTEXT("format " << format) {
      TempDir dir;
      Harness h(dir, Config(DualWriteMode::kBestEffort), dir.Sub("second"), format);
      h.faults->fail_syncs = true;
      BOOST_REQUIRE(h.store->Store(Geoid("g1")).ok());
      BOOST_REQUIRE(h.store->Store(Geoid("g2")).ok());
      BOOST_REQUIRE(h.store->Remove("g1").ok());
      // Past the background clear's interval: it tried, and could not sync.
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      BOOST_CHECK_EQUAL(JournalEntries(*h.store), 2u);
      BOOST_CHECK(!h.store->Sync().ok());
      BOOST_CHECK_EQUAL(JournalEntries(*h.store), 2u);
      h.faults->fail_syncs = false;
      BOOST_REQUIRE(h.store->Sync().ok());
      BOOST_CHECK_EQUAL(JournalEntries(*h.store), 0u);
      // The background clear does the same without a Sync().
      BOOST_REQUIRE(h.store->Store(Geoid("g3")).ok());
      BOOST_CHECK(WaitFor([&] { return JournalEntries(*h.store) == 0; }));
    }
  }
}

// A power cut can keep a secondary write and lose the primary's (two
// databases reach the disk in no set order): the mark that came with the
// secondary's write makes the next open copy the primary over.
BOOST_AUTO_TEST_CASE(marked_secondary_writes_are_replayed_at_open) {
  for (const char* format : {"legacy", "current"}) {
    BOOST_TEST_CONTEXT("format " << format) {
      TempDir dir;
      const std::string second = dir.Sub("second");
      DualWriteConfig config = Config(DualWriteMode::kBestEffort);
      {
        Harness h(dir, config, second, format);
        BOOST_REQUIRE(h.store->Store(Geoid("g1", "first")).ok());
      }
      {
        // The secondary alone, as a write whose primary half was lost leaves it.
        config.secondary = second;
        config.secondary_format = format;
        std::unique_ptr<RocksDbStore> primary;
        BOOST_REQUIRE(RocksDbStore::Open(dir.Sub("primary"), {}, &primary).ok());
        std::unique_ptr<kimera::SecondaryStore> secondary;
        BOOST_REQUIRE(kimera::OpenSecondary(config, &DatabaseOf(*primary), {}, &secondary).ok());
        BOOST_REQUIRE(secondary->Put(Geoid("g1", "ghost")).ok());
        BOOST_REQUIRE(secondary->Put(Geoid("g9", "ghost")).ok());
        std::vector<std::string> marked;
        BOOST_REQUIRE(secondary->MarkedIds(&marked).ok());
        BOOST_CHECK(marked == (std::vector<std::string>{"g1", "g9"}));
      }
      Harness h(dir, config, second, format);
      const auto g1 = h.BothSides("g1");
      BOOST_CHECK_EQUAL(g1.first.raw, "first");
      BOOST_CHECK_EQUAL(g1.second.raw, "first");
      BOOST_CHECK(!h.SecondaryHas("g9"));
      std::vector<std::string> marked;
      BOOST_REQUIRE(h.store->secondary().MarkedIds(&marked).ok());
      BOOST_CHECK(marked.empty());
      kimera::SweepReport report;
      BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
      BOOST_CHECK(report.clean());
    }
  }
}

// A sweep's repair is a secondary write like any other: journaled until
// both sides synced, or a power cut could undo a repair the sweep reported.
BOOST_AUTO_TEST_CASE(a_sweep_repair_stays_journaled_until_both_sides_sync) {
  TempDir dir;
  Harness h(dir, Config(DualWriteMode::kBestEffort), dir.Sub("second"), "current");
  BOOST_REQUIRE(h.store->Store(Geoid("g1")).ok());
  BOOST_REQUIRE(h.store->Sync().ok());
  BOOST_REQUIRE_EQUAL(JournalEntries(*h.store), 0u);
  BOOST_REQUIRE(h.store->secondary().Delete("g1").ok());  // A planted difference.
  h.faults->fail_syncs = true;
  kimera::SweepOptions options;
  options.repair = true;
  kimera::SweepReport report;
  BOOST_REQUIRE(h.store->Sweep(options, &report).ok());
  BOOST_CHECK_EQUAL(report.repaired, 1u);
  BOOST_CHECK_EQUAL(JournalEntries(*h.store), 1u);
  h.faults->fail_syncs = false;
  BOOST_REQUIRE(h.store->Sync().ok());
  BOOST_CHECK_EQUAL(JournalEntries(*h.store), 0u);
}

BOOST_AUTO_TEST_CASE(second_database_with_synced_writes_clears_the_journal_at_once) {
  TempDir dir;
  kimera::RocksDbOptions options;
  options.sync_writes = true;
  Harness h(dir, Config(DualWriteMode::kBestEffort), dir.Sub("second"), "current", options);
  h.faults->fail_syncs = true;  // Never needed: each write is synced.
  BOOST_REQUIRE(h.store->Store(Geoid("g1")).ok());
  BOOST_REQUIRE(h.store->Store(Geoid("g2")).ok());
  BOOST_CHECK_EQUAL(JournalEntries(*h.store), 0u);
}

// The background sweep paces itself by sleeping; closing the store must not
// wait that sleep out (at 1 id/s, a chunk of 200 ids is a 200 s pause).
BOOST_AUTO_TEST_CASE(closing_interrupts_a_paced_background_sweep) {
  TempDir dir;
  DualWriteConfig config = Config(DualWriteMode::kBestEffort);
  config.sweep_interval_seconds = 0.05;
  config.sweep_rate_per_second = 1;
  auto h = std::make_unique<Harness>(dir, config);
  for (int i = 0; i < 200; ++i) BOOST_REQUIRE(h->store->Store(Geoid(Id("g", i))).ok());
  // Past the first sweep's start: it has visited its first chunk and pauses.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = std::chrono::steady_clock::now();
  h.reset();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("closed in " << seconds << " s");
  BOOST_TEST(seconds * 1000 < static_cast<double>(kimera::testing::Scaled(20).count()));
}

BOOST_AUTO_TEST_CASE(strict_failed_secondary_restore_is_replayed_at_open) {
  TempDir dir;
  const std::string second = dir.Sub("second");
  Identity before;
  {
    Harness h(dir, Config(DualWriteMode::kStrict), second, "current");
    BOOST_REQUIRE(h.store->Store(Geoid("g1", "first")).ok());
    BOOST_REQUIRE(h.store->Fetch("g1", &before).ok());
    // The write lands on the secondary and reports a failure; putting the
    // secondary back fails too, and so does every repair until reopen.
    h.faults->Script({kimera_test::WriteFault::kApplyThenFail});
    h.faults->fail_every_nth_write = 1;
    Status s = h.store->Store(Geoid("g1", "second"));
    BOOST_CHECK_MESSAGE(s.IsAborted(), s.ToString());
    Identity p, q;
    BOOST_REQUIRE(h.store->Fetch("g1", &p).ok());
    BOOST_CHECK(p == before);
    BOOST_REQUIRE(h.SecondaryHas("g1", &q));
    BOOST_CHECK_EQUAL(q.raw, "second");
    BOOST_CHECK_EQUAL(JournalEntries(*h.store), 1u);
    BOOST_CHECK_GE(h.store->repair_backlog(), 1u);
  }
  Harness h(dir, Config(DualWriteMode::kStrict), second, "current");
  BOOST_CHECK_EQUAL(JournalEntries(*h.store), 0u);
  BOOST_CHECK(h.BothSides("g1") == std::make_pair(before, before));
  kimera::SweepReport report;
  BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
  BOOST_CHECK(report.clean());
}

BOOST_AUTO_TEST_CASE(every_nth_failure_in_strict_mode_never_diverges) {
  for (const bool second_db : {false, true}) {
    TempDir dir;
    Harness h(dir, Config(DualWriteMode::kStrict), second_db ? dir.Sub("second") : "");
    h.faults->fail_every_nth_write = 3;
    int failed = 0;
    std::set<std::string> stored;  // Ids with at least one store that succeeded.
    for (int i = 0; i < 60; ++i) {
      const std::string id = Id("g", i % 20);
      Status s = h.store->Store(Geoid(id, Id("v", i)));
      failed += s.ok() ? 0 : 1;
      if (s.ok()) stored.insert(id);
    }
    BOOST_CHECK_GT(failed, 0);
    BOOST_CHECK_GT(stored.size(), 0u);
    kimera::SweepReport report;
    BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
    BOOST_CHECK_MESSAGE(report.clean(), "second_db=" << second_db);
    // Ids never stored are on neither side.
    BOOST_CHECK_EQUAL(report.visited, stored.size());
  }
}

BOOST_AUTO_TEST_CASE(best_effort_keeps_primary_and_drains_queue) {
  for (const bool second_db : {false, true}) {
    TempDir dir;
    Harness h(dir, Config(DualWriteMode::kBestEffort), second_db ? dir.Sub("second") : "");
    h.faults->fail_every_nth_write = 1;
    for (int i = 0; i < 10; ++i) BOOST_REQUIRE(h.store->Store(Geoid(Id("g", i))).ok());
    Identity p;
    BOOST_REQUIRE(h.store->Fetch("g3", &p).ok());
    BOOST_CHECK(!h.SecondaryHas("g3"));
    BOOST_CHECK_GE(h.store->repair_backlog(), 10u);
    BOOST_CHECK(h.Metrics().find("kimera_dual_write_repair_backlog 10") != std::string::npos);
    h.faults->fail_every_nth_write = 0;
    BOOST_CHECK(WaitFor([&] { return h.store->repair_backlog() == 0; }));
    kimera::SweepReport report;
    BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
    BOOST_CHECK_MESSAGE(report.clean(), "second_db=" << second_db);
    BOOST_CHECK_EQUAL(report.visited, 10u);
  }
}

BOOST_AUTO_TEST_CASE(audit_log_is_bounded_and_counts_failures) {
  TempDir dir;
  DualWriteConfig config = Config(DualWriteMode::kStrict);
  config.audit_log_max_entries = 5;
  Harness h(dir, config);
  for (int i = 0; i < 12; ++i) BOOST_REQUIRE(h.store->Store(Geoid(Id("g", i))).ok());
  h.faults->fail_every_nth_write = 1;
  BOOST_CHECK(!h.store->Store(Geoid("bad")).ok());
  kimera::DualWriteStats stats;
  BOOST_REQUIRE(h.store->Stats(100, &stats).ok());
  BOOST_CHECK_EQUAL(stats.total, 13u);
  BOOST_CHECK_EQUAL(stats.failures, 1u);
  BOOST_CHECK_EQUAL(stats.successes, 12u);
  BOOST_CHECK_EQUAL(stats.recent.size(), 5u);
  BOOST_CHECK_EQUAL(stats.recent.front().id, "bad");
  BOOST_CHECK_EQUAL(stats.recent.front().status, "io_error");
  BOOST_CHECK(!stats.recent.front().details.empty());
  BOOST_CHECK_EQUAL(stats.recent[1].id, "g11");
  BOOST_CHECK_EQUAL(stats.primary_count, 12u);
  BOOST_CHECK_EQUAL(stats.secondary_count, 12u);
}

BOOST_AUTO_TEST_CASE(stats_count_each_type_of_the_secondary) {
  for (const SecondaryKind& kind : kSecondaryKinds) {
    BOOST_TEST_CONTEXT(kind.name) {
      TempDir dir;
      const DualWriteConfig config = Config(DualWriteMode::kStrict);
      {
        Harness h(dir, config, SecondFolder(dir, kind), kind.format);
        CheckSecondaryCounts(*h.store, 0, 0);
        for (int i = 0; i < 5; ++i) BOOST_REQUIRE(h.store->Store(Geoid(Id("g", i))).ok());
        for (int i = 0; i < 3; ++i) BOOST_REQUIRE(h.store->Store(Scar(Id("s", i))).ok());
        CheckSecondaryCounts(*h.store, 5, 3);
        BOOST_REQUIRE(h.store->Store(Geoid("g2", "again")).ok());
        CheckSecondaryCounts(*h.store, 5, 3);
        BOOST_REQUIRE(h.store->Store(Scar("g1")).ok());  // Geoid to scar, same id.
        CheckSecondaryCounts(*h.store, 4, 4);
        BOOST_REQUIRE(h.store->Remove("s0").ok());
        BOOST_REQUIRE(h.store->Remove("g0").ok());
        BOOST_CHECK(h.store->Remove("g0").IsNotFound());
        CheckSecondaryCounts(*h.store, 3, 3);
        kimera::DualWriteStats stats;
        BOOST_REQUIRE(h.store->Stats(0, &stats).ok());
        BOOST_CHECK_EQUAL(stats.primary_count, 6u);
        BOOST_REQUIRE(h.store->Stats(0, &stats, 42).ok());  // A count the caller knows.
        BOOST_CHECK_EQUAL(stats.primary_count, 42u);
        kimera::SweepReport report;
        BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
        BOOST_CHECK(report.clean());
        BOOST_CHECK(report.counts_checked);
        BOOST_CHECK_EQUAL(report.counted_geoids, 3u);
        BOOST_CHECK_EQUAL(report.counted_scars, 3u);
        BOOST_CHECK_EQUAL(report.geoids_count_drift, 0);
        BOOST_CHECK_EQUAL(report.scars_count_drift, 0);
      }
      Harness h(dir, config, SecondFolder(dir, kind), kind.format);
      CheckSecondaryCounts(*h.store, 3, 3);
    }
  }
}

// Differences planted through the secondary's own writes: its counts follow
// what it holds, and a repair brings them to the primary's.
BOOST_AUTO_TEST_CASE(repair_of_planted_differences_keeps_counts_exact) {
  for (const SecondaryKind& kind : kSecondaryKinds) {
    BOOST_TEST_CONTEXT(kind.name) {
      TempDir dir;
      Harness h(dir, Config(DualWriteMode::kStrict), SecondFolder(dir, kind), kind.format);
      for (int i = 0; i < 5; ++i) BOOST_REQUIRE(h.store->Store(Geoid(Id("g", i))).ok());
      for (int i = 0; i < 2; ++i) BOOST_REQUIRE(h.store->Store(Scar(Id("s", i))).ok());
      kimera::SecondaryStore& secondary = h.store->secondary();
      BOOST_REQUIRE(secondary.Delete("g0").ok());
      BOOST_REQUIRE(secondary.Put(secondary.Project(Scar("g1"))).ok());
      BOOST_REQUIRE(secondary.Put(secondary.Project(Geoid("extra"))).ok());
      CheckSecondaryCounts(*h.store, 4, 3);
      // Writes over the differences count what the secondary held.
      BOOST_REQUIRE(h.store->Store(Scar("s0", 0.75)).ok());
      CheckSecondaryCounts(*h.store, 4, 3);
      kimera::SweepOptions options;
      options.repair = true;
      kimera::SweepReport report;
      BOOST_REQUIRE(h.store->Sweep(options, &report).ok());
      BOOST_CHECK_EQUAL(report.differences, 3u);
      BOOST_CHECK_EQUAL(report.repaired, 3u);
      BOOST_CHECK(report.counts_checked);
      BOOST_CHECK(!report.counts_corrected);  // Nothing to correct: the counts were exact.
      CheckSecondaryCounts(*h.store, 5, 2);
      BOOST_CHECK_EQUAL(PrimaryCount(*h.store, kimera::IdentityType::kGeoid), 5u);
      BOOST_CHECK_EQUAL(PrimaryCount(*h.store, kimera::IdentityType::kScar), 2u);
    }
  }
}

// Rows changed in the database behind the store's back: the sweep measures
// the counters' drift, a repair sweep corrects it.
BOOST_AUTO_TEST_CASE(sweep_reports_counts_drift_and_repair_corrects_it) {
  TempDir dir;
  Harness h(dir, Config(DualWriteMode::kStrict));
  for (int i = 0; i < 3; ++i) BOOST_REQUIRE(h.store->Store(Geoid(Id("g", i))).ok());
  BOOST_REQUIRE(h.store->Store(Scar("s0")).ok());
  kimera::RocksDbDatabase& db = DatabaseOf(h.store->primary());
  rocksdb::ColumnFamilyHandle* geoids = nullptr;
  BOOST_REQUIRE(db.ColumnFamily(kimera::kLegacyGeoidsColumnFamily, &geoids).ok());
  BOOST_REQUIRE(db.db()->Delete(rocksdb::WriteOptions(), geoids, "g0").ok());

  kimera::SweepReport report;
  BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
  BOOST_CHECK_EQUAL(report.differences, 1u);
  BOOST_CHECK(report.counts_checked);
  BOOST_CHECK_EQUAL(report.counted_geoids, 2u);
  BOOST_CHECK_EQUAL(report.geoids_count_drift, -1);
  BOOST_CHECK_EQUAL(report.scars_count_drift, 0);
  BOOST_CHECK(!report.counts_corrected);  // A verify only reports.
  kimera::DualWriteStats stats;
  BOOST_REQUIRE(h.store->Stats(0, &stats).ok());
  BOOST_CHECK_EQUAL(stats.secondary_geoids, 3u);

  kimera::SweepOptions options;
  options.repair = true;
  BOOST_REQUIRE(h.store->Sweep(options, &report).ok());
  BOOST_CHECK_EQUAL(report.repaired, 1u);
  BOOST_CHECK_EQUAL(report.geoids_count_drift, -1);  // The repair's row counted; the drift stayed.
  BOOST_CHECK(report.counts_corrected);
  CheckSecondaryCounts(*h.store, 3, 1);
  BOOST_REQUIRE(h.store->Sweep({}, &report).ok());
  BOOST_CHECK(report.clean());
  BOOST_CHECK_EQUAL(report.geoids_count_drift, 0);
}

// Failed secondary writes leave rows out; the counts say so until the
// repair queue writes them.
BOOST_AUTO_TEST_CASE(counts_follow_failed_and_repaired_secondary_writes) {
  for (const SecondaryKind& kind : kSecondaryKinds) {
    BOOST_TEST_CONTEXT(kind.name) {
      TempDir dir;
      DualWriteConfig config = Config(DualWriteMode::kBestEffort);
      config.repair_retry_initial_ms = 60000;  // Only the forced retry below repairs.
      Harness h(dir, config, SecondFolder(dir, kind), kind.format);
      for (int i = 0; i < 6; ++i) BOOST_REQUIRE(h.store->Store(Geoid(Id("g", i))).ok());
      // Every secondary write fails (the background retries too) until reset.
      h.faults->fail_every_nth_write = 1;
      for (int i = 0; i < 4; ++i) BOOST_REQUIRE(h.store->Store(Scar(Id("s", i))).ok());
      BOOST_REQUIRE(h.store->Store(Scar("g0")).ok());
      BOOST_REQUIRE(h.store->Remove("g1").ok());
      CheckSecondaryCounts(*h.store, 6, 0);
      h.faults->fail_every_nth_write = 0;
      std::uint64_t repaired = 0;
      BOOST_REQUIRE(h.store->RetryRepairs(true, &repaired).ok());
      CheckSecondaryCounts(*h.store, 4, 5);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_metric_series_exists_at_start) {
  TempDir dir;
  Harness h(dir, Config(DualWriteMode::kStrict));
  const std::string text = h.Metrics();
  for (const char* series :
       {"kimera_dual_write_operations_total{operation=\"store\",status=\"success\"} 0",
        "kimera_dual_write_operations_total{operation=\"repair\",status=\"failure\"} 0",
        "kimera_dual_write_duration_seconds_count{side=\"secondary\"} 0",
        "kimera_dual_write_consistency_check_duration_seconds_count{scope=\"sweep\"} 0",
        "kimera_dual_write_consistency_checks_total{result=\"missing_primary\"} 0",
        "kimera_dual_write_consistent 0", "kimera_dual_write_entropy_drift_count 0",
        "kimera_dual_write_repair_backlog 0",
        "kimera_dual_write_shadow_reads_total{result=\"error\"} 0"}) {
    BOOST_CHECK_MESSAGE(text.find(series) != std::string::npos, series);
  }
}

BOOST_AUTO_TEST_CASE(shadow_reads_with_failing_or_stalled_secondary_never_fail_caller) {
  TempDir dir;
  DualWriteConfig config = Config(DualWriteMode::kStrict);
  config.shadow_read_rate = 1.0;
  Harness h(dir, config);
  BOOST_REQUIRE(h.store->Store(Geoid("g1")).ok());
  Identity p;
  BOOST_REQUIRE(h.store->Fetch("g1", &p).ok());
  h.store->DrainShadowReads();
  BOOST_CHECK(h.Metrics().find("kimera_dual_write_shadow_reads_total{result=\"match\"} 1") !=
              std::string::npos);
  h.faults->fail_reads = true;
  BOOST_REQUIRE(h.store->Fetch("g1", &p).ok());
  BOOST_CHECK_EQUAL(p.raw, "text");
  h.store->DrainShadowReads();
  BOOST_CHECK(h.Metrics().find("kimera_dual_write_shadow_reads_total{result=\"error\"} 1") !=
              std::string::npos);
  h.faults->fail_reads = false;
  // The secondary stops answering: the caller's reads still return (were
  // one to wait for its shadow read, the test would hang here).
  h.faults->Stall(true);
  for (int i = 0; i < 5; ++i) BOOST_REQUIRE(h.store->Fetch("g1", &p).ok());
  std::vector<Identity> many;
  BOOST_REQUIRE(h.store->FetchMany({"g1", "nope"}, &many).ok());
  BOOST_CHECK_EQUAL(many.size(), 1u);
  h.faults->Stall(false);
  h.store->DrainShadowReads();
  BOOST_CHECK(h.Metrics().find("kimera_dual_write_shadow_reads_total{result=\"match\"} 7") !=
              std::string::npos);
}

BOOST_AUTO_TEST_CASE(shadow_reads_during_writes_count_only_real_mismatches) {
  for (const bool second_db : {false, true}) {
    BOOST_TEST_CONTEXT("second_db " << second_db) {
      TempDir dir;
      DualWriteConfig config = Config(DualWriteMode::kStrict);
      config.shadow_read_rate = 1.0;
      Harness h(dir, config, second_db ? dir.Sub("second") : "");
      constexpr int kIds = 50;
      for (int i = 0; i < kIds; ++i) BOOST_REQUIRE(h.store->Store(Geoid(Id("g", i))).ok());
      // A real difference, made behind the store's back.
      BOOST_REQUIRE(h.store->Store(Geoid("planted")).ok());
      Identity row;
      BOOST_REQUIRE(h.SecondaryHas("planted", &row));
      row.lang_axis = "fr";
      BOOST_REQUIRE(h.store->secondary().Put(row).ok());

      constexpr int kWrites = 1500, kReads = 1500, kPlantedEvery = 50;
      std::vector<std::thread> threads;
      // Boost.Test's checks are not thread-safe: the threads count their
      // failures and the main thread checks the counts after the join.
      std::atomic<int> failed_stores{0}, failed_fetches{0};
      for (int w = 0; w < 2; ++w) {
        threads.emplace_back([&, w] {
          for (int i = 0; i < kWrites; ++i) {
            const std::string id = Id("g", (i * 7 + w) % kIds);
            if (!h.store->Store(Geoid(id, Id("v", i))).ok()) ++failed_stores;
          }
        });
      }
      for (int r = 0; r < 2; ++r) {
        threads.emplace_back([&, r] {
          Identity out;
          for (int i = 1; i <= kReads; ++i) {
            const std::string id = i % kPlantedEvery == 0 ? "planted" : Id("g", (i * 3 + r) % kIds);
            if (!h.store->Fetch(id, &out).ok()) ++failed_fetches;
            // At most 2 x 100 reads wait at a time: none is dropped.
            if (i % 100 == 0) h.store->DrainShadowReads();
          }
        });
      }
      for (std::thread& t : threads) t.join();
      BOOST_REQUIRE_EQUAL(failed_stores.load(), 0);
      BOOST_REQUIRE_EQUAL(failed_fetches.load(), 0);
      h.store->DrainShadowReads();
      const std::string text = h.Metrics();
      const double planted_reads = 2.0 * (kReads / kPlantedEvery);
      BOOST_CHECK_EQUAL(ShadowReads(text, "dropped"), 0.0);
      BOOST_CHECK_EQUAL(ShadowReads(text, "error"), 0.0);
      BOOST_CHECK_EQUAL(ShadowReads(text, "mismatch"), planted_reads);
      BOOST_CHECK_EQUAL(ShadowReads(text, "match"), 2.0 * kReads - planted_reads);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
