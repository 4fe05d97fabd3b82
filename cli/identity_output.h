// Writes identities as the program's JSON Lines: the reference fields in
// reference order plus the computed "entropy" and "effective_tau".
#ifndef KIMERA_CLI_IDENTITY_OUTPUT_H_
#define KIMERA_CLI_IDENTITY_OUTPUT_H_

#include <cstdio>

#include "kimera/identity.h"

namespace kimera_cli {

// Writes one line for `identity` to `out`. False when the write failed.
bool WriteIdentityLine(std::FILE* out, const kimera::Identity& identity);

}  // namespace kimera_cli

#endif  // KIMERA_CLI_IDENTITY_OUTPUT_H_
