// kimera check [--repair]: the entropy index verified against the records.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

int RunCheck(const GlobalOptions& global, bool repair) {
  std::unique_ptr<kimera::EntropyStore> store;
  // Without --repair, check only reads: it works while serve runs.
  const Access access = repair ? Access::kWrite : Access::kRead;
  if (kimera::Status s = OpenEntropyStoreForCli(global, access, &store); !s.ok()) {
    return ReportOpenFailure(global, s);
  }
  kimera::IndexCheckReport report;
  if (kimera::Status s = store->Check(repair, &report); !s.ok()) {
    PrintError("check failed: " + s.ToString());
    return kExitStorage;
  }
  for (const std::string& problem : report.problems) std::printf("problem: %s\n", problem.c_str());
  if (report.problem_count > report.problems.size()) {
    std::printf("... and %llu more problems\n",
                static_cast<unsigned long long>(report.problem_count - report.problems.size()));
  }
  std::printf("records: %llu, index entries: %llu, problems: %llu, repaired: %llu\n",
              static_cast<unsigned long long>(report.records),
              static_cast<unsigned long long>(report.index_entries),
              static_cast<unsigned long long>(report.problem_count),
              static_cast<unsigned long long>(report.repaired));
  if (std::fflush(stdout) != 0) return kExitStorage;
  // A repair that fixed everything leaves a good index: success.
  return report.ok() || report.repaired == report.problem_count ? kExitOk : kExitBadInput;
}

}  // namespace

void AddCheckCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Verify the entropy index against the records: every record indexed once at its "
      "recomputed entropy, no orphan entries, counts right. Exit 1 when anything is wrong.");
  auto repair = std::make_shared<bool>(false);
  cmd->add_flag("--repair", *repair, "Fix every problem found (exit 0 when all were fixed)");
  SetCommandBody(cmd, [&global, repair] { return RunCheck(global, *repair); });
}

}  // namespace kimera_cli
