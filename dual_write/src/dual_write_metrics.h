// The kimera_dual_write_* Prometheus metrics. Every family and every label
// combination is created at construction, so series exist (at 0) before the
// first event.
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef KIMERA_DUAL_WRITE_METRICS_H_
#define KIMERA_DUAL_WRITE_METRICS_H_

#include <array>

#include "kimera/consistency.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace kimera {

enum class DualWriteOp : std::uint8_t { kStore = 0, kRemove, kDecay, kRepair };
inline constexpr int kDualWriteOpCount = 4;
const char* DualWriteOpName(DualWriteOp op);  // "store", "remove", "decay", "repair"

enum class ShadowResult : std::uint8_t { kMatch = 0, kMismatch, kError, kDropped };
inline constexpr int kShadowResultCount = 4;
const char* ShadowResultName(ShadowResult result);  // "match", "mismatch", "error", "dropped"

class DualWriteMetrics {
 public:
  // Registers the families in `registry` (borrowed; must outlive this).
  explicit DualWriteMetrics(prometheus::Registry& registry);

  void Operation(DualWriteOp op, bool ok);
  void PrimaryDuration(double seconds);
  void SecondaryDuration(double seconds);
  void IdCheckDuration(double seconds);
  void SweepDuration(double seconds);
  void Check(const IdCheck& check);
  void SetConsistent(bool consistent);
  void SetRepairBacklog(double depth);
  void Shadow(ShadowResult result);

 private:
  std::array<std::array<prometheus::Counter*, 2>, kDualWriteOpCount> operations_{};
  prometheus::Histogram* primary_duration_ = nullptr;
  prometheus::Histogram* secondary_duration_ = nullptr;
  prometheus::Histogram* id_check_duration_ = nullptr;
  prometheus::Histogram* sweep_duration_ = nullptr;
  std::array<prometheus::Counter*, kCheckResultCount> checks_{};
  prometheus::Gauge* consistent_ = nullptr;
  prometheus::Histogram* entropy_drift_ = nullptr;
  prometheus::Gauge* repair_backlog_ = nullptr;
  std::array<prometheus::Counter*, kShadowResultCount> shadow_{};
};

}  // namespace kimera

#endif  // KIMERA_DUAL_WRITE_METRICS_H_
