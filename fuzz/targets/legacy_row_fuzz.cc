// Fuzz target: the dual-write layer's legacy rows (DecodeLegacyRow,
// EncodeLegacyRow).
//
// The first byte picks the table (even: legacy_geoids, odd: legacy_scars);
// the rest is a stored row. DecodeLegacyRow must give a Status, never read
// out of bounds nor recurse without bound (meta is MessagePack from disk); a
// row that decodes must re-encode to a row that decodes to the same identity,
// and re-encoding that must give the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kimera/identity.h"
#include "legacy_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kimera;
  if (size == 0) return 0;
  const IdentityType type = data[0] % 2 == 0 ? IdentityType::kGeoid : IdentityType::kScar;
  const std::string_view row(reinterpret_cast<const char*>(data + 1), size - 1);
  Identity decoded;
  if (!DecodeLegacyRow("fuzz-id", type, row, &decoded).ok()) return 0;
  FUZZ_CHECK(decoded.id == "fuzz-id", "the key sets the id");
  FUZZ_CHECK(decoded.identity_type == type, "the table sets the type");
  const std::string first = EncodeLegacyRow(decoded);
  Identity again;
  const Status s = DecodeLegacyRow("fuzz-id", type, first, &again);
  FUZZ_CHECK(s.ok(), s.ToString());
  FUZZ_CHECK(again == decoded, "decode -> encode -> decode changed the identity");
  FUZZ_CHECK(EncodeLegacyRow(again) == first, "decode -> encode is not stable");
  return 0;
}
