// Power loss: the configured stack (EntropyStore and its index over RocksDB,
// dual-write to legacy column families or to a second database) writes
// through PowerLossFileSystem, which at a seeded random moment drops
// everything not synced, as a power cut does (a SIGKILL keeps the page
// cache, so it cannot tell a store that syncs from one that never does).
//
// Each cut is two processes forked from this one, which itself never opens
// RocksDB (a fork must not inherit RocksDB's thread pools):
//  * the writer opens the stack on the fault file system, runs writer
//    threads that store new and known identities and log each one to an ack
//    log with plain write() (outside the fault file system, so the log
//    survives), cuts the power and `_exit`s, so nothing closes cleanly;
//  * the verifier opens the folder normally and reports every record, the
//    index check and the dual-write verify sweep.
// This process then compares them with the ack log.
//
// Ack log lines (tab-separated): "I id json" before a store (json: the value
// with timestamps zeroed), "A id" after it returned OK, "S n" after a
// Sync() returned OK with n stores acknowledged, "C ..." after the cut,
// "E message" for an error before the cut.
//
// Arguments after "--": --summary FILE (JSON totals), --seed N,
// --synced-cuts N, --unsynced-cuts N (per secondary mode), --workdir DIR,
// --keep.
#define BOOST_TEST_MODULE power_loss
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kimera/config_loader.h"
#include "kimera/dual_write_store.h"
#include "kimera/entropy_store.h"
#include "kimera/identity_json.h"
#include "kimera/store_factory.h"
#include "power_loss_fs.h"

namespace kimera {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Settings {
  std::string summary;
  std::string workdir;
  std::uint64_t seed = 20240607;
  int synced_cuts = 36;    // Per secondary mode: 108 in all.
  int unsynced_cuts = 14;  // Per secondary mode: 42 in all.
  bool keep = false;
};

const Settings& GetSettings() {
  static const Settings settings = [] {
    Settings s;
    // Fewer cuts where each costs more (the sanitized build): N of each kind.
    if (const char* n = std::getenv("KIMERA_POWER_LOSS_CUTS"); n != nullptr && *n != '\0') {
      s.synced_cuts = s.unsynced_cuts = std::max(1, std::atoi(n));
    }
    auto& suite = boost::unit_test::framework::master_test_suite();
    for (int i = 1; i < suite.argc; ++i) {
      const std::string arg = suite.argv[i];
      const bool has_value = i + 1 < suite.argc;
      if (arg == "--keep") s.keep = true;
      if (!has_value) continue;
      if (arg == "--summary") s.summary = suite.argv[++i];
      if (arg == "--workdir") s.workdir = suite.argv[++i];
      if (arg == "--seed") s.seed = std::stoull(suite.argv[++i]);
      if (arg == "--synced-cuts") s.synced_cuts = std::stoi(suite.argv[++i]);
      if (arg == "--unsynced-cuts") s.unsynced_cuts = std::stoi(suite.argv[++i]);
    }
    return s;
  }();
  return settings;
}

// One tab-separated line with one write(): lines from several threads never
// interleave, and the page cache keeps them through the simulated cut.
void LogLine(int fd, std::string line) {
  line += '\n';
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::string Canonical(Identity identity) {
  // The store stamps created_at and updated_at; the content is ours.
  identity.created_at = identity.updated_at = identity.decay_applied_at = 0;
  return IdentityToJsonLine(identity);
}

Identity MakeIdentity(std::mt19937_64& rng, const std::string& id, const std::string& tag) {
  auto below = [&rng](std::uint64_t n) { return rng() % n; };
  Identity identity;
  identity.id = id;
  identity.raw = tag;
  if (below(10) == 0) {
    identity.identity_type = IdentityType::kScar;
    identity.weight = static_cast<double>(1 + below(8)) / 4;
    for (std::uint64_t i = 0, n = 2 + below(4); i < n; ++i) {
      identity.related_ids.push_back("pl-" + std::to_string(below(300)));
    }
    return identity;
  }
  // One in twelve is large, so 512 KiB memtables flush and compact often.
  if (below(12) == 0) identity.raw.append(4096 + below(28 * 1024), 'x');
  nlohmann::json terms = nlohmann::json::array();
  for (std::uint64_t i = 0, n = 1 + below(12); i < n; ++i) {
    terms.push_back({{"term", "w" + std::to_string(below(50))},
                     {"intensity", static_cast<double>(1 + below(64)) / 8}});
  }
  identity.meta["terms"] = std::move(terms);
  return identity;
}

enum class Secondary { kNone, kLegacy, kSecondDatabase };

const char* ModeName(Secondary mode) {
  switch (mode) {
    case Secondary::kNone:
      return "plain";
    case Secondary::kLegacy:
      return "legacy";
    case Secondary::kSecondDatabase:
      return "second";
  }
  return "?";
}

struct CycleSpec {
  KimeraConfig config;
  std::string ack_log;
  std::string results;
  int cycle = 0;
  int writers = 1;
  std::chrono::milliseconds cut_after{0};
  int checkpoint_every = 0;  // Sync() after this many stores; 0: never.
  std::uint64_t seed = 0;
};

// A forked child must not run Boost.Test's handlers: on a crash they would
// jump back into the test runner and run the remaining tests twice.
void ResetSignalHandlers() {
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGALRM, SIGPIPE}) {
    std::signal(sig, SIG_DFL);
  }
}

