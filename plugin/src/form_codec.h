// The bytes of the echo forms' column family ("echo_forms"): the one place
// that knows its keys and values. Internal to the plugin (FormStore).
//
// Keys, after a one-byte tag:
//   'f' anchor                                      the form (value below)
//   'u' desc(updated_at) anchor                     "": every form, newest first
//   'd' varint(len) domain desc(updated_at) anchor  "": one domain, newest first
//   'c' asc(created_at) anchor                      "": oldest created first (pruning)
//   'n'                                             counter: forms stored
//   'm' domain                                      counter: forms of the domain
// asc(t) is the big-endian of t with its sign bit flipped, so keys sort as
// the signed times do; desc(t) is its complement. The domain's length prefix
// keeps one domain's keys from running into a longer domain's. Counters are
// RocksDbDatabase's little-endian int64 merge operands.
//
// Value: version byte (1), fixed64 created_at, updated_at, decay_applied_at,
// the bits of phase and intensity_sum, the length-prefixed domain, then the
// blob as MessagePack (read back through msgpack_guard.h). The anchor is the
// key's and not repeated.
//
// Thread-safety: pure functions; call from any thread.
#ifndef KIMERA_FORM_CODEC_H_
#define KIMERA_FORM_CODEC_H_

#include <string>
#include <string_view>

#include "kimera/form_store.h"
#include "kimera/status.h"

namespace kimera::form_codec {

inline constexpr const char* kColumnFamily = "echo_forms";

inline constexpr char kFormTag = 'f';
inline constexpr char kUpdatedTag = 'u';
inline constexpr char kDomainTag = 'd';
inline constexpr char kCreatedTag = 'c';
inline constexpr std::string_view kCountKey = "n";

std::string FormKey(std::string_view anchor);
std::string UpdatedKey(Micros updated_at, std::string_view anchor);
// The prefix every key of `domain`'s newest-first index starts with.
std::string DomainPrefix(std::string_view domain);
std::string DomainKey(std::string_view domain, Micros updated_at, std::string_view anchor);
std::string CreatedKey(Micros created_at, std::string_view anchor);
// Every 'c' key of a form created before `cutoff` sorts below this.
std::string CreatedBound(Micros cutoff);
std::string DomainCountKey(std::string_view domain);

// The anchor at the end of an index key whose fixed part is `prefix_size`
// bytes long: 1 for 'f', 9 for 'u' and 'c', DomainPrefix(domain).size() + 8
// for 'd'. Empty when the key is too short.
std::string_view AnchorOf(std::string_view key, std::size_t prefix_size);

// The value of `form` (its anchor aside). InvalidArgument naming the anchor
// when the value would exceed kMaxRecordBytes or the blob cannot be encoded.
Status EncodeForm(const EchoFormRecord& form, std::string* out);
// Reads a value written by EncodeForm into `*out`, with `anchor`.
// Corruption naming the anchor when the bytes cannot be read.
Status DecodeForm(std::string_view anchor, std::string_view value, EchoFormRecord* out);

}  // namespace kimera::form_codec

#endif  // KIMERA_FORM_CODEC_H_
