// Workload: a seeded, paced stream of realistic operations against a store,
// for `kimera serve --workload RATE [--workload-mix full|stores]`.
//
// The mix: new geoids whose term intensities follow a Zipf-like law over a
// vocabulary of 2,000 words (1..300 terms, so entropy spreads from 0 to about
// 8 bits), re-stores of known geoids with changed terms, scars linking 2..50
// known geoids (weights 0..2), fetches, entropy range queries, lists, counts,
// short scans, occasional removes, and a decay application now and then. The
// first operations run through every kind once, so each appears on /metrics
// within seconds. Known ids are a bounded reservoir sample (10,000 geoids,
// 2,000 scars), seeded at start from the workload's own identities already
// stored. The workload writes, removes and decays only identities it created:
// ids starting "wg-" (geoids) or "ws-" (scars) whose meta.source is
// "workload". Every other identity in the store is left alone (it may only
// be read, by scans and entropy queries).
//
// The stores-only mix keeps just the writes that store an identity (new
// geoids, re-stores, new scars, in the full mix's proportions): every
// operation is one store (a re-store reads the identity first), so RATE is
// the store rate. The load check drives it.
//
// Thread-safety: Start and Stop from one thread; the counters may be read
// from any thread while it runs.
#ifndef KIMERA_CLI_WORKLOAD_H_
#define KIMERA_CLI_WORKLOAD_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "kimera/identity.h"
#include "kimera/identity_store.h"

namespace kimera_cli {

enum class WorkloadMix {
  kFull,        // Stores, reads, queries, removes, decay applications, WAL syncs.
  kStoresOnly,  // One store per operation: new geoids, re-stores, new scars; no syncs.
};

struct WorkloadOptions {
  double rate = 0;                       // Operations per second; 0 or less: no workload.
  double duration_seconds = 0;           // Default 0: run until Stop.
  WorkloadMix mix = WorkloadMix::kFull;  // Default kFull.
  std::uint64_t seed = 1;                // Default 1: the same seed gives the same stream.
  kimera::DecayParams decay;             // Used by the decay applications.
  std::string ack_log_path;  // Default empty; else "+id" / "-id" per acknowledged write.
};

// What the workload has done so far.
struct WorkloadCounters {
  std::uint64_t operations = 0;    // Every operation attempted.
  std::uint64_t errors = 0;        // Operations that failed (not found excluded).
  std::uint64_t acknowledged = 0;  // Writes the store acknowledged (stores, removes, decays).
  std::uint64_t created = 0;       // New identities stored (geoids and scars).
  std::uint64_t removed = 0;       // Identities removed.
};

class Workload {
 public:
  // Borrows `store`, which must outlive the workload.
  Workload(kimera::IdentityStore& store, const WorkloadOptions& options);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Samples the workload's own ids already stored, then starts the operation
  // thread.
  void Start();
  // Asks the thread to stop, lets the operation in flight finish, and joins.
  // Safe to call more than once.
  void Stop();
  // True once the duration has elapsed (or Stop was called).
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  WorkloadCounters counters() const;
  // The first error met, for the log ("" when none).
  std::string first_error() const;

 private:
  class Generator;

  void Run();
  void Record(bool failed, const kimera::Status& s);

  kimera::IdentityStore& store_;
  const WorkloadOptions options_;

  std::mutex stop_mu_;  // Guards stop_requested_ for the condition variable.
  std::condition_variable stop_cv_;
  bool stop_requested_ = false;
  std::atomic<bool> finished_{false};
  std::thread thread_;

  std::atomic<std::uint64_t> operations_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> acknowledged_{0};
  std::atomic<std::uint64_t> created_{0};
  std::atomic<std::uint64_t> removed_{0};
  mutable std::mutex error_mu_;  // Guards first_error_.
  std::string first_error_;
};

}  // namespace kimera_cli

#endif  // KIMERA_CLI_WORKLOAD_H_
