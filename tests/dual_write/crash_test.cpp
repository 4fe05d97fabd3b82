// A child process is killed (SIGKILL) at each named point of the write path;
// the parent reopens the store and checks that both sides are equal.
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <cstdlib>

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
using kimera_test::TempDir;

namespace {

std::unique_ptr<DualWriteStore> Open(const TempDir& dir, DualWriteConfig config,
                                     std::shared_ptr<Faults> faults) {
  std::unique_ptr<RocksDbStore> primary;
  if (!RocksDbStore::Open(dir.Sub("primary"), {}, &primary).ok()) return nullptr;
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

// Runs `body` in a child with KIMERA_DUAL_WRITE_CRASH_AT=point; true when the
// child died of SIGKILL.
bool ChildKilledAt(const char* point, const std::function<void()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("KIMERA_DUAL_WRITE_CRASH_AT", point, 1);
    body();
    _exit(0);  // Never reached the crash point.
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
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

BOOST_AUTO_TEST_SUITE_END()
