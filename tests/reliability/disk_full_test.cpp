// A full disk under a long-lived store: the configured stack opened in a
// small filesystem (KIMERA_FAULT_DIR, a tmpfs of a few MiB that
// disk_faults_test.py mounts), filled until stores fail. The failures must be
// NoSpace with "no space" in the message, nothing stored before may change,
// the index must stay equal to the data, and once space is freed (a filler
// file in the same filesystem deleted) stores must work again in the same
// process, without reopening.
#define BOOST_TEST_MODULE reliability
#include <sys/statvfs.h>

#include <boost/test/unit_test.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kimera/config_loader.h"
#include "kimera/dual_write_store.h"
#include "kimera/entropy_store.h"
#include "kimera/identity_json.h"
#include "kimera/store_factory.h"

namespace kimera {
namespace {

namespace fs = std::filesystem;

std::string FaultDir() {
  const char* dir = std::getenv("KIMERA_FAULT_DIR");
  return dir == nullptr ? std::string() : std::string(dir);
}

std::uint64_t FreeBytes(const std::string& path) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Writes `bytes` of filler into `path` (as much as fits).
void WriteFiller(const std::string& path, std::uint64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  const std::string block(64 * 1024, 'f');
  for (std::uint64_t written = 0; written < bytes && out; written += block.size()) {
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
}

Identity Large(int n, std::size_t bytes) {
  Identity identity;
  identity.id = "big-" + std::to_string(n);
  identity.raw.reserve(bytes);
  // Varied text so compression cannot make it small.
  std::uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(n + 1);
  while (identity.raw.size() < bytes) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    identity.raw += static_cast<char>('a' + x % 26);
  }
  identity.meta["terms"] = nlohmann::json::array(
      {{{"term", "alpha"}, {"intensity", 1.0 + n}}, {{"term", "beta"}, {"intensity", 2.0}}});
  return identity;
}

struct FullDiskCase {
  std::string name;
  bool dual_write = false;
};

// With dual-write on, one sweep of both sides must be clean and visit exactly
// the acknowledged ids: the secondary kept up through the full disk, and
// neither side holds a write that was refused.
void RequireCleanSweep(DualWriteAdmin& dual_write, const FullDiskCase& c,
                       const std::map<std::string, Identity>& acknowledged, const char* when) {
  if (!c.dual_write) return;
  SweepReport sweep;
  const Status s = dual_write.Verify({}, &sweep);
  BOOST_TEST_REQUIRE(s.ok(), when << ": dual-write sweep: " << s.ToString());
  BOOST_TEST(sweep.clean(), when << ": " << sweep.differences << " ids differ between the sides");
  BOOST_TEST(sweep.visited == acknowledged.size(), when << ": the sweep visited " << sweep.visited
                                                        << " ids, " << acknowledged.size()
                                                        << " acknowledged");
}

// Fills the filesystem through the configured stack and checks every
// promise of a full disk, in one process.
void RunFullDisk(const FullDiskCase& c) {
  const std::string root = FaultDir();
  BOOST_TEST_REQUIRE(!root.empty(), "KIMERA_FAULT_DIR is not set: run disk_faults_test.py");
  const std::string dir = root + "/" + c.name;
  fs::remove_all(dir);
  fs::create_directories(dir);

  KimeraConfig config;
  config.db_path = dir + "/db";
  config.storage.write_buffer_bytes = 512 * 1024;   // Flushes to SST files while filling.
  config.storage.reserved_disk_bytes = 256 * 1024;  // The default 8 MiB: more than is left.
  config.plugin.metrics.enabled = false;
  config.dual_write.enabled = c.dual_write;
  ConfiguredStore stack;
  Status s = OpenConfiguredStore(config, false, &stack);
  EntropyStore* store = stack.store.get();
  BOOST_TEST_REQUIRE(s.ok(), s.ToString());

  // Leaves about 2 MiB free, so the stores below run out soon.
  const std::string filler = dir + "/filler";
  const std::uint64_t free_before = FreeBytes(root);
  BOOST_TEST_MESSAGE(c.name << ": " << free_before << " bytes free before the filler");
  if (free_before > (2u << 20)) WriteFiller(filler, free_before - (2u << 20));

  std::map<std::string, Identity> acknowledged;
  Status failure;
  int n = 0;
  for (; n < 1000; ++n) {
    Identity identity = Large(n, 96 * 1024);
    s = store->Store(identity);
    if (!s.ok()) {
      failure = s;
      break;
    }
    Identity stored;
    BOOST_TEST_REQUIRE(store->Fetch(identity.id, &stored).ok());
    acknowledged[identity.id] = stored;
  }
  BOOST_TEST_MESSAGE(c.name << ": " << acknowledged.size() << " stores acknowledged, then "
                            << failure.ToString());
  BOOST_TEST_REQUIRE(!failure.ok(), "the filesystem never filled up");
  BOOST_TEST(failure.IsNoSpace(), "expected NoSpace, got " << failure.ToString());
  BOOST_TEST(Lower(failure.ToString()).find("no space") != std::string::npos,
             "the error does not say no space: " << failure.ToString());
  // Refused by the free-space check, naming the folder and the bytes free,
  // before RocksDB's log or a flush met the full disk.
  BOOST_TEST(failure.message().find("no space left for the database in " + config.db_path) !=
                 std::string::npos,
             "not refused by the free-space check: " << failure.ToString());
  BOOST_TEST(failure.message().find(" bytes free, ") != std::string::npos, failure.ToString());

  // Further writes keep failing clearly (no other kind of error) while full.
  for (int i = 0; i < 3; ++i) {
    Identity identity = Large(n + 1 + i, 96 * 1024);
    s = store->Store(identity);
    if (s.ok()) {
      // A flush finished in between and the memtables need no space now:
      // taken, so it is acknowledged like any other.
      Identity stored;
      BOOST_TEST_REQUIRE(store->Fetch(identity.id, &stored).ok());
      acknowledged[identity.id] = stored;
      break;
    }
    BOOST_TEST(s.IsNoSpace(), "while full: " << s.ToString());
  }
  Status removed = store->Remove("big-0");
  BOOST_TEST_MESSAGE(c.name << ": remove while full: " << removed.ToString());
  if (removed.ok()) acknowledged.erase("big-0");

  // Nothing acknowledged was damaged, and the index still equals the data.
  for (const auto& [id, expected] : acknowledged) {
    Identity got;
    s = store->Fetch(id, &got);
    BOOST_TEST_REQUIRE(s.ok(), "while full, " << id << ": " << s.ToString());
    BOOST_TEST((got == expected), "while full, " << id << " changed");
  }
  IndexCheckReport report;
  s = store->Check(false, &report);
  BOOST_TEST_REQUIRE(s.ok(), s.ToString());
  BOOST_TEST(report.ok(), "index problems while full: " << report.problem_count);

  // Space freed: the very next store of the same store, not reopened, is
  // taken (the check measures the free space again near the limit, and
  // RocksDB itself never met the full disk, so there is nothing to recover).
  fs::remove(filler);
  BOOST_TEST_MESSAGE(c.name << ": filler removed, " << FreeBytes(root) << " bytes free");
  s = store->Store(Large(1999, 1024));
  BOOST_TEST_REQUIRE(s.ok(), "first store after space was freed: " << s.ToString());
  BOOST_TEST(store->Remove("big-1999").ok());
  int recovered = 0;
  for (int i = 0; i < 5; ++i) {
    Identity identity = Large(2000 + i, 16 * 1024);
    s = store->Store(identity);
    BOOST_TEST(s.ok(), "after space was freed: " << s.ToString());
    if (!s.ok()) continue;
    Identity stored;
    BOOST_TEST_REQUIRE(store->Fetch(identity.id, &stored).ok());
    acknowledged[identity.id] = stored;
    ++recovered;
  }
  BOOST_TEST(recovered == 5);
  s = store->Remove("big-1");
  BOOST_TEST(s.ok(), "remove after space was freed: " << s.ToString());
  if (s.ok()) acknowledged.erase("big-1");
  BOOST_TEST(store->Sync().ok());
  s = store->Check(false, &report);
  BOOST_TEST_REQUIRE(s.ok(), s.ToString());
  BOOST_TEST(report.ok(), "index problems after recovery: " << report.problem_count);
  RequireCleanSweep(*stack.dual_write, c, acknowledged, "after space was freed");

  // And a reopen finds exactly what was acknowledged.
  stack.Close();
  s = OpenConfiguredStore(config, false, &stack);
  store = stack.store.get();
  BOOST_TEST_REQUIRE(s.ok(), "reopen: " << s.ToString());
  std::uint64_t count = 0;
  BOOST_TEST(store->Count(std::nullopt, &count).ok());
  BOOST_TEST(count == acknowledged.size());
  for (const auto& [id, expected] : acknowledged) {
    Identity got;
    s = store->Fetch(id, &got);
    BOOST_TEST_REQUIRE(s.ok(), "after reopen, " << id << ": " << s.ToString());
    BOOST_TEST((got == expected), "after reopen, " << id << " changed");
  }
  s = store->Check(false, &report);
  BOOST_TEST_REQUIRE(s.ok(), s.ToString());
  BOOST_TEST(report.ok());
  RequireCleanSweep(*stack.dual_write, c, acknowledged, "after reopen");
  stack.Close();
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE(disk_full)

BOOST_AUTO_TEST_CASE(no_space_is_clear_nothing_is_damaged_and_the_store_recovers) {
  RunFullDisk({"plain", false});
}

BOOST_AUTO_TEST_CASE(the_same_with_dual_write_to_legacy_column_families) {
  RunFullDisk({"dual", true});
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
