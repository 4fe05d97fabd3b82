// Fuzz target: the JSON identity parser (IdentityFromJsonText).
//
// Any text must give a Status, never a crash, an exception or a hang, and
// an error message that is valid UTF-8. An
// identity that parses must pass Validate(), write back to JSON that parses
// to the same identity, and survive EncodeRecord -> DecodeRecord unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kimera/identity.h"
#include "kimera/identity_json.h"
#include "record_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kimera;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Identity parsed;
  const Status s = IdentityFromJsonText(text, &parsed);
  if (!s.ok()) {
    FUZZ_CHECK(!s.message().empty(), "a rejection must say why");
    // The message goes to terminals and logs: it must be text, and short
    // enough whatever the input (a field path and a 64-byte quote at most).
    FUZZ_CHECK(IsValidUtf8(s.message()), "error message is not valid UTF-8");
    return 0;
  }
  const Status valid = Validate(parsed);
  FUZZ_CHECK(valid.ok(), valid.ToString());

  const std::string line = IdentityToJsonLine(parsed);
  Identity again;
  const Status s2 = IdentityFromJsonText(line, &again);
  FUZZ_CHECK(s2.ok(), s2.ToString() + " re-parsing " + line);
  FUZZ_CHECK(again == parsed, "JSON round trip changed the identity: " + line);

  std::string bytes;
  if (EncodeRecord(parsed, &bytes).ok()) {
    Identity decoded;
    const Status d = DecodeRecord(parsed.id, bytes, &decoded);
    FUZZ_CHECK(d.ok(), d.ToString());
    FUZZ_CHECK(decoded == parsed, "record round trip changed the identity: " + line);
  }
  return 0;
}
