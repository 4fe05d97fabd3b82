// DecaySweep: observes how the stored identities decay, on demand and as a
// background task, and runs decay verification after each pass.
// ApplyDecayAll: applies decay to every stored identity.
//
// A sweep reads the entropy index in chunks (ForEachOrdered from the last key
// of the previous chunk, a new iterator each time, so no snapshot or lock is
// held between chunks), reads each chunk's created_at with one batched read
// (one MultiGet of the record headers when the index shares the records'
// RocksDB, else FetchMany below the decorator), and pauses after each chunk
// so that it works at most config.sweep_duty_cycle of its wall time (wall,
// not CPU, time: when the cores are contended a chunk takes longer and the
// pause grows with it). Verification (a bounded sample) is not paced. Per
// identity it observes, labelled by identity_type:
//   kimera_identity_age_seconds     age = now - created_at;
//   kimera_identity_decay_factor    exp(-age / tau_eff): the decay the formula
//                                   gives since creation, with the index's
//                                   tau (what the dashboard draws against
//                                   age), not the decay still pending since
//                                   the last application.
// Each sweep observes every identity once, so rate()/increase() over a sweep
// interval is the current distribution. kimera_tau_distribution is observed
// at store time by the plugin and is not observed again here. After the pass
// it publishes kimera_decay_factor_by_age_band{identity_type, age_band} (the
// mean decay factor per band at the last sweep; bands 0-1d, 1-7d, 7-14d,
// 14-30d, 30-90d, 90d+; a band with no identity reads 0), observes
// kimera_decay_sweep_duration_seconds, and verifies a sample (DecayVerifier).
//
// Thread-safety: RunOnce, Start and Stop may be called from any thread;
// sweeps are serialized.
#ifndef KIMERA_DECAY_SWEEP_H_
#define KIMERA_DECAY_SWEEP_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kimera/decay_config.h"
#include "kimera/decay_verifier.h"
#include "kimera/entropy_store.h"
#include "kimera/rocksdb_store.h"
#include "kimera/status.h"

namespace kimera {

struct DecayApplyResult {
  static constexpr std::size_t kMaxListedErrors = 100;
  std::uint64_t applied = 0;        // Identities decayed.
  std::uint64_t skipped = 0;        // Removed meanwhile, or decayed after `now` already.
  std::uint64_t failed = 0;         // Any other error.
  std::vector<std::string> errors;  // At most kMaxListedErrors, each naming the id.
  double seconds = 0;
};

// Applies decay at `now` to every identity stored, in chunks of `chunk_size`
// ids (id order, from the records), each through store.ApplyDecay so the
// decorator times it as operation "apply_decay". Each identity's weight and
// term intensities are multiplied by exp(-(now - since) / tau_eff) where
// since is its last application (or created_at): applying at t1 then t2
// leaves a geoid at exactly w0 * exp(-(t2 - t0) / tau_eff).
//
// Scars: a scar's entropy is log2(n) * weight, so each step lowers its
// entropy and its tau_eff. Each step uses the tau of the entropy *before* the
// step (the store's rule), so a scar decayed at t1 then t2 ends at
// w0 * exp(-(t1 - t0) / tau(w0)) * exp(-(t2 - t1) / tau(w1)), with w1 the
// weight after the first step: lower than decaying once at t2 with tau(w0).
// How often decay is applied therefore matters for scars, by design (tau
// follows the scar's current strength); for geoids it does not.
//
// Identities removed meanwhile, or already decayed after `now`, are counted
// as skipped; any other error is counted and listed, and the run goes on. The
// decay ledger (decay_ledger.h) is updated for every identity decayed, so
// verification can prove later that nothing compounded. Returns an error
// only when the identities cannot be listed.
// `cancel`, when given, stops the run between chunks once it reads true
// (the result then counts what was done; the status is Aborted).
Status ApplyDecayAll(EntropyStore& store, DecayVerifier& verifier, Micros now,
                     std::size_t chunk_size, DecayApplyResult* result,
                     const std::atomic<bool>* cancel = nullptr);

struct DecaySweepResult {
  std::uint64_t identities = 0;  // Observed.
  std::uint64_t chunks = 0;
  double seconds = 0;     // The pass alone, without verification.
  bool verified = false;  // A verification ran (verification_sample > 0).
  std::string error;      // Why the last background run failed; empty when it did not.
  DecayVerificationReport verification;
};

struct DecaySweepOptions {
  DecayConfig config;               // Pacing: config.sweep_duty_cycle.
  std::uint64_t verifier_seed = 0;  // Default 0: random samples.
};

class DecaySweep {
 public:
  // `store` is borrowed and must outlive the sweep. Registers the sweep and
  // verification metrics in store.registry() when the store records metrics.
  // `clock` gives `now` for the background sweeps.
  static Status Open(EntropyStore& store, const DecaySweepOptions& options,
                     std::unique_ptr<DecaySweep>* out, Clock clock = SystemNow);
  // Stops the background thread.
  ~DecaySweep();

  // One sweep as of `now`, then verification of a sample as of `now`. An
  // error means the index or records could not be read; failed checks are
  // not an error.
  Status RunOnce(Micros now, DecaySweepResult* result = nullptr);
  // One sweep as of the clock, then verification as of the clock read once
  // its sample is read (DecayVerifier::Run(Clock)): what the background
  // thread runs, for a store that takes writes meanwhile.
  Status RunNow(DecaySweepResult* result = nullptr);

  // Starts the background thread: a sweep every sweep_interval_seconds (none
  // when 0), and ApplyDecayAll every apply_interval_seconds (never when 0).
  // No-op when running.
  void Start();
  // Stops the background thread promptly (an ongoing sweep stops at its next
  // chunk) and waits for it. No-op when not running.
  void Stop();

  DecayVerifier& verifier() { return *verifier_; }
  // The result of the last finished sweep.
  DecaySweepResult last_result() const;

 private:
  class Metrics;
  class BandGauges;

  DecaySweep(EntropyStore& store, const DecaySweepOptions& options, Clock clock);
  // Waits `pause`; false when Stop() was called meanwhile.
  bool Pause(std::chrono::duration<double> pause);
  // The sweep as of `now`; verification as of verification_clock().
  Status Run(Micros now, const Clock& verification_clock, DecaySweepResult* result);
  // Identities holding id, identity_type and created_at of those `ids` that
  // are stored, in the order of `ids`.
  Status ReadCreatedAt(const std::vector<std::string>& ids, std::vector<Identity>* out) const;
  void Loop();

  EntropyStore& store_;
  const DecaySweepOptions options_;
  const Clock clock_;
  RocksDbStore* rocks_ = nullptr;  // The records' store, when the index shares its database.
  std::unique_ptr<DecayVerifier> verifier_;
  std::unique_ptr<Metrics> metrics_;  // Null when the store records no metrics.
  std::shared_ptr<BandGauges> bands_;

  std::mutex sweep_mu_;          // Serializes sweeps.
  mutable std::mutex state_mu_;  // Guards last_; stop_cv_ waits on it.
  std::condition_variable stop_cv_;
  std::atomic<bool> stop_{false};
  DecaySweepResult last_;
  std::thread thread_;
};

}  // namespace kimera

#endif  // KIMERA_DECAY_SWEEP_H_
