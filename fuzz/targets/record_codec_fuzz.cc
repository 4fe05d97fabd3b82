// Fuzz target: the binary record codec (DecodeRecord, EncodeRecord).
//
// 1. The bytes as a stored value: DecodeRecord must give a Status, never read
//    out of bounds; a value that decodes must re-encode to a value that
//    decodes to the same encoding.
// 2. The bytes as the fields of an identity (extra keys included):
//    EncodeRecord -> DecodeRecord must give back an equal identity.
#include <xxhash.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kimera/identity.h"
#include "record_codec.h"

namespace {

using kimera::fuzz::FuzzReader;

// A small JSON value from the reader; depth-limited.
nlohmann::json MetaValue(FuzzReader& in, int depth) {
  switch (in.Byte() % (depth > 3 ? 5 : 7)) {
    case 0:
      return nullptr;
    case 1:
      return in.Byte() % 2 == 0;
    case 2:
      return static_cast<std::int64_t>(in.U64());
    case 3: {
      const double d = in.Double();
      return std::isnan(d) ? nlohmann::json(0.5) : nlohmann::json(d);
    }
    case 4:
      return in.String(16);
    case 5: {
      nlohmann::json a = nlohmann::json::array();
      for (int n = in.Byte() % 4; n > 0; --n) a.push_back(MetaValue(in, depth + 1));
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      for (int n = in.Byte() % 4; n > 0; --n) o[in.String(8)] = MetaValue(in, depth + 1);
      return o;
    }
  }
}

void DecodeArbitraryBytes(std::string_view bytes) {
  using namespace kimera;
  Identity decoded;
  if (!DecodeRecord("fuzz-id", bytes, &decoded).ok()) return;
  FUZZ_CHECK(decoded.id == "fuzz-id", "the key sets the id");
  std::string first;
  if (!EncodeRecord(decoded, &first).ok()) return;
  Identity again;
  const Status s = DecodeRecord("fuzz-id", first, &again);
  FUZZ_CHECK(s.ok(), s.ToString());
  std::string second;
  FUZZ_CHECK(EncodeRecord(again, &second).ok(), "re-encode");
  FUZZ_CHECK(first == second, "decode -> encode is not stable");
}

void RoundTripStructured(const std::uint8_t* data, std::size_t size) {
  using namespace kimera;
  FuzzReader in(data, size);
  Identity id;
  id.id = in.String(32);
  id.id.insert(id.id.begin(), 'k');  // Never empty.
  id.identity_type = in.Byte() % 2 ? IdentityType::kScar : IdentityType::kGeoid;
  id.raw = in.String();
  id.echo = in.String();
  id.lang_axis = in.String(8);
  for (int n = in.Byte() % 5; n > 0; --n) id.tags.push_back(in.String(12));
  const double w = in.Double();
  id.weight = std::isnan(w) ? 1.0 : w;
  for (int n = in.Byte() % 5; n > 0; --n) id.related_ids.push_back(in.String(12));
  for (int n = in.Byte() % 4; n > 0; --n) id.meta[in.String(8)] = MetaValue(in, 0);
  id.created_at = static_cast<Micros>(in.U64());
  id.updated_at = static_cast<Micros>(in.U64());
  id.decay_applied_at = static_cast<Micros>(in.U64());
  // Extra keys (read last, so older corpus inputs keep their meaning); the
  // "x" keeps every key clear of the reserved names.
  for (int n = in.Byte() % 3; n > 0; --n) {
    std::string key = "x";  // Appended, not "x" + ...: GCC 12 reports a false -Wrestrict.
    key += in.String(8);
    id.extra[key] = MetaValue(in, 0);
  }

  std::string bytes = "prefix";  // EncodeRecord appends.
  const Status e = EncodeRecord(id, &bytes);
  FUZZ_CHECK(e.ok(), e.ToString());
  FUZZ_CHECK(bytes.compare(0, 6, "prefix") == 0, "EncodeRecord must append");
  Identity decoded;
  const Status d = DecodeRecord(id.id, std::string_view(bytes).substr(6), &decoded);
  FUZZ_CHECK(d.ok(), d.ToString());
  FUZZ_CHECK(decoded == id, "EncodeRecord -> DecodeRecord changed the identity of id " + id.id);

  // Any strict prefix of a record, or one flipped byte, must be refused
  // (the checksum covers every byte), never read past the end.
  const std::string_view record = std::string_view(bytes).substr(6);
  if (!record.empty()) {
    const std::size_t cut = in.U64() % record.size();
    Identity junk;
    FUZZ_CHECK(!DecodeRecord(id.id, record.substr(0, cut), &junk).ok(),
               "truncated record accepted");
  }
}

// The bytes with their last 8 replaced by the XXH3 of the rest, so the
// fuzzer reaches the field parsing behind the checksum.
std::string WithChecksum(std::string_view bytes) {
  std::string fixed(bytes.substr(0, bytes.size() - 8));
  std::uint64_t sum = XXH3_64bits(fixed.data(), fixed.size());
  for (int i = 0; i < 8; ++i, sum >>= 8) fixed.push_back(static_cast<char>(sum & 0xff));
  return fixed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DecodeArbitraryBytes(bytes);
  if (size >= 8) DecodeArbitraryBytes(WithChecksum(bytes));
  RoundTripStructured(data, size);
  return 0;
}
