// kimera query (identities by entropy range) and kimera count.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "identity_output.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

struct QueryOptions {
  double min_entropy = 0.0;                                      // Default 0.
  double max_entropy = std::numeric_limits<double>::infinity();  // Default +inf.
  // Signed, so that a negative N is seen and refused: parsed into a
  // size_t, -1 wrapped around to "everything".
  long long limit = 10;  // Default 10.
};

int OpenOrReport(const GlobalOptions& global, std::unique_ptr<kimera::IdentityStore>* store) {
  if (kimera::Status s = OpenStoreForCli(global, Access::kRead, store); !s.ok()) {
    return ReportOpenFailure(global, s);
  }
  return kExitOk;
}

int RunQuery(const GlobalOptions& global, const QueryOptions& options) {
  if (std::isnan(options.min_entropy) || std::isnan(options.max_entropy)) {
    PrintError("--min-entropy and --max-entropy must be numbers");
    return kExitUsage;
  }
  if (options.min_entropy > options.max_entropy) {
    PrintError("--min-entropy is greater than --max-entropy");
    return kExitUsage;
  }
  if (options.limit < 0) {
    PrintError("--limit must be 0 or more (got " + std::to_string(options.limit) + ")");
    return kExitUsage;
  }
  std::unique_ptr<kimera::IdentityStore> store;
  if (int code = OpenOrReport(global, &store); code != kExitOk) return code;
  std::vector<kimera::Identity> found;
  kimera::Status s = store->FindByEntropy(options.min_entropy, options.max_entropy,
                                          static_cast<std::size_t>(options.limit), &found);
  if (!s.ok()) {
    PrintError(s.ToString());
    return kExitStorage;
  }
  for (const kimera::Identity& identity : found) {
    if (!WriteIdentityLine(stdout, identity)) {
      PrintError("writing to standard output failed");
      return kExitStorage;
    }
  }
  if (std::fflush(stdout) != 0) {
    PrintError("writing to standard output failed");
    return kExitStorage;
  }
  return kExitOk;
}

int RunCount(const GlobalOptions& global, const std::string& type_name) {
  std::optional<kimera::IdentityType> type;
  if (!type_name.empty()) {
    type = kimera::ParseIdentityType(type_name);
    if (!type) {
      PrintError("--type must be geoid or scar, not '" + type_name + "'");
      return kExitUsage;
    }
  }
  std::unique_ptr<kimera::IdentityStore> store;
  if (int code = OpenOrReport(global, &store); code != kExitOk) return code;
  std::uint64_t count = 0;
  kimera::Status s = store->Count(type, &count);
  if (!s.ok()) {
    PrintError(s.ToString());
    return kExitStorage;
  }
  std::printf("%llu\n", static_cast<unsigned long long>(count));
  return std::fflush(stdout) == 0 ? kExitOk : kExitStorage;
}

}  // namespace

void AddQueryCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "query",
      "Print the identities with MIN <= entropy <= MAX as JSON Lines, highest entropy first.");
  auto options = std::make_shared<QueryOptions>();
  cmd->add_option("--min-entropy", options->min_entropy, "Lowest entropy, in bits")
      ->capture_default_str()
      ->type_name("MIN");
  cmd->add_option("--max-entropy", options->max_entropy, "Highest entropy, in bits")
      ->capture_default_str()
      ->type_name("MAX");
  cmd->add_option("--limit", options->limit, "At most N identities")
      ->capture_default_str()
      ->type_name("N");
  SetCommandBody(cmd, [&global, options] { return RunQuery(global, *options); });
}

void AddCountCommand(CLI::App& app, const GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand("count", "Print the number of identities stored.");
  auto type = std::make_shared<std::string>();
  cmd->add_option("--type", *type, "Count only identities of this type")
      ->check(CLI::IsMember({"geoid", "scar"}))
      ->type_name("geoid|scar");
  SetCommandBody(cmd, [&global, type] { return RunCount(global, *type); });
}

}  // namespace kimera_cli
