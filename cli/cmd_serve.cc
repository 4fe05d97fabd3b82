// kimera serve: the long-lived monitored store. Opens the configured stack
// with the /metrics endpoint, runs the background work and an optional
// workload, shows a live status, and shuts down cleanly on SIGINT / SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "kimera/config_loader.h"
#include "kimera/decay_sweep.h"
#include "kimera/dual_write_store.h"
#include "kimera/entropy_store.h"
#include "kimera/store_factory.h"
#include "status_line.h"
#include "store_opener.h"
#include "workload.h"

namespace kimera_cli {
namespace {

struct ServeOptions {
  double rate = 0;              // Default 0: no workload, serve only.
  double duration_seconds = 0;  // Default 0: the workload runs until a signal.
  std::string mix = "full";     // Default "full"; "stores": every operation a store.
  std::uint64_t seed = 1;       // Default 1.
  std::string ack_log_path;     // Default empty: no acknowledgement log.
};

// The background work that runs beside the store while it serves: the decay
// sweep with its verification (every decay.sweep_interval_seconds, and decay
// application every decay.apply_interval_seconds when set). Dual-write runs
// its own sweep and repair threads inside the store when the configuration
// turns it on; this only reads their state for the status line. Percentile
// and RocksDB gauges are refreshed by the plugin's collector at scrape time.
class BackgroundWork {
 public:
  // `dual_write` is the stack's dual-write layer, or nullptr when it is off.
  BackgroundWork(kimera::EntropyStore& store, kimera::DualWriteStore* dual_write,
                 const kimera::KimeraConfig& config)
      : store_(store), config_(config), dual_write_(dual_write) {}
  ~BackgroundWork() { Stop(); }

  kimera::Status Start() {
    if (config_.decay.sweep_interval_seconds == 0 && config_.decay.apply_interval_seconds == 0) {
      return kimera::Status::OK();
    }
    kimera::DecaySweepOptions options;
    options.config = config_.decay;
    kimera::Status s = kimera::DecaySweep::Open(store_, options, &decay_);
    if (s.ok()) decay_->Start();
    return s;
  }

  // Stops the decay sweep (an ongoing pass stops at its next chunk).
  void Stop() {
    if (decay_) decay_->Stop();
  }

  std::string DecayState() const {
    if (!decay_) return "decay sweep off";
    const kimera::DecaySweepResult last = decay_->last_result();
    if (!last.error.empty()) return "decay sweep error";
    if (!last.verified) return "decay: first sweep pending";
    if (last.verification.ok()) return "decay verified";
    std::uint64_t failures = 0;
    for (std::uint64_t n : last.verification.failures_by_check) failures += n;
    return "decay FAILED (" + std::to_string(failures) + " checks)";
  }

  // Refreshes the dual-write figures every `kDualWriteEvery` calls: Stats
  // counts both sides, too much work for every second.
  std::string DualWriteState() {
    if (dual_write_ == nullptr) return "dual-write off";
    if (calls_++ % kDualWriteEvery == 0) {
      kimera::DualWriteStats stats;
      if (kimera::Status s = dual_write_->Stats(0, &stats); s.ok()) {
        char text[160];
        std::snprintf(text, sizeof text, "dual-write %.2f%% ok, %llu/%llu",
                      100 * stats.success_rate,
                      static_cast<unsigned long long>(stats.primary_count),
                      static_cast<unsigned long long>(stats.secondary_count));
        dual_write_text_ = text;
      } else {
        dual_write_text_ = "dual-write stats error";
      }
    }
    return dual_write_text_ + ", backlog " + std::to_string(dual_write_->repair_backlog());
  }

 private:
  static constexpr int kDualWriteEvery = 10;

