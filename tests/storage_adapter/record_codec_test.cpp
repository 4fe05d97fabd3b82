#include "record_codec.h"

#include <xxhash.h>

#include <bit>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace kimera {
namespace {

using Json = nlohmann::json;

std::vector<Identity> SampleIdentities() {
  std::vector<Identity> all;
  all.emplace_back();
  all.back().id = "empty";

  Identity geoid;
  geoid.id = "geoid-東京";
  geoid.raw = "semantic 東京 beta 🙂";
  geoid.echo = "echo\n\t\"quoted\"";
  geoid.lang_axis = "ja";
  geoid.tags = {"a", "", "ü"};
  geoid.weight = 0.75;
  geoid.meta = Json::parse(R"({"terms": [{"term": "x", "intensity": 3}, {"intensity": 0.25}],
      "nested": {"a": [1, -2, 3.5, null, true, false, {"b": {}}]},
      "big_u": 18446744073709551615, "big_i": -9223372036854775808, "f": 1.0, "i": 1})");
  geoid.created_at = 1'764'115'034'769'354;
  geoid.updated_at = 1'795'694'400'000'000;
  geoid.decay_applied_at = 1'795'694'400'000'001;
  all.push_back(geoid);

  Identity scar;
  scar.id = "scar";
  scar.identity_type = IdentityType::kScar;
  scar.weight = 0.0;
  for (int i = 0; i < 300; ++i) scar.related_ids.push_back("geoid_" + std::to_string(i));
  scar.created_at = -1;
  scar.updated_at = std::numeric_limits<Micros>::max();
  all.push_back(scar);

  // Lengths at the varint boundaries (127/128, 16383/16384 bytes).
  for (std::size_t n : {127u, 128u, 16'383u, 16'384u}) {
    Identity sized;
    sized.id = "sized-" + std::to_string(n);
    sized.raw.assign(n, 'r');
    sized.tags.assign(n % 200, "t");
    sized.meta["s"] = std::string(n, 'm');
    all.push_back(sized);
  }

  Identity big;
  big.id = "big-meta";
  Json terms = Json::array();
  for (int i = 0; i < 20'000; ++i) {
    terms.push_back({{"term", "term" + std::to_string(i)}, {"intensity", i * 0.5}});
  }
  big.meta["terms"] = std::move(terms);
  big.raw.assign(1 << 20, 'x');
  all.push_back(big);
  return all;
}

std::string Encoded(const Identity& identity) {
  std::string bytes;
  const Status s = EncodeRecord(identity, &bytes);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return bytes;
}

Identity SmallIdentity() {
  Identity identity;
  identity.id = "flip-me";
  identity.raw = "raw text";
  identity.tags = {"t1", "t2"};
  identity.related_ids = {"r"};
  identity.meta = Json::parse(R"({"terms": [{"term": "a", "intensity": 2}], "n": {"x": [1, 2]}})");
  identity.created_at = 123;
  return identity;
}

void ExpectCorruption(const Status& s, std::string_view id) {
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.message().find("'" + std::string(id) + "'") != std::string::npos, s.message());
}

// A record with a valid checksum over arbitrary content: what a buggy or
// hostile writer could leave behind.
std::string Sealed(std::string body) {
  const std::uint64_t sum = XXH3_64bits(body.data(), body.size());
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>(sum >> (8 * i)));
  return body;
}

std::string HeaderWithEmptyFields(unsigned char version = kRecordVersion) {
  std::string body;
  body.push_back(static_cast<char>(version));
  body.push_back(0);                // geoid
  body.append(8 * 4, '\0');         // weight and three timestamps
  body.append({'\0', '\0', '\0'});  // raw, echo, lang_axis
  body.append({'\0', '\0'});        // tags, related_ids
  return body;
}

void PutVarint(std::uint64_t v, std::string* out) {
  for (;; v >>= 7) {
    out->push_back(static_cast<char>((v & 0x7F) | (v >= 0x80 ? 0x80 : 0)));
    if (v < 0x80) break;
  }
}

