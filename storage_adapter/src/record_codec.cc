#include "record_codec.h"

#include <xxhash.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "coding.h"
#include "msgpack_guard.h"

namespace kimera {
namespace {

// version, identity_type, weight, created_at, updated_at, decay_applied_at.
constexpr std::size_t kHeaderBytes = 1 + 1 + 8 + 3 * 8;
constexpr std::size_t kChecksumBytes = 8;
// Header, three empty strings, two empty lists, an empty meta length and an
// empty MessagePack map.
constexpr std::size_t kMinRecordBytes = kHeaderBytes + 3 + 2 + 1 + 1 + kChecksumBytes;

std::size_t LengthPrefixedSize(std::size_t n) { return coding::VarintLength(n) + n; }

std::size_t ListSize(const std::vector<std::string>& list) {
  std::size_t n = coding::VarintLength(list.size());
  for (const auto& s : list) n += LengthPrefixedSize(s.size());
  return n;
}

// Reads the fields in order; every read is checked against the bytes left.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : in_(bytes) {}

  std::size_t remaining() const { return in_.size(); }

  bool Byte(unsigned char* v) {
    if (in_.empty()) return false;
    *v = static_cast<unsigned char>(in_.front());
    in_.remove_prefix(1);
    return true;
  }
  bool Fixed64(std::uint64_t* v) { return coding::GetFixed64(&in_, v); }
  // Record lengths are below 2^32; a longer varint is corruption.
  bool Varint(std::uint64_t* v) { return coding::GetVarint(&in_, v, 32); }
  bool Slice(std::string_view* s) { return coding::GetLengthPrefixed(&in_, s, 32); }
  bool String(std::string* s) {
    std::string_view view;
    if (!Slice(&view)) return false;
    s->assign(view);
    return true;
  }
  // Every element takes at least one byte (its length), which bounds the
  // count before anything is reserved.
  bool List(std::vector<std::string>* list) {
    std::uint64_t count = 0;
    if (!Varint(&count) || count > remaining()) return false;
    list->resize(static_cast<std::size_t>(count));
    for (auto& s : *list) {
      if (!String(&s)) return false;
    }
    return true;
  }

 private:
  std::string_view in_;
};

Status Corrupt(std::string_view id, std::string_view reason) {
  std::string msg = "record of id '";
  msg += DisplayId(id);
  msg += "' is corrupt: ";
  msg += reason;
  return Status::Corruption(msg);
}

bool KnownVersion(unsigned char version) {
  return version == kRecordVersion || version == kRecordVersionWithExtra;
}

// Appends the MessagePack of `map` with its varint length in front: written
// straight into the record and the prefix slid in afterwards, which is cheaper
// than a scratch buffer and a copy. `*out` is unchanged on failure.
Status AppendPrefixedMap(const nlohmann::json& map, std::string* out) {
  const std::size_t pos = out->size();
  if (Status s = msgpack::AppendMeta(map, out); !s.ok()) return s;
  char prefix[coding::kMaxVarintBytes];
  const std::size_t prefix_len = coding::EncodeVarint(out->size() - pos, prefix);
  out->insert(pos, prefix, prefix_len);
  return Status::OK();
}

// What Validate also refuses, checked again because the codec must never
// write a record whose JSON would carry a field twice.
Status CheckExtra(const Identity& identity) {
  if (!identity.extra.is_object()) {
    return Status::InvalidArgument("identity '" + DisplayId(identity.id) +
                                   "': field 'extra' must be a JSON object (got " +
                                   identity.extra.type_name() + ")");
  }
  for (auto it = identity.extra.begin(); it != identity.extra.end(); ++it) {
    if (IsReservedKey(it.key())) {
      return Status::InvalidArgument("identity '" + DisplayId(identity.id) + "': field '" +
                                     DisplayId(it.key()) + "' cannot be an extra key");
    }
  }
  return Status::OK();
}

Status TooLarge(const Identity& identity, std::size_t bytes) {
  return Status::InvalidArgument("identity '" + DisplayId(identity.id) + "': record of " +
                                 std::to_string(bytes) + " bytes exceeds the limit of " +
                                 std::to_string(kMaxRecordBytes) + " bytes");
}

}  // namespace