// The writer process: never returns.
[[noreturn]] void RunWriter(const CycleSpec& spec) {
  ResetSignalHandlers();
  const struct rlimit no_core {};
  (void)::setrlimit(RLIMIT_CORE, &no_core);  // RocksDB may assert after the cut.
  const int log = ::open(spec.ack_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto fault_fs = std::make_shared<PowerLossFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fault_fs);
  KimeraConfig config = spec.config;
  config.storage.env = env.get();
  std::thread cutter([&] {
    std::this_thread::sleep_for(spec.cut_after);
    const PowerCutReport r = fault_fs->Cut();
    LogLine(log, "C\t" + std::to_string(r.files_truncated) + "\t" +
                     std::to_string(r.files_deleted) + "\t" + std::to_string(r.files_restored) +
                     "\t" + std::to_string(r.bytes_dropped) + "\t" +
                     std::to_string(fault_fs->wal_syncs()));
    ::_exit(0);
  });
  std::unique_ptr<EntropyStore> store;
  Status s = OpenConfiguredStore(config, false, &store);
  if (!s.ok() && !fault_fs->dead()) LogLine(log, "E\topen: " + s.ToString());
  if (s.ok()) {
    LogLine(log, "O");
    std::vector<std::thread> writers;
    for (int t = 0; t < spec.writers; ++t) {
      writers.emplace_back([&, t] {
        std::mt19937_64 rng(spec.seed * 31 + static_cast<std::uint64_t>(t));
        for (std::uint64_t n = 0;; ++n) {
          // Each thread owns the ids congruent to it, so one id's stores are
          // never concurrent and the log orders them.
          const std::uint64_t slot = rng() % (300 / spec.writers);
          const std::string id = "pl-" + std::to_string(slot * spec.writers + t);
          const std::string tag = "c" + std::to_string(spec.cycle) + ".t" + std::to_string(t) +
                                  ".n" + std::to_string(n) + " ";
          const Identity identity = MakeIdentity(rng, id, tag);
          LogLine(log, "I\t" + id + "\t" + Canonical(identity));
          Status w = store->Store(identity);
          if (w.ok()) {
            LogLine(log, "A\t" + id);
            if (spec.checkpoint_every > 0 && (n + 1) % spec.checkpoint_every == 0) {
              w = store->Sync();
              if (w.ok()) LogLine(log, "S\t" + std::to_string(n + 1));
            }
          }
          if (!w.ok()) {
            if (!fault_fs->dead()) LogLine(log, "E\t" + id + ": " + w.ToString());
            return;
          }
        }
      });
    }
    for (auto& w : writers) w.join();
  }
  for (;;) ::pause();  // The cutter ends the process.
}

