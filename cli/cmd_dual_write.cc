// kimera dual-write stats [--json] [--recent N]: totals, successes, failures,
//   success rate, counts on each side (the secondary's per type, with the
//   reference's legacy_geoids_count / legacy_scars_count / total_legacy_count
//   / new_identities_count in the JSON), repair backlog, recent operations.
// kimera dual-write verify [--until-clean] [--max-passes N] [--repair]: every id
//   of both sides compared; each difference listed with its id, kind and
//   fields; exit 1 when any difference is left. Also prints the re-count of the
//   secondary per type against its counters (drift does not change the exit
//   code: no identity differs; --repair corrects it).
// kimera dual-write repair: the secondary made equal to the primary for every
//   difference and every queued repair, its counters corrected; prints the
//   count fixed.
// kimera dual-write cleanup: drops the legacy column families and the audit
//   log when dual-write is off and a clean full sweep followed the last
//   switch; otherwise refuses with the reason (exit 1).
//
// stats, verify and repair need dual-write on (exit 2 otherwise); cleanup
// needs it off.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "kimera/config_loader.h"
#include "kimera/dual_write_store.h"
#include "kimera/identity_json.h"
#include "progress.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

struct DualWriteOptions {
  bool json = false;
  std::size_t recent = 10;  // Default 10 recent operations.
  bool until_clean = false;
  int max_passes = 10;  // Default 10 passes for --until-clean.
  bool repair = false;
};

unsigned long long U(std::uint64_t v) { return static_cast<unsigned long long>(v); }

// Opens the configured stack; `need_enabled` refuses (exit 2) when dual-write
// is off. Returns 0 or the exit code, the error printed.
int Open(const GlobalOptions& global, bool need_enabled, kimera::KimeraConfig* config,
         kimera::ConfiguredStore* stack) {
  if (kimera::Status s = kimera::LoadConfig(global.config_path, config); !s.ok()) {
    PrintError(s.ToString());
    return kExitBadInput;
  }
  if (need_enabled && !config->dual_write.enabled) {
    PrintError(
        "dual-write is not enabled: set enabled = true in the [dual_write] section of the "
        "configuration (" +
        config->source + ") or KIMERA_ID_DUAL_WRITE=1");
    return kExitUsage;
  }
  if (kimera::Status s = OpenConfiguredForCli(global, Access::kWrite, stack, config); !s.ok()) {
    return ReportOpenFailure(global, s);
  }
  return kExitOk;
}

int RunStats(const GlobalOptions& global, const DualWriteOptions& options) {
  kimera::KimeraConfig config;
  kimera::ConfiguredStore stack;
  if (int code = Open(global, true, &config, &stack); code != kExitOk) return code;
  kimera::DualWriteStats stats;
  if (kimera::Status s = stack.dual_write->Stats(options.recent, &stats); !s.ok()) {
    PrintError("dual-write stats failed: " + s.ToString());
    return kExitStorage;
  }
  if (options.json) {
    nlohmann::json recent = nlohmann::json::array();
    for (const kimera::AuditEntry& e : stats.recent) {
      recent.push_back({{"sequence", e.sequence},
                        {"time", kimera::FormatTimestamp(e.time)},
                        {"id", e.id},
                        {"operation", e.operation},
                        {"status", e.status},
                        {"details", e.details}});
    }
    nlohmann::json out = {{"enabled", true},
                          {"secondary", stats.secondary},
                          {"mode", kimera::DualWriteModeName(config.dual_write.mode)},
                          {"read_from", kimera::ReadSourceName(config.dual_write.read_from)},
                          {"total_operations", stats.total},
                          {"successes", stats.successes},
                          {"failures", stats.failures},
                          {"success_rate", stats.success_rate},
                          {"primary_count", stats.primary_count},
                          {"secondary_count", stats.secondary_count},
                          {"secondary_geoids", stats.secondary_geoids},
                          {"secondary_scars", stats.secondary_scars},
                          // The reference's get_dual_write_stats() names.
                          {"new_identities_count", stats.primary_count},
                          {"legacy_geoids_count", stats.secondary_geoids},
                          {"legacy_scars_count", stats.secondary_scars},
                          {"total_legacy_count", stats.secondary_count},
                          {"repair_backlog", stats.repair_backlog},
                          {"recent_operations", std::move(recent)}};
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("secondary:        %s\n", stats.secondary.c_str());
    std::printf("mode:             %s, reads from %s\n",
                kimera::DualWriteModeName(config.dual_write.mode),
                kimera::ReadSourceName(config.dual_write.read_from));
    std::printf("operations:       %llu\n", U(stats.total));
    std::printf("successes:        %llu\n", U(stats.successes));
    std::printf("failures:         %llu\n", U(stats.failures));
    std::printf("success rate:     %.2f %%\n", stats.success_rate * 100.0);
    std::printf("primary count:    %llu\n", U(stats.primary_count));
    std::printf("secondary count:  %llu (%llu geoids, %llu scars)\n", U(stats.secondary_count),
                U(stats.secondary_geoids), U(stats.secondary_scars));
    std::printf("repair backlog:   %llu\n", U(stats.repair_backlog));
    std::printf("recent operations (newest first): %zu\n", stats.recent.size());
    for (const kimera::AuditEntry& e : stats.recent) {
      std::printf("  #%-8llu %s  %-8s %-6s %s%s%s\n", U(e.sequence),
                  kimera::FormatTimestamp(e.time).c_str(), e.operation.c_str(), e.status.c_str(),
                  kimera::DisplayId(e.id).c_str(), e.details.empty() ? "" : "  ",
                  e.details.c_str());
    }
  }
  return std::fflush(stdout) == 0 ? kExitOk : kExitStorage;
}

