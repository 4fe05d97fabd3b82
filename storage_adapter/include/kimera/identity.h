// The identity model: fields, entropy, effective tau and decay.
//
// An identity is a content identity ("geoid": text with weighted terms in
// meta.terms) or a relationship identity ("scar": links to other identities).
// The formulas here are the reference implementation's, exactly:
//
//   scar:   n = |related_ids|; H = log2(n) * weight when n >= 2, else 0.
//   other:  meta.terms a list -> keep objects whose "intensity" is a number
//           or a boolean and > 0 (as in Python, where True is the int 1: true
//           counts as 1.0, false is dropped; strings, null, lists and objects
//           never count); p_i = x_i / sum x; H = -sum p_i log2 p_i
//           (0 when none kept; an empty list does not fall back to tags);
//           else tags non-empty -> H = log2(n) when n > 1, else 0; else 0.
//   tau_eff = base_tau * (1 + k * H)
//   decay(age) = exp(-age / tau_eff), 0 when tau_eff <= 0.
//
// Entropy, tau and decay read only the reference fields: an identity's extra
// keys (below) never change them.
//
// Thread-safety: Identity is a value type; the free functions are pure and
// may be called from any thread.
#ifndef KIMERA_IDENTITY_H_
#define KIMERA_IDENTITY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kimera/status.h"

namespace kimera {

enum class IdentityType : std::uint8_t { kGeoid = 0, kScar = 1 };

// "geoid" or "scar".
const char* IdentityTypeName(IdentityType type);
// Parses "geoid" / "scar"; nullopt for anything else.
std::optional<IdentityType> ParseIdentityType(std::string_view name);

// Timestamps are microseconds since the Unix epoch, UTC.
using Micros = std::int64_t;

struct Identity {
  std::string id;
  IdentityType identity_type = IdentityType::kGeoid;
  std::string raw;
  std::string echo;
  std::string lang_axis;
  std::vector<std::string> tags;
  double weight = 1.0;
  std::vector<std::string> related_ids;
  nlohmann::json meta = nlohmann::json::object();  // Always a JSON object.
  Micros created_at = 0;
  Micros updated_at = 0;
  // When decay was last applied (0: never, decay counts from created_at).
  // Internal: not part of the reference JSON.
  Micros decay_applied_at = 0;
  // The identity's other top-level JSON keys, each with its value verbatim
  // (the reference's legacy constructors add "content" and "metadata"; any
  // key and any JSON value is kept). Null (the default, which costs no
  // allocation) or a JSON object; null and {} both mean "none". Never holds
  // a name IsReservedKey() is true for: the 11 reference fields are the
  // fields above, and "entropy" / "effective_tau" are computed on output
  // and dropped on input. Stored, fetched, listed, scanned, exported and
  // written to both dual-write secondaries with the identity; counts towards
  // kMaxRecordBytes; no part of entropy, tau or decay. Validate() bounds each
  // value as it bounds meta (depth, UTF-8, finite numbers).
  nlohmann::json extra;

  // Every field equal; `extra` compares as a set of keys, so null and {}
  // are equal and key order never matters.
  friend bool operator==(const Identity& a, const Identity& b);
};

// Decay parameters. Defaults are the reference's.
struct DecayParams {
  double base_tau_seconds = 1'209'600.0;  // 14 days.
  double k = 0.1;
};

// Limits enforced by Validate().
inline constexpr std::size_t kMaxIdBytes = 512;
// The encoded record, extra keys included: 16 MiB.
inline constexpr std::size_t kMaxRecordBytes = 16u << 20;
inline constexpr int kMaxMetaDepth = 64;
// A scar's weight multiplies its entropy (log2(n) * weight); above this the
// entropy and tau stop meaning anything (1e300 overflows tau).
inline constexpr double kMaxScarWeight = 1e6;

// True for the top-level JSON keys an identity's `extra` can never hold:
// the 11 reference fields (id, identity_type, raw, echo, lang_axis, tags,
// weight, related_ids, meta, created_at, updated_at) and the computed
// "entropy" and "effective_tau".
bool IsReservedKey(std::string_view key);

// Checks that `value` (meta, an extra key, an echo form's blob) holds only
// what storage keeps verbatim: valid UTF-8 strings and keys, finite numbers,
// nesting at most kMaxMetaDepth deep. On the first value that breaks a rule
// returns false with its path below `value` (".terms[2].intensity") in
// `*path` and the reason ("is not valid UTF-8") in `*reason`.
bool CheckStorableJson(const nlohmann::json& value, std::string* path, std::string* reason);

// Shannon entropy in bits, by the rules above.
double Entropy(const Identity& identity);
// A term intensity as the reference's arithmetic sees it: a number as is, a
// boolean as 1.0 or 0.0 (Python's True and False); nullopt for any other
// value (string, null, list, object), which neither counts nor decays.
std::optional<double> IntensityValue(const nlohmann::json& intensity);
// base_tau * (1 + k * H).
double EffectiveTau(double entropy, const DecayParams& params = {});
// exp(-age / tau_eff); 0 when tau_eff <= 0. Negative ages are passed through
// unchanged (the result is then > 1), so a caller can detect a clock that
// went backwards.
double DecayFactor(double age_seconds, double tau_eff);

// Checks every rule of the model: id non-empty and at most 512 bytes,
// weight finite and >= 0 (a scar's at most kMaxScarWeight), updated_at not
// before created_at when both are set, numeric term intensities finite (other
// intensity values, booleans included, are accepted as the reference accepts
// them), every string valid UTF-8, meta an object no deeper than
// kMaxMetaDepth; extra null or an object with no reserved key
// (IsReservedKey), each value held to meta's rules (no deeper than
// kMaxMetaDepth, valid UTF-8, finite numbers). The error names the field (an
// extra key by its own name) and the id. Does not check the encoded size
// (see EncodeRecord).
Status Validate(const Identity& identity);

// True when `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// The id as error messages quote it: bytes that are not printable UTF-8 are
// written as \xNN, and an id longer than 64 bytes is cut there and ends
// in "...". Safe to put in a log line whatever the bytes.
std::string DisplayId(std::string_view id);

// Multiplies weight and every numeric or boolean term intensity by `factor`
// in place (the decay operation's arithmetic). As in Python, a boolean counts
// as 1 or 0 and becomes a number: true -> factor, false -> 0.0. Other values
// are left alone.
void ScaleWeights(Identity* identity, double factor);

}  // namespace kimera

#endif  // KIMERA_IDENTITY_H_
