// DecayVerifier: checks, on a sample of the stored identities, that decay
// behaves as the formula says, and exports the outcome as metrics.
//
// The sample is `sample_size` consecutive entries of the entropy index from
// a random start (a random entropy quantile, so the start is uniform over the
// identities in rank; the run wraps round to the top of the index). Being
// consecutive, it holds whole groups of equal entropy, which the order check
// needs. Age is now - created_at; d = exp(-age / tau) with the index's tau.
//
// Stores, removals and decay go on while a run reads. When the index shares
// the records' database (the default), the sample's index entries, records
// and decay ledger entries are all read at one RocksDB snapshot, where every
// record and its index entry were committed together: what is judged is one
// state of the store, and an index entry without its record is a fault. With
// an index database of its own, index and records cannot be read at one
// moment; a row where they disagree is read again under the id's lock
// (EntropyStore::ReadIndexed) before it is judged, so only a disagreement
// that persists is reported.
//
// The checks (names are the `check` label values):
//   formula        entropy and tau recomputed from the record equal the
//                  index's, and d equals exp(-age / tau recomputed), each to a
//                  relative error <= 1e-12.
//   bounds         age >= 0 (a negative age means created_at is in the future:
//                  the clock went backwards), and 0 < d <= 1.
//   order          among identities of equal entropy, an older one never has a
//                  larger decay factor.
//   half_life      d(tau * ln 2) = 0.5 for every sampled tau.
//   semigroup      d(a + b) = d(a) * d(b): with a = each sampled age and
//                  b = tau / 3, and for each two identities of equal entropy
//                  (adjacent by age) with a, b their ages and d(b) the second
//                  one's factor, which holds only when they share one tau.
//   correlation    Pearson r of age / tau (recomputed) against -ln d (index
//                  tau) >= 0.999; exported as kimera_decay_age_correlation.
//                  Passes (r not exported) with fewer than 3 distinct points.
//   no_compounding two proofs. (1) Scenario: for up to kMaxScenarios sampled
//                  geoids, a scratch copy in a MemoryStore decayed at t1 and
//                  then at now equals a copy decayed once at now (weight and
//                  every term intensity, 1e-12): the store's ApplyDecay
//                  arithmetic does not compound. (2) Ledger: for sampled
//                  identities whose last write was ApplyDecayAll (see
//                  decay_ledger.h), the stored weight equals the ledger's, and
//                  for a geoid the ledger's weight equals
//                  origin_weight * exp(-(decay_applied_at - origin_since) / tau):
//                  the stored data was decayed once per interval, and nothing
//                  multiplied it again behind the store's back. A weight that
//                  was never decayed by ApplyDecayAll has no reference and is
//                  not judged by (2).
//
// Metrics (when the store records metrics): kimera_decay_verification_status
// (1 when every check of the last run passed, 0 otherwise; absent before the
// first run), kimera_decay_verification_checks_total{check, result} (one
// increment per check per run; every combination created at start),
// kimera_decay_verification_last_run_timestamp_seconds,
// kimera_decay_age_correlation.
//
// Thread-safety: safe for concurrent use; runs are serialized by a mutex.
#ifndef KIMERA_DECAY_VERIFIER_H_
#define KIMERA_DECAY_VERIFIER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kimera/entropy_store.h"
#include "kimera/rocksdb_store.h"
#include "kimera/status.h"

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace kimera {

class DecayLedger;

enum class DecayCheck : std::uint8_t {
  kFormula,
  kBounds,
  kOrder,
  kHalfLife,
  kSemigroup,
  kCorrelation,
  kNoCompounding,
};
inline constexpr std::size_t kDecayCheckCount = 7;
// The `check` label value: "formula", "bounds", ...
const char* DecayCheckName(DecayCheck check);

// The relative error every exact check tolerates.
inline constexpr double kDecayTolerance = 1e-12;
// The lowest Pearson r the correlation check accepts.
inline constexpr double kMinAgeCorrelation = 0.999;

struct DecayCheckFailure {
  DecayCheck check;
  std::string id;      // The identity, or empty for a check over the sample.
  std::string detail;  // The numbers: what was expected, what was found.
  // "formula id 'x': <detail>".
  std::string ToString() const;
};

struct DecayVerificationReport {
  static constexpr std::size_t kMaxListedFailures = 1000;
  Micros now = 0;
  std::size_t sampled = 0;            // Index entries sampled.
  std::size_t verified = 0;           // Of them, with a record (the rest were removed meanwhile).
  std::size_t scenarios = 0;          // No-compounding scenarios run on scratch copies.
  std::size_t ledger_checked = 0;     // Records judged against the decay ledger.
  std::optional<double> correlation;  // Pearson r, when there were >= 3 distinct points.
  std::array<std::uint64_t, kDecayCheckCount> failures_by_check{};
  std::vector<DecayCheckFailure> failures;  // At most kMaxListedFailures.
  double seconds = 0;

  bool ok() const;
  bool passed(DecayCheck check) const {
    return failures_by_check[static_cast<std::size_t>(check)] == 0;
  }
};

struct DecayVerifierOptions {
  std::size_t sample_size = 1000;  // Default 1000 identities per run.
  std::uint64_t seed = 0;          // Default 0: a random seed.
};

class DecayVerifier {
 public:
  // At most this many no-compounding scenarios per run (each costs a
  // MemoryStore round trip).
  static constexpr std::size_t kMaxScenarios = 100;

  // `store` is borrowed and must outlive the verifier. Registers the
  // verification metrics in store.registry() when the store records metrics.
  static Status Open(EntropyStore& store, const DecayVerifierOptions& options,
                     std::unique_ptr<DecayVerifier>* out);
  ~DecayVerifier();

  // Verifies a fresh sample as of `now` into `*report` and updates the
  // metrics. An error status means the sample could not be read (nothing
  // judged, metrics untouched); failed checks are not an error. A record
  // written after `now` has a negative age as of `now` and fails the bounds
  // check: on a store that takes writes meanwhile, use the Clock overload.
  Status Run(Micros now, DecayVerificationReport* report);
  // The same as of clock(), read once the sample has been read: every
  // record judged was written before that time by a store stamping it from
  // the same clock, so only a clock that went backwards or a created_at
  // given in the future shows as a negative age. For a live store.
  Status Run(const Clock& clock, DecayVerificationReport* report);

  // The ledger of bulk decay applications (shared with ApplyDecayAll).
  DecayLedger& ledger() const { return *ledger_; }

 private:
  struct Metrics;
  struct Sampled;

  DecayVerifier(EntropyStore& store, const DecayVerifierOptions& options);
  Status Sample(std::vector<IndexEntry>* entries, const rocksdb::Snapshot* snapshot);
  // The sample's rows at one snapshot of the records' database; an index
  // entry without a record is reported (formula) into `*report`.
  Status ReadAtSnapshot(std::vector<Sampled>* rows, DecayVerificationReport* report);
  // The sample's rows from an index kept apart: rows whose record and index
  // entry disagree are read again under the id's lock; removed ones dropped.
  Status ReadAndReconcile(std::vector<Sampled>* rows, DecayVerificationReport* report);
  void Judge(Micros now, const std::vector<Sampled>& rows, DecayVerificationReport* report);
  void UpdateMetrics(const DecayVerificationReport& report);

  EntropyStore& store_;
  const DecayVerifierOptions options_;
  RocksDbStore* rocks_ = nullptr;  // The records' store, when the index shares its database.
  std::unique_ptr<DecayLedger> ledger_;
  std::unique_ptr<Metrics> metrics_;  // Null when the store records no metrics.
  std::mutex run_mu_;                 // Serializes runs; guards rng_.
  std::mt19937_64 rng_;
};

}  // namespace kimera

#endif  // KIMERA_DECAY_VERIFIER_H_
