#include "kimera/consistency.h"

#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "kimera/identity_json.h"

namespace kimera {
namespace {

std::string Text(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const char* CheckResultName(CheckResult result) {
  switch (result) {
    case CheckResult::kConsistent:
      return "consistent";
    case CheckResult::kMismatch:
      return "mismatch";
    case CheckResult::kMissingPrimary:
      return "missing_primary";
    case CheckResult::kMissingSecondary:
      return "missing_secondary";
  }
  return "mismatch";
}

std::uint64_t CanonicalDigest(const Identity& identity) {
  // The reference JSON line is deterministic (fixed field order, meta and
  // extra keys sorted), so equal field values give equal bytes. It carries
  // the extra keys after the 11 fields, and nothing for none: both sides keep
  // them, so a side that lost them must not pass the digest unseen, and the
  // digest of an identity without them is what it was before they existed.
  const std::string line = IdentityToJsonLine(identity);
  return XXH3_64bits(line.data(), line.size());
}

std::vector<FieldDiff> DiffFields(const Identity& p, const Identity& s) {
  std::vector<FieldDiff> diffs;
  auto add = [&](const char* field, const nlohmann::json& a, const nlohmann::json& b) {
    if (a != b) diffs.push_back({field, Text(a), Text(b)});
  };
  add("id", p.id, s.id);
  add("identity_type", IdentityTypeName(p.identity_type), IdentityTypeName(s.identity_type));
  add("raw", p.raw, s.raw);
  add("echo", p.echo, s.echo);
  add("lang_axis", p.lang_axis, s.lang_axis);
  add("tags", p.tags, s.tags);
  // Compared as bits: 0.1 + 0.2 and 0.3 are different weights here.
  if (std::memcmp(&p.weight, &s.weight, sizeof(double)) != 0) {
    diffs.push_back({"weight", Text(p.weight), Text(s.weight)});
  }
  add("related_ids", p.related_ids, s.related_ids);
  add("meta", p.meta, s.meta);
  add("created_at", FormatTimestamp(p.created_at), FormatTimestamp(s.created_at));
  add("updated_at", FormatTimestamp(p.updated_at), FormatTimestamp(s.updated_at));
  // All extra keys as one field; none (null) and {} are the same.
  if (!(p.extra.empty() && s.extra.empty()) && p.extra != s.extra) {
    const nlohmann::json none = nlohmann::json::object();
    diffs.push_back(
        {"extra", Text(p.extra.empty() ? none : p.extra), Text(s.extra.empty() ? none : s.extra)});
  }
  return diffs;
}

IdCheck CompareSides(std::string id, const Identity* primary, const Identity* secondary) {
  IdCheck check;
  check.id = std::move(id);
  if (primary == nullptr && secondary == nullptr) return check;
  if (primary == nullptr) {
    check.result = CheckResult::kMissingPrimary;
    return check;
  }
  if (secondary == nullptr) {
    check.result = CheckResult::kMissingSecondary;
    return check;
  }
  check.entropy_drift = std::fabs(Entropy(*primary) - Entropy(*secondary));
  if (CanonicalDigest(*primary) == CanonicalDigest(*secondary)) return check;
  check.fields = DiffFields(*primary, *secondary);
  // A digest collision of equal fields cannot happen; different bytes with
  // equal fields can (e.g. -0.0 vs 0.0 printed alike), and those count as equal.
  if (!check.fields.empty()) check.result = CheckResult::kMismatch;
  return check;
}

}  // namespace kimera
