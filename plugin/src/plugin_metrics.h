// PluginMetrics: the plugin's Prometheus families, registered once, with
// every handle the hot path needs resolved up front (no label lookups while
// storing or querying).
//
// Label values are bounded: operation_type is one of Operation's names,
// identity_type one of geoid / scar / other, reason one of Status's code
// names. Every known label combination is created at start so dashboards
// show 0 rather than "No data".
//
// Thread-safety: safe for concurrent use by many threads (prometheus-cpp
// metrics are thread-safe).
#ifndef KIMERA_PLUGIN_METRICS_H_
#define KIMERA_PLUGIN_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "kimera/identity.h"
#include "kimera/operation.h"
#include "kimera/plugin_config.h"
#include "kimera/status.h"

namespace kimera {

// identity_type label values: geoid, scar, other.
inline constexpr std::size_t kTypeLabelCount = 3;
inline constexpr std::size_t kOtherTypeLabel = 2;
const char* TypeLabelName(std::size_t label);
inline std::size_t TypeLabel(IdentityType type) { return static_cast<std::size_t>(type); }

// The error reasons counted: every Status code but ok and not_found.
inline constexpr std::size_t kReasonCount = 7;

// Histogram buckets, fixed by the design.
prometheus::Histogram::BucketBoundaries EntropyBuckets();
prometheus::Histogram::BucketBoundaries LatencyBuckets();

class PluginMetrics {
 public:
  PluginMetrics(prometheus::Registry& registry, const PluginConfig& config);

  // One finished operation: its duration, and either its outcome or error.
  // `type` labels the operation counter when the operation is about one
  // identity; otherwise the counter is labelled "other".
  void ObserveOperation(Operation op, std::optional<IdentityType> type, double seconds,
                        const Status& status);
  // An identity stored with `entropy` and `tau`; `previous_entropy` when it
  // replaced a stored one.
  void ObserveStore(IdentityType type, double entropy, double tau,
                    std::optional<double> previous_entropy);
  void ObserveRemove(IdentityType type, double entropy);
  void ObserveQuery(std::size_t rows, std::size_t scanned);
  void ObserveIndexUpdate(bool had_before, bool has_after);

 private:
  prometheus::Family<prometheus::Counter>& operations_family_;
  prometheus::Family<prometheus::Histogram>& duration_family_;
  prometheus::Family<prometheus::Counter>& errors_family_;
  prometheus::Family<prometheus::Histogram>& entropy_family_;
  prometheus::Family<prometheus::Histogram>& tau_family_;
  prometheus::Family<prometheus::Histogram>& storage_entropy_family_;
  prometheus::Family<prometheus::Histogram>& change_family_;
  prometheus::Family<prometheus::Histogram>& query_rows_family_;
  prometheus::Family<prometheus::Histogram>& query_scanned_family_;
  prometheus::Family<prometheus::Counter>& index_updates_family_;

  std::array<std::array<prometheus::Counter*, kTypeLabelCount>, kOperationCount> operations_{};
  std::array<prometheus::Histogram*, kOperationCount> duration_{};
  std::array<std::array<prometheus::Counter*, kReasonCount>, kOperationCount> errors_{};
  std::array<prometheus::Histogram*, kTypeLabelCount> entropy_{};
  std::array<prometheus::Histogram*, kTypeLabelCount> tau_{};
  std::array<prometheus::Histogram*, kTypeLabelCount> stored_entropy_{};
  std::array<prometheus::Histogram*, kTypeLabelCount> removed_entropy_{};
  std::array<prometheus::Histogram*, kTypeLabelCount> change_{};
  prometheus::Histogram* query_rows_;
  prometheus::Histogram* query_scanned_;
  std::array<prometheus::Counter*, 3> index_updates_{};  // insert, update, delete
};

}  // namespace kimera

#endif  // KIMERA_PLUGIN_METRICS_H_
