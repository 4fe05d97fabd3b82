// The legacy layout of the original system's tables, kept in two column
// families keyed by id:
//
//   legacy_geoids: raw, echo, lang_axis, tags, weight, meta, created_at, updated_at
//   legacy_scars:  weight, related_ids, meta, created_at, updated_at
//
// Each value is one row holding exactly those columns, in that order, in a
// compact binary form (the write path pays for every byte and every
// conversion; JSON text cost five times the record encoding):
//
//   u8 row version (2)
//   then each column of the table, in the order above:
//     raw, echo, lang_axis          varint length + UTF-8 bytes
//     tags, related_ids             varint count, then each as a string
//     weight                        f64, little-endian
//     meta                          varint length + MessagePack of the object
//     created_at, updated_at        i64 microseconds since the epoch, little-endian
//
// An identity with extra keys (Identity::extra: the reference's legacy
// "content" and "metadata", ...) is written as row version 3: the same
// columns, then its extra keys as one more varint length + MessagePack map.
// One without is written as version 2, so the common row is unchanged and
// older readers still read it. Rows of version 1 (one JSON object with those
// columns, timestamps as ISO-8601 text; a value starting with '{') are still
// read, and have no extra keys. Fields a table has no column for (a geoid's
// related_ids, a scar's raw/echo/lang_axis/tags, and decay_applied_at) are
// not kept: ProjectToLegacy() says what survives; the extra keys always do.
//
// Thread-safety: pure functions; call from any thread.
#ifndef KIMERA_LEGACY_FORMAT_H_
#define KIMERA_LEGACY_FORMAT_H_

#include <string>
#include <string_view>

#include "kimera/identity.h"
#include "kimera/status.h"

namespace kimera {

inline constexpr const char* kLegacyGeoidsColumnFamily = "legacy_geoids";
inline constexpr const char* kLegacyScarsColumnFamily = "legacy_scars";

// The legacy row of `identity` (its table follows from identity_type).
std::string EncodeLegacyRow(const Identity& identity);

// Decodes a row read from the table of `type` under key `id`. Corruption
// naming the id when the bytes are not a row of that table.
Status DecodeLegacyRow(std::string_view id, IdentityType type, std::string_view bytes,
                       Identity* out);

// `identity` with the fields the legacy tables cannot hold cleared: what a
// write followed by a read of the legacy tables gives back (extra included).
Identity ProjectToLegacy(const Identity& identity);

}  // namespace kimera

#endif  // KIMERA_LEGACY_FORMAT_H_
