#include "kimera/identity_json.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace kimera {
namespace {

using Json = nlohmann::json;

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

std::string JsonFieldError(std::string_view id, std::string_view field, std::string_view what) {
  std::string msg = "identity";
  if (!id.empty()) {
    msg += " '";
    msg += DisplayId(id);
    msg += "'";
  }
  msg += ": field '";
  msg += field;
  msg += "' ";
  msg += what;
  return msg;
}

std::string MustBe(std::string_view expected, const Json& got) {
  std::string what = "must be ";
  what += expected;
  what += " (got ";
  what += got.type_name();
  what += ")";
  return what;
}

Status ReadString(const Json& object, std::string_view id, const char* field, std::string* out) {
  const auto it = object.find(field);
  if (it == object.end()) return Status::OK();
  if (!it->is_string()) {
    return Status::InvalidArgument(JsonFieldError(id, field, MustBe("a string", *it)));
  }
  *out = it->get_ref<const std::string&>();
  return Status::OK();
}

Status ReadStringList(const Json& object, std::string_view id, const char* field,
                      std::vector<std::string>* out) {
  const auto it = object.find(field);
  if (it == object.end()) return Status::OK();
  if (!it->is_array()) {
    return Status::InvalidArgument(JsonFieldError(id, field, MustBe("an array of strings", *it)));
  }
  out->reserve(it->size());
  std::size_t index = 0;
  for (const auto& element : *it) {
    if (!element.is_string()) {
      return Status::InvalidArgument(JsonFieldError(
          id, std::string(field) + "[" + std::to_string(index) + "]", MustBe("a string", element)));
    }
    out->push_back(element.get_ref<const std::string&>());
    ++index;
  }
  return Status::OK();
}

Status ReadTimestamp(const Json& object, std::string_view id, const char* field, Micros* out) {
  const auto it = object.find(field);
  if (it == object.end()) return Status::OK();
  if (!it->is_string()) {
    return Status::InvalidArgument(
        JsonFieldError(id, field, MustBe("an ISO-8601 timestamp string", *it)));
  }
  Status s = ParseTimestamp(it->get_ref<const std::string&>(), out);
  if (!s.ok()) return Status::InvalidArgument(JsonFieldError(id, field, "holds an " + s.message()));
  return s;
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Howard Hinnant's days_from_civil / civil_from_days: exact proleptic
// Gregorian arithmetic with no dependence on the C library's time zone or
// locale (timegm is neither portable nor thread-safe everywhere).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = FloorDiv(y, 400);
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void CivilFromDays(std::int64_t z, std::int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const std::int64_t era = FloorDiv(z, 146097);
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<std::int64_t>(yoe) + era * 400 + (*m <= 2);
}

unsigned DaysInMonth(int year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2) {
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return leap ? 29 : 28;
  }
  return kDays[month - 1];
}

class TimestampScanner {
 public:
  explicit TimestampScanner(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ == text_.size(); }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool Accept(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  bool Digits(int count, int* value) {
    if (text_.size() - pos_ < static_cast<std::size_t>(count)) return false;
    int v = 0;
    for (int k = 0; k < count; ++k) {
      const char c = text_[pos_ + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos_ += count;
    *value = v;
    return true;
  }
  // Up to nine digits of a fraction, truncated to microseconds.
  bool Fraction(int* micros) {
    int digits = 0;
    int value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (++digits > 9) return false;
      if (digits <= 6) value = value * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    if (digits == 0) return false;
    for (int k = digits; k < 6; ++k) value *= 10;
    *micros = value;
    return true;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

Status BadTimestamp(std::string_view text, std::string_view reason) {
  std::string msg = "invalid timestamp '";
  msg += DisplayId(text);
  msg += "': ";
  msg += reason;
  return Status::InvalidArgument(msg);
}

// Copying a json value recurses once per level, so hostile nesting must be
// refused before the copy; the recursion here stops at the limit.
bool DepthWithin(const Json& value, int depth) {
  if (!value.is_structured()) return true;
  if (depth > kMaxMetaDepth) return false;
  for (const auto& child : value) {
    if (!DepthWithin(child, depth + 1)) return false;
  }
  return true;
}

// Names the keys of `object` that are not identity fields, so a line such as
// {"identity": "x"} says what it holds rather than only what it lacks.
std::string UnknownKeysNote(const Json& object) {
  constexpr std::size_t kMaxNamed = 3;
  std::string named;
  std::size_t unknown = 0;
  for (auto it = object.begin(); it != object.end(); ++it) {
    // The fields, and the reference's legacy keys a line often carries.
    if (IsReservedKey(it.key()) || it.key() == "content" || it.key() == "metadata") continue;
    if (++unknown > kMaxNamed) continue;
    if (!named.empty()) named += ", ";
    named += '\'';
    named += DisplayId(it.key());
    named += '\'';
  }
  if (unknown == 0) return "";
  std::string note = unknown == 1 ? " (unknown key " : " (unknown keys ";
  note += named;
  if (unknown > kMaxNamed) {
    note += " and ";
    note += std::to_string(unknown - kMaxNamed);
    note += " more";
  }
  note += ')';
  return note;
}

// Every top-level key that is no reserved name, with its value, into
// `*extra`; "entropy" and "effective_tau" (an export's computed keys) are
// reserved, so they are dropped. `owned`, when not null, is `object` itself,
// the caller's own copy, whose values are moved from instead of copied.
Status ReadExtraKeys(const Json& object, Json* owned, std::string_view id, Json* extra) {
  // Most identities have no extra key: the scan allocates nothing for them.
  if (owned != nullptr) {
    // A move does not recurse, so the depth is left to Validate.
    for (auto it = owned->begin(); it != owned->end(); ++it) {
      if (!IsReservedKey(it.key())) (*extra)[it.key()] = std::move(it.value());
    }
    return Status::OK();
  }
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (IsReservedKey(it.key())) continue;
    if (!DepthWithin(*it, 1)) {
      return Status::InvalidArgument(
          JsonFieldError(id, DisplayId(it.key()),
                         "is nested deeper than " + std::to_string(kMaxMetaDepth) + " levels"));
    }
    (*extra)[it.key()] = *it;
  }
  return Status::OK();
}

// `meta_source`, when not null, is the caller's own copy of the meta value
// and is moved from instead of copied; `owned`, when not null, is the
// caller's own copy of `object`, whose extra keys are moved from.
Status ReadIdentity(const Json& object, Json* meta_source, Json* owned, Identity* out) {
  if (!object.is_object()) {
    return Status::InvalidArgument(std::string("identity: must be a JSON object (got ") +
                                   object.type_name() + ")");
  }
  Identity identity;
  // The id is read first so that every later error can name it.
  const auto id_it = object.find("id");
  if (id_it == object.end()) {
    return Status::InvalidArgument(
        JsonFieldError({}, "id", std::string("is missing").append(UnknownKeysNote(object))));
  }
  if (!id_it->is_string()) {
    return Status::InvalidArgument(JsonFieldError({}, "id", MustBe("a string", *id_it)));
  }
  identity.id = id_it->get_ref<const std::string&>();
  const std::string_view id = identity.id;

  if (const auto it = object.find("identity_type"); it != object.end()) {
    if (!it->is_string()) {
      return Status::InvalidArgument(
          JsonFieldError(id, "identity_type", MustBe("\"geoid\" or \"scar\"", *it)));
    }
    const auto type = ParseIdentityType(it->get_ref<const std::string&>());
    if (!type) {
      return Status::InvalidArgument(
          JsonFieldError(id, "identity_type",
                         "must be \"geoid\" or \"scar\" (got '" +
                             DisplayId(it->get_ref<const std::string&>()) + "')"));
    }
    identity.identity_type = *type;
  }
  if (Status s = ReadString(object, id, "raw", &identity.raw); !s.ok()) return s;
  if (Status s = ReadString(object, id, "echo", &identity.echo); !s.ok()) return s;
  if (Status s = ReadString(object, id, "lang_axis", &identity.lang_axis); !s.ok()) return s;
  if (Status s = ReadStringList(object, id, "tags", &identity.tags); !s.ok()) return s;
  if (const auto it = object.find("weight"); it != object.end()) {
    // is_number() is false for JSON booleans, which the reference refuses.
    if (!it->is_number()) {
      return Status::InvalidArgument(JsonFieldError(id, "weight", MustBe("a number", *it)));
    }
    identity.weight = it->get<double>();
  }
  if (Status s = ReadStringList(object, id, "related_ids", &identity.related_ids); !s.ok()) {
    return s;
  }
  if (const auto it = object.find("meta"); it != object.end()) {
    if (!it->is_object()) {
      return Status::InvalidArgument(JsonFieldError(id, "meta", MustBe("a JSON object", *it)));
    }
    if (meta_source != nullptr) {
      identity.meta = std::move(*meta_source);
    } else if (DepthWithin(*it, 1)) {
      identity.meta = *it;
    } else {
      return Status::InvalidArgument(JsonFieldError(
          id, "meta", "is nested deeper than " + std::to_string(kMaxMetaDepth) + " levels"));
    }
  }
  if (Status s = ReadTimestamp(object, id, "created_at", &identity.created_at); !s.ok()) {
    return s;
  }
  if (Status s = ReadTimestamp(object, id, "updated_at", &identity.updated_at); !s.ok()) {
    return s;
  }
  if (Status s = ReadExtraKeys(object, owned, id, &identity.extra); !s.ok()) return s;
  if (Status s = Validate(identity); !s.ok()) return s;
  *out = std::move(identity);
  return Status::OK();
}

}  // namespace

Status IdentityFromJson(const Json& object, Identity* out) {
  return ReadIdentity(object, nullptr, nullptr, out);
}

Status IdentityFromJson(Json&& object, Identity* out) {
  Json* meta = nullptr;
  if (object.is_object()) {
    const auto it = object.find("meta");
    if (it != object.end() && it->is_object()) meta = &*it;
  }
  return ReadIdentity(object, meta, &object, out);
}

namespace {

// The parser quotes the token it stopped in ("last read: '...'") byte for
// byte: a whole 20 MiB string, or bytes that are not UTF-8. Keep its last 64
// bytes, escaped as DisplayId escapes, so the message stays short and
// printable; the column in the message still points at the fault.
std::string ParseErrorMessage(std::string_view what) {
  constexpr std::string_view kMarker = "; last read: '";
  constexpr std::size_t kKeep = 64;
  const std::size_t at = what.find(kMarker);
  if (at == std::string_view::npos) return std::string(what);  // Quotes no input.
  std::string_view token = what.substr(at + kMarker.size());
  if (!token.empty() && token.back() == '\'') token.remove_suffix(1);
  const bool cut = token.size() > kKeep;
  if (cut) token = token.substr(token.size() - kKeep);
  return std::string(what.substr(0, at)) + std::string(kMarker) + (cut ? "..." : "") +
         DisplayId(token) + "'";
}

}  // namespace

Status IdentityFromJsonText(std::string_view text, Identity* out) {
  Json object;
  try {
    object = Json::parse(text);
  } catch (const Json::exception& e) {
    return Status::InvalidArgument("identity: malformed JSON: " + ParseErrorMessage(e.what()));
  }
  return IdentityFromJson(std::move(object), out);
}

Json IdentityToJson(const Identity& identity) {
  Json j = Json::object();
  j["id"] = identity.id;
  j["identity_type"] = IdentityTypeName(identity.identity_type);
  j["raw"] = identity.raw;
  j["echo"] = identity.echo;
  j["lang_axis"] = identity.lang_axis;
  j["tags"] = identity.tags;
  j["weight"] = identity.weight;
  j["related_ids"] = identity.related_ids;
  j["meta"] = identity.meta;
  j["created_at"] = FormatTimestamp(identity.created_at);
  j["updated_at"] = FormatTimestamp(identity.updated_at);
  if (identity.extra.is_object()) {
    // A reserved name (which Validate refuses) never overwrites a field.
    for (auto it = identity.extra.begin(); it != identity.extra.end(); ++it) {
      if (!IsReservedKey(it.key())) j[it.key()] = it.value();
    }
  }
  return j;
}

Status ParseTimestamp(std::string_view text, Micros* out) {
  TimestampScanner scan(text);
  int year = 0, month = 0, day = 0;
  if (!scan.Digits(4, &year) || !scan.Accept('-') || !scan.Digits(2, &month) || !scan.Accept('-') ||
      !scan.Digits(2, &day)) {
    return BadTimestamp(text, "expected YYYY-MM-DD");
  }
  if (year < 1) return BadTimestamp(text, "year out of range");
  if (month < 1 || month > 12) return BadTimestamp(text, "month out of range");
  if (day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, static_cast<unsigned>(month))) {
    return BadTimestamp(text, "day out of range for the month");
  }
  int hour = 0, minute = 0, second = 0, micros = 0;
  std::int64_t offset_seconds = 0;
  if (!scan.AtEnd()) {
    if (!scan.Accept('T') && !scan.Accept(' ')) {
      return BadTimestamp(text, "expected 'T' or ' ' after the date");
    }
    if (!scan.Digits(2, &hour) || !scan.Accept(':') || !scan.Digits(2, &minute)) {
      return BadTimestamp(text, "expected HH:MM after the date");
    }
    if (scan.Accept(':')) {
      if (!scan.Digits(2, &second)) return BadTimestamp(text, "expected two digits of seconds");
      if (scan.Accept('.') || scan.Accept(',')) {
        if (!scan.Fraction(&micros)) {
          return BadTimestamp(text, "expected 1 to 9 digits of fractional seconds");
        }
      }
    }
    if (hour > 23 || minute > 59 || second > 59) {
      return BadTimestamp(text, "time of day out of range");
    }
    if (scan.Accept('Z')) {
      // UTC, offset 0.
    } else if (scan.Peek('+') || scan.Peek('-')) {
      const int sign = scan.Accept('-') ? -1 : 1;
      scan.Accept('+');
      int offset_hours = 0, offset_minutes = 0;
      if (!scan.Digits(2, &offset_hours)) return BadTimestamp(text, "expected offset hours");
      if (!scan.AtEnd()) {
        scan.Accept(':');
        if (!scan.Digits(2, &offset_minutes)) {
          return BadTimestamp(text, "expected offset minutes");
        }
      }
      if (offset_hours > 23 || offset_minutes > 59) {
        return BadTimestamp(text, "UTC offset out of range");
      }
      offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60);
    }
    if (!scan.AtEnd()) return BadTimestamp(text, "unexpected text after the time");
  }
  const std::int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds =
      days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset_seconds;
  *out = seconds * kMicrosPerSecond + micros;
  return Status::OK();
}

std::string FormatTimestamp(Micros micros) {
  const std::int64_t seconds = FloorDiv(micros, kMicrosPerSecond);
  // Taken from the remainder, not micros - seconds * 1e6, which overflows at
  // the bottom of the range.
  auto fraction = static_cast<int>(micros % kMicrosPerSecond);
  if (fraction < 0) fraction += static_cast<int>(kMicrosPerSecond);
  const std::int64_t days = FloorDiv(seconds, kSecondsPerDay);
  const auto second_of_day = static_cast<int>(seconds - days * kSecondsPerDay);
  std::int64_t year = 0;
  unsigned month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);

  char buf[64];
  char* p = buf;
  if (year < 0) {
    *p++ = '-';
    year = -year;
  }
  for (std::int64_t scale = 1000; scale > 1 && year < scale; scale /= 10) *p++ = '0';
  p = std::to_chars(p, buf + sizeof(buf), year).ptr;
  auto two = [&p](int v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  *p++ = '-';
  two(static_cast<int>(month));
  *p++ = '-';
  two(static_cast<int>(day));
  *p++ = 'T';
  two(second_of_day / 3600);
  *p++ = ':';
  two(second_of_day / 60 % 60);
  *p++ = ':';
  two(second_of_day % 60);
  if (fraction != 0) {
    *p++ = '.';
    for (int scale = 100000; scale > 0; scale /= 10) {
      *p++ = static_cast<char>('0' + fraction / scale % 10);
    }
  }
  for (const char c : {'+', '0', '0', ':', '0', '0'}) *p++ = c;
  return std::string(buf, p);
}

}  // namespace kimera
