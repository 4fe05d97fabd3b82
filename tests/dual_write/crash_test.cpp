// A child process is killed (SIGKILL) at each named point of the write path;
// the parent reopens the store and checks that both sides are equal.
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <cstdlib>
#include <sstream>
#include <string>

#include "dual_write_test_support.h"
#include "kimera/dual_write_store.h"
#include "rocksdb_database.h"

using kimera::DualWriteConfig;
using kimera::DualWriteStore;
using kimera::RocksDbStore;
using kimera::Status;
using kimera_test::Faults;
using kimera_test::FaultySecondary;
using kimera_test::Geoid;
using kimera_test::Id;
using kimera_test::Scar;
using kimera_test::TempDir;

namespace {

std::unique_ptr<DualWriteStore> Open(const std::string& primary_folder, DualWriteConfig config,
                                     std::shared_ptr<Faults> faults) {
  std::unique_ptr<RocksDbStore> primary;
  if (!RocksDbStore::Open(primary_folder, {}, &primary).ok()) return nullptr;
  std::unique_ptr<kimera::SecondaryStore> real;
  if (!kimera::OpenSecondary(config, &DatabaseOf(*primary), {}, &real).ok()) return nullptr;
  std::unique_ptr<DualWriteStore> store;
  auto faulty = std::make_unique<FaultySecondary>(std::move(real), std::move(faults));
  if (!DualWriteStore::Open(std::move(primary), std::move(faulty), config, nullptr, &store).ok()) {
    return nullptr;
  }
  store->Start();
  return store;
}

std::unique_ptr<DualWriteStore> Open(const TempDir& dir, DualWriteConfig config,
                                     std::shared_ptr<Faults> faults) {
  return Open(dir.Sub("primary"), std::move(config), std::move(faults));
}

// Waits for the child `pid`; true when it died of SIGKILL, otherwise says
// how it ended.
bool KilledBySigkill(pid_t pid, const char* point) {
  int status = 0;
  waitpid(pid, &status, 0);
  const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (!killed) {
    BOOST_TEST_MESSAGE(point << ": the child "
                             << (WIFSIGNALED(status)
                                     ? "died of signal " + std::to_string(WTERMSIG(status))
                                     : "exited with " + std::to_string(WEXITSTATUS(status))));
  }
  return killed;
}

// Runs `body` in a child with KIMERA_DUAL_WRITE_CRASH_AT=point; true when the
// child died of SIGKILL.
bool ChildKilledAt(const char* point, const std::function<void()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(60);  // A hang fails the case instead of timing out the suite.
    setenv("KIMERA_DUAL_WRITE_CRASH_AT", point, 1);
    body();
    _exit(0);  // Never reached the crash point.
  }
  return KilledBySigkill(pid, point);
}

// The write a fresh child makes (the child_write case).
struct ChildWrite {
  std::string primary;    // Folder of the primary.
  std::string secondary;  // Folder of a second database; empty: legacy column families.
  std::string format;     // Its format.
  std::string op;         // "geoid", "scar" (stores), "remove" or "many" (a StoreMany).
  std::string id;
};

// Like ChildKilledAt, in a fresh process: this test program run again for
// the child_write case alone. A forked child inherits RocksDB's thread pool
// as the fork found it, and after enough opens and closes in this process
// its condition variable is in a state that hangs the child's first flush.
bool FreshChildKilledAt(const char* point, const ChildWrite& write) {
  const std::string spec = write.primary + "\n" + write.secondary + "\n" + write.format + "\n" +
                           write.op + "\n" + write.id;
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(60);
    setenv("KIMERA_DUAL_WRITE_CRASH_AT", point, 1);
    setenv("KIMERA_CRASH_CHILD_WRITE", spec.c_str(), 1);
    char program[] = "dual_write_tests";
    char only[] = "--run_test=crash/child_write";
    char quiet[] = "--log_level=nothing";
    char* argv[] = {program, only, quiet, nullptr};
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  return KilledBySigkill(pid, point);
}

