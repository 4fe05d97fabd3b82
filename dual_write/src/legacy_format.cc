#include "kimera/legacy_format.h"

#include <nlohmann/json.hpp>

#include "kimera/identity_json.h"

namespace kimera {
namespace {

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

}  // namespace

std::string EncodeLegacyRow(const Identity& identity) {
  nlohmann::json row = nlohmann::json::object();
  if (identity.identity_type == IdentityType::kScar) {
    row["related_ids"] = identity.related_ids;
  } else {
    row["raw"] = identity.raw;
    row["echo"] = identity.echo;
    row["lang_axis"] = identity.lang_axis;
    row["tags"] = identity.tags;
  }
  row["weight"] = identity.weight;
  row["meta"] = identity.meta;
  row["created_at"] = FormatTimestamp(identity.created_at);
  row["updated_at"] = FormatTimestamp(identity.updated_at);
  // Invalid UTF-8 cannot reach here (Validate rejects it), but a row must
  // never throw on the write path.
  return row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status DecodeLegacyRow(std::string_view id, IdentityType type, std::string_view bytes,
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
