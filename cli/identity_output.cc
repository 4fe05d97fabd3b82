#include "identity_output.h"

#include <optional>
#include <string>
#include <utility>

#include "kimera/identity_json.h"

namespace kimera_cli {

bool WriteIdentityLine(std::FILE* out, const kimera::Identity& identity) {
  const double entropy = kimera::Entropy(identity);
  std::string line =
      kimera::IdentityToJsonLine(identity, std::make_pair(entropy, kimera::EffectiveTau(entropy)));
  if (line.empty() || line.back() != '\n') line += '\n';
  return std::fwrite(line.data(), 1, line.size(), out) == line.size();
}

}  // namespace kimera_cli
