// kimera stress --ack-log FILE [--seed N] [--ids N] [--ops N]: the writer of
// the crash loop (tests/reliability/crash_loop.py). Stores, re-stores,
// removes and decays identities of a fixed id space through the configured
// stack (dual-write included) and records every operation in an append-only
// log, one line per record, each written with one write() and made durable
// with fdatasync before the next step:
//
//   S <seed> <pid>                      a run starts (after the store opened)
//   I <seq> <op> <id> <json>|-          about to run op (the in-flight op)
//   A <seq> <op> <id> <xxh3>|- <json>|- op acknowledged: the stored value
//                                       read back (json, with its XXH3
//                                       canonical digest), or "-" for a remove
//
// op is one of store, remove, decay. Fields are separated by one tab; JSON
// lines never hold a raw tab or newline. A run that is killed leaves at most
// one I line without its A line: the op in flight, which may or may not have
// landed. Any failed operation stops the run with exit 3.
//
// kimera stress --verify-only: opens the configured stack (which replays the
// dual-write journal and the index intents), then runs the index check, a
// dual-write sweep (primary against secondary, no repair; the secondary's
// counters against a re-count) when dual-write is on, and a decay
// verification of every identity. Prints each result; exit 1 when any found
// a problem.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "commands.h"
#include "kimera/config_loader.h"
#include "kimera/consistency.h"
#include "kimera/decay_verifier.h"
#include "kimera/dual_write_store.h"
#include "kimera/entropy_store.h"
#include "kimera/identity_json.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

struct StressOptions {
  std::string ack_log;
  std::uint64_t seed = 1;        // Default 1.
  std::uint32_t ids = 300;       // Default 300 distinct ids.
  std::uint64_t ops = 0;         // Default 0: until killed.
  bool verify_only = false;      // Default false: run the writer.
  std::size_t decay_sample = 0;  // Default 0: every identity.
};

// The append-only acknowledgement log.
class AckLog {
 public:
  ~AckLog() {
    if (fd_ >= 0) ::close(fd_);
  }

  kimera::Status Open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return kimera::Status::IOError("cannot open '" + path + "': " + Errno());
    path_ = path;
    return kimera::Status::OK();
  }

  // Writes `line` and a newline with one write() and makes it durable.
  kimera::Status Append(std::string line) {
    line += '\n';
    const char* data = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return kimera::Status::IOError("writing '" + path_ + "': " + Errno());
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd_) != 0) {
      return kimera::Status::IOError("fdatasync of '" + path_ + "': " + Errno());
    }
    return kimera::Status::OK();
  }

 private:
  static std::string Errno() { return std::strerror(errno); }

  int fd_ = -1;
  std::string path_;
};

constexpr const char* kWords[] = {"alpha", "beta",  "gamma",  "delta", "echo",  "foxtrot", "golf",
                                  "hotel", "india", "juliet", "kilo",  "lima",  "mike",    "nov",
                                  "oscar", "papa",  "東京",   "naïve", "délta", "quebec"};
constexpr std::size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  double Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }
  std::uint64_t Below(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
  }

  std::string IdOf(std::uint64_t n) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "stress-%05" PRIu64, n);
    return buf;
  }

  // A new value for `id`: a geoid with weighted terms (sometimes with a
  // large raw text, so memtables flush and compactions run between kills),
  // or a scar linking a few other ids.
  kimera::Identity Make(const std::string& id, std::uint32_t id_space, kimera::Micros now) {
    kimera::Identity identity;
    identity.id = id;
    identity.created_at = now - static_cast<kimera::Micros>(Below(30ull * 86400)) * 1'000'000;
    identity.lang_axis = Uniform() < 0.5 ? "en" : "ja";
    if (Uniform() < 0.2) {
      identity.identity_type = kimera::IdentityType::kScar;
      identity.weight = 0.1 + 2.0 * Uniform();
      const std::uint64_t links = 2 + Below(4);
      for (std::uint64_t i = 0; i < links; ++i)
        identity.related_ids.push_back(IdOf(Below(id_space)));
      identity.raw = "scar";
      return identity;
    }
    identity.weight = 0.5 + Uniform();
    const std::uint64_t words = 1 + Below(12);
    for (std::uint64_t i = 0; i < words; ++i) {
      if (i > 0) identity.raw += ' ';
      identity.raw += kWords[Below(kWordCount)];
    }
    if (Uniform() < 0.05) identity.raw.append(static_cast<std::size_t>(Below(64 * 1024)), 'x');
    identity.echo = identity.raw;
    if (Uniform() < 0.3) identity.tags = {"t" + std::to_string(Below(5)), "stress"};
    nlohmann::json terms = nlohmann::json::array();
    const std::uint64_t count = 1 + Below(20);
    for (std::uint64_t i = 0; i < count; ++i) {
      terms.push_back({{"term", std::string(kWords[Below(kWordCount)]) + std::to_string(i)},
                       {"role", "r"},
                       {"intensity", 0.01 + 100.0 * Uniform() * Uniform()}});
    }
    identity.meta["terms"] = std::move(terms);
    identity.meta["gen"] = Below(1'000'000);
    return identity;
  }

 private:
  std::mt19937_64 rng_;
};

