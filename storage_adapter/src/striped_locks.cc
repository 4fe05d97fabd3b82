#include "kimera/striped_locks.h"

#include <xxhash.h>

namespace kimera {

std::mutex& StripedLocks::For(std::string_view id) {
  return stripes_[XXH3_64bits(id.data(), id.size()) % kStripes];
}

}  // namespace kimera
