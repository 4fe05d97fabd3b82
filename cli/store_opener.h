// How the `kimera` program opens its store. The one place that decides which
// IdentityStore (and which decorators around it) the commands work on.
#ifndef KIMERA_CLI_STORE_OPENER_H_
#define KIMERA_CLI_STORE_OPENER_H_

#include <memory>

#include "commands.h"
#include "kimera/config_loader.h"
#include "kimera/entropy_store.h"
#include "kimera/identity_store.h"
#include "kimera/status.h"

namespace kimera_cli {

// Opens the configured store (global.config_path, else $KIMERA_CONFIG; --db
// overrides its path; default ./kimera-data), creating it when missing, into
// `*out`. Busy when another process holds the database; IOError naming the
// folder on any other failure. `*out` is only set on success.
kimera::Status OpenStoreForCli(const GlobalOptions& global,
                               std::unique_ptr<kimera::IdentityStore>* out);

// The same, for commands that need the plugin itself (check, dual-write,
// decay). `*config`, when given, gets the configuration it was opened with.
kimera::Status OpenEntropyStoreForCli(const GlobalOptions& global,
                                      std::unique_ptr<kimera::EntropyStore>* out,
                                      kimera::KimeraConfig* config = nullptr);

}  // namespace kimera_cli

#endif  // KIMERA_CLI_STORE_OPENER_H_