void PrintDifferences(const kimera::SweepReport& report) {
  for (const kimera::IdCheck& check : report.listed) {
    std::printf("difference: %s %s", kimera::DisplayId(check.id).c_str(),
                kimera::CheckResultName(check.result));
    if (check.entropy_drift > 0) std::printf(" (entropy drift %.6g bits)", check.entropy_drift);
    std::printf("\n");
    for (const kimera::FieldDiff& f : check.fields) {
      std::printf("  field %s: primary %s, secondary %s\n", f.field.c_str(),
                  f.primary_value.c_str(), f.secondary_value.c_str());
    }
  }
  if (report.differences > report.listed.size()) {
    std::printf("... and %llu more differences\n", U(report.differences - report.listed.size()));
  }
}

// The re-count of the secondary's identities against the counters stats reads.
void PrintCountCheck(const kimera::SweepReport& report) {
  if (!report.counts_checked) return;
  std::printf("secondary counts: %llu geoids, %llu scars", U(report.counted_geoids),
              U(report.counted_scars));
  if (report.geoids_count_drift == 0 && report.scars_count_drift == 0) {
    std::printf(", counters exact\n");
    return;
  }
  std::printf(", counters off by %+lld geoids, %+lld scars (%s)\n",
              static_cast<long long>(report.geoids_count_drift),
              static_cast<long long>(report.scars_count_drift),
              report.counts_corrected ? "corrected" : "kimera dual-write repair corrects them");
}

// The primary's identity count: the sweep visits at least those.
std::uint64_t PrimaryCount(kimera::EntropyStore& store) {
  std::uint64_t total = 0;
  (void)store.Count(std::nullopt, &total);
  return total;
}

// Sweep options that draw `bar` (drawn only on a terminal).
kimera::SweepOptions WithProgress(ProgressBar* bar, std::uint64_t total) {
  kimera::SweepOptions options;
  options.progress = [bar, total](std::uint64_t visited) {
    bar->Update(visited, std::min(visited, total));
  };
  return options;
}

int RunVerify(const GlobalOptions& global, const DualWriteOptions& options) {
  kimera::KimeraConfig config;
  kimera::ConfiguredStore stack;
  if (int code = Open(global, true, &config, &stack); code != kExitOk) return code;
  if (options.max_passes < 1) {
    PrintError("--max-passes must be at least 1");
    return kExitUsage;
  }
  const std::uint64_t total = PrimaryCount(*stack.store);
  ProgressBar bar("ids verified", total);
  kimera::SweepOptions sweep = WithProgress(&bar, total);
  sweep.repair = options.repair;
  kimera::SweepReport report;
  kimera::Status s = options.until_clean
                         ? stack.dual_write->VerifyUntilClean(options.max_passes, sweep, &report)
                         : stack.dual_write->Verify(sweep, &report);
  bar.Finish();
  if (!s.ok()) {
    PrintError("dual-write verify failed: " + s.ToString());
    return kExitStorage;
  }
  PrintDifferences(report);
  PrintCountCheck(report);
  const std::uint64_t left = report.differences - std::min(report.repaired, report.differences);
  std::printf(
      "visited: %llu, differences: %llu, repaired: %llu, left: %llu, passes: %llu, "
      "seconds: %.3f\n",
      U(report.visited), U(report.differences), U(report.repaired), U(left), U(report.passes),
      report.seconds);
  if (std::fflush(stdout) != 0) return kExitStorage;
  return left == 0 ? kExitOk : kExitBadInput;
}