std::string Hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

int Fail(const std::string& what, const kimera::Status& s) {
  PrintError(what + ": " + s.ToString());
  return kExitStorage;
}

int RunWriter(const GlobalOptions& global, const StressOptions& options) {
  if (options.ack_log.empty()) {
    PrintError("stress: --ack-log FILE is required");
    return kExitUsage;
  }
  if (options.ids == 0) {
    PrintError("stress: --ids must be at least 1");
    return kExitUsage;
  }
  std::unique_ptr<kimera::EntropyStore> store;
  if (kimera::Status s = OpenEntropyStoreForCli(global, Access::kCreate, &store); !s.ok()) {
    return Fail("cannot open database '" + global.db_path + "'", s);
  }
  AckLog log;
  if (kimera::Status s = log.Open(options.ack_log); !s.ok()) return Fail("stress", s);
  if (kimera::Status s = log.Append("S\t" + std::to_string(options.seed) + "\t" +
                                    std::to_string(static_cast<long long>(::getpid())));
      !s.ok()) {
    return Fail("stress", s);
  }

  Generator gen(options.seed);
  const kimera::DecayParams decay_params;
  std::uint64_t acknowledged = 0;
  for (std::uint64_t seq = 1; options.ops == 0 || seq <= options.ops; ++seq) {
    const std::string id = gen.IdOf(gen.Below(options.ids));
    kimera::Identity current;
    kimera::Status s = store->Fetch(id, &current);
    if (!s.ok() && !s.IsNotFound()) return Fail("fetch of '" + id + "'", s);
    const bool exists = s.ok();
    const double r = gen.Uniform();
    const char* op = "store";
    if (exists && r < 0.25) {
      op = "remove";
    } else if (exists && r < 0.35) {
      op = "decay";
    }
    const std::string prefix = std::to_string(seq) + "\t" + op + "\t" + id + "\t";

    kimera::Identity next;
    const kimera::Micros now = kimera::SystemNow();
    if (std::strcmp(op, "store") == 0) next = gen.Make(id, options.ids, now);
    const std::string intent =
        std::strcmp(op, "store") == 0 ? kimera::IdentityToJsonLine(next) : std::string("-");
    if (s = log.Append("I\t" + prefix + intent); !s.ok()) return Fail("stress", s);

    if (std::strcmp(op, "store") == 0) {
      s = store->Store(next);
    } else if (std::strcmp(op, "remove") == 0) {
      s = store->Remove(id);
    } else {
      s = store->ApplyDecay(id, now, decay_params);
    }
    if (!s.ok()) return Fail(std::string(op) + " of '" + id + "'", s);

    std::string ack = "A\t" + prefix;
    if (std::strcmp(op, "remove") == 0) {
      ack += "-\t-";
    } else {
      kimera::Identity stored;
      if (s = store->Fetch(id, &stored); !s.ok()) return Fail("read-back of '" + id + "'", s);
      ack += Hex(kimera::CanonicalDigest(stored)) + "\t" + kimera::IdentityToJsonLine(stored);
    }
    if (s = log.Append(ack); !s.ok()) return Fail("stress", s);
    ++acknowledged;
  }
  std::printf("stress: %llu operations acknowledged\n",
              static_cast<unsigned long long>(acknowledged));
  return std::fflush(stdout) == 0 ? kExitOk : kExitStorage;
}

