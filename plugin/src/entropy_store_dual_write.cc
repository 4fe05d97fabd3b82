// EntropyStore's dual-write calls: found below the plugin, timed like every
// other call.
#include <chrono>

#include "kimera/dual_write_store.h"
#include "kimera/entropy_store.h"

namespace kimera {
namespace {

using SteadyClock = std::chrono::steady_clock;

template <typename T>
T* FindBelow(IdentityStore* store) {
  while (store != nullptr) {
    if (auto* found = dynamic_cast<T*>(store)) return found;
    auto* wrapper = dynamic_cast<StoreWrapper*>(store);
    store = wrapper ? wrapper->target() : nullptr;
  }
  return nullptr;
}

Status NotEnabled() { return Status::InvalidArgument("dual-write is not enabled"); }

// Runs `call` against the DualWriteStore below and times it as `op`.
template <typename Call>
Status Timed(PluginMetrics* metrics, Operation op, DualWriteStore* dual, Call&& call) {
  const auto start = SteadyClock::now();
  Status s = dual != nullptr ? call(*dual) : NotEnabled();
  if (metrics != nullptr) {
    metrics->ObserveOperation(op, std::nullopt,
                              std::chrono::duration<double>(SteadyClock::now() - start).count(), s);
  }
  return s;
}

}  // namespace

DualWriteStore* EntropyStore::dual_write() const { return FindBelow<DualWriteStore>(target()); }

Status EntropyStore::DualWriteVerify(const SweepOptions& options, SweepReport* report) {
  return Timed(metrics_.get(), Operation::kDualWriteVerify, dual_write(),
               [&](DualWriteStore& d) { return d.Sweep(options, report); });
}

Status EntropyStore::DualWriteVerifyUntilClean(int max_passes, const SweepOptions& options,
                                               SweepReport* report) {
  return Timed(metrics_.get(), Operation::kDualWriteVerify, dual_write(),
               [&](DualWriteStore& d) { return d.VerifyUntilClean(max_passes, options, report); });
}

Status EntropyStore::DualWriteRepair(const SweepOptions& options, SweepReport* report,
                                     std::uint64_t* queue_repaired) {
  return Timed(metrics_.get(), Operation::kDualWriteRepair, dual_write(), [&](DualWriteStore& d) {
    std::uint64_t from_queue = 0;
    Status s = d.RetryRepairs(/*force=*/true, &from_queue);
    if (queue_repaired != nullptr) *queue_repaired = from_queue;
    if (!s.ok()) return s;
    SweepOptions sweep = options;
    sweep.repair = true;
    return d.Sweep(sweep, report);
  });
}

Status EntropyStore::DualWriteRepairId(std::string_view id) {
  return Timed(metrics_.get(), Operation::kDualWriteRepair, dual_write(),
               [&](DualWriteStore& d) { return d.RepairId(id); });
}

Status EntropyStore::DualWriteCheckId(std::string_view id, IdCheck* out) {
  return Timed(metrics_.get(), Operation::kDualWriteVerify, dual_write(),
               [&](DualWriteStore& d) { return d.CheckId(id, out); });
}

Status EntropyStore::DualWriteStats(std::size_t recent, ::kimera::DualWriteStats* out) {
  return Timed(metrics_.get(), Operation::kDualWriteStats, dual_write(),
               [&](DualWriteStore& d) { return d.Stats(recent, out); });
}

Status EntropyStore::DualWriteCleanup(const DualWriteConfig& config) {
  RocksDbStore* rocks = FindBelow<RocksDbStore>(target());
  if (rocks == nullptr) {
    return Status::InvalidArgument("cleanup refused: the store below is not a RocksDbStore");
  }
  return DualWriteStore::Cleanup(&rocks->database(), config);
}

}  // namespace kimera
