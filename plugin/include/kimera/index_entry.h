// IndexEntry: what the entropy index holds of one identity.
#ifndef KIMERA_INDEX_ENTRY_H_
#define KIMERA_INDEX_ENTRY_H_

#include <string>

#include "kimera/identity.h"

namespace kimera {

struct IndexEntry {
  std::string id;
  double entropy = 0;                                 // Shannon entropy, in bits.
  IdentityType identity_type = IdentityType::kGeoid;  // Its type.
  double tau = 0;                                     // Effective decay time constant, seconds.
};

}  // namespace kimera

#endif  // KIMERA_INDEX_ENTRY_H_
