// IdentityToJsonLine and AppendIdentityJsonLine: the identity as one line of
// JSON in the reference's field order.
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kimera/identity_json.h"

namespace kimera {
namespace {

using Json = nlohmann::json;
using JsonSerializer = nlohmann::detail::serializer<Json>;

// Writes an identity straight into one growing buffer: no nlohmann value or
// temporary string per field or per double, and meta and the extra values
// dumped by one serializer into the buffer itself. The C ABI hands out every
// identity through it, and the CLI and the dual-write digest read its text,
// so it is the one writer of the line (a digest over any other text would
// differ).
class IdentityWriter {
 public:
  explicit IdentityWriter(std::string* out)
      : out_(*out),
        serializer_(nlohmann::detail::output_adapter<char, std::string>(*out), ' ',
                    Json::error_handler_t::replace) {}

  void Write(const Identity& identity,
             const std::optional<std::pair<double, double>>& entropy_and_tau) {
    Key("{\"id\": ");
    String(identity.id);
    Key(", \"identity_type\": ");
    String(IdentityTypeName(identity.identity_type));
    Key(", \"raw\": ");
    String(identity.raw);
    Key(", \"echo\": ");
    String(identity.echo);
    Key(", \"lang_axis\": ");
    String(identity.lang_axis);
    Key(", \"tags\": ");
    StringList(identity.tags);
    Key(", \"weight\": ");
    Double(identity.weight);
    Key(", \"related_ids\": ");
    StringList(identity.related_ids);
    Key(", \"meta\": ");
    serializer_.dump(identity.meta, false, false, 0);
    Key(", \"created_at\": \"");
    Timestamp(identity.created_at);
    Key("\", \"updated_at\": \"");
    Timestamp(identity.updated_at);
    out_.push_back('"');
    if (identity.extra.is_object()) {
      // In key order (nlohmann keeps them sorted), so the line stays
      // deterministic; a reserved name (which Validate refuses) is left out
      // rather than written as a second copy of a field.
      for (auto it = identity.extra.begin(); it != identity.extra.end(); ++it) {
        if (IsReservedKey(it.key())) continue;
        Key(", ");
        String(it.key());
        Key(": ");
        serializer_.dump(it.value(), false, false, 0);
      }
    }
    if (entropy_and_tau) {
      Key(", \"entropy\": ");
      Double(entropy_and_tau->first);
      Key(", \"effective_tau\": ");
      Double(entropy_and_tau->second);
    }
    out_.push_back('}');
  }

 private:
  template <std::size_t N>
  void Key(const char (&text)[N]) {
    out_.append(text, N - 1);
  }

  // nlohmann's escaping with ensure_ascii off: '"', '\\' and the control
  // characters escaped, every other byte as is; runs of plain bytes are
  // appended whole. Invalid UTF-8 (which Validate refuses) goes through
  // nlohmann's replacing path (U+FFFD), never an exception.
  void String(std::string_view s) {
    if (!IsValidUtf8(s)) {
      serializer_.dump(Json(s), false, false, 0);
      return;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    out_.push_back('"');
    const char* p = s.data();
    const char* const end = p + s.size();
    const char* run = p;
    for (; p != end; ++p) {
      const auto c = static_cast<unsigned char>(*p);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(run, static_cast<std::size_t>(p - run));
      run = p + 1;
      switch (c) {
        case '"':
          out_.append("\\\"", 2);
          break;
        case '\\':
          out_.append("\\\\", 2);
          break;
        case '\b':
          out_.append("\\b", 2);
          break;
        case '\f':
          out_.append("\\f", 2);
          break;
        case '\n':
          out_.append("\\n", 2);
          break;
        case '\r':
          out_.append("\\r", 2);
          break;
        case '\t':
          out_.append("\\t", 2);
          break;
        default: {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out_.append(esc, 6);
        }
      }
    }
    out_.append(run, static_cast<std::size_t>(end - run));
    out_.push_back('"');
  }

  void StringList(const std::vector<std::string>& list) {
    out_.push_back('[');
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out_.append(", ", 2);
      String(list[i]);
    }
    out_.push_back(']');
  }

  // nlohmann's own shortest round-trip formatting (what dump() writes);
  // -0.0 (an entropy of -sum over one term) as 0.0, since it reads as a
  // sign where there is none; a non-finite value as null.
  void Double(double value) {
    if (!std::isfinite(value)) {
      out_.append("null", 4);
      return;
    }
    char buf[64];
    char* end = nlohmann::detail::to_chars(buf, buf + sizeof(buf), value == 0.0 ? 0.0 : value);
    out_.append(buf, static_cast<std::size_t>(end - buf));
  }

  void Timestamp(Micros micros) { out_.append(FormatTimestamp(micros)); }

  std::string& out_;
  JsonSerializer serializer_;
};

}  // namespace

void AppendIdentityJsonLine(const Identity& identity,
                            const std::optional<std::pair<double, double>>& entropy_and_tau,
                            std::string* out) {
  IdentityWriter(out).Write(identity, entropy_and_tau);
}

std::string IdentityToJsonLine(const Identity& identity,
                               std::optional<std::pair<double, double>> entropy_and_tau) {
  std::string out;
  out.reserve(256 + identity.raw.size() + identity.echo.size());
  AppendIdentityJsonLine(identity, entropy_and_tau, &out);
  return out;
}

}  // namespace kimera
