#include "kimera/striped_locks.h"

#include <xxhash.h>

#include <algorithm>

namespace kimera {
namespace {

std::size_t StripeOf(std::string_view id) {
  return XXH3_64bits(id.data(), id.size()) % StripedLocks::kStripes;
}

}  // namespace

StripedLocks::Mutex& StripedLocks::For(std::string_view id) { return stripes_[StripeOf(id)]; }

StripedLocks::Group::Group(StripedLocks& locks, const std::vector<std::string_view>& ids) {
  std::array<bool, kStripes> wanted{};
  for (std::string_view id : ids) wanted[StripeOf(id)] = true;
  for (std::size_t i = 0; i < kStripes; ++i) {
    if (wanted[i]) held_.push_back(&locks.stripes_[i]);
  }
  for (Mutex* m : held_) m->lock();
}

StripedLocks::Group::~Group() {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) (*it)->unlock();
}

}  // namespace kimera
