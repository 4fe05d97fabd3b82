#include "kimera/dual_write_admin.h"

#include "kimera/dual_write_store.h"
#include "rocksdb_database.h"

namespace kimera {

template <typename Call>
Status DualWriteAdmin::Run(Operation op, Call&& call) {
  return plugin_->Timed(op, [&]() -> Status {
    if (dual_ == nullptr) return Status::InvalidArgument("dual-write is not enabled");
    return call(*dual_);
  });
}

Status DualWriteAdmin::Verify(const SweepOptions& options, SweepReport* report) {
  return Run(Operation::kDualWriteVerify,
             [&](DualWriteStore& d) { return d.Sweep(options, report); });
}

Status DualWriteAdmin::VerifyUntilClean(int max_passes, const SweepOptions& options,
                                        SweepReport* report) {
  return Run(Operation::kDualWriteVerify,
             [&](DualWriteStore& d) { return d.VerifyUntilClean(max_passes, options, report); });
}

Status DualWriteAdmin::Repair(const SweepOptions& options, SweepReport* report,
                              std::uint64_t* queue_repaired) {
  return Run(Operation::kDualWriteRepair, [&](DualWriteStore& d) {
    std::uint64_t from_queue = 0;
    Status s = d.RetryRepairs(/*force=*/true, &from_queue);
    if (queue_repaired != nullptr) *queue_repaired = from_queue;
    if (!s.ok()) return s;
    SweepOptions sweep = options;
    sweep.repair = true;
    return d.Sweep(sweep, report);
  });
}

Status DualWriteAdmin::RepairId(std::string_view id) {
  return Run(Operation::kDualWriteRepair, [&](DualWriteStore& d) { return d.RepairId(id); });
}

Status DualWriteAdmin::CheckId(std::string_view id, IdCheck* out) {
  return Run(Operation::kDualWriteVerify, [&](DualWriteStore& d) { return d.CheckId(id, out); });
}

Status DualWriteAdmin::Stats(std::size_t recent, DualWriteStats* out) {
  // The plugin's index counts the records: no scan of the primary.
  return Run(Operation::kDualWriteStats,
             [&](DualWriteStore& d) { return d.Stats(recent, out, plugin_->StoredCount()); });
}

Status DualWriteAdmin::Cleanup(const DualWriteConfig& config) {
  if (records_ == nullptr) {
    return Status::InvalidArgument("cleanup refused: the store below is not a RocksDbStore");
  }
  return DualWriteStore::Cleanup(&DatabaseOf(*records_), config);
}

std::uint64_t DualWriteAdmin::repair_backlog() const {
  return dual_ != nullptr ? dual_->repair_backlog() : 0;
}

void DualWriteAdmin::Stop() {
  if (dual_ != nullptr) dual_->Stop();
}

}  // namespace kimera
