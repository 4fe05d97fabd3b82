// StripedLocks: a fixed set of mutexes, one picked by a hash of the id, so
// that the writes, checks and repairs of one id are serialized without a
// mutex per id. Different ids may share a stripe: never lock a second id
// while holding one (or lock stripes in a fixed order).
//
// Thread-safety: For() may be called from any thread.
#ifndef KIMERA_STRIPED_LOCKS_H_
#define KIMERA_STRIPED_LOCKS_H_

#include <array>
#include <cstddef>
#include <mutex>
#include <string_view>

namespace kimera {

class StripedLocks {
 public:
  static constexpr std::size_t kStripes = 256;

  // The mutex of `id`'s stripe.
  std::mutex& For(std::string_view id);

 private:
  std::array<std::mutex, kStripes> stripes_;
};

}  // namespace kimera

#endif  // KIMERA_STRIPED_LOCKS_H_
