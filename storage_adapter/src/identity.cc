#include "kimera/identity.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace kimera {
namespace {

constexpr std::size_t kDisplayIdMaxBytes = 64;

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when the
// bytes there are not one. Follows the Unicode table of well-formed byte
// sequences, so overlong forms, surrogates and code points above U+10FFFF
// are rejected.
std::size_t Utf8SequenceLength(const unsigned char* s, std::size_t i, std::size_t n) {
  const unsigned char c = s[i];
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t k, unsigned char lo, unsigned char hi) {
    return i + k < n && s[i + k] >= lo && s[i + k] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) {
    return cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  if (c >= 0xF1 && c <= 0xF3) {
    return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  if (c == 0xF4) {
    return cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

std::string FormatNumber(double value) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

std::string FieldError(const Identity& identity, std::string_view field, std::string_view what) {
  std::string msg = "identity '";
  msg += DisplayId(identity.id);
  msg += "': field '";
  msg += field;
  msg += "' ";
  msg += what;
  return msg;
}

// Built by appending: GCC 12 reports a false -Wrestrict on `"x" + std::string`.
void Prepend(std::string_view separator, std::string_view segment, std::string* path) {
  std::string result;
  result.reserve(separator.size() + segment.size() + path->size());
  result.append(separator);
  result.append(segment);
  result.append(*path);
  *path = std::move(result);
}

// What a term adds to the sum: its intensity when it counts, else 0. The
// reference keeps isinstance(x, (int, float)) and x > 0, and Python's True is
// the int 1, so true counts as 1.0 and false (0) is dropped. A NaN fails
// x > 0, as in Python.
double CountedIntensity(const nlohmann::json& term) {
  if (!term.is_object()) return 0.0;
  const auto it = term.find("intensity");
  if (it == term.end()) return 0.0;
  const std::optional<double> x = IntensityValue(*it);
  return x && *x > 0 ? *x : 0.0;
}

// Sums in list order on purpose: the reference adds left to right, and the
// entropy must agree with it to the last few ulps.
double TermsEntropy(const nlohmann::json& terms) {
  double total = 0.0;
  bool any = false;
  for (const auto& term : terms) {
    const double x = CountedIntensity(term);
    if (x > 0) {
      total += x;
      any = true;
    }
  }
  if (!any) return 0.0;
  double sum = 0.0;
  for (const auto& term : terms) {
    const double x = CountedIntensity(term);
    if (!(x > 0)) continue;
    const double p = x / total;
    // p underflows to 0 only for absurd ranges of intensities; its limit
    // contribution is 0, where log2 would give -inf * 0 = NaN.
    if (p > 0) sum += p * std::log2(p);
  }
  return -sum;
}

// Recursion is bounded by kMaxMetaDepth: a container below the limit is
// refused before it is entered, so hostile nesting cannot exhaust the stack.
// The path is only built on the way out of a failure.
bool WalkJson(const nlohmann::json& value, int depth, std::string* path, std::string* reason) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
    case nlohmann::json::value_t::array:
      if (depth > kMaxMetaDepth) {
        *reason = "is nested deeper than " + std::to_string(kMaxMetaDepth) + " levels";
        return false;
      }
      break;
    case nlohmann::json::value_t::string:
      if (!IsValidUtf8(value.get_ref<const std::string&>())) {
        *reason = "is not valid UTF-8";
        return false;
      }
      return true;
    case nlohmann::json::value_t::number_float:
      // JSON has no NaN or Infinity: such a value (set through the API)
      // would be written back as null, so it is refused, not stored.
      if (!std::isfinite(value.get<double>())) {
        *reason = "must be finite (got " + FormatNumber(value.get<double>()) + ")";
        return false;
      }
      return true;
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      *reason = std::string("must hold only JSON values (found ") + value.type_name() + ")";
      return false;
    default:
      return true;
  }
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string& key = it.key();
      if (!IsValidUtf8(key)) {
        Prepend(".", DisplayId(key), path);
        *reason = "has a key that is not valid UTF-8";
        return false;
      }
      if (!WalkJson(it.value(), depth + 1, path, reason)) {
        Prepend(".", key, path);
        return false;
      }
    }
  } else {
    std::size_t index = 0;
    for (const auto& child : value) {
      if (!WalkJson(child, depth + 1, path, reason)) {
        Prepend("[", std::to_string(index) + "]", path);
        return false;
      }
      ++index;
    }
  }
  return true;
}

class MetaChecker {
 public:
  explicit MetaChecker(const Identity& identity) : identity_(identity) {}

  Status Check() {
    if (!identity_.meta.is_object()) {
      return Status::InvalidArgument(FieldError(
          identity_, "meta",
          std::string("must be a JSON object (got ") + identity_.meta.type_name() + ")"));
    }
    std::string reason;
    std::string path;
    if (!CheckStorableJson(identity_.meta, &path, &reason)) {
      return Status::InvalidArgument(FieldError(identity_, "meta" + path, reason));
    }
    return CheckTerms();
  }