Status EncodeRecord(const Identity& identity, std::string* out) {
  if (!identity.meta.is_object()) {
    return Status::InvalidArgument("identity '" + DisplayId(identity.id) +
                                   "': field 'meta' must be a JSON object (got " +
                                   identity.meta.type_name() + ")");
  }
  // Empty (null, the default, or {}) in the common case: a version-1 record,
  // at exactly the cost it had before extra keys existed.
  const bool with_extra = !identity.extra.empty();
  if (with_extra) {
    if (Status s = CheckExtra(identity); !s.ok()) return s;
  }
  // Sizing everything but meta and the extra keys first refuses a huge
  // record before any work, and lets one reservation cover the common case.
  const std::size_t fixed =
      kHeaderBytes + LengthPrefixedSize(identity.raw.size()) +
      LengthPrefixedSize(identity.echo.size()) + LengthPrefixedSize(identity.lang_axis.size()) +
      ListSize(identity.tags) + ListSize(identity.related_ids) + kChecksumBytes;
  if (fixed > kMaxRecordBytes) return TooLarge(identity, fixed);

  const std::size_t start = out->size();
  out->reserve(start + fixed + 1 + 16 * (identity.meta.size() + identity.extra.size()) + 16);
  out->push_back(static_cast<char>(with_extra ? kRecordVersionWithExtra : kRecordVersion));
  out->push_back(static_cast<char>(identity.identity_type));
  coding::PutFixed64(std::bit_cast<std::uint64_t>(identity.weight), out);
  coding::PutFixed64(static_cast<std::uint64_t>(identity.created_at), out);
  coding::PutFixed64(static_cast<std::uint64_t>(identity.updated_at), out);
  coding::PutFixed64(static_cast<std::uint64_t>(identity.decay_applied_at), out);
  coding::PutLengthPrefixed(identity.raw, out);
  coding::PutLengthPrefixed(identity.echo, out);
  coding::PutLengthPrefixed(identity.lang_axis, out);
  coding::PutVarint(identity.tags.size(), out);
  for (const auto& tag : identity.tags) coding::PutLengthPrefixed(tag, out);
  coding::PutVarint(identity.related_ids.size(), out);
  for (const auto& related : identity.related_ids) coding::PutLengthPrefixed(related, out);

  if (Status s = AppendPrefixedMap(identity.meta, out); !s.ok()) {
    out->resize(start);
    return Status::InvalidArgument("identity '" + DisplayId(identity.id) +
                                   "': field 'meta' cannot be encoded: " + s.message());
  }
  if (with_extra) {
    if (Status s = AppendPrefixedMap(identity.extra, out); !s.ok()) {
      out->resize(start);
      return Status::InvalidArgument("identity '" + DisplayId(identity.id) +
                                     "': its extra keys cannot be encoded: " + s.message());
    }
  }
  const std::size_t total = out->size() - start + kChecksumBytes;
  if (total > kMaxRecordBytes) {
    out->resize(start);
    return TooLarge(identity, total);
  }
  coding::PutFixed64(XXH3_64bits(out->data() + start, out->size() - start), out);
  return Status::OK();
}

bool DecodeMetaMsgpack(std::string_view bytes, nlohmann::json* out, std::string* error) {
  return msgpack::ReadMeta(bytes, out, error);
}

namespace {

// Checks version, length and checksum and reads the header; `*rest` is what
// follows the header, without the checksum.
Status ReadHeader(std::string_view id, std::string_view bytes, RecordHeader* out,
                  std::string_view* rest) {
  if (bytes.size() < kMinRecordBytes) {
    return Corrupt(id, "truncated (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (!KnownVersion(static_cast<unsigned char>(bytes[0]))) {
    return Corrupt(
        id, "unknown format version " + std::to_string(static_cast<unsigned char>(bytes[0])));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kChecksumBytes);
  if (XXH3_64bits(body.data(), body.size()) != coding::DecodeFixed64(bytes.data() + body.size())) {
    return Corrupt(id, "checksum mismatch");
  }
  // The checksum only proves the bytes are what some writer wrote; the
  // structure is still checked so a buggy or hostile writer cannot crash us.
  Reader reader(body.substr(1));
  unsigned char type = 0;
  std::uint64_t weight = 0, created_at = 0, updated_at = 0, decay_applied_at = 0;
  if (!reader.Byte(&type) || !reader.Fixed64(&weight) || !reader.Fixed64(&created_at) ||
      !reader.Fixed64(&updated_at) || !reader.Fixed64(&decay_applied_at)) {
    return Corrupt(id, "truncated header");
  }
  if (type > static_cast<unsigned char>(IdentityType::kScar)) {
    return Corrupt(id, "unknown identity_type " + std::to_string(type));
  }
  out->identity_type = static_cast<IdentityType>(type);
  out->weight = std::bit_cast<double>(weight);
  out->created_at = static_cast<Micros>(created_at);
  out->updated_at = static_cast<Micros>(updated_at);
  out->decay_applied_at = static_cast<Micros>(decay_applied_at);
  *rest = body.substr(kHeaderBytes);
  return Status::OK();
}

}  // namespace

Status DecodeRecordHeader(std::string_view id, std::string_view bytes, RecordHeader* out) {
  std::string_view rest;
  return ReadHeader(id, bytes, out, &rest);
}

Status DecodeRecord(std::string_view id, std::string_view bytes, Identity* out) {
  RecordHeader header;
  std::string_view rest;
  if (Status s = ReadHeader(id, bytes, &header, &rest); !s.ok()) return s;
  Identity identity;
  identity.identity_type = header.identity_type;
  identity.weight = header.weight;
  identity.created_at = header.created_at;
  identity.updated_at = header.updated_at;
  identity.decay_applied_at = header.decay_applied_at;
  Reader reader(rest);
  if (!reader.String(&identity.raw) || !reader.String(&identity.echo) ||
      !reader.String(&identity.lang_axis)) {
    return Corrupt(id, "bad string length");
  }
  if (!reader.List(&identity.tags)) return Corrupt(id, "bad tags list");
  if (!reader.List(&identity.related_ids)) return Corrupt(id, "bad related_ids list");
  std::string_view meta;
  if (!reader.Slice(&meta)) return Corrupt(id, "bad meta length");
  // ReadHeader has checked the version is 1 or 2.
  const bool with_extra = static_cast<unsigned char>(bytes[0]) == kRecordVersionWithExtra;
  std::string_view extra;
  if (with_extra && !reader.Slice(&extra)) return Corrupt(id, "bad extra keys length");
  if (reader.remaining() != 0) return Corrupt(id, "trailing bytes");
  std::string reason;
  if (!DecodeMetaMsgpack(meta, &identity.meta, &reason)) return Corrupt(id, reason);
  if (with_extra) {
    if (!msgpack::ReadExtra(extra, &identity.extra, &reason)) return Corrupt(id, reason);
    for (auto it = identity.extra.begin(); it != identity.extra.end(); ++it) {
      if (IsReservedKey(it.key())) {
        return Corrupt(id, "extra keys hold the reserved key '" + DisplayId(it.key()) + "'");
      }
    }
  }
  identity.id.assign(id);
  *out = std::move(identity);
  return Status::OK();
}

}  // namespace kimera
