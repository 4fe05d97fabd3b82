#include "dual_write_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace kimera {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
      0.005,   0.01,    0.025,  0.05,    0.1,    0.5,   1.0};
  return kBuckets;
}

}  // namespace

const char* DualWriteOpName(DualWriteOp op) {
  static constexpr std::array<const char*, kDualWriteOpCount> kNames = {"store", "remove", "decay",
                                                                        "repair"};
  static_assert(
      kNames.back() != nullptr && static_cast<int>(DualWriteOp::kRepair) + 1 == kDualWriteOpCount,
      "a name for every DualWriteOp");
  return kNames[static_cast<std::size_t>(op)];
}

const char* ShadowResultName(ShadowResult result) {
  static constexpr std::array<const char*, kShadowResultCount> kNames = {"match", "mismatch",
                                                                         "error", "dropped"};
  static_assert(kNames.back() != nullptr &&
                    static_cast<int>(ShadowResult::kDropped) + 1 == kShadowResultCount,
                "a name for every ShadowResult");
  return kNames[static_cast<std::size_t>(result)];
}

DualWriteMetrics::DualWriteMetrics(prometheus::Registry& registry) {
  auto& ops = prometheus::BuildCounter()
                  .Name("kimera_dual_write_operations_total")
                  .Help("Dual-write operations by operation and outcome")
                  .Register(registry);
  for (int op = 0; op < kDualWriteOpCount; ++op) {
    for (int ok = 0; ok < 2; ++ok) {
      operations_[op][ok] = &ops.Add({{"operation", DualWriteOpName(static_cast<DualWriteOp>(op))},
                                      {"status", ok ? "success" : "failure"}});
    }
  }
  auto& duration = prometheus::BuildHistogram()
                       .Name("kimera_dual_write_duration_seconds")
                       .Help("Time of each side's write, in seconds")
                       .Register(registry);
  primary_duration_ = &duration.Add({{"side", "primary"}}, LatencyBuckets());
  secondary_duration_ = &duration.Add({{"side", "secondary"}}, LatencyBuckets());
  auto& check_duration = prometheus::BuildHistogram()
                             .Name("kimera_dual_write_consistency_check_duration_seconds")
                             .Help("Time of one id check or one whole sweep, in seconds")
                             .Register(registry);
  id_check_duration_ = &check_duration.Add({{"scope", "id"}}, LatencyBuckets());
  sweep_duration_ = &check_duration.Add(
      {{"scope", "sweep"}},
      prometheus::Histogram::BucketBoundaries{0.01, 0.1, 1, 5, 10, 30, 60, 300, 900, 3600});
  auto& checks = prometheus::BuildCounter()
                     .Name("kimera_dual_write_consistency_checks_total")
                     .Help("Ids checked across both sides, by result")
                     .Register(registry);
  for (int r = 0; r < kCheckResultCount; ++r) {
    checks_[r] = &checks.Add({{"result", CheckResultName(static_cast<CheckResult>(r))}});
  }
  consistent_ = &prometheus::BuildGauge()
                     .Name("kimera_dual_write_consistent")
                     .Help("1 when the last full sweep found no difference, else 0")
                     .Register(registry)
                     .Add({});
  entropy_drift_ = &prometheus::BuildHistogram()
                        .Name("kimera_dual_write_entropy_drift")
                        .Help("|H_primary - H_secondary| of each checked id, in bits")
                        .Register(registry)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0, 1e-9, 1e-6, 1e-3, 0.01,
                                                                         0.1, 0.5, 1, 2, 5});
  repair_backlog_ = &prometheus::BuildGauge()
                         .Name("kimera_dual_write_repair_backlog")
                         .Help("Ids waiting in the repair queue")
                         .Register(registry)
                         .Add({});
  auto& shadow = prometheus::BuildCounter()
                     .Name("kimera_dual_write_shadow_reads_total")
                     .Help("Shadow reads of the secondary, by result")
                     .Register(registry);
  for (int r = 0; r < kShadowResultCount; ++r) {
    shadow_[r] = &shadow.Add({{"result", ShadowResultName(static_cast<ShadowResult>(r))}});
  }
}

void DualWriteMetrics::Operation(DualWriteOp op, bool ok) {
  operations_[static_cast<int>(op)][ok ? 1 : 0]->Increment();
}
void DualWriteMetrics::PrimaryDuration(double s) { primary_duration_->Observe(s); }
void DualWriteMetrics::SecondaryDuration(double s) { secondary_duration_->Observe(s); }
void DualWriteMetrics::IdCheckDuration(double s) { id_check_duration_->Observe(s); }
void DualWriteMetrics::SweepDuration(double s) { sweep_duration_->Observe(s); }
void DualWriteMetrics::Check(const IdCheck& check) {
  checks_[static_cast<int>(check.result)]->Increment();
  if (check.result == CheckResult::kConsistent || check.result == CheckResult::kMismatch) {
    entropy_drift_->Observe(check.entropy_drift);
  }
}
void DualWriteMetrics::SetConsistent(bool consistent) { consistent_->Set(consistent ? 1 : 0); }
void DualWriteMetrics::SetRepairBacklog(double depth) { repair_backlog_->Set(depth); }
void DualWriteMetrics::Shadow(ShadowResult result) {
  shadow_[static_cast<int>(result)]->Increment();
}

}  // namespace kimera
