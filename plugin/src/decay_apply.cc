// ApplyDecayAll (declared in decay_sweep.h).
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "decay_ledger.h"
#include "kimera/decay_sweep.h"

namespace kimera {
namespace {

Micros DecaySince(const Identity& identity) {
  return identity.decay_applied_at != 0 ? identity.decay_applied_at : identity.created_at;
}

bool Close(double a, double b) {
  return a == b || std::fabs(a - b) <= kDecayTolerance * std::max(std::fabs(a), std::fabs(b));
}

// Whether `id` was decayed (or created) after `now`, as listed or since: a
// single-id decay may run between the listing and this run's step.
bool DecayedAfter(EntropyStore& store, const Identity& listed, Micros now) {
  if (DecaySince(listed) > now) return true;
  Identity current;
  return store.target()->Fetch(listed.id, &current).ok() && DecaySince(current) > now;
}

// One ApplyDecayAll run, a chunk of records at a time: list, step, then
// record in the ledger what the steps left.
class DecayApplier {
 public:
  // `store` and `ledger` are borrowed; `result` collects the counts.
  DecayApplier(EntropyStore& store, DecayLedger& ledger, Micros now, std::size_t chunk_size,
               DecayApplyResult* result)
      : store_(store),
        ledger_(ledger),
        params_(store.config().entropy.decay),
        now_(now),
        chunk_size_(chunk_size),
        result_(result) {}

  Status Run(const std::atomic<bool>* cancel) {
    for (;;) {
      if (cancel != nullptr && cancel->load()) return Status::Aborted("decay apply stopped");
      Status s = ListChunk();
      if (!s.ok()) return s;
      if (before_.empty()) break;
      ApplyChunk();
      s = RecordChunk();
      if (!s.ok()) return s;
      if (before_.size() < chunk_size_) break;
    }
    return Status::OK();
  }

 private:
  // The next chunk of records, with their ledger entries; none at the end.
  Status ListChunk() {
    // Id order over the records, not entropy order over the index: a step
    // moves a scar's index entry, which an entropy-ordered walk would meet
    // again. Read below the decorator so listing is not timed as a host scan.
    before_.clear();
    Status s = store_.target()->Scan(start_after_, [&](const Identity& identity) {
      before_.push_back(identity);
      return before_.size() < chunk_size_;
    });
    if (!s.ok() || before_.empty()) return s;
    start_after_ = before_.back().id;
    ids_.clear();
    for (const Identity& r : before_) ids_.push_back(r.id);
    return ledger_.LookupMany(ids_, &entries_, &found_);
  }

  // Steps every listed record; `applied_` names the ones that were.
  void ApplyChunk() {
    applied_.clear();
    applied_index_.clear();
    for (std::size_t i = 0; i < before_.size(); ++i) {
      const Identity& r = before_[i];
      Status st = store_.ApplyDecay(r.id, now_, params_);
      if (st.ok()) {
        ++result_->applied;
        applied_.push_back(r.id);
        applied_index_.push_back(i);
      } else if (st.IsNotFound() || (st.IsInvalidArgument() && DecayedAfter(store_, r, now_))) {
        ++result_->skipped;
      } else {
        Error("id '" + DisplayId(r.id) + "': " + st.ToString());
      }
    }
  }

  // Writes the ledger entries of the records stepped, read back as stored.
  Status RecordChunk() {
    Status s = store_.target()->FetchMany(applied_, &after_);
    if (!s.ok()) return s;
    rocksdb::WriteBatch batch;
    std::size_t a = 0;
    for (std::size_t k = 0; k < applied_.size() && a < after_.size(); ++k) {
      if (after_[a].id != applied_[k]) continue;
      Record(applied_index_[k], after_[a++], &batch);
    }
    return ledger_.Write(&batch);
  }

  // The ledger entry of listed record `i`, now stored as `post`.
  void Record(std::size_t i, const Identity& post, rocksdb::WriteBatch* batch) {
    const Identity& pre = before_[i];
    const Micros since = DecaySince(pre);
    const double expected = pre.weight * DecayFactor(static_cast<double>(now_ - since) / 1e6,
                                                     EffectiveTau(Entropy(pre), params_));
    if (post.decay_applied_at != now_ || !Close(post.weight, expected)) {
      // Written by someone else between our read and our step: the state
      // the step started from is unknown, so no chain can be vouched for.
      ledger_.Delete(post.id, batch);
      return;
    }
    DecayLedgerEntry entry{post.updated_at, post.weight, pre.weight, since};
    const DecayLedgerEntry& last = entries_[i];
    if (found_[i] && last.updated_at == pre.updated_at && Close(last.weight, pre.weight)) {
      entry.origin_weight = last.origin_weight;
      entry.origin_since = last.origin_since;
    }
    ledger_.Put(post.id, entry, batch);
  }

  void Error(std::string message) {
    ++result_->failed;
    if (result_->errors.size() < DecayApplyResult::kMaxListedErrors) {
      result_->errors.push_back(std::move(message));
    }
  }

  EntropyStore& store_;
  DecayLedger& ledger_;
  const DecayParams& params_;
  const Micros now_;
  const std::size_t chunk_size_;
  DecayApplyResult* result_;
  std::string start_after_;
  std::vector<Identity> before_, after_;
  std::vector<std::string> ids_, applied_;
  std::vector<std::size_t> applied_index_;  // Of each applied id, in before_.
  std::vector<DecayLedgerEntry> entries_;
  std::vector<bool> found_;
};

}  // namespace

Status ApplyDecayAll(EntropyStore& store, DecayVerifier& verifier, Micros now,
                     std::size_t chunk_size, DecayApplyResult* result,
                     const std::atomic<bool>* cancel) {
  const auto started = std::chrono::steady_clock::now();
  *result = DecayApplyResult{};
  DecayApplier applier(store, verifier.ledger(), now, chunk_size == 0 ? 1 : chunk_size, result);
  const Status s = applier.Run(cancel);
  result->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return s;
}

}  // namespace kimera
