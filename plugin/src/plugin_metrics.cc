#include "plugin_metrics.h"

#include <algorithm>
#include <cmath>

namespace kimera {
namespace {

constexpr std::array<const char*, kOperationCount> kOperationNames = {"store",
                                                                      "fetch",
                                                                      "remove",
                                                                      "list",
                                                                      "count",
                                                                      "find_by_entropy",
                                                                      "scan",
                                                                      "apply_decay",
                                                                      "sync",
                                                                      "check",
                                                                      "dual_write_verify",
                                                                      "dual_write_repair",
                                                                      "dual_write_stats",
                                                                      "form_store",
                                                                      "form_fetch",
                                                                      "form_list",
                                                                      "form_count",
                                                                      "form_prune",
                                                                      "form_decay",
                                                                      "store_many"};

constexpr std::array<const char*, kTypeLabelCount> kTypeNames = {"geoid", "scar", "other"};

// Status codes from kInvalidArgument on, in enum order.
constexpr std::array<const char*, kReasonCount> kReasonNames = {
    "invalid_argument", "corruption", "io_error", "no_space", "busy", "unavailable", "aborted"};

// A name for every enum value: a value added without one fails to compile.
constexpr bool AllNamed(const auto& names) {
  return std::ranges::none_of(names, [](const char* n) { return n == nullptr; });
}
static_assert(AllNamed(kOperationNames) &&
              static_cast<std::size_t>(Operation::kStoreMany) + 1 == kOperationCount);
static_assert(AllNamed(kTypeNames) &&
              static_cast<std::size_t>(IdentityType::kScar) + 1 == kOtherTypeLabel);
static_assert(AllNamed(kReasonNames) &&
              static_cast<std::size_t>(Status::Code::kAborted) -
                      static_cast<std::size_t>(Status::Code::kInvalidArgument) + 1 ==
                  kReasonCount);

std::size_t ReasonIndex(Status::Code code) {
  return static_cast<std::size_t>(code) - static_cast<std::size_t>(Status::Code::kInvalidArgument);
}

prometheus::Histogram::BucketBoundaries TauBuckets(const DecayParams& decay) {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double h : {0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
    buckets.push_back(decay.base_tau_seconds * (1 + decay.k * h));
  }
  return buckets;
}

prometheus::Histogram::BucketBoundaries ChangeBuckets() {
  return {-4, -2, -1, -0.5, -0.1, -0.01, 0, 0.01, 0.1, 0.5, 1, 2, 4};
}

prometheus::Histogram::BucketBoundaries RowBuckets() { return {0, 1, 5, 10, 50, 100, 500, 1000}; }

}  // namespace

const char* OperationName(Operation op) { return kOperationNames[static_cast<std::size_t>(op)]; }

const char* TypeLabelName(std::size_t label) { return kTypeNames[label]; }

prometheus::Histogram::BucketBoundaries EntropyBuckets() {
  return {0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5};
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,    0.025,    0.05,    0.1,    0.25,    0.5,    1,     2.5,    10};
}

