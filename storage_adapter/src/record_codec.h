// The binary record format of an identity, used in the hot path.
//
// Layout, all integers little-endian:
//   u8  version (1 or 2)
//   u8  identity_type
//   f64 weight
//   i64 created_at, i64 updated_at, i64 decay_applied_at
//   varint-prefixed strings: raw, echo, lang_axis
//   varint count, then varint-prefixed strings: tags, related_ids
//   varint-prefixed MessagePack of meta
//   version 2 only: varint-prefixed MessagePack of the extra keys (one map)
//   u64 XXH3 of everything before it
// Version 2 is written only for an identity with extra keys; one without is
// written as version 1, byte for byte what the version-1 writer wrote, so the
// common record costs nothing more and older readers still read it. Both
// versions are read. The id is the key and is not repeated in the value. This
// file is the only place that knows the layout; everything else calls the
// functions below.
//
// Thread-safety: pure functions; call from any thread.
#ifndef KIMERA_RECORD_CODEC_H_
#define KIMERA_RECORD_CODEC_H_

#include <string>
#include <string_view>

#include "kimera/identity.h"
#include "kimera/status.h"

namespace kimera {

// The version of a record without extra keys, and of one with them.
inline constexpr unsigned char kRecordVersion = 1;
inline constexpr unsigned char kRecordVersionWithExtra = 2;

// Appends the encoding of `identity` (without its id) to `*out`: version 1
// when identity.extra is empty, else version 2. Fails with InvalidArgument
// naming the id when the record, extra keys included, would exceed
// kMaxRecordBytes, or when meta or extra is not an object or extra holds a
// reserved key (IsReservedKey); `*out` is then unchanged.
Status EncodeRecord(const Identity& identity, std::string* out);

// Decodes a value written by EncodeRecord, of either version. `id` is the key
// it was read under; it is set into `out->id` and named in a Corruption error.
// A version-1 record gives a null `extra`. Never reads out of bounds, whatever
// the bytes.
Status DecodeRecord(std::string_view id, std::string_view bytes, Identity* out);

// The fixed fields at the head of a record.
struct RecordHeader {
  IdentityType identity_type = IdentityType::kGeoid;
  double weight = 0;
  Micros created_at = 0;
  Micros updated_at = 0;
  Micros decay_applied_at = 0;
};

// Decodes only the header of a value written by EncodeRecord (either
// version), after checking its version and checksum as DecodeRecord does: for
// scans that need no terms or meta (the decay sweep), at a fraction of a full
// decode's cost. The same Corruption errors as DecodeRecord for a bad
// version, length or checksum.
Status DecodeRecordHeader(std::string_view id, std::string_view bytes, RecordHeader* out);

// Decodes MessagePack holding an identity's meta (the encoding EncodeRecord
// and the legacy row format use). The structure is checked as it is built
// (msgpack_guard.h): one map, no deeper than kMaxMetaDepth, container counts
// bounded by the bytes present, so hostile bytes can exhaust neither stack nor
// memory.
// On failure returns false with the reason in `*error`; `*out` is unchanged.
bool DecodeMetaMsgpack(std::string_view bytes, nlohmann::json* out, std::string* error);

}  // namespace kimera

#endif  // KIMERA_RECORD_CODEC_H_
