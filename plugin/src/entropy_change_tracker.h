// EntropyChangeTracker: how fast the stored entropy changes, per identity
// type, over a sliding window of one-second slots; in detailed mode also the
// latest rate of at most kMaxDetailedIds identities.
//
// The rate of a type is the sum of signed entropy changes of re-stored
// identities in the window, divided by the window's length: bits/second.
//
// Thread-safety: safe for concurrent use by many threads (one mutex).
#ifndef KIMERA_ENTROPY_CHANGE_TRACKER_H_
#define KIMERA_ENTROPY_CHANGE_TRACKER_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/identity.h"

namespace kimera {

class EntropyChangeTracker {
 public:
  static constexpr std::size_t kMaxDetailedIds = 100;

  // `window_seconds` is rounded to whole seconds, at least 1, at most 3600.
  EntropyChangeTracker(double window_seconds, bool detailed);

  // `id` moved from `before` to `after` bits at time `now`; `since` is when
  // it was last updated (for the detailed per-id rate).
  void Record(std::string_view id, IdentityType type, double before, double after, Micros now,
              Micros since);

  // Bits per second of each type (geoid, scar) over the window ending at `now`.
  std::array<double, 2> Rates(Micros now) const;

  struct DetailedRate {
    std::string id;
    IdentityType type;
    double bits_per_second;
  };
  std::vector<DetailedRate> Detailed() const;

 private:
  void AdvanceLocked(std::int64_t second) const;

  const std::int64_t window_;
  const bool detailed_;
  mutable std::mutex mu_;  // Guards everything below.
  mutable std::vector<std::array<double, 2>> slots_;
  mutable std::int64_t head_second_ = 0;
  std::map<std::string, DetailedRate, std::less<>> detailed_rates_;
};

}  // namespace kimera

#endif  // KIMERA_ENTROPY_CHANGE_TRACKER_H_