// The verifier process: opens the folder normally and reports.
[[noreturn]] void RunVerifier(const CycleSpec& spec) {
  ResetSignalHandlers();
  std::ofstream out(spec.results);
  ConfiguredStore stack;
  Status s = OpenConfiguredStore(spec.config, false, &stack);
  EntropyStore* store = stack.store.get();
  if (!s.ok()) {
    out << "E\treopen: " << s.ToString() << "\n";
    out.close();
    ::_exit(1);
  }
  s = store->Scan("", [&](const Identity& identity) {
    out << "R\t" << identity.id << "\t" << Canonical(identity) << "\n";
    return true;
  });
  if (!s.ok()) out << "E\tscan: " << s.ToString() << "\n";
  IndexCheckReport check;
  s = store->Check(false, &check);
  if (!s.ok()) out << "E\tindex check: " << s.ToString() << "\n";
  out << "K\t" << check.problem_count << "\n";
  for (const std::string& problem : check.problems) out << "P\t" << problem << "\n";
  if (stack.dual_write->enabled()) {
    SweepReport sweep;
    s = stack.dual_write->Verify(SweepOptions{}, &sweep);
    if (!s.ok()) out << "E\tdual-write verify: " << s.ToString() << "\n";
    out << "D\t" << sweep.differences << "\n";
    for (const IdCheck& diff : sweep.listed) {
      out << "X\tdual-write differs: " << diff.id << " " << CheckResultName(diff.result);
      for (const FieldDiff& field : diff.fields) {
        out << "; " << field.field << ": primary " << field.primary_value.substr(0, 60)
            << " secondary " << field.secondary_value.substr(0, 60);
      }
      out << "\n";
    }
    if (!sweep.clean()) {
      // What a repair sweep leaves must be clean, whether or not the
      // differences were allowed.
      SweepReport repair;
      s = stack.dual_write->Repair(SweepOptions{}, &repair);
      if (s.ok()) s = stack.dual_write->Verify(SweepOptions{}, &sweep);
      if (!s.ok()) out << "E\tdual-write repair: " << s.ToString() << "\n";
      if (s.ok() && !sweep.clean()) {
        out << "E\tdual-write verify after repair: " << sweep.differences << " differences\n";
      }
    }
  }
  stack.Close();  // A clean close: the next writer starts from a durable state.
  out.close();
  ::_exit(0);
}

// Forks `body`; waits at most 120 s. Returns the wait status, or -1.
template <typename Body>
int ForkAndWait(Body&& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::_exit(127);
  }
  if (pid < 0) return -1;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

std::vector<std::vector<std::string>> ReadLines(const std::string& path) {
  std::vector<std::vector<std::string>> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string field; std::getline(split, field, '\t');) fields.push_back(field);
    if (!fields.empty()) lines.push_back(std::move(fields));
  }
  return lines;
}

struct Totals {
  std::uint64_t cuts = 0, cuts_before_open = 0, acknowledged = 0, lost = 0, lost_before_sync = 0,
                lost_after_sync = 0, max_lost_per_cut = 0, holes = 0, unexpected = 0,
                index_problems = 0, dual_write_differences = 0, inflight_landed = 0,
                checkpoints = 0, wal_syncs = 0, files_truncated = 0, files_deleted = 0,
                files_restored = 0, bytes_dropped = 0, failures = 0;
  double seconds = 0;

  nlohmann::json ToJson() const {
    return {{"cuts", cuts},
            {"cuts_before_open", cuts_before_open},
            {"acknowledged", acknowledged},
            {"lost", lost},
            {"lost_before_sync", lost_before_sync},
            {"lost_after_sync", lost_after_sync},
            {"max_lost_per_cut", max_lost_per_cut},
            {"holes", holes},
            {"unexpected", unexpected},
            {"index_problems", index_problems},
            {"dual_write_differences", dual_write_differences},
            {"inflight_landed", inflight_landed},
            {"checkpoints", checkpoints},
            {"wal_syncs", wal_syncs},
            {"files_truncated", files_truncated},
            {"files_deleted", files_deleted},
            {"files_restored", files_restored},
            {"bytes_dropped", bytes_dropped},
            {"failures", failures},
            {"seconds", seconds}};
  }
};

nlohmann::json& Summary() {
  static nlohmann::json summary = nlohmann::json::object();
  return summary;
}