 private:
  // Only a non-finite number is refused. Any other value (a boolean, a
  // string, null, ...) is accepted, as the reference accepts it, and the
  // entropy skips what does not count.
  Status CheckTerms() {
    const auto terms = identity_.meta.find("terms");
    if (terms == identity_.meta.end() || !terms->is_array()) return Status::OK();
    std::size_t index = 0;
    for (const auto& term : *terms) {
      if (term.is_object()) {
        const auto it = term.find("intensity");
        if (it != term.end() && it->is_number_float() && !std::isfinite(it->get<double>())) {
          return Status::InvalidArgument(
              FieldError(identity_, "meta.terms[" + std::to_string(index) + "].intensity",
                         "must be finite (got " + FormatNumber(it->get<double>()) + ")"));
        }
      }
      ++index;
    }
    return Status::OK();
  }

  const Identity& identity_;
};

// The extra keys: an object (or null, none) whose keys are no reserved
// name, each value held to meta's rules at meta's depth: "content": {...} may
// nest as deep as "meta": {...}.
Status CheckExtra(const Identity& identity) {
  if (identity.extra.is_null()) return Status::OK();
  if (!identity.extra.is_object()) {
    return Status::InvalidArgument(FieldError(
        identity, "extra",
        std::string("must be a JSON object or null (got ") + identity.extra.type_name() + ")"));
  }
  for (auto it = identity.extra.begin(); it != identity.extra.end(); ++it) {
    const std::string& key = it.key();
    if (!IsValidUtf8(key)) {
      return Status::InvalidArgument(
          FieldError(identity, DisplayId(key), "is a key that is not valid UTF-8"));
    }
    if (IsReservedKey(key)) {
      return Status::InvalidArgument(FieldError(
          identity, key, "cannot be an extra key (it is a reference field or a computed one)"));
    }
    std::string reason;
    std::string path;
    if (!CheckStorableJson(it.value(), &path, &reason)) {
      return Status::InvalidArgument(FieldError(identity, DisplayId(key) + path, reason));
    }
  }
  return Status::OK();
}

Status CheckUtf8List(const Identity& identity, const std::vector<std::string>& list,
                     std::string_view field) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!IsValidUtf8(list[i])) {
      return Status::InvalidArgument(FieldError(
          identity, std::string(field) + "[" + std::to_string(i) + "]", "is not valid UTF-8"));
    }
  }
  return Status::OK();
}

}  // namespace

bool CheckStorableJson(const nlohmann::json& value, std::string* path, std::string* reason) {
  return WalkJson(value, 1, path, reason);
}

const char* IdentityTypeName(IdentityType type) {
  return type == IdentityType::kScar ? "scar" : "geoid";
}

std::optional<IdentityType> ParseIdentityType(std::string_view name) {
  if (name == "geoid") return IdentityType::kGeoid;
  if (name == "scar") return IdentityType::kScar;
  return std::nullopt;
}

double Entropy(const Identity& identity) {
  if (identity.identity_type == IdentityType::kScar) {
    const std::size_t n = identity.related_ids.size();
    return n >= 2 ? std::log2(static_cast<double>(n)) * identity.weight : 0.0;
  }
  if (identity.meta.is_object()) {
    const auto terms = identity.meta.find("terms");
    if (terms != identity.meta.end() && terms->is_array()) return TermsEntropy(*terms);
  }
  const std::size_t n = identity.tags.size();
  return n > 1 ? std::log2(static_cast<double>(n)) : 0.0;
}

double EffectiveTau(double entropy, const DecayParams& params) {
  return params.base_tau_seconds * (1.0 + params.k * entropy);
}

double DecayFactor(double age_seconds, double tau_eff) {
  if (!(tau_eff > 0)) return 0.0;
  return std::exp(-age_seconds / tau_eff);
}

