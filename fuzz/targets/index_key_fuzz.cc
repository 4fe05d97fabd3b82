// Fuzz target: the entropy index key codec (EncodeIndexKey, DecodeIndexKey).
//
// 1. Arbitrary bytes: DecodeIndexKey never reads out of bounds; a key it
//    accepts re-encodes to the same bytes (-0.0 is stored as +0.0, so that
//    one key re-encodes to its canonical form).
// 2. Two doubles and two ids from the bytes: Decode(Encode(x)) gives x back,
//    and the key order is the numeric order, descending: a > b means
//    key(a) sorts before key(b) whatever the ids.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kimera/entropy_index.h"

namespace {

std::uint64_t Bits(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

void CheckRoundTrip(double x, const std::string& id) {
  const std::string key = kimera::EncodeIndexKey(x, id);
  double back = 0;
  std::string back_id;
  FUZZ_CHECK(kimera::DecodeIndexKey(key, &back, &back_id), "own key refused");
  FUZZ_CHECK(back_id == id, "id changed");
  const double canonical = x == 0 ? 0.0 : x;
  FUZZ_CHECK(Bits(back) == Bits(canonical), "entropy changed in the round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using kimera::fuzz::FuzzReader;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  double entropy = 0;
  std::string id;
  if (kimera::DecodeIndexKey(bytes, &entropy, &id)) {
    const std::string key = kimera::EncodeIndexKey(entropy, id);
    if (Bits(entropy) != Bits(-0.0)) {
      FUZZ_CHECK(key == bytes, "decode -> encode changed the key");
    }
  }

  FuzzReader in(data, size);
  const double a = in.Double();
  const double b = in.Double();
  const std::string id_a = in.String(16);
  const std::string id_b = in.String(16);
  CheckRoundTrip(a, id_a);
  CheckRoundTrip(b, id_b);
  if (std::isnan(a) || std::isnan(b)) return 0;
  const std::string key_a = kimera::EncodeIndexKey(a, id_a);
  const std::string key_b = kimera::EncodeIndexKey(b, id_b);
  if (a > b) FUZZ_CHECK(key_a < key_b, "higher entropy must sort first");
  if (a < b) FUZZ_CHECK(key_a > key_b, "lower entropy must sort later");
  if (a == b) {
    FUZZ_CHECK((key_a < key_b) == (id_a < id_b), "equal entropy: ties by id");
  }
  return 0;
}
