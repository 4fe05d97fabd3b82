// Comparing one identity across the two sides of dual-write.
//
// Both sides are compared on the canonical field set (the 11 reference
// fields, reduced to what the secondary keeps, and the extra keys, which
// every secondary keeps) through an XXH3 digest; only on a digest mismatch
// are the fields diffed one by one. The entropy is recomputed from each side
// and its difference reported as the drift (the extra keys take no part in
// it).
//
// Thread-safety: pure functions; call from any thread.
#ifndef KIMERA_CONSISTENCY_H_
#define KIMERA_CONSISTENCY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kimera/identity.h"

namespace kimera {

enum class CheckResult : std::uint8_t {
  kConsistent = 0,
  kMismatch,
  kMissingPrimary,    // Only the secondary has the id.
  kMissingSecondary,  // Only the primary has the id.
};
inline constexpr int kCheckResultCount = 4;

// "consistent", "mismatch", "missing_primary", "missing_secondary".
const char* CheckResultName(CheckResult result);

struct FieldDiff {
  std::string field;            // Reference field name ("weight").
  std::string primary_value;    // JSON text of the primary's value.
  std::string secondary_value;  // JSON text of the secondary's value.
};

struct IdCheck {
  std::string id;
  CheckResult result = CheckResult::kConsistent;
  std::vector<FieldDiff> fields;  // Only for kMismatch.
  double entropy_drift = 0.0;     // |H_primary - H_secondary| when both exist.
};

// XXH3 of the canonical encoding: the 11 reference fields, then the extra
// keys when there are any (the digest of an identity without extra keys is
// that of its 11 fields alone). Equal identities give equal digests.
std::uint64_t CanonicalDigest(const Identity& identity);

// The fields of `primary` and `secondary` that differ, in reference order,
// then "extra" (all extra keys as one JSON object, {} for none) when they
// differ.
std::vector<FieldDiff> DiffFields(const Identity& primary, const Identity& secondary);

// Compares the two sides of one id; either may be absent (nullptr). Both
// must already be reduced to the secondary's field set. Both absent is
// consistent.
IdCheck CompareSides(std::string id, const Identity* primary, const Identity* secondary);

}  // namespace kimera

#endif  // KIMERA_CONSISTENCY_H_