Status Validate(const Identity& identity) {
  if (identity.id.empty()) {
    return Status::InvalidArgument(FieldError(identity, "id", "must not be empty"));
  }
  if (identity.id.size() > kMaxIdBytes) {
    return Status::InvalidArgument(FieldError(identity, "id",
                                              "must be at most " + std::to_string(kMaxIdBytes) +
                                                  " bytes (got " +
                                                  std::to_string(identity.id.size()) + ")"));
  }
  if (!IsValidUtf8(identity.id)) {
    return Status::InvalidArgument(FieldError(identity, "id", "is not valid UTF-8"));
  }
  if (identity.identity_type != IdentityType::kGeoid &&
      identity.identity_type != IdentityType::kScar) {
    // An enum value from a cast: refused before it indexes per-type state.
    return Status::InvalidArgument(
        FieldError(identity, "identity_type",
                   "must be geoid or scar (got value " +
                       std::to_string(static_cast<int>(identity.identity_type)) + ")"));
  }
  if (!std::isfinite(identity.weight) || identity.weight < 0) {
    return Status::InvalidArgument(FieldError(
        identity, "weight", "must be finite and >= 0 (got " + FormatNumber(identity.weight) + ")"));
  }
  // A scar's weight multiplies its entropy, which sets tau: 1e300 would give
  // an entropy of 1e300 bits and a tau that overflows (or that no histogram
  // shows). A geoid's weight only shrinks under decay: any finite value.
  if (identity.identity_type == IdentityType::kScar && identity.weight > kMaxScarWeight) {
    return Status::InvalidArgument(FieldError(identity, "weight",
                                              "of a scar must be at most " +
                                                  FormatNumber(kMaxScarWeight) + " (got " +
                                                  FormatNumber(identity.weight) + ")"));
  }
  // Both set and out of order would put the identity in the wrong place of
  // every newest-first listing and give it a negative time since update.
  if (identity.created_at != 0 && identity.updated_at != 0 &&
      identity.updated_at < identity.created_at) {
    return Status::InvalidArgument(
        FieldError(identity, "updated_at",
                   "is earlier than created_at (" + std::to_string(identity.updated_at) + " < " +
                       std::to_string(identity.created_at) + " us since 1970)"));
  }
  const std::pair<const std::string*, const char*> strings[] = {
      {&identity.raw, "raw"}, {&identity.echo, "echo"}, {&identity.lang_axis, "lang_axis"}};
  for (const auto& [value, field] : strings) {
    if (!IsValidUtf8(*value)) {
      return Status::InvalidArgument(FieldError(identity, field, "is not valid UTF-8"));
    }
  }
  if (Status s = CheckUtf8List(identity, identity.tags, "tags"); !s.ok()) return s;
  if (Status s = CheckUtf8List(identity, identity.related_ids, "related_ids"); !s.ok()) return s;
  if (Status s = MetaChecker(identity).Check(); !s.ok()) return s;
  return CheckExtra(identity);
}

bool operator==(const Identity& a, const Identity& b) {
  // Written out because `extra` is not compared as a JSON value; a field
  // added to Identity must be added here.
  const bool same_extra = (a.extra.empty() && b.extra.empty()) || a.extra == b.extra;
  return same_extra && a.id == b.id && a.identity_type == b.identity_type && a.raw == b.raw &&
         a.echo == b.echo && a.lang_axis == b.lang_axis && a.tags == b.tags &&
         a.weight == b.weight && a.related_ids == b.related_ids && a.meta == b.meta &&
         a.created_at == b.created_at && a.updated_at == b.updated_at &&
         a.decay_applied_at == b.decay_applied_at;
}

bool IsReservedKey(std::string_view key) {
  static constexpr std::string_view kReserved[] = {
      "id",         "identity_type", "raw",          "echo", "lang_axis",
      "tags",       "weight",        "related_ids",  "meta", "created_at",
      "updated_at", "entropy",       "effective_tau"};
  return std::find(std::begin(kReserved), std::end(kReserved), key) != std::end(kReserved);
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Most text is ASCII; skipping it eight bytes at a time keeps validation
    // of large raw/echo fields cheap.
    while (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, p + i, sizeof(word));
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const std::size_t len = Utf8SequenceLength(p, i, n);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string DisplayId(std::string_view id) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(id.data());
  const std::size_t n = id.size();
  std::string out;
  out.reserve(std::min(n, kDisplayIdMaxBytes) + 8);
  std::size_t i = 0;
  while (i < n && i < kDisplayIdMaxBytes) {
    const std::size_t len = Utf8SequenceLength(p, i, n);
    if (len == 1 && p[i] >= 0x20 && p[i] != 0x7F) {
      out += static_cast<char>(p[i]);
    } else if (len > 1) {
      out.append(id.data() + i, len);
    } else {
      out += "\\x";
      out += kHex[p[i] >> 4];
      out += kHex[p[i] & 0xF];
      i += 1;
      continue;
    }
    i += len;
  }
  if (i < n) out += "...";
  return out;
}

std::optional<double> IntensityValue(const nlohmann::json& intensity) {
  // nlohmann keeps booleans apart from numbers (get<double>() on one throws).
  if (intensity.is_boolean()) return intensity.get<bool>() ? 1.0 : 0.0;
  if (intensity.is_number()) return intensity.get<double>();
  return std::nullopt;
}

void ScaleWeights(Identity* identity, double factor) {
  identity->weight *= factor;
  if (!identity->meta.is_object()) return;
  const auto terms = identity->meta.find("terms");
  if (terms == identity->meta.end() || !terms->is_array()) return;
  for (auto& term : *terms) {
    if (!term.is_object()) continue;
    const auto it = term.find("intensity");
    if (it == term.end()) continue;
    // The reference multiplies in Python, where True * f is f and False * f
    // is 0.0: a boolean intensity becomes a number on its first decay.
    if (const std::optional<double> x = IntensityValue(*it)) *it = *x * factor;
  }
}

}  // namespace kimera