// Runs `cuts` power cuts on one folder, checking after each.
class PowerCutLoop {
 public:
  PowerCutLoop(const std::string& root, Secondary mode, bool sync_writes, std::mt19937_64* rng)
      : mode_(mode), sync_writes_(sync_writes), rng_(rng) {
    dir_ = root + "/" + (sync_writes ? "synced-" : "unsynced-") + ModeName(mode);
    fs::create_directories(dir_);
    spec_.config.db_path = dir_ + "/db";
    spec_.config.storage.sync_writes = sync_writes;
    spec_.config.storage.write_buffer_bytes = 512 * 1024;
    spec_.config.storage.block_cache_bytes = 8u << 20;
    spec_.config.plugin.metrics.enabled = false;
    spec_.config.dual_write.enabled = mode != Secondary::kNone;
    spec_.config.dual_write.secondary =
        mode == Secondary::kSecondDatabase ? dir_ + "/secondary" : "legacy";
    spec_.ack_log = dir_ + "/ack.log";
    spec_.results = dir_ + "/results.txt";
    // A prefix of the ack order is only defined for one writer.
    spec_.writers = sync_writes ? 2 : 1;
  }

  void Run(int cuts) {
    const auto start = Clock::now();
    for (int cycle = 1; cycle <= cuts; ++cycle) Cycle(cycle);
    totals_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const Totals& t = totals_;
    BOOST_TEST_MESSAGE(Name() << ": cuts " << t.cuts << " (" << t.cuts_before_open
                              << " before the store opened), acknowledged " << t.acknowledged
                              << ", lost " << t.lost << " (before the last sync "
                              << t.lost_before_sync << ", max per cut " << t.max_lost_per_cut
                              << "), holes " << t.holes << ", index problems " << t.index_problems
                              << ", dual-write differences " << t.dual_write_differences
                              << ", failures " << t.failures << ", " << t.seconds << " s");
  }

  std::string Name() const {
    return std::string(sync_writes_ ? "sync_writes=true " : "sync_writes=false ") + ModeName(mode_);
  }
  const Totals& totals() const { return totals_; }

 private:
  void Fail(int cycle, const std::string& what) {
    ++totals_.failures;
    BOOST_TEST_MESSAGE("FAIL " << Name() << " cut " << cycle << ": " << what);
  }

  void Cycle(int cycle) {
    spec_.cycle = cycle;
    spec_.seed = (*rng_)();
    // One cut in eight comes while the store opens (journal replay, WAL
    // recovery and its flush); the rest during writes.
    const bool early = (*rng_)() % 8 == 0;
    spec_.cut_after = std::chrono::milliseconds(early ? (*rng_)() % 25 : 150 + (*rng_)() % 450);
    // Syncs far apart, so most cuts land among unsynced writes, not in a
    // sync (which takes as long as hundreds of writes).
    spec_.checkpoint_every = sync_writes_ ? 0 : static_cast<int>(100 + (*rng_)() % 900);
    fs::remove(spec_.ack_log);
    fs::remove(spec_.results);
    const int writer = ForkAndWait([this] { RunWriter(spec_); });
    if (writer == -1) Fail(cycle, "the writer process hung");
    ++totals_.cuts;
    const int verifier = ForkAndWait([this] { RunVerifier(spec_); });
    if (verifier != 0)
      Fail(cycle, "the verifier failed (wait status " + std::to_string(verifier) + ")");
    Compare(cycle);
  }

