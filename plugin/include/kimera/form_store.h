// FormStore: the reference's echo forms, kept beside the identities.
//
// A form is a JSON blob (the host's EchoForm.flatten()) under a unique
// anchor, with the columns the reference's `echoforms` table indexes:
// domain, phase, intensity_sum, created_at and updated_at. Forms live in a
// column family ("echo_forms") of the records' RocksDB database, so they
// share its WAL, durability and backups; they take no part in entropy, the
// entropy index or dual-write. Beside each form the column family keeps a
// newest-first index (of all forms and per domain), a created_at index and
// counters (plugin/src/form_codec.h has the layout; the value is a small
// binary header and the blob as MessagePack), so List reads only the forms
// it returns, Count one counter, and PruneCreatedBefore only the forms it
// deletes; Decay and RemoveDomain visit the forms they change. Writes use
// the records' write options (their sync setting).
//
// Every call is timed by the plugin into
// kimera_storage_operations_duration_seconds and counted in
// kimera_identity_operations_total (identity_type "other") or, when it
// fails, kimera_storage_errors_total, with operation_type form_store,
// form_fetch, form_list, form_count, form_prune (PruneCreatedBefore and
// RemoveDomain) or form_decay (see docs/metrics.md).
//
// Thread-safety: safe for concurrent use; writes of one anchor are
// serialized, so a store racing a decay never loses either.
#ifndef KIMERA_FORM_STORE_H_
#define KIMERA_FORM_STORE_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/identity.h"
#include "kimera/identity_store.h"
#include "kimera/status.h"

namespace kimera {

class EntropyStore;
class RocksDbStore;

struct EchoFormRecord {
  std::string anchor;                              // Non-empty, valid UTF-8, at most 1 KiB.
  nlohmann::json blob = nlohmann::json::object();  // Always a JSON object.
  std::string domain;                              // Valid UTF-8, at most 1 KiB.
  double phase = 0.0;                              // Finite.
  double intensity_sum = 0.0;                      // Finite.
  Micros created_at = 0;                           // Set by Store on insert.
  Micros updated_at = 0;                           // Set by Store.
  Micros decay_applied_at = 0;                     // Last Decay, or 0; Store keeps it as given.

  friend bool operator==(const EchoFormRecord&, const EchoFormRecord&) = default;
};

// The form as JSON: {anchor, blob, domain, phase, intensity_sum, created_at,
// updated_at} with the times as epoch seconds (float); decay_applied_at is
// internal and left out.
nlohmann::json FormToJson(const EchoFormRecord& form);
// The reverse; created_at/updated_at are optional (0 when absent), every
// other field is required, unknown keys are ignored, and the form must pass
// Store's rules. InvalidArgument naming the field and the anchor; `*out` is
// only written on success.
Status FormFromJson(const nlohmann::json& object, EchoFormRecord* out);

class FormStore {
 public:
  // Opens (creating when absent) the forms' column family in the database
  // of `records`. `plugin` (borrowed) times every call; both must outlive
  // the FormStore. IOError when the column family cannot be created; Busy
  // or NotFound as the database says. In a read-only database the forms
  // read as stored (none when it never had any), and every write call
  // (Store, PruneCreatedBefore, RemoveDomain, Decay) returns IOError.
  static Status Open(RocksDbStore& records, EntropyStore& plugin, Clock clock,
                     std::unique_ptr<FormStore>* out);
  ~FormStore();

  // Inserts or replaces `form` under its anchor: keeps the first created_at
  // (a given created_at is used on insert, a zero one becomes now), sets
  // updated_at to now; decay_applied_at is kept as given (0: a later Decay
  // counts from created_at). The encoded form counts toward kMaxRecordBytes.
  // InvalidArgument naming the field (a blob value by its path,
  // "blob.terms[1].intensity") and the anchor; nothing is written then.
  Status Store(const EchoFormRecord& form);
  // NotFound when absent; Corruption naming the anchor when undecodable.
  Status Fetch(std::string_view anchor, EchoFormRecord* out);
  // At most `limit` forms, newest updated_at first (ties by anchor), of
  // `domain` or of all. `*out` is replaced.
  Status List(const std::optional<std::string>& domain, std::size_t limit,
              std::vector<EchoFormRecord>* out);
  // Number of forms, of `domain` or of all.
  Status Count(const std::optional<std::string>& domain, std::uint64_t* out);
  // Deletes every form with created_at < `cutoff`; their number in *deleted.
  // Commits in batches: an error part-way leaves the batches before it done.
  Status PruneCreatedBefore(Micros cutoff, std::uint64_t* deleted);
  // Deletes every form of `domain`; their number in *deleted.
  Status RemoveDomain(std::string_view domain, std::uint64_t* deleted);
  // Multiplies every term intensity of every form's blob ("terms": [{...,
  // "intensity": x}], numbers and booleans as identities count them) and its
  // intensity_sum by exp(-(now - since) / tau_seconds), since = the last
  // decay or created_at, so that it never compounds; sets decay_applied_at.
  // How many forms changed in *updated. A form whose `since` is not before
  // `now` is left alone. updated_at does not move (the listing order stays).
  // InvalidArgument when tau_seconds is not finite and > 0.
  Status Decay(double tau_seconds, Micros now, std::uint64_t* updated);

 private:
  class Impl;
  explicit FormStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kimera

#endif  // KIMERA_FORM_STORE_H_