  kimera::EntropyStore& store_;
  const kimera::KimeraConfig& config_;
  kimera::DualWriteStore* const dual_write_;  // Below store_, when dual-write is on.
  std::unique_ptr<kimera::DecaySweep> decay_;
  int calls_ = 0;
  std::string dual_write_text_;
};

// Blocks SIGINT and SIGTERM in this thread and in every thread started
// after it (RocksDB's, the HTTP server's, the workload's), so they are only
// ever taken by sigtimedwait in the main loop: no work in a signal handler.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Waits up to one second for a stop signal; its number, or 0.
int WaitForStopSignal(const sigset_t& signals) {
  timespec timeout{1, 0};
  const int sig = sigtimedwait(&signals, nullptr, &timeout);
  return sig > 0 ? sig : 0;
}

// Identities stored, from the plugin's in-memory counts (not an operation).
std::int64_t StoredIdentities(kimera::EntropyStore& store) {
  return static_cast<std::int64_t>(store.StoredCount());
}

int ValidateOptions(const ServeOptions& options) {
  if (!std::isfinite(options.rate) || options.rate < 0) {
    PrintError("--workload must be a rate >= 0 operations per second");
    return kExitUsage;
  }
  if (!std::isfinite(options.duration_seconds) || options.duration_seconds < 0) {
    PrintError("--workload-duration must be >= 0 seconds");
    return kExitUsage;
  }
  return kExitOk;
}

// Loads the configuration and opens the stack, serving /metrics. Returns 0
// or the exit code, the error printed.
int OpenForServe(const GlobalOptions& global, kimera::KimeraConfig* config,
                 kimera::ConfiguredStore* stack) {
  if (kimera::Status s = kimera::LoadConfig(global.config_path, config); !s.ok()) {
    PrintError("configuration error: " + s.message());
    return kExitBadInput;
  }
  if (global.db_path_given || config->db_path.empty()) config->db_path = global.db_path;
  ApplyAccess(global, Access::kCreate, config);
  std::vector<std::string> recovery_reports;
  if (kimera::Status s =
          kimera::OpenConfiguredStore(*config, /*serve_metrics=*/true, stack, &recovery_reports);
      !s.ok()) {
    if (s.IsUnavailable()) {
      // The message names the address and the reason already.
      PrintError(s.message() + " (choose another with [metrics] port or KIMERA_METRICS_PORT)");
    } else {
      PrintError("cannot open database '" + config->db_path + "': " + s.ToString());
      if (s.IsInvalidArgument()) return kExitBadInput;
    }
    return kExitStorage;
  }
  PrintRecoveryReports(recovery_reports);
  return kExitOk;
}

void PrintBanner(const kimera::KimeraConfig& config, const ServeOptions& options,
                 std::int64_t stored, const std::string& metrics_address) {
  std::fprintf(stderr, "kimera serve: database %s (config %s), %lld identities stored\n",
               config.db_path.c_str(), config.source.c_str(), static_cast<long long>(stored));
  if (metrics_address.empty()) {
    std::fprintf(stderr, "kimera serve: metrics not served (metrics.enabled is false)\n");
  } else {
    std::fprintf(stderr, "kimera serve: metrics at http://%s/metrics\n", metrics_address.c_str());
  }
  if (options.rate > 0) {
    char length[64] = "ever";
    if (options.duration_seconds > 0) {
      std::snprintf(length, sizeof length, "%g s", options.duration_seconds);
    }
    std::fprintf(stderr, "kimera serve: workload %g ops/s (%s mix), seed %llu, for %s\n",
                 options.rate, options.mix.c_str(), static_cast<unsigned long long>(options.seed),
                 length);
  }
  std::fprintf(stderr, "kimera serve: running; Ctrl-C or SIGTERM stops\n");
  std::fflush(stderr);
}

// Shows the status line once a second until a stop signal; its number.
int ServeUntilStopped(const sigset_t& stop_signals, const ServeOptions& options,
                      kimera::EntropyStore& store, BackgroundWork& background,
                      const Workload& workload, const std::string& metrics_address) {
  StatusLine status_line(stdout, isatty(fileno(stdout)) != 0);
  using SteadyClock = std::chrono::steady_clock;
  auto last_time = SteadyClock::now();
  std::uint64_t last_operations = 0;
  bool workload_end_reported = false;
  int signal_number = 0;
  while ((signal_number = WaitForStopSignal(stop_signals)) == 0) {
    const WorkloadCounters counters = workload.counters();
    const auto now = SteadyClock::now();
    const double elapsed = std::chrono::duration<double>(now - last_time).count();
    ServeStatus status;
    status.ops_per_second =
        elapsed > 0 ? static_cast<double>(counters.operations - last_operations) / elapsed : 0;
    last_time = now;
    last_operations = counters.operations;
    status.errors = counters.errors;
    status.identities = StoredIdentities(store);
    status.entropy_p50 = store.EntropyQuantile(0.5);
    status.entropy_p90 = store.EntropyQuantile(0.9);
    status.entropy_p99 = store.EntropyQuantile(0.99);
    status.decay_state = background.DecayState();
    status.dual_write_state = background.DualWriteState();
    status.metrics_address = metrics_address;
    status_line.Show(status);
    if (options.rate > 0 && workload.finished() && !workload_end_reported) {
      workload_end_reported = true;
      status_line.Finish();
      std::fprintf(stderr, "kimera serve: workload finished (%llu operations); still serving\n",
                   static_cast<unsigned long long>(counters.operations));
    }
  }
  status_line.Finish();
  return signal_number;
}

// The closing summary; the exit code (storage error when the final flush
// failed).
int PrintSummary(const Workload& workload, std::int64_t stored, const kimera::Status& synced) {
  const WorkloadCounters counters = workload.counters();
  if (const std::string error = workload.first_error(); !error.empty()) {
    std::fprintf(stderr, "kimera serve: %llu workload errors, the first: %s\n",
                 static_cast<unsigned long long>(counters.errors), error.c_str());
  }
  std::fprintf(stderr,
               "kimera serve: %llu operations, %llu identities created, %llu removed\n"
               "identities stored: %lld\n"
               "acknowledged writes: %llu\n",
               static_cast<unsigned long long>(counters.operations),
               static_cast<unsigned long long>(counters.created),
               static_cast<unsigned long long>(counters.removed), static_cast<long long>(stored),
               static_cast<unsigned long long>(counters.acknowledged));
  if (!synced.ok()) {
    PrintError("flushing the database failed: " + synced.ToString());
    return kExitStorage;
  }
  return kExitOk;
}

int RunServe(const GlobalOptions& global, const ServeOptions& options) {
  if (int code = ValidateOptions(options); code != kExitOk) return code;
  const sigset_t stop_signals = BlockStopSignals();
  kimera::KimeraConfig config;
  kimera::ConfiguredStore stack;
  if (int code = OpenForServe(global, &config, &stack); code != kExitOk) return code;
  kimera::EntropyStore& store = *stack.store;
  const std::string metrics_address = store.endpoint() ? store.endpoint()->address() : "";

  BackgroundWork background(store, stack.dual_write->store(), config);
  if (kimera::Status s = background.Start(); !s.ok()) {
    PrintError("cannot start background work: " + s.ToString());
    return ExitCodeFor(s);
  }

  WorkloadOptions workload_options;
  workload_options.rate = options.rate;
  workload_options.duration_seconds = options.duration_seconds;
  workload_options.mix = options.mix == "stores" ? WorkloadMix::kStoresOnly : WorkloadMix::kFull;
  workload_options.seed = options.seed;
  workload_options.decay = config.plugin.entropy.decay;
  workload_options.ack_log_path = options.ack_log_path;
  Workload workload(store, workload_options);

  PrintBanner(config, options, StoredIdentities(store), metrics_address);
  workload.Start();
  const int signal_number =
      ServeUntilStopped(stop_signals, options, store, background, workload, metrics_address);
  std::fprintf(stderr, "kimera serve: %s received, stopping\n", strsignal(signal_number));

  // Writes in flight finish before Stop returns; only then flush and close.
  workload.Stop();
  background.Stop();
  const kimera::Status synced = store.Sync();
  const std::int64_t stored = StoredIdentities(store);
  stack.Close();
  return PrintSummary(workload, stored, synced);
}

}  // namespace

void AddServeCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Open the store with /metrics and run until SIGINT/SIGTERM, optionally with a workload.");
  auto options = std::make_shared<ServeOptions>();
  cmd->add_option("--workload", options->rate,
                  "Run a seeded workload at RATE operations/s. It writes, removes and decays "
                  "only identities it created (ids \"wg-...\" / \"ws-...\" with meta.source "
                  "\"workload\"); identities imported or stored by others are only read")
      ->capture_default_str()
      ->type_name("RATE");
  cmd->add_option("--workload-duration", options->duration_seconds,
                  "Stop the workload after SECONDS (0: run until stopped)")
      ->capture_default_str()
      ->type_name("SECONDS");
  cmd->add_option("--workload-mix", options->mix,
                  "full: stores, reads, queries, removes, decay; stores: only stores, so RATE "
                  "is the store rate")
      ->capture_default_str()
      ->check(CLI::IsMember({"full", "stores"}))
      ->type_name("MIX");
  cmd->add_option("--seed", options->seed, "Seed of the workload's random stream")
      ->capture_default_str()
      ->type_name("N");
  cmd->add_option("--ack-log", options->ack_log_path,
                  "Append '+id' / '-id' for every acknowledged store / remove (for tests)")
      ->type_name("FILE");
  SetCommandBody(cmd, [&global, options] { return RunServe(global, *options); });
}

}  // namespace kimera_cli
