// JSON in and out, in the reference implementation's field names.
//
// Field names: id, identity_type, raw, echo, lang_axis, tags, weight,
// related_ids, meta, created_at, updated_at. Timestamps are ISO-8601; on input
// the offset and the fractional seconds are optional (no offset means UTC);
// on output they are written as Python's datetime.isoformat() writes a UTC
// time: "2026-11-26T12:00:00.123456+00:00", the fraction left out when zero.
//
// Any other top-level key (the reference's legacy "content" and "metadata",
// or any other) is kept verbatim in Identity::extra and written back after
// the 11 fields, so data round-trips whatever keys it carries; "entropy" and
// "effective_tau", which an export adds, are dropped on input.
//
// Thread-safety: pure functions; call from any thread.
#ifndef KIMERA_IDENTITY_JSON_H_
#define KIMERA_IDENTITY_JSON_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kimera/identity.h"
#include "kimera/status.h"

namespace kimera {

// Parses one identity from a JSON object. Missing optional fields take their
// defaults (weight 1.0, empty strings and lists, meta {}); a missing
// created_at / updated_at is 0, which the store replaces by the time of the
// store. Keys outside the 11 fields go to `extra` (see above). Errors name
// the field and, when known, the id. `out` is only written on success. Runs
// Validate().
Status IdentityFromJson(const nlohmann::json& object, Identity* out);
// The same, taking `object` apart (its meta and extra keys are moved, not
// copied); `object` is left valid but unspecified, even on error.
Status IdentityFromJson(nlohmann::json&& object, Identity* out);

// Parses text holding one JSON object. Malformed JSON gives InvalidArgument
// with the parser's position.
Status IdentityFromJsonText(std::string_view text, Identity* out);

// The reference dict of the identity, its extra keys included. nlohmann::json
// keeps its keys sorted; use IdentityToJsonLine when the field order matters.
nlohmann::json IdentityToJson(const Identity& identity);

// One line of JSON text (no trailing newline) with the 11 reference fields in
// the reference order: id, identity_type, raw, echo, lang_axis, tags, weight,
// related_ids, meta, created_at, updated_at; then the extra keys, in key
// order. When `entropy_and_tau` is given, "entropy" and "effective_tau"
// follow, written as shortest round-trip doubles. Strings are written as
// UTF-8, not \u-escaped; invalid UTF-8 (which Validate() rejects) is replaced
// by U+FFFD rather than thrown. Never throws except std::bad_alloc.
std::string IdentityToJsonLine(
    const Identity& identity,
    std::optional<std::pair<double, double>> entropy_and_tau = std::nullopt);
// Appends the same text to `*out`: for a writer of many identities into one
// buffer (a JSON array, a page of results).
void AppendIdentityJsonLine(const Identity& identity,
                            const std::optional<std::pair<double, double>>& entropy_and_tau,
                            std::string* out);

// Parses an ISO-8601 timestamp ("2026-11-26T12:00:00", "...12:00:00.5Z",
// "...12:00:00.123456+02:00", a space instead of 'T') into UTC micros.
Status ParseTimestamp(std::string_view text, Micros* out);
// Formats as Python's isoformat() of an aware UTC datetime.
std::string FormatTimestamp(Micros micros);

}  // namespace kimera

#endif  // KIMERA_IDENTITY_JSON_H_