PluginMetrics::PluginMetrics(prometheus::Registry& registry, const PluginConfig& config)
    : operations_family_(prometheus::BuildCounter()
                             .Name("kimera_identity_operations_total")
                             .Help("Identity operations by operation type and identity type")
                             .Register(registry)),
      duration_family_(prometheus::BuildHistogram()
                           .Name("kimera_storage_operations_duration_seconds")
                           .Help("Duration of storage operations, errors included")
                           .Register(registry)),
      errors_family_(prometheus::BuildCounter()
                         .Name("kimera_storage_errors_total")
                         .Help("Failed storage operations by operation type and reason")
                         .Register(registry)),
      entropy_family_(prometheus::BuildHistogram()
                          .Name("kimera_identity_entropy")
                          .Help("Shannon entropy of identities as they are stored, in bits")
                          .Register(registry)),
      tau_family_(prometheus::BuildHistogram()
                      .Name("kimera_tau_distribution")
                      .Help("Effective decay time constant tau_eff of identities, in seconds")
                      .Register(registry)),
      storage_entropy_family_(prometheus::BuildHistogram()
                                  .Name("kimera_storage_entropy")
                                  .Help("Entropy of identities at store and remove time, in bits")
                                  .Register(registry)),
      change_family_(prometheus::BuildHistogram()
                         .Name("kimera_entropy_change")
                         .Help("Signed change of entropy when an identity is re-stored, in bits")
                         .Register(registry)),
      query_rows_family_(prometheus::BuildHistogram()
                             .Name("kimera_entropy_query_rows_returned")
                             .Help("Identities returned by one entropy range query")
                             .Register(registry)),
      query_scanned_family_(prometheus::BuildHistogram()
                                .Name("kimera_entropy_query_index_entries_scanned")
                                .Help("Index entries read by one entropy range query")
                                .Register(registry)),
      index_updates_family_(prometheus::BuildCounter()
                                .Name("kimera_entropy_index_updates_total")
                                .Help("Entropy index changes by kind")
                                .Register(registry)) {
  const auto latency = LatencyBuckets();
  const auto entropy = EntropyBuckets();
  const auto tau = TauBuckets(config.entropy.decay);
  const auto change = ChangeBuckets();
  for (std::size_t op = 0; op < kOperationCount; ++op) {
    const std::string op_name = kOperationNames[op];
    for (std::size_t t = 0; t < kTypeLabelCount; ++t) {
      operations_[op][t] =
          &operations_family_.Add({{"operation_type", op_name}, {"identity_type", kTypeNames[t]}});
    }
    duration_[op] = &duration_family_.Add({{"operation_type", op_name}}, latency);
    for (std::size_t r = 0; r < kReasonCount; ++r) {
      errors_[op][r] =
          &errors_family_.Add({{"operation_type", op_name}, {"reason", kReasonNames[r]}});
    }
  }
  for (std::size_t t = 0; t < kTypeLabelCount; ++t) {
    const std::string type = kTypeNames[t];
    entropy_[t] = &entropy_family_.Add({{"identity_type", type}}, entropy);
    tau_[t] = &tau_family_.Add({{"identity_type", type}}, tau);
    stored_entropy_[t] =
        &storage_entropy_family_.Add({{"operation", "store"}, {"identity_type", type}}, entropy);
    removed_entropy_[t] =
        &storage_entropy_family_.Add({{"operation", "remove"}, {"identity_type", type}}, entropy);
    change_[t] = &change_family_.Add({{"identity_type", type}}, change);
  }
  query_rows_ = &query_rows_family_.Add({}, RowBuckets());
  query_scanned_ = &query_scanned_family_.Add({}, RowBuckets());
  index_updates_[0] = &index_updates_family_.Add({{"kind", "insert"}});
  index_updates_[1] = &index_updates_family_.Add({{"kind", "update"}});
  index_updates_[2] = &index_updates_family_.Add({{"kind", "delete"}});
}

void PluginMetrics::ObserveOperation(Operation op, std::optional<IdentityType> type, double seconds,
                                     const Status& status) {
  const auto o = static_cast<std::size_t>(op);
  duration_[o]->Observe(seconds);
  if (status.ok() || status.IsNotFound()) {
    operations_[o][type ? TypeLabel(*type) : kOtherTypeLabel]->Increment();
  } else {
    errors_[o][ReasonIndex(status.code())]->Increment();
  }
}

void PluginMetrics::ObserveStore(IdentityType type, double entropy, double tau,
                                 std::optional<double> previous_entropy) {
  const std::size_t t = TypeLabel(type);
  entropy_[t]->Observe(entropy);
  tau_[t]->Observe(tau);
  stored_entropy_[t]->Observe(entropy);
  if (previous_entropy) change_[t]->Observe(entropy - *previous_entropy);
}

void PluginMetrics::ObserveRemove(IdentityType type, double entropy) {
  removed_entropy_[TypeLabel(type)]->Observe(entropy);
}

void PluginMetrics::ObserveQuery(std::size_t rows, std::size_t scanned) {
  query_rows_->Observe(static_cast<double>(rows));
  query_scanned_->Observe(static_cast<double>(scanned));
}

void PluginMetrics::ObserveIndexUpdate(bool had_before, bool has_after) {
  index_updates_[had_before ? (has_after ? 1 : 2) : 0]->Increment();
}

}  // namespace kimera