  void Compare(int cycle) {
    std::vector<std::pair<std::string, std::string>> acks;  // In ack order: id, value.
    std::map<std::string, std::string> pending;             // Id -> value in flight.
    std::uint64_t synced_acks = 0;
    bool opened = false, cut = false;
    for (const auto& f : ReadLines(spec_.ack_log)) {
      if (f[0] == "I" && f.size() == 3) pending[f[1]] = f[2];
      if (f[0] == "A" && f.size() == 2) {
        acks.emplace_back(f[1], pending[f[1]]);
        pending.erase(f[1]);
      }
      if (f[0] == "S") synced_acks = std::stoull(f[1]);
      if (f[0] == "O") opened = true;
      if (f[0] == "E") Fail(cycle, "before the cut: " + f[1]);
      if (f[0] == "C" && f.size() == 6) {
        cut = true;
        totals_.files_truncated += std::stoull(f[1]);
        totals_.files_deleted += std::stoull(f[2]);
        totals_.files_restored += std::stoull(f[3]);
        totals_.bytes_dropped += std::stoull(f[4]);
        totals_.wal_syncs += std::stoull(f[5]);
      }
    }
    if (!cut) Fail(cycle, "the writer ended without cutting the power");
    if (!opened) ++totals_.cuts_before_open;
    if (synced_acks > 0) ++totals_.checkpoints;
    totals_.acknowledged += acks.size();

    std::map<std::string, std::string> actual;
    for (const auto& f : ReadLines(spec_.results)) {
      if (f[0] == "R" && f.size() == 3) actual[f[1]] = f[2];
      if (f[0] == "E" || f[0] == "P") Fail(cycle, f.size() > 1 ? f[1] : f[0]);
      if (f[0] == "K") totals_.index_problems += std::stoull(f[1]);
      if (f[0] == "D") totals_.dual_write_differences += std::stoull(f[1]);
      if (f[0] == "X") Fail(cycle, f[1]);
    }

    // Each id's history this cut: its acknowledged values with their
    // position in the ack order (1-based), then the one in flight.
    std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> history;
    for (std::uint64_t g = 0; g < acks.size(); ++g) {
      history[acks[g].first].emplace_back(g + 1, acks[g].second);
    }
    std::set<std::string> ids;
    for (const auto& [id, v] : expected_) ids.insert(id);
    for (const auto& [id, v] : history) ids.insert(id);
    for (const auto& [id, v] : actual) ids.insert(id);
    std::vector<std::uint64_t> lost;      // Ack positions lost.
    std::vector<std::uint64_t> survived;  // Latest position each id shows.
    const std::uint64_t inflight_position = acks.size() + 1;
    for (const std::string& id : ids) {
      const auto got = actual.find(id);
      const auto before = expected_.find(id);
      const auto& mine = history[id];
      std::optional<std::uint64_t> shown;  // 0: the value from before this cut.
      if (got != actual.end()) {
        const auto p = pending.find(id);
        if (p != pending.end() && p->second == got->second) {
          shown = inflight_position;
          ++totals_.inflight_landed;
        }
        for (auto it = mine.rbegin(); !shown && it != mine.rend(); ++it) {
          if (it->second == got->second) shown = it->first;
        }
        if (!shown && before != expected_.end() && before->second == got->second) shown = 0;
        if (!shown) {
          if (before == expected_.end() && mine.empty()) ++totals_.unexpected;
          Fail(cycle, "id " + id + " holds a value never acknowledged: " + got->second);
        }
      } else if (before == expected_.end()) {
        shown = 0;  // Never acknowledged, still absent.
      } else {
        Fail(cycle, "id " + id + " acknowledged in an earlier cut is gone");
      }
      for (const auto& [position, value] : mine) {
        if (!shown || position > *shown) lost.push_back(position);
      }
      if (shown && *shown > 0) survived.push_back(*shown);
      if (got != actual.end()) {
        expected_[id] = got->second;
      } else {
        expected_.erase(id);
      }
    }

    totals_.lost += lost.size();
    totals_.max_lost_per_cut = std::max<std::uint64_t>(totals_.max_lost_per_cut, lost.size());
    if (!lost.empty()) {
      const std::uint64_t first_lost = *std::min_element(lost.begin(), lost.end());
      for (std::uint64_t position : survived) {
        if (position > first_lost) ++totals_.holes;
      }
      for (std::uint64_t position : lost) {
        if (position <= synced_acks) {
          ++totals_.lost_before_sync;
        } else {
          ++totals_.lost_after_sync;
        }
      }
      if (sync_writes_) {
        Fail(cycle, std::to_string(lost.size()) + " acknowledged writes lost (first at ack " +
                        std::to_string(first_lost) + " of " + std::to_string(acks.size()) + ")");
      }
    }
  }

  Secondary mode_;
  bool sync_writes_;
  std::mt19937_64* rng_;
  std::string dir_;
  CycleSpec spec_;
  Totals totals_;
  std::map<std::string, std::string> expected_;  // Id -> value after the last cut.
};