DualWriteConfig ConfigFor(const std::string& secondary, const std::string& format) {
  DualWriteConfig config;
  config.enabled = true;
  if (!secondary.empty()) {
    config.secondary = secondary;
    config.secondary_format = format;
  }
  return config;
}

void ExpectConsistentAfterReopen(const TempDir& dir, const DualWriteConfig& config,
                                 const std::string& what) {
  auto store = Open(dir, config, std::make_shared<Faults>());
  BOOST_REQUIRE_MESSAGE(store, what << ": reopen failed");
  std::uint64_t repaired = 0;
  BOOST_REQUIRE(store->RetryRepairs(true, &repaired).ok());
  kimera::SweepReport report;
  BOOST_REQUIRE(store->Sweep({}, &report).ok());
  BOOST_CHECK_MESSAGE(report.clean(), what << ": " << report.differences << " differences");
  BOOST_CHECK_MESSAGE(report.visited >= 10, what << ": visited " << report.visited);
  // The secondary's counters committed, or were lost, with its rows.
  BOOST_CHECK_MESSAGE(report.counts_checked, what << ": counts not checked");
  BOOST_CHECK_MESSAGE(report.geoids_count_drift == 0 && report.scars_count_drift == 0,
                      what << ": counts drift " << report.geoids_count_drift << " geoids, "
                           << report.scars_count_drift << " scars");
  kimera::DualWriteStats stats;
  BOOST_REQUIRE(store->Stats(0, &stats).ok());
  for (auto [type, counted] : {std::pair{kimera::IdentityType::kGeoid, stats.secondary_geoids},
                               std::pair{kimera::IdentityType::kScar, stats.secondary_scars}}) {
    std::uint64_t primary = 0;
    BOOST_REQUIRE(store->primary().Count(type, &primary).ok());
    BOOST_CHECK_MESSAGE(counted == primary, what << ": " << kimera::IdentityTypeName(type) << " "
                                                 << counted << " counted, " << primary
                                                 << " in the primary");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(kill_at_each_write_point_then_reopen_is_consistent) {
  for (const char* point : {"after_primary", "after_secondary", "before_journal_clear"}) {
    for (const bool second_db : {true, false}) {
      if (!second_db && std::string(point) == "before_journal_clear") continue;
      TempDir dir;
      DualWriteConfig config;
      config.enabled = true;
      if (second_db) {
        config.secondary = dir.Sub("second");
        config.secondary_format = "legacy";
      }
      {
        auto store = Open(dir, config, std::make_shared<Faults>());
        BOOST_REQUIRE(store);
        for (int i = 0; i < 10; ++i) BOOST_REQUIRE(store->Store(Geoid(Id("g", i))).ok());
      }
      const std::string what = std::string(point) + (second_db ? " (second db)" : " (legacy)");
      const bool killed = ChildKilledAt(point, [&] {
        auto store = Open(dir, config, std::make_shared<Faults>());
        if (!store) _exit(3);
        (void)store->Store(Geoid("g3", "changed"));
        (void)store->Store(Geoid("new"));
      });
      BOOST_CHECK_MESSAGE(killed, what << ": child was not killed");
      ExpectConsistentAfterReopen(dir, config, what);
    }
  }
}

BOOST_AUTO_TEST_CASE(kill_in_the_middle_of_a_repair_then_reopen_is_consistent) {
  for (const bool second_db : {true, false}) {
    TempDir dir;
    DualWriteConfig config;
    config.enabled = true;
    config.mode = kimera::DualWriteMode::kBestEffort;
    config.repair_retry_initial_ms = 60000;  // Only the forced retry below repairs.
    if (second_db) config.secondary = dir.Sub("second");
    {
      auto faults = std::make_shared<Faults>();
      faults->fail_every_nth_write = 1;
      auto store = Open(dir, config, faults);
      BOOST_REQUIRE(store);
      for (int i = 0; i < 10; ++i) BOOST_REQUIRE(store->Store(Geoid(Id("g", i))).ok());
      BOOST_CHECK_EQUAL(store->repair_backlog(), 10u);
    }
    const bool killed = ChildKilledAt("mid_repair", [&] {
      auto store = Open(dir, config, std::make_shared<Faults>());
      if (!store) _exit(3);
      std::uint64_t repaired = 0;
      (void)store->RetryRepairs(true, &repaired);
    });
    BOOST_CHECK(killed);
    ExpectConsistentAfterReopen(dir, config, second_db ? "mid_repair (second db)" : "mid_repair");
  }
}

// The body of FreshChildKilledAt's process: one write of the store that
// KIMERA_CRASH_CHILD_WRITE names. Disabled, and without that variable (a run
// of the whole suite) it does nothing.
BOOST_AUTO_TEST_CASE(child_write, *boost::unit_test::disabled()) {
  const char* spec = std::getenv("KIMERA_CRASH_CHILD_WRITE");
  if (spec == nullptr) return;
  std::istringstream lines(spec);
  ChildWrite w;
  for (std::string* field : {&w.primary, &w.secondary, &w.format, &w.op, &w.id}) {
    std::getline(lines, *field);
  }
  auto store = Open(w.primary, ConfigFor(w.secondary, w.format), std::make_shared<Faults>());
  BOOST_REQUIRE(store);
  if (w.op == "remove") {
    (void)store->Remove(w.id);
  } else if (w.op == "many") {
    // One StoreMany: its group reaches each point together.
    (void)store->StoreMany({Geoid(w.id), Scar(w.id + "b"), Geoid(w.id + "c")}, nullptr);
  } else {
    (void)store->Store(w.op == "scar" ? Scar(w.id) : Geoid(w.id));
  }
}

// A type change, a removal and a new identity of each type, each killed at
// each point, for every secondary kind: the counts stay exact.
BOOST_AUTO_TEST_CASE(counts_stay_exact_across_kills_at_each_write_point) {
  const std::pair<const char*, const char*> kinds[] = {
      {"legacy column families", ""},
      {"second database, legacy format", "legacy"},
      {"second database, current format", "current"}};
  for (const auto& [kind, format] : kinds) {
    TempDir dir;
    const bool second_db = *format != '\0';
    const DualWriteConfig config = ConfigFor(second_db ? dir.Sub("second") : "", format);
    {
      auto store = Open(dir, config, std::make_shared<Faults>());
      BOOST_REQUIRE(store);
      for (int i = 0; i < 10; ++i) BOOST_REQUIRE(store->Store(Geoid(Id("g", i))).ok());
      for (int i = 0; i < 3; ++i) BOOST_REQUIRE(store->Store(Scar(Id("s", i))).ok());
    }
    int p = 0;  // Each point writes ids of its own: every write reaches the point.
    for (const char* point : {"after_primary", "after_secondary", "before_journal_clear"}) {
      if (!second_db && std::string(point) == "before_journal_clear") continue;
      // A geoid made a scar, a geoid removed, a new scar, a new geoid, a scar
      // removed, and three new identities stored by one StoreMany.
      const std::pair<const char*, std::string> writes[] = {
          {"scar", Id("g", p)},  {"remove", Id("g", 5 + p)}, {"scar", Id("s", 10 + p)},
          {"geoid", Id("n", p)}, {"remove", Id("s", p)},     {"many", Id("m", p)}};
      ++p;
      for (const auto& [op, id] : writes) {
        const ChildWrite write{dir.Sub("primary"), config.secondary, format, op, id};
        const std::string what = std::string(kind) + ", " + point + ", " + op + " " + id;
        BOOST_CHECK_MESSAGE(FreshChildKilledAt(point, write), what << ": child was not killed");
      }
      ExpectConsistentAfterReopen(dir, config, std::string(kind) + ", " + point);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