int RunVerifyOnly(const GlobalOptions& global, const StressOptions& options) {
  kimera::ConfiguredStore stack;
  kimera::KimeraConfig config;
  if (kimera::Status s = OpenConfiguredForCli(global, Access::kWrite, &stack, &config); !s.ok()) {
    return Fail("cannot open database '" + global.db_path + "'", s);
  }
  kimera::EntropyStore* store = stack.store.get();
  bool ok = true;

  kimera::IndexCheckReport check;
  if (kimera::Status s = store->Check(false, &check); !s.ok()) return Fail("index check", s);
  std::printf("index check: records %llu, index entries %llu, problems %llu\n",
              static_cast<unsigned long long>(check.records),
              static_cast<unsigned long long>(check.index_entries),
              static_cast<unsigned long long>(check.problem_count));
  for (const std::string& problem : check.problems) std::printf("  problem: %s\n", problem.c_str());
  ok = ok && check.ok();

  kimera::DualWriteStore* dual = stack.dual_write->store();
  if (dual != nullptr) {
    kimera::SweepOptions sweep_options;
    sweep_options.max_listed = 20;
    kimera::SweepReport sweep;
    if (kimera::Status s = dual->Sweep(sweep_options, &sweep); !s.ok()) {
      return Fail("dual-write sweep", s);
    }
    std::printf("dual-write sweep (%s): visited %llu, differences %llu\n",
                config.dual_write.secondary.c_str(), static_cast<unsigned long long>(sweep.visited),
                static_cast<unsigned long long>(sweep.differences));
    for (const kimera::IdCheck& diff : sweep.listed) {
      std::printf("  diverged: %s %s\n", diff.id.c_str(), kimera::CheckResultName(diff.result));
      for (const kimera::FieldDiff& field : diff.fields) {
        std::printf("    %s: primary %s secondary %s\n", field.field.c_str(),
                    field.primary_value.c_str(), field.secondary_value.c_str());
      }
    }
    // The secondary's counters, committed with its rows, must match a
    // re-count after any crash.
    std::printf("dual-write counts: %llu geoids, %llu scars, drift %+lld geoids, %+lld scars\n",
                static_cast<unsigned long long>(sweep.counted_geoids),
                static_cast<unsigned long long>(sweep.counted_scars),
                static_cast<long long>(sweep.geoids_count_drift),
                static_cast<long long>(sweep.scars_count_drift));
    std::printf("dual-write repair backlog: %llu\n",
                static_cast<unsigned long long>(dual->repair_backlog()));
    ok = ok && sweep.clean() && sweep.counts_checked && sweep.geoids_count_drift == 0 &&
         sweep.scars_count_drift == 0;
  } else {
    std::printf("dual-write: off\n");
  }

  kimera::DecayVerifierOptions verifier_options;
  verifier_options.sample_size =
      options.decay_sample > 0
          ? options.decay_sample
          : static_cast<std::size_t>(std::max<std::uint64_t>(check.records, 1));
  verifier_options.seed = options.seed;
  std::unique_ptr<kimera::DecayVerifier> verifier;
  kimera::DecayVerificationReport decay;
  kimera::Status s = kimera::DecayVerifier::Open(*store, verifier_options, &verifier);
  if (s.ok()) s = verifier->Run(kimera::SystemNow(), &decay);
  if (!s.ok()) return Fail("decay verification", s);
  std::printf("decay verification: verified %zu of %zu sampled, %s\n", decay.verified,
              decay.sampled, decay.ok() ? "pass" : "FAIL");
  for (const auto& failure : decay.failures) {
    std::printf("  FAIL %s\n", failure.ToString().c_str());
  }
  ok = ok && decay.ok();

  std::printf("verify: %s\n", ok ? "ok" : "PROBLEMS");
  if (std::fflush(stdout) != 0) return kExitStorage;
  return ok ? kExitOk : kExitBadInput;
}

}  // namespace

void AddStressCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "stress",
      "Crash-test writer: store, re-store, remove and decay identities, logging every "
      "acknowledged operation to an fsynced append-only log (see docs/reliability.md). "
      "--verify-only checks the index, dual-write and decay instead.");
  auto options = std::make_shared<StressOptions>();
  cmd->add_option("--ack-log", options->ack_log, "Append-only log of acknowledged operations")
      ->type_name("FILE");
  cmd->add_option("--seed", options->seed, "Seed of the operation stream (default 1)")
      ->type_name("N");
  cmd->add_option("--ids", options->ids, "Distinct ids written (default 300)")->type_name("N");
  cmd->add_option("--ops", options->ops, "Stop after N operations (default 0: until killed)")
      ->type_name("N");
  cmd->add_option("--decay-sample", options->decay_sample,
                  "--verify-only: identities to verify decay on (default: all)")
      ->type_name("N");
  cmd->add_flag("--verify-only", options->verify_only,
                "Open the stack (replaying journals), run the index check, the dual-write sweep "
                "and decay verification; exit 1 on any problem");
  SetCommandBody(cmd, [&global, options] {
    return options->verify_only ? RunVerifyOnly(global, *options) : RunWriter(global, *options);
  });
}

}  // namespace kimera_cli
