#include "entropy_change_tracker.h"

#include <algorithm>
#include <cmath>

namespace kimera {

EntropyChangeTracker::EntropyChangeTracker(double window_seconds, bool detailed)
    : window_(std::clamp<std::int64_t>(std::llround(window_seconds), 1, 3600)),
      detailed_(detailed),
      slots_(static_cast<std::size_t>(window_), std::array<double, 2>{0, 0}) {}

void EntropyChangeTracker::AdvanceLocked(std::int64_t second) const {
  if (second <= head_second_) return;
  // Slots between the old head and the new one belong to seconds with no
  // change; clear them (all of them once the gap spans the window).
  const std::int64_t gap = std::min(second - head_second_, window_);
  for (std::int64_t s = second - gap + 1; s <= second; ++s) {
    slots_[static_cast<std::size_t>(s % window_)] = {0, 0};
  }
  head_second_ = second;
}

void EntropyChangeTracker::Record(std::string_view id, IdentityType type, double before,
                                  double after, Micros now, Micros since) {
  const std::int64_t second = now / 1'000'000;
  std::lock_guard lock(mu_);
  AdvanceLocked(second);
  if (second > head_second_ - window_) {
    slots_[static_cast<std::size_t>(second % window_)][static_cast<std::size_t>(type)] +=
        after - before;
  }
  if (!detailed_) return;
  auto it = detailed_rates_.find(id);
  if (it == detailed_rates_.end()) {
    if (detailed_rates_.size() >= kMaxDetailedIds) return;
    it = detailed_rates_.emplace(std::string(id), DetailedRate{std::string(id), type, 0}).first;
  }
  const double dt = static_cast<double>(now - since) / 1e6;
  it->second.type = type;
  it->second.bits_per_second = dt > 0 ? (after - before) / dt : 0;
}

std::array<double, 2> EntropyChangeTracker::Rates(Micros now) const {
  std::lock_guard lock(mu_);
  AdvanceLocked(now / 1'000'000);
  std::array<double, 2> sum{0, 0};
  for (const auto& slot : slots_) {
    sum[0] += slot[0];
    sum[1] += slot[1];
  }
  const auto w = static_cast<double>(window_);
  return {sum[0] / w, sum[1] / w};
}

std::vector<EntropyChangeTracker::DetailedRate> EntropyChangeTracker::Detailed() const {
  std::lock_guard lock(mu_);
  std::vector<DetailedRate> out;
  out.reserve(detailed_rates_.size());
  for (const auto& [id, rate] : detailed_rates_) out.push_back(rate);
  return out;
}

}  // namespace kimera