void PutFixed64(std::uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutString(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

// A version-1 record of SmallIdentity(), byte by byte as the version-1
// encoder wrote it (before extra keys existed), independent of EncodeRecord.
std::string Version1RecordOfSmallIdentity() {
  const Identity identity = SmallIdentity();
  std::string body;
  body.push_back('\x01');  // version 1
  body.push_back('\x00');  // geoid
  PutFixed64(std::bit_cast<std::uint64_t>(identity.weight), &body);
  PutFixed64(123, &body);  // created_at
  PutFixed64(0, &body);    // updated_at
  PutFixed64(0, &body);    // decay_applied_at
  PutString("raw text", &body);
  PutString("", &body);  // echo
  PutString("", &body);  // lang_axis
  PutVarint(2, &body);
  PutString("t1", &body);
  PutString("t2", &body);
  PutVarint(1, &body);
  PutString("r", &body);
  std::string meta;
  Json::to_msgpack(identity.meta, meta);
  PutString(meta, &body);
  return Sealed(body);
}

Identity WithExtraKeys(Identity identity) {
  identity.extra["content"] = "legacy content 東京";
  identity.extra["metadata"] = Json::parse(
      R"({"source": "ref", "n": [1, -2, 3.5, null, true], "big": 18446744073709551615})");
  return identity;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(record_codec)

BOOST_AUTO_TEST_CASE(decodes_a_version_1_record) {
  const std::string v1 = Version1RecordOfSmallIdentity();
  Identity back;
  const Status s = DecodeRecord("flip-me", v1, &back);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST((back == SmallIdentity()));
  BOOST_TEST(back.extra.empty());
  RecordHeader header;
  BOOST_REQUIRE(DecodeRecordHeader("flip-me", v1, &header).ok());
  BOOST_TEST(header.created_at == 123);
}

BOOST_AUTO_TEST_CASE(identity_without_extra_keys_encodes_as_version_1_unchanged) {
  // Byte for byte what the version-1 encoder wrote: the common record costs
  // nothing more, and a reader that knows only version 1 still reads it.
  BOOST_TEST(Encoded(SmallIdentity()) == Version1RecordOfSmallIdentity());
  Identity explicit_empty = SmallIdentity();
  explicit_empty.extra = Json::object();
  BOOST_TEST(Encoded(explicit_empty) == Version1RecordOfSmallIdentity());
}

BOOST_AUTO_TEST_CASE(round_trips_extra_keys_as_version_2) {
  const Identity original = WithExtraKeys(SmallIdentity());
  const std::string bytes = Encoded(original);
  BOOST_TEST(static_cast<int>(static_cast<unsigned char>(bytes[0])) ==
             static_cast<int>(kRecordVersionWithExtra));
  Identity back;
  const Status s = DecodeRecord(original.id, bytes, &back);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST((back == original));
  BOOST_TEST(back.extra["content"] == "legacy content 東京");
  BOOST_TEST(back.extra["metadata"]["big"].is_number_unsigned());
  BOOST_TEST(back.extra["metadata"]["n"][2].is_number_float());
  // Without its extra keys it is a different identity.
  Identity stripped = back;
  stripped.extra = nullptr;
  BOOST_TEST(!(stripped == original));

  RecordHeader header;
  BOOST_REQUIRE(DecodeRecordHeader(original.id, bytes, &header).ok());
  BOOST_TEST(header.created_at == original.created_at);
  BOOST_TEST(header.weight == original.weight);
}

BOOST_AUTO_TEST_CASE(extra_values_may_nest_as_deep_as_meta) {
  Identity identity = SmallIdentity();
  Json deep = Json::object();
  for (int d = 2; d < kMaxMetaDepth; ++d) deep = {{"d", deep}};
  identity.meta["deep"] = deep;  // kMaxMetaDepth levels, meta included.
  identity.extra["deep"] = identity.meta;
  BOOST_REQUIRE(Validate(identity).ok());
  Identity back;
  const Status s = DecodeRecord(identity.id, Encoded(identity), &back);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST((back == identity));
}

BOOST_AUTO_TEST_CASE(every_truncation_and_flip_of_a_version_2_record_is_corruption) {
  const Identity identity = WithExtraKeys(SmallIdentity());
  const std::string bytes = Encoded(identity);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    Identity out;
    ExpectCorruption(DecodeRecord(identity.id, std::string_view(bytes).substr(0, n), &out),
                     identity.id);
  }
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    Identity out;
    ExpectCorruption(DecodeRecord(identity.id, bad, &out), identity.id);
  }
}

BOOST_AUTO_TEST_CASE(rejects_bad_extra_keys_with_a_valid_checksum) {
  auto with_extra = [](std::string_view extra_msgpack) {
    std::string body = HeaderWithEmptyFields(kRecordVersionWithExtra);
    body.append("\x01\x80", 2);  // meta {}
    PutString(extra_msgpack, &body);
    return Sealed(body);
  };
  Identity out;
  // A reserved name would come back as a second copy of a field.
  std::string reserved;
  Json::to_msgpack(Json{{"raw", "twice"}}, reserved);
  ExpectCorruption(DecodeRecord("reserved", with_extra(reserved), &out), "reserved");
  ExpectCorruption(DecodeRecord("array", with_extra("\x90"), &out), "array");
  ExpectCorruption(DecodeRecord("map", with_extra("\xDF\xFF\xFF\xFF\xFF"), &out), "map");
  // Version 2 without its extra keys section.
  std::string missing = HeaderWithEmptyFields(kRecordVersionWithExtra);
  missing.append("\x01\x80", 2);
  ExpectCorruption(DecodeRecord("missing", Sealed(missing), &out), "missing");
  // Version 1 with one: trailing bytes.
  std::string trailing = HeaderWithEmptyFields();
  trailing.append("\x01\x80\x01\x80", 4);
  ExpectCorruption(DecodeRecord("trailing", Sealed(trailing), &out), "trailing");

  std::string good;
  Json::to_msgpack(Json{{"content", "c"}}, good);
  const Status s = DecodeRecord("good", with_extra(good), &out);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST(out.extra == (Json{{"content", "c"}}));
}

BOOST_AUTO_TEST_CASE(refuses_reserved_extra_keys_on_encode) {
  for (const char* key : {"raw", "meta", "updated_at", "entropy", "effective_tau"}) {
    Identity identity = SmallIdentity();
    identity.extra[key] = 1;
    std::string bytes = "keep";
    const Status s = EncodeRecord(identity, &bytes);
    BOOST_TEST(s.IsInvalidArgument(), key);
    BOOST_TEST(s.message().find(key) != std::string::npos, s.message());
    BOOST_TEST(bytes == "keep");
  }
  Identity identity = SmallIdentity();
  identity.extra = "not an object";
  std::string bytes;
  BOOST_TEST(EncodeRecord(identity, &bytes).IsInvalidArgument());
  BOOST_TEST(bytes.empty());
}

BOOST_AUTO_TEST_CASE(extra_keys_count_towards_the_size_limit) {
  Identity identity;
  identity.id = "near-limit";
  identity.raw.assign(kMaxRecordBytes - 1024, 'x');
  std::string bytes;
  BOOST_REQUIRE(EncodeRecord(identity, &bytes).ok());

  // The same identity, over the limit only because of its extra keys.
  identity.extra["content"] = std::string(2048, 'c');
  bytes = "keep";
  const Status s = EncodeRecord(identity, &bytes);
  BOOST_TEST(s.IsInvalidArgument(), s.ToString());
  BOOST_TEST(s.message().find("'near-limit'") != std::string::npos, s.message());
  BOOST_TEST(bytes == "keep");
}

BOOST_AUTO_TEST_CASE(round_trips_many_identities) {
  for (const Identity& original : SampleIdentities()) {
    const std::string bytes = Encoded(original);
    Identity back;
    const Status s = DecodeRecord(original.id, bytes, &back);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    BOOST_TEST((back == original), original.id);
  }
}

BOOST_AUTO_TEST_CASE(keeps_number_kinds_in_meta) {
  const Identity original = SampleIdentities()[1];
  Identity back;
  BOOST_REQUIRE(DecodeRecord(original.id, Encoded(original), &back).ok());
  BOOST_TEST(back.meta["big_u"].is_number_unsigned());
  BOOST_TEST(back.meta["big_i"].get<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(back.meta["f"].is_number_float());
  BOOST_TEST(back.meta["i"].is_number_integer());
}

BOOST_AUTO_TEST_CASE(round_trips_negative_zero_weight) {
  Identity identity = SmallIdentity();
  identity.weight = -0.0;
  Identity back;
  BOOST_REQUIRE(DecodeRecord(identity.id, Encoded(identity), &back).ok());
  BOOST_TEST(std::signbit(back.weight));
}

BOOST_AUTO_TEST_CASE(encode_appends_to_existing_bytes) {
  const Identity identity = SmallIdentity();
  std::string bytes = "prefix";
  BOOST_REQUIRE(EncodeRecord(identity, &bytes).ok());
  BOOST_TEST(bytes.substr(0, 6) == "prefix");
  Identity back;
  BOOST_REQUIRE(DecodeRecord(identity.id, std::string_view(bytes).substr(6), &back).ok());
  BOOST_TEST((back == identity));
}

BOOST_AUTO_TEST_CASE(decode_sets_the_id_from_the_key) {
  const Identity identity = SmallIdentity();
  Identity back;
  BOOST_REQUIRE(DecodeRecord("other-key", Encoded(identity), &back).ok());
  BOOST_TEST(back.id == "other-key");
}

BOOST_AUTO_TEST_CASE(every_truncation_is_corruption) {
  const Identity identity = SmallIdentity();
  const std::string bytes = Encoded(identity);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    Identity out;
    out.id = "untouched";
    ExpectCorruption(DecodeRecord(identity.id, std::string_view(bytes).substr(0, n), &out),
                     identity.id);
    BOOST_TEST(out.id == "untouched");
  }
}

BOOST_AUTO_TEST_CASE(every_single_byte_flip_is_corruption) {
  const Identity identity = SmallIdentity();
  const std::string bytes = Encoded(identity);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      Identity out;
      ExpectCorruption(DecodeRecord(identity.id, bad, &out), identity.id);
    }
  }
}

