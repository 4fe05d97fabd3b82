// How the `kimera` program opens its store. The one place that decides which
// IdentityStore (and which decorators around it) the commands work on.
#ifndef KIMERA_CLI_STORE_OPENER_H_
#define KIMERA_CLI_STORE_OPENER_H_

#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "kimera/config_loader.h"
#include "kimera/entropy_store.h"
#include "kimera/identity_store.h"
#include "kimera/status.h"
#include "kimera/store_factory.h"

namespace kimera_cli {

// What a command does with the database.
enum class Access {
  kRead,    // Only reads: opened read-only, without the lock (works while
            // `serve` runs, on a read-only copy or a backup); never created.
  kWrite,   // Writes an existing database; never created.
  kCreate,  // Writes, creating the database when missing (import, serve, stress).
};

// Opens the configured store (global.config_path, else $KIMERA_CONFIG; --db
// overrides its path; default ./kimera-data) for `access`, into `*out`, with
// --salvage applied. NotFound "no database at PATH" when there is none and
// `access` may not create one; Busy when another process holds the database
// (never for kRead); Corruption naming the log when the write-ahead log is
// damaged and --salvage was not given; InvalidArgument for a bad
// configuration (two database folders that are one). What a salvage or a
// torn log lost is printed on stderr. `*out` is only set on success.
kimera::Status OpenStoreForCli(const GlobalOptions& global, Access access,
                               std::unique_ptr<kimera::IdentityStore>* out);

// The same, for commands that need the whole stack (dual-write, serve).
// `*config`, when given, gets the configuration it was opened with.
kimera::Status OpenConfiguredForCli(const GlobalOptions& global, Access access,
                                    kimera::ConfiguredStore* out,
                                    kimera::KimeraConfig* config = nullptr);

// The same, for commands that need the plugin itself (check, decay).
kimera::Status OpenEntropyStoreForCli(const GlobalOptions& global, Access access,
                                      std::unique_ptr<kimera::EntropyStore>* out,
                                      kimera::KimeraConfig* config = nullptr);

// Applies `access` and --salvage to the storage options of `config`.
void ApplyAccess(const GlobalOptions& global, Access access, kimera::KimeraConfig* config);

// Prints each recovery report (what a salvage or a torn log lost, from
// OpenConfiguredStore) on stderr as a warning.
void PrintRecoveryReports(const std::vector<std::string>& reports);

// Prints "cannot open database 'PATH': <reason>" and returns the exit code
// of an open failure: 1 for a bad configuration, 3 for everything else
// (no database, lock held, damaged log, I/O).
int ReportOpenFailure(const GlobalOptions& global, const kimera::Status& status);

}  // namespace kimera_cli

#endif  // KIMERA_CLI_STORE_OPENER_H_
