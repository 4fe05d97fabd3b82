#include "legacy_format.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "coding.h"
#include "kimera/identity_json.h"
#include "msgpack_guard.h"

namespace kimera {
namespace {

// What Validate lets a store write (finite, >= 0): a row holding anything
// else was not written by this code, and a NaN would never compare equal.
bool WeightStorable(double weight) { return std::isfinite(weight) && weight >= 0; }

Status Bad(std::string_view id, std::string_view why) {
  return Status::Corruption("legacy row of identity '" + DisplayId(id) + "': " + std::string(why));
}

// Reads a string-list column; false when it is not one.
bool ReadList(const nlohmann::json& row, const char* column, std::vector<std::string>* out) {
  auto it = row.find(column);
  if (it == row.end() || !it->is_array()) return false;
  out->clear();
  for (const auto& v : *it) {
    if (!v.is_string()) return false;
    out->push_back(v.get<std::string>());
  }
  return true;
}

bool ReadString(const nlohmann::json& row, const char* column, std::string* out) {
  auto it = row.find(column);
  if (it == row.end() || !it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

constexpr char kBinaryRowVersion = 2;
constexpr char kBinaryRowVersionWithExtra = 3;

void PutList(const std::vector<std::string>& list, std::string* out) {
  coding::PutVarint(list.size(), out);
  for (const std::string& s : list) coding::PutLengthPrefixed(s, out);
}

// Reads a binary row; every read is bounds-checked.
class RowReader {
 public:
  explicit RowReader(std::string_view bytes) : in_(bytes) {}

  bool Varint(std::uint64_t* out) { return coding::GetVarint(&in_, out); }
  bool Bytes(std::string_view* out) { return coding::GetLengthPrefixed(&in_, out); }
  bool String(std::string* out) {
    std::string_view v;
    if (!Bytes(&v)) return false;
    out->assign(v);
    return true;
  }
  bool List(std::vector<std::string>* out) {
    std::uint64_t n = 0;
    // Each string takes at least one byte: a larger count is a lie.
    if (!Varint(&n) || n > in_.size()) return false;
    out->clear();
    out->reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) {
      out->emplace_back();
      if (!String(&out->back())) return false;
    }
    return true;
  }
  bool Fixed64(std::uint64_t* out) { return coding::GetFixed64(&in_, out); }
  bool Double(double* out) {
    std::uint64_t bits = 0;
    if (!Fixed64(&bits)) return false;
    std::memcpy(out, &bits, sizeof bits);
    return true;
  }
  bool Micros(kimera::Micros* out) {
    std::uint64_t v = 0;
    if (!Fixed64(&v)) return false;
    *out = static_cast<kimera::Micros>(v);
    return true;
  }
  // Through the guarded reader: it bounds depth and container counts, which
  // nlohmann's recursive from_msgpack does not.
  bool Meta(nlohmann::json* out) {
    std::string_view bytes;
    std::string reason;
    return Bytes(&bytes) && msgpack::ReadMeta(bytes, out, &reason);
  }
  // The extra keys: a map with no reserved key (a row written from an
  // identity Validate passed has none).
  bool Extra(nlohmann::json* out) {
    std::string_view bytes;
    std::string reason;
    if (!Bytes(&bytes) || !msgpack::ReadExtra(bytes, out, &reason)) return false;
    for (auto it = out->begin(); it != out->end(); ++it) {
      if (IsReservedKey(it.key())) return false;
    }
    return true;
  }
  bool AtEnd() const { return in_.empty(); }

 private:
  std::string_view in_;
};

// A version-1 row: one JSON object.
Status DecodeJsonRow(std::string_view id, IdentityType type, std::string_view bytes, Identity* out);

}  // namespace

std::string EncodeLegacyRow(const Identity& identity) {
  // Empty (null or {}) in the common case: a version-2 row, as before.
  const bool with_extra = !identity.extra.empty();
  std::string row;
  row.reserve(48 + identity.raw.size() + identity.echo.size() + identity.lang_axis.size() +
              16 * (identity.tags.size() + identity.related_ids.size() + identity.meta.size() +
                    identity.extra.size()));
  row.push_back(with_extra ? kBinaryRowVersionWithExtra : kBinaryRowVersion);
  const bool scar = identity.identity_type == IdentityType::kScar;
  if (!scar) {
    coding::PutLengthPrefixed(identity.raw, &row);
    coding::PutLengthPrefixed(identity.echo, &row);
    coding::PutLengthPrefixed(identity.lang_axis, &row);
    PutList(identity.tags, &row);
  }
  std::uint64_t weight_bits = 0;
  std::memcpy(&weight_bits, &identity.weight, sizeof weight_bits);
  coding::PutFixed64(weight_bits, &row);
  if (scar) PutList(identity.related_ids, &row);
  std::string meta;
  if (!msgpack::AppendMeta(identity.meta, &meta).ok()) {
    // Validate admits only encodable meta; a row must never throw on the
    // write path.
    meta.assign(1, static_cast<char>(0x80));  // An empty map.
  }
  coding::PutLengthPrefixed(meta, &row);
  coding::PutFixed64(static_cast<std::uint64_t>(identity.created_at), &row);
  coding::PutFixed64(static_cast<std::uint64_t>(identity.updated_at), &row);
  if (with_extra) {
    std::string extra;
    if (!msgpack::AppendMeta(identity.extra, &extra).ok()) {
      // As for meta: the record codec encoded the same map before this row
      // is written, so this does not happen; the row must not throw.
      extra.assign(1, static_cast<char>(0x80));
    }
    coding::PutLengthPrefixed(extra, &row);
  }
  return row;
}

Status DecodeLegacyRow(std::string_view id, IdentityType type, std::string_view bytes,
                       Identity* out) {
  if (!bytes.empty() && bytes.front() == '{') return DecodeJsonRow(id, type, bytes, out);
  if (bytes.empty() ||
      (bytes.front() != kBinaryRowVersion && bytes.front() != kBinaryRowVersionWithExtra)) {
    return Bad(id, "unknown row version");
  }
  const bool with_extra = bytes.front() == kBinaryRowVersionWithExtra;
  RowReader r(bytes.substr(1));
  Identity identity;
  identity.id = std::string(id);
  identity.identity_type = type;
  const bool scar = type == IdentityType::kScar;
  if (!scar) {
    if (!r.String(&identity.raw)) return Bad(id, "raw");
    if (!r.String(&identity.echo)) return Bad(id, "echo");
    if (!r.String(&identity.lang_axis)) return Bad(id, "lang_axis");
    if (!r.List(&identity.tags)) return Bad(id, "tags");
  }
  if (!r.Double(&identity.weight) || !WeightStorable(identity.weight)) return Bad(id, "weight");
  if (scar && !r.List(&identity.related_ids)) return Bad(id, "related_ids");
  if (!r.Meta(&identity.meta)) return Bad(id, "meta");
  if (!r.Micros(&identity.created_at)) return Bad(id, "created_at");
  if (!r.Micros(&identity.updated_at)) return Bad(id, "updated_at");
  if (with_extra && !r.Extra(&identity.extra)) return Bad(id, "extra keys");
  if (!r.AtEnd()) return Bad(id, "trailing bytes");
  *out = std::move(identity);
  return Status::OK();
}

namespace {

// Version 1: the JSON object the first legacy writer produced.
Status DecodeJsonRow(std::string_view id, IdentityType type, std::string_view bytes,
                     Identity* out) {
  nlohmann::json row = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (row.is_discarded() || !row.is_object()) return Bad(id, "not a JSON object");
  Identity identity;
  identity.id = std::string(id);
  identity.identity_type = type;
  if (type == IdentityType::kScar) {
    if (!ReadList(row, "related_ids", &identity.related_ids)) return Bad(id, "related_ids");
  } else {
    if (!ReadString(row, "raw", &identity.raw)) return Bad(id, "raw");
    if (!ReadString(row, "echo", &identity.echo)) return Bad(id, "echo");
    if (!ReadString(row, "lang_axis", &identity.lang_axis)) return Bad(id, "lang_axis");
    if (!ReadList(row, "tags", &identity.tags)) return Bad(id, "tags");
  }
  auto weight = row.find("weight");
  if (weight == row.end() || !weight->is_number()) return Bad(id, "weight");
  identity.weight = weight->get<double>();
  if (!WeightStorable(identity.weight)) return Bad(id, "weight");
  auto meta = row.find("meta");
  if (meta == row.end() || !meta->is_object()) return Bad(id, "meta");
  identity.meta = *meta;
  std::string created, updated;
  if (!ReadString(row, "created_at", &created) ||
      !ParseTimestamp(created, &identity.created_at).ok()) {
    return Bad(id, "created_at");
  }
  if (!ReadString(row, "updated_at", &updated) ||
      !ParseTimestamp(updated, &identity.updated_at).ok()) {
    return Bad(id, "updated_at");
  }
  *out = std::move(identity);
  return Status::OK();
}

}  // namespace

Identity ProjectToLegacy(const Identity& identity) {
  Identity p = identity;
  if (p.identity_type == IdentityType::kScar) {
    p.raw.clear();
    p.echo.clear();
    p.lang_axis.clear();
    p.tags.clear();
  } else {
    p.related_ids.clear();
  }
  p.decay_applied_at = 0;
  return p;
}

}  // namespace kimera