int RunRepair(const GlobalOptions& global) {
  kimera::KimeraConfig config;
  kimera::ConfiguredStore stack;
  if (int code = Open(global, true, &config, &stack); code != kExitOk) return code;
  const std::uint64_t total = PrimaryCount(*stack.store);
  ProgressBar bar("ids verified", total);
  kimera::SweepOptions sweep = WithProgress(&bar, total);
  kimera::SweepReport report;
  std::uint64_t from_queue = 0;
  kimera::Status s = stack.dual_write->Repair(sweep, &report, &from_queue);
  bar.Finish();
  if (!s.ok()) {
    PrintError("dual-write repair failed: " + s.ToString());
    return kExitStorage;
  }
  PrintDifferences(report);
  PrintCountCheck(report);
  const std::uint64_t left = report.differences - std::min(report.repaired, report.differences);
  std::printf("fixed: %llu (%llu found by the sweep, %llu from the repair queue), left: %llu\n",
              U(report.repaired + from_queue), U(report.repaired), U(from_queue), U(left));
  if (std::fflush(stdout) != 0) return kExitStorage;
  return left == 0 ? kExitOk : kExitBadInput;
}

int RunCleanup(const GlobalOptions& global) {
  kimera::KimeraConfig config;
  kimera::ConfiguredStore stack;
  if (int code = Open(global, false, &config, &stack); code != kExitOk) return code;
  kimera::Status s = stack.dual_write->Cleanup(config.dual_write);
  if (s.IsInvalidArgument()) {
    PrintError(s.message());
    return kExitBadInput;
  }
  if (!s.ok()) {
    PrintError("dual-write cleanup failed: " + s.ToString());
    return kExitStorage;
  }
  std::printf("dropped the legacy column families and the dual-write audit log\n");
  return std::fflush(stdout) == 0 ? kExitOk : kExitStorage;
}

}  // namespace

void AddDualWriteCommands(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "dual-write", "Dual-write: stats, verify and repair the secondary, clean up after it");
  cmd->require_subcommand(1);
  auto options = std::make_shared<DualWriteOptions>();

  CLI::App* stats = cmd->add_subcommand(
      "stats",
      "Totals, successes, failures, success rate, counts on each side, repair backlog and the "
      "recent operations");
  stats->add_flag("--json", options->json, "Print one JSON object");
  stats->add_option("--recent", options->recent, "Recent operations listed")
      ->capture_default_str()
      ->type_name("N");
  SetCommandBody(stats, [&global, options] { return RunStats(global, *options); });

  CLI::App* verify = cmd->add_subcommand(
      "verify",
      "Compare every id of both sides; list each difference with its id, kind and fields. "
      "Exit 1 when any difference is left.");
  verify->add_flag("--until-clean", options->until_clean,
                   "Re-check the differing ids and the ids written meanwhile until none differs");
  verify->add_option("--max-passes", options->max_passes, "Pass limit of --until-clean")
      ->capture_default_str()
      ->type_name("N");
  verify->add_flag("--repair", options->repair,
                   "Make the secondary equal the primary for each difference");
  SetCommandBody(verify, [&global, options] { return RunVerify(global, *options); });

  CLI::App* repair = cmd->add_subcommand(
      "repair",
      "Make the secondary equal the primary for every difference and queued repair; print the "
      "count fixed");
  SetCommandBody(repair, [&global] { return RunRepair(global); });

  CLI::App* cleanup = cmd->add_subcommand(
      "cleanup",
      "Drop the legacy column families and the audit log: only with dual-write off and a clean "
      "full sweep after the last switch; otherwise refuse with the reason (exit 1)");
  SetCommandBody(cleanup, [&global] { return RunCleanup(global); });
}

}  // namespace kimera_cli
