// Crash safety of the separate-database path: a child process running a
// random workload is killed with SIGKILL at many different moments; each
// time the store is reopened (replaying intents) and checked.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "kimera/entropy_index.h"
#include "plugin_test_support.h"
#include "rocksdb_database.h"

namespace kimera {
namespace {

// The helper binary: $KIMERA_CRASH_CHILD, else next to this executable.
std::string CrashChildPath() {
  if (const char* env = std::getenv("KIMERA_CRASH_CHILD"); env != nullptr && *env != '\0') {
    return env;
  }
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "plugin_crash_child")
      .string();
}

struct Child {
  pid_t pid = -1;
  int stdout_fd = -1;
};

Child Spawn(const std::string& binary, const std::string& dir, std::uint64_t seed) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  const std::string seed_text = std::to_string(seed);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(binary.c_str(), binary.c_str(), dir.c_str(), seed_text.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return {pid, fds[0]};
}

// Pending intents in the index database, read before the store replays them.
std::size_t PendingIntents(const std::string& index_path) {
  if (!std::filesystem::exists(index_path + "/CURRENT")) return 0;
  std::unique_ptr<RocksDbDatabase> db;
  Status s = RocksDbDatabase::Open(index_path, RocksDbOptions{}, &db);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  if (!db->HasColumnFamily(kEntropyIndexColumnFamily)) return 0;
  std::unique_ptr<EntropyIndex> index;
  bool created = false;
  BOOST_REQUIRE(EntropyIndex::Open(db.get(), /*keeps_by_id=*/true, &index, &created).ok());
  std::vector<std::string> ids;
  BOOST_REQUIRE(index->PendingIntents(&ids).ok());
  return ids.size();
}

BOOST_AUTO_TEST_SUITE(index_crash)

BOOST_AUTO_TEST_CASE(sigkill_at_random_moments_leaves_separate_index_consistent) {
  const std::string binary = CrashChildPath();
  BOOST_REQUIRE_MESSAGE(::access(binary.c_str(), X_OK) == 0, "crash child not found: " << binary);
  test::TempDir dir;
  std::mt19937_64 rng(20261126);
  std::uniform_int_distribution<int> delay_ms(5, 300);
  constexpr int kCycles = 20;
  int killed_after_ready = 0;
  std::size_t intents_replayed = 0;
  std::uint64_t records = 0;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const int delay = delay_ms(rng);
    Child child = Spawn(binary, dir.str(), rng());
    // One cycle in four counts the delay from the start, so kills also land
    // while the child opens and replays intents; the others from "ready".
    const bool from_ready = cycle % 4 != 0;
    if (from_ready) {
      pollfd ready{child.stdout_fd, POLLIN, 0};
      BOOST_REQUIRE_MESSAGE(::poll(&ready, 1, 30'000) == 1, "child never became ready");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    BOOST_REQUIRE(::kill(child.pid, SIGKILL) == 0);
    int status = 0;
    BOOST_REQUIRE(::waitpid(child.pid, &status, 0) == child.pid);
    char buf[64];
    const ssize_t n = ::read(child.stdout_fd, buf, sizeof buf);
    ::close(child.stdout_fd);
    const bool was_ready = n > 0;
    killed_after_ready += was_ready;
    BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                          "cycle " << cycle << ": the child ended by itself, status " << status);

    const std::size_t intents = PendingIntents(dir.str("index"));
    intents_replayed += intents;

    PluginConfig config = test::QuietConfig();
    config.index.separate_path = dir.str("index");
    auto store = test::Wrap(test::OpenRocks(dir.str("data")), config);
    std::vector<std::string> left;
    BOOST_REQUIRE(store->index().PendingIntents(&left).ok());
    BOOST_TEST(left.empty(), "cycle " << cycle << ": intents left after open");
    IndexCheckReport report;
    BOOST_REQUIRE(store->Check(false, &report).ok());
    BOOST_REQUIRE_MESSAGE(report.ok(), "cycle " << cycle << " (killed after " << delay
                                                << " ms): " << report.problem_count
                                                << " problems:" << test::ProblemsOf(report));
    BOOST_REQUIRE(store->Count(std::nullopt, &records).ok());
    BOOST_REQUIRE_EQUAL(records, report.records);
    BOOST_TEST_MESSAGE("cycle " << cycle << ": killed " << delay << " ms after "
                                << (from_ready ? "ready" : "start")
                                << (was_ready ? "" : " (still opening)") << ", " << intents
                                << " intents replayed, " << records << " records, check ok");
  }
  {
    PluginConfig config = test::QuietConfig();
    config.index.separate_path = dir.str("index");
    auto store = test::Wrap(test::OpenRocks(dir.str("data")), config);
    test::RequireIndexExact(*store);
  }
  std::printf(
      "index_crash: %d cycles, %d killed mid-workload, %zu intents replayed, "
      "%llu records at the end, every check ok\n",
      kCycles, killed_after_ready, intents_replayed, static_cast<unsigned long long>(records));
  BOOST_TEST(killed_after_ready >= kCycles / 2, "most kills must land in the workload");
  BOOST_TEST(records > 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