BOOST_AUTO_TEST_CASE(random_corruption_never_crashes) {
  std::mt19937_64 rng(20261126);
  const std::string bytes = Encoded(SmallIdentity());
  for (int round = 0; round < 20'000; ++round) {
    std::string bad = bytes;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) bad.resize(rng() % bad.size());
    if (rng() % 8 == 0) bad.push_back(static_cast<char>(rng()));
    if (bad == bytes) continue;
    Identity out;
    ExpectCorruption(DecodeRecord("rnd", bad, &out), "rnd");
  }
}

BOOST_AUTO_TEST_CASE(random_bytes_with_a_valid_checksum_never_crash) {
  std::mt19937_64 rng(7);
  const std::string good = Encoded(SmallIdentity());
  const std::string body = good.substr(0, good.size() - 8);
  int decoded = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::string bad = body;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bad[1 + rng() % (bad.size() - 1)] = static_cast<char>(rng());
    Identity out;
    const Status s = DecodeRecord("sealed", Sealed(bad), &out);
    if (s.ok()) {
      ++decoded;
      BOOST_TEST(out.meta.is_object());
    } else {
      ExpectCorruption(s, "sealed");
    }
  }
  BOOST_TEST_MESSAGE("sealed random records that still decoded: " << decoded);
}

BOOST_AUTO_TEST_CASE(rejects_unknown_version) {
  std::string bytes = Encoded(SmallIdentity());
  bytes[0] = 3;
  Identity out;
  const Status s = DecodeRecord("v", Sealed(bytes.substr(0, bytes.size() - 8)), &out);
  ExpectCorruption(s, "v");
  BOOST_TEST(s.message().find("version") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rejects_hostile_meta_nesting_with_a_valid_checksum) {
  std::string body = HeaderWithEmptyFields();
  std::string meta(1, '\x81');  // map of one entry
  meta.push_back('\xA1');       // key "k"
  meta.push_back('k');
  meta.append(1'000'000, '\x91');  // a million nested one-element arrays
  meta.push_back('\x00');
  char varint[10];
  std::size_t n = 0;
  for (std::uint64_t v = meta.size();; v >>= 7) {
    varint[n++] = static_cast<char>((v & 0x7F) | (v >= 0x80 ? 0x80 : 0));
    if (v < 0x80) break;
  }
  body.append(varint, n);
  body += meta;
  Identity out;
  ExpectCorruption(DecodeRecord("deep", Sealed(body), &out), "deep");
}

BOOST_AUTO_TEST_CASE(rejects_huge_counts_with_a_valid_checksum) {
  Identity out;
  {
    std::string body = HeaderWithEmptyFields();
    body.resize(body.size() - 2);
    body.append("\xFF\xFF\xFF\xFF\x0F", 5);  // 2^32 - 1 tags, no bytes
    body.append({'\0', '\x01', '\x80'});
    ExpectCorruption(DecodeRecord("count", Sealed(body), &out), "count");
  }
  {
    std::string body = HeaderWithEmptyFields();
    body.append("\x05\xDF\xFF\xFF\xFF\xFF", 6);  // map32 claiming 2^32 - 1 entries
    ExpectCorruption(DecodeRecord("map", Sealed(body), &out), "map");
  }
  {
    std::string body = HeaderWithEmptyFields();
    body.append("\x01\x90", 2);  // meta that is an array, not a map
    ExpectCorruption(DecodeRecord("array", Sealed(body), &out), "array");
  }
  {
    std::string body = HeaderWithEmptyFields();
    body.append("\x01\x80", 2);  // the smallest valid record
    BOOST_TEST(DecodeRecord("min", Sealed(body), &out).ok());
    BOOST_TEST(out.meta == Json::object());
  }
}

BOOST_AUTO_TEST_CASE(corruption_message_escapes_the_id) {
  Identity out;
  const Status s = DecodeRecord("bad\xFFid", "junk", &out);
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(s.message().find("bad\\xffid") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(rejects_records_over_16_mib_on_encode) {
  Identity identity;
  identity.id = "huge";
  identity.raw.assign(kMaxRecordBytes, 'x');
  std::string bytes = "keep";
  Status s = EncodeRecord(identity, &bytes);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("'huge'") != std::string::npos, s.message());
  BOOST_TEST(bytes == "keep");

  // Over the limit only because of meta: detected after MessagePack encoding.
  identity.raw.clear();
  identity.meta["blob"] = std::string(kMaxRecordBytes - 10, 'm');
  s = EncodeRecord(identity, &bytes);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(bytes == "keep");

  // Just under the limit still encodes.
  identity.meta = Json::object();
  identity.raw.assign(kMaxRecordBytes - 64, 'x');
  bytes.clear();
  BOOST_TEST(EncodeRecord(identity, &bytes).ok());
  BOOST_TEST(bytes.size() <= kMaxRecordBytes);
}

BOOST_AUTO_TEST_CASE(rejects_non_object_meta_on_encode) {
  Identity identity;
  identity.id = std::string("m");  // Not = "m": GCC 12 reports a false -Wrestrict.
  identity.meta = Json::array();
  std::string bytes;
  BOOST_TEST(EncodeRecord(identity, &bytes).IsInvalidArgument());
  BOOST_TEST(bytes.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera
