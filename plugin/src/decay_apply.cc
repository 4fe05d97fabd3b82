// ApplyDecayAll (declared in decay_sweep.h).
#include <chrono>
#include <cmath>

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

}  // namespace

Status ApplyDecayAll(EntropyStore& store, DecayVerifier& verifier, Micros now,
                     std::size_t chunk_size, DecayApplyResult* result,
                     const std::atomic<bool>* cancel) {
  const auto started = std::chrono::steady_clock::now();
  *result = DecayApplyResult{};
  const DecayParams& params = store.config().entropy.decay;
  DecayLedger& ledger = verifier.ledger();
  if (chunk_size == 0) chunk_size = 1;
  std::string start_after;
  std::vector<Identity> before, after;
  std::vector<std::string> ids, applied;
  std::vector<DecayLedgerEntry> entries;
  std::vector<bool> found;
  const auto finish = [&](Status s) {
    result->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return s;
  };
  const auto error = [result](std::string message) {
    ++result->failed;
    if (result->errors.size() < DecayApplyResult::kMaxListedErrors) {
      result->errors.push_back(std::move(message));
    }
  };
  for (;;) {
    if (cancel != nullptr && cancel->load()) return finish(Status::Aborted("decay apply stopped"));
    // Id order over the records, not entropy order over the index: a step
    // moves a scar's index entry, which an entropy-ordered walk would meet
    // again. Read below the decorator so listing is not timed as a host scan.
    before.clear();
    Status s = store.target()->Scan(start_after, [&](const Identity& identity) {
      before.push_back(identity);
      return before.size() < chunk_size;
    });
    if (!s.ok()) return finish(s);
    if (before.empty()) break;
    start_after = before.back().id;

    ids.clear();
    for (const Identity& r : before) ids.push_back(r.id);
    s = ledger.LookupMany(ids, &entries, &found);
    if (!s.ok()) return finish(s);

    applied.clear();
    std::vector<std::size_t> applied_index;
    for (std::size_t i = 0; i < before.size(); ++i) {
      const Identity& r = before[i];
      Status st = store.ApplyDecay(r.id, now, params);
      if (st.ok()) {
        ++result->applied;
        applied.push_back(r.id);
        applied_index.push_back(i);
      } else if (st.IsNotFound() || (st.IsInvalidArgument() && DecayedAfter(store, r, now))) {
        ++result->skipped;
      } else {
        error("id '" + DisplayId(r.id) + "': " + st.ToString());
      }
    }

    s = store.target()->FetchMany(applied, &after);
    if (!s.ok()) return finish(s);
    rocksdb::WriteBatch batch;
    std::size_t a = 0;
    for (std::size_t k = 0; k < applied.size() && a < after.size(); ++k) {
      if (after[a].id != applied[k]) continue;
      const Identity& post = after[a++];
      const std::size_t i = applied_index[k];
      const Identity& pre = before[i];
      const Micros since = DecaySince(pre);
      const double expected = pre.weight * DecayFactor(static_cast<double>(now - since) / 1e6,
                                                       EffectiveTau(Entropy(pre), params));
      if (post.decay_applied_at != now || !Close(post.weight, expected)) {
        // Written by someone else between our read and our step: the state
        // the step started from is unknown, so no chain can be vouched for.
        ledger.Delete(post.id, &batch);
        continue;
      }
      DecayLedgerEntry entry{post.updated_at, post.weight, pre.weight, since};
      const DecayLedgerEntry& last = entries[i];
      if (found[i] && last.updated_at == pre.updated_at && Close(last.weight, pre.weight)) {
        entry.origin_weight = last.origin_weight;
        entry.origin_since = last.origin_since;
      }
      ledger.Put(post.id, entry, &batch);
    }
    s = ledger.Write(&batch);
    if (!s.ok()) return finish(s);
    if (before.size() < chunk_size) break;
  }
  return finish(Status::OK());
}

}  // namespace kimera