// Runs every secondary mode with `cuts` cuts each; returns the totals.
Totals RunAll(bool sync_writes, int cuts) {
  const Settings& settings = GetSettings();
  std::string base =
      settings.workdir.empty() ? fs::temp_directory_path().string() : settings.workdir;
  std::string root = base + "/kimera-power-XXXXXX";
  BOOST_TEST_REQUIRE(::mkdtemp(root.data()) != nullptr);
  std::mt19937_64 rng(settings.seed + (sync_writes ? 1 : 2));
  Totals all;
  nlohmann::json modes = nlohmann::json::object();
  for (Secondary mode : {Secondary::kNone, Secondary::kLegacy, Secondary::kSecondDatabase}) {
    PowerCutLoop loop(root, mode, sync_writes, &rng);
    loop.Run(cuts);
    const Totals& t = loop.totals();
    modes[ModeName(mode)] = t.ToJson();
    for (auto field :
         {&Totals::cuts, &Totals::cuts_before_open, &Totals::acknowledged, &Totals::lost,
          &Totals::lost_before_sync, &Totals::lost_after_sync, &Totals::holes, &Totals::unexpected,
          &Totals::index_problems, &Totals::dual_write_differences, &Totals::inflight_landed,
          &Totals::checkpoints, &Totals::wal_syncs, &Totals::files_truncated,
          &Totals::files_deleted, &Totals::files_restored, &Totals::bytes_dropped,
          &Totals::failures}) {
      all.*field += t.*field;
    }
    all.max_lost_per_cut = std::max(all.max_lost_per_cut, t.max_lost_per_cut);
    all.seconds += t.seconds;
  }
  const bool ok = all.failures == 0;
  Summary()[sync_writes ? "sync_writes_true" : "sync_writes_false"] = {
      {"cuts_per_mode", cuts}, {"ok", ok}, {"total", all.ToJson()}, {"modes", modes}};
  if (ok && !settings.keep) {
    fs::remove_all(root);
  } else {
    BOOST_TEST_MESSAGE("databases and ack logs kept in " << root);
  }
  return all;
}

// Writes the summary JSON once both cases ran (or whichever did).
struct SummaryWriter {
  ~SummaryWriter() {
    const Settings& settings = GetSettings();
    if (settings.summary.empty()) return;
    nlohmann::json out = Summary();
    out["seed"] = settings.seed;
    bool ok = !Summary().empty();
    for (const auto& [name, part] : Summary().items()) ok = ok && part["ok"].get<bool>();
    out["ok"] = ok;
    std::ofstream(settings.summary) << out.dump(2) << "\n";
  }
};
BOOST_TEST_GLOBAL_FIXTURE(SummaryWriter);

BOOST_AUTO_TEST_SUITE(power_loss)

BOOST_AUTO_TEST_CASE(sync_writes_lose_no_acknowledged_write) {
  const Totals t = RunAll(true, GetSettings().synced_cuts);
  // 3 secondary modes; a few cuts may land where a mode counts none.
  BOOST_TEST(t.cuts + 8 >= 3u * static_cast<unsigned>(GetSettings().synced_cuts));
  BOOST_TEST(t.acknowledged > 0u);
  BOOST_TEST(t.lost == 0u);
  BOOST_TEST(t.unexpected == 0u);
  BOOST_TEST(t.index_problems == 0u);
  BOOST_TEST(t.dual_write_differences == 0u);
  BOOST_TEST(t.failures == 0u);
}

BOOST_AUTO_TEST_CASE(unsynced_writes_lose_only_a_suffix_after_the_last_sync) {
  const Totals t = RunAll(false, GetSettings().unsynced_cuts);
  BOOST_TEST_MESSAGE("sync_writes=false: " << t.lost << " acknowledged writes lost in " << t.cuts
                                           << " cuts, at most " << t.max_lost_per_cut
                                           << " in one cut, all after the last sync: "
                                           << (t.lost_before_sync == 0));
  BOOST_TEST(t.acknowledged > 0u);
  BOOST_TEST(t.lost_before_sync == 0u);
  BOOST_TEST(t.holes == 0u);
  BOOST_TEST(t.unexpected == 0u);
  BOOST_TEST(t.index_problems == 0u);
  BOOST_TEST(t.dual_write_differences == 0u);
  BOOST_TEST(t.failures == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
