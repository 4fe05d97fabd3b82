#include "legacy_format.h"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "dual_write_test_support.h"

using kimera::DecodeLegacyRow;
using kimera::EncodeLegacyRow;
using kimera::Identity;
using kimera::IdentityType;
using kimera::ProjectToLegacy;
using kimera::Status;
using kimera_test::CheckSameIdentity;
using kimera_test::Geoid;
using kimera_test::Scar;

namespace {

// `v` as 8 little-endian bytes, written out here rather than through the
// codec so that the layout itself is under test.
std::string Le64(std::uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}
std::string LeDouble(double d) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  return Le64(bits);
}
// A string of fewer than 128 bytes with its one-byte varint length.
std::string Short(const std::string& s) {
  BOOST_REQUIRE(s.size() < 128);
  return std::string(1, static_cast<char>(s.size())) + s;
}
std::string Byte(unsigned char b) { return std::string(1, static_cast<char>(b)); }

// Geoid row of the layout example below, cut into its columns.
struct GeoidRowParts {
  std::string version = Byte(2);
  std::string raw = Short("r");
  std::string echo = Short("");
  std::string lang_axis = Short("en");
  std::string tags = Byte(1) + Short("t");
  std::string weight = LeDouble(1.0);
  std::string meta = Byte(4) +
                     "\x81\xa1"
                     "a\x01";  // {"a": 1}
  std::string created_at = Le64(0x0102030405060708);
  std::string updated_at = Le64(0x1112131415161718);

  std::string Row() const {
    return version + raw + echo + lang_axis + tags + weight + meta + created_at + updated_at;
  }
};

Identity LayoutGeoid() {
  Identity g;
  g.id = "g-layout";
  g.raw = "r";
  g.lang_axis = "en";
  g.tags = {"t"};
  g.meta = {{"a", 1}};
  g.created_at = 0x0102030405060708;
  g.updated_at = 0x1112131415161718;
  return g;
}

// A geoid using every column and the fields its table drops.
Identity RichGeoid() {
  Identity g = Geoid("g-rich", "h\xc3\xa9llo \xe2\x9c\x93");  // "héllo ✓"
  g.tags = {"", "\xe6\x97\xa5\xe6\x9c\xac", std::string(300, 't')};
  g.weight = 0.1;
  g.meta = {{"terms", {{{"term", "x"}, {"intensity", 2.5}}}},
            {"count", 3},
            {"negative", -7},
            {"flag", true},
            {"nothing", nullptr},
            {"nested", {{"list", {1, 2.5, "three", {{"deep", {{"er", false}}}}}}}}};
  g.created_at = -1'000'000;  // Before 1970.
  g.updated_at = std::numeric_limits<kimera::Micros>::max();
  g.related_ids = {"not", "kept"};
  g.decay_applied_at = 77;
  return g;
}

Identity RichScar() {
  Identity s = Scar("s-rich", 3.25);
  s.raw = "dropped";
  s.echo = "dropped";
  s.lang_axis = "xx";
  s.tags = {"dropped"};
  s.related_ids = {"g1", "", std::string(200, 'r'), "g1"};
  s.created_at = 1'700'000'000'000'000;
  s.updated_at = 1'700'000'000'000'001;
  s.decay_applied_at = 5;
  return s;
}

Identity MustDecode(std::string_view id, IdentityType type, std::string_view row) {
  Identity out;
  const Status s = DecodeLegacyRow(id, type, row, &out);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

// Decoding `row` fails with Corruption naming `id` and `field`.
void CheckCorrupt(std::string_view id, IdentityType type, std::string_view row,
                  const std::string& field) {
  Identity out;
  const Status s = DecodeLegacyRow(id, type, row, &out);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(s.message().find("'" + std::string(id) + "'") != std::string::npos, s.message());
  BOOST_TEST(s.message().find(field) != std::string::npos, s.message());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(legacy_format)

BOOST_AUTO_TEST_CASE(geoid_row_has_the_documented_layout) {
  BOOST_TEST(EncodeLegacyRow(LayoutGeoid()) == GeoidRowParts().Row());
}

BOOST_AUTO_TEST_CASE(row_without_extra_keys_stays_version_2) {
  Identity g = LayoutGeoid();
  g.extra = nlohmann::json::object();
  BOOST_TEST(EncodeLegacyRow(g) == GeoidRowParts().Row());
  BOOST_TEST(MustDecode("g-layout", IdentityType::kGeoid, GeoidRowParts().Row()).extra.empty());
}

BOOST_AUTO_TEST_CASE(row_with_extra_keys_is_version_3_with_one_more_column) {
  Identity g = LayoutGeoid();
  g.extra = {{"c", 1}};
  GeoidRowParts p;
  p.version = Byte(3);
  const std::string extra = Byte(4) +
                            "\x81\xa1"
                            "c\x01";  // {"c": 1}
  BOOST_TEST(EncodeLegacyRow(g) == p.Row() + extra);
  const Identity back = MustDecode("g-layout", IdentityType::kGeoid, p.Row() + extra);
  BOOST_TEST(back.extra == g.extra);
  BOOST_TEST((back == g));
  // Without the column, or with a reserved key or something not a map in it.
  CheckCorrupt("g-layout", IdentityType::kGeoid, p.Row(), "extra keys");
  CheckCorrupt("g-layout", IdentityType::kGeoid, p.Row() + Byte(6) + "\x81\xa3raw\x01",
               "extra keys");
  CheckCorrupt("g-layout", IdentityType::kGeoid, p.Row() + Byte(1) + "\x90", "extra keys");
  for (std::size_t n = 0; n < p.Row().size() + extra.size(); ++n) {
    Identity out;
    BOOST_TEST(
        !DecodeLegacyRow("g-layout", IdentityType::kGeoid, (p.Row() + extra).substr(0, n), &out)
             .ok(),
        n);
  }
}

BOOST_AUTO_TEST_CASE(extra_keys_round_trip_in_both_tables) {
  for (Identity identity : {RichGeoid(), RichScar()}) {
    identity.extra["content"] = "legacy content \xe6\x97\xa5";
    identity.extra["metadata"] = {{"n", {1, -2, 2.5, nullptr, true}}, {"deep", {{"er", {}}}}};
    const Identity back =
        MustDecode(identity.id, identity.identity_type, EncodeLegacyRow(identity));
    BOOST_TEST(back.extra == identity.extra);
    BOOST_TEST((back == ProjectToLegacy(identity)));
  }
}

BOOST_AUTO_TEST_CASE(scar_row_has_the_documented_layout) {
  Identity s = Scar("s-layout", 0.5);
  s.related_ids = {"g1", "g22"};
  s.meta = nlohmann::json::object();
  s.created_at = -2;
  s.updated_at = 2;
  const std::string expected = Byte(2) + LeDouble(0.5) + Byte(2) + Short("g1") + Short("g22") +
                               Byte(1) + "\x80" + Le64(static_cast<std::uint64_t>(-2)) + Le64(2);
  BOOST_TEST(EncodeLegacyRow(s) == expected);
}

BOOST_AUTO_TEST_CASE(long_string_length_is_a_multi_byte_varint) {
  Identity g = LayoutGeoid();
  g.raw = std::string(200, 'x');
  const std::string row = EncodeLegacyRow(g);
  BOOST_TEST(static_cast<unsigned char>(row[1]) == 0xc8);
  BOOST_TEST(static_cast<unsigned char>(row[2]) == 0x01);
  BOOST_TEST(row.substr(3, 200) == g.raw);
  CheckSameIdentity(MustDecode(g.id, IdentityType::kGeoid, row), g);
}

BOOST_AUTO_TEST_CASE(geoid_round_trip_keeps_its_columns_and_drops_the_rest) {
  const Identity g = RichGeoid();
  const Identity back = MustDecode(g.id, IdentityType::kGeoid, EncodeLegacyRow(g));
  CheckSameIdentity(back, ProjectToLegacy(g));
  BOOST_TEST(back.related_ids.empty());
  BOOST_TEST(back.decay_applied_at == 0);
  BOOST_TEST(back.raw == g.raw);
  BOOST_TEST(back.tags == g.tags, boost::test_tools::per_element());
  BOOST_TEST(back.weight == 0.1);  // Bit for bit.
  BOOST_TEST(back.meta == g.meta);
  BOOST_TEST(back.created_at == g.created_at);
  BOOST_TEST(back.updated_at == g.updated_at);
}

BOOST_AUTO_TEST_CASE(scar_round_trip_keeps_its_columns_and_drops_the_rest) {
  const Identity s = RichScar();
  const Identity back = MustDecode(s.id, IdentityType::kScar, EncodeLegacyRow(s));
  CheckSameIdentity(back, ProjectToLegacy(s));
  BOOST_TEST(back.raw.empty());
  BOOST_TEST(back.echo.empty());
  BOOST_TEST(back.lang_axis.empty());
  BOOST_TEST(back.tags.empty());
  BOOST_TEST(back.decay_applied_at == 0);
  BOOST_TEST(back.related_ids == s.related_ids, boost::test_tools::per_element());
  BOOST_TEST(back.weight == 3.25);
}

BOOST_AUTO_TEST_CASE(empty_lists_and_meta_round_trip) {
  for (IdentityType type : {IdentityType::kGeoid, IdentityType::kScar}) {
    Identity i;
    i.id = "empty";
    i.identity_type = type;
    i.weight = 0;
    const Identity back = MustDecode(i.id, type, EncodeLegacyRow(i));
    CheckSameIdentity(back, i);
    BOOST_TEST(back.meta.is_object());
  }
}

BOOST_AUTO_TEST_CASE(projection_clears_only_what_the_table_has_no_column_for) {
  const Identity g = RichGeoid();
  Identity expected_geoid = g;
  expected_geoid.related_ids.clear();
  expected_geoid.decay_applied_at = 0;
  CheckSameIdentity(ProjectToLegacy(g), expected_geoid);

  const Identity s = RichScar();
  Identity expected_scar = s;
  expected_scar.raw.clear();
  expected_scar.echo.clear();
  expected_scar.lang_axis.clear();
  expected_scar.tags.clear();
  expected_scar.decay_applied_at = 0;
  CheckSameIdentity(ProjectToLegacy(s), expected_scar);

  CheckSameIdentity(ProjectToLegacy(ProjectToLegacy(s)), ProjectToLegacy(s));
}

BOOST_AUTO_TEST_CASE(row_holds_nothing_the_projection_drops) {
  for (const Identity& i : {RichGeoid(), RichScar()}) {
    BOOST_TEST(EncodeLegacyRow(i) == EncodeLegacyRow(ProjectToLegacy(i)));
  }
}

BOOST_AUTO_TEST_CASE(id_comes_from_the_key_not_the_row) {
  const Identity g = RichGeoid();
  const Identity back = MustDecode("other-key", IdentityType::kGeoid, EncodeLegacyRow(g));
  BOOST_TEST(back.id == "other-key");
  BOOST_TEST((back.identity_type == IdentityType::kGeoid));
}

BOOST_AUTO_TEST_CASE(row_of_the_other_table_is_corruption) {
  for (const Identity& g : {Geoid("g1"), RichGeoid(), LayoutGeoid()}) {
    BOOST_TEST_CONTEXT(g.id) {
      CheckCorrupt(g.id, IdentityType::kScar, EncodeLegacyRow(g), "legacy row");
    }
  }
  for (const Identity& s : {Scar("s1"), RichScar()}) {
    BOOST_TEST_CONTEXT(s.id) {
      CheckCorrupt(s.id, IdentityType::kGeoid, EncodeLegacyRow(s), "legacy row");
    }
  }
}

BOOST_AUTO_TEST_CASE(unknown_row_version_is_corruption) {
  const std::string row = EncodeLegacyRow(Geoid("g1"));
  CheckCorrupt("g1", IdentityType::kGeoid, "", "unknown row version");
  for (unsigned char version : {0, 1, 4, 0xff}) {
    BOOST_TEST_CONTEXT(static_cast<int>(version)) {
      CheckCorrupt("g1", IdentityType::kGeoid, Byte(version) + row.substr(1),
                   "unknown row version");
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_row_names_the_column_it_ends_in) {
  const GeoidRowParts p;
  const std::string id = "g-layout";
  const std::vector<std::pair<std::string, std::string>> cut_after = {
      {p.version, "raw"},
      {p.version + p.raw, "echo"},
      {p.version + p.raw + p.echo, "lang_axis"},
      {p.version + p.raw + p.echo + p.lang_axis, "tags"},
      {p.version + p.raw + p.echo + p.lang_axis + p.tags, "weight"},
      {p.version + p.raw + p.echo + p.lang_axis + p.tags + p.weight, "meta"},
      {p.version + p.raw + p.echo + p.lang_axis + p.tags + p.weight + p.meta, "created_at"},
      {p.Row().substr(0, p.Row().size() - 1), "updated_at"},
  };
  for (const auto& [row, field] : cut_after) {
    BOOST_TEST_CONTEXT(field) { CheckCorrupt(id, IdentityType::kGeoid, row, field); }
  }
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_row_is_corruption) {
  for (const Identity& i : {RichGeoid(), RichScar()}) {
    const std::string row = EncodeLegacyRow(i);
    for (std::size_t n = 0; n < row.size(); ++n) {
      Identity out;
      const Status s = DecodeLegacyRow(i.id, i.identity_type, row.substr(0, n), &out);
      BOOST_TEST_REQUIRE(s.IsCorruption(), i.id << " cut at " << n << ": " << s.ToString());
    }
  }
}

BOOST_AUTO_TEST_CASE(trailing_bytes_are_corruption) {
  CheckCorrupt("g-layout", IdentityType::kGeoid, GeoidRowParts().Row() + Byte(0), "trailing bytes");
}

BOOST_AUTO_TEST_CASE(weight_that_validate_refuses_is_corruption) {
  for (double weight : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    BOOST_TEST_CONTEXT(weight) {
      GeoidRowParts p;
      p.weight = LeDouble(weight);
      CheckCorrupt("g-layout", IdentityType::kGeoid, p.Row(), "weight");
    }
  }
}

BOOST_AUTO_TEST_CASE(meta_that_is_not_a_map_is_corruption) {
  for (const std::string& meta : {Byte(1) + "\x90",      // []
                                  Byte(1) + "\x01",      // 1
                                  Byte(1) + "\xc1",      // never used
                                  Byte(2) + "\x81\xa1",  // map cut short
                                  Byte(0)}) {            // nothing
    GeoidRowParts p;
    p.meta = meta;
    CheckCorrupt("g-layout", IdentityType::kGeoid, p.Row(), "meta");
  }
}

BOOST_AUTO_TEST_CASE(meta_deeper_than_the_limit_is_corruption) {
  std::string nested;
  for (int i = 0; i < kimera::kMaxMetaDepth + 10; ++i)
    nested +=
        "\x81\xa1"
        "a";
  nested += "\x80";
  GeoidRowParts p;
  p.meta = Byte(static_cast<unsigned char>(0x80 | (nested.size() & 0x7f))) +
           Byte(static_cast<unsigned char>(nested.size() >> 7)) + nested;
  BOOST_REQUIRE(nested.size() < (1u << 14));
  CheckCorrupt("g-layout", IdentityType::kGeoid, p.Row(), "meta");
}

BOOST_AUTO_TEST_CASE(list_count_beyond_the_row_is_corruption) {
  GeoidRowParts p;
  // 2^40 tags in a row of a few dozen bytes: refused before anything is built.
  p.tags = "\x80\x80\x80\x80\x80\x20" + Short("t");
  CheckCorrupt("g-layout", IdentityType::kGeoid, p.Row(), "tags");

  const std::string row = Byte(2) + LeDouble(1.0) + "\xff\xff\xff\xff\x0f" + Short("g1");
  CheckCorrupt("s1", IdentityType::kScar, row, "related_ids");
}

BOOST_AUTO_TEST_CASE(error_quotes_the_id_safely) {
  Identity out;
  Status s = DecodeLegacyRow(std::string("bad\x01id", 6), IdentityType::kGeoid, "", &out);
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(s.message().find("bad\\x01id") != std::string::npos, s.message());

  s = DecodeLegacyRow(std::string(100, 'x'), IdentityType::kGeoid, "", &out);
  BOOST_TEST(s.message().find(std::string(64, 'x') + "...") != std::string::npos, s.message());
  BOOST_TEST(s.message().find(std::string(65, 'x')) == std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(version_one_json_geoid_row_is_read) {
  const std::string row =
      R"({"raw":"r","echo":"e","lang_axis":"en","tags":["t","u"],"weight":0.5,)"
      R"("meta":{"k":1},"related_ids":["ignored"],)"
      R"("created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:04:06.5+00:00"})";
  const Identity back = MustDecode("g1", IdentityType::kGeoid, row);
  Identity expected = Geoid("g1", "r", 0.5);
  expected.echo = "e";
  expected.tags = {"t", "u"};
  expected.meta = {{"k", 1}};
  expected.created_at = 1'704'164'645'000'000;
  expected.updated_at = 1'704'164'646'500'000;
  CheckSameIdentity(back, expected);
}

BOOST_AUTO_TEST_CASE(version_one_json_scar_row_is_read) {
  const std::string row =
      R"({"related_ids":["a","b"],"weight":2,"meta":{},"raw":"ignored",)"
      R"("created_at":"1970-01-01T00:00:00Z","updated_at":"1970-01-01T00:00:01Z"})";
  const Identity back = MustDecode("s1", IdentityType::kScar, row);
  Identity expected = Scar("s1", 2);
  expected.related_ids = {"a", "b"};
  expected.meta = nlohmann::json::object();
  expected.updated_at = 1'000'000;
  CheckSameIdentity(back, expected);
}

BOOST_AUTO_TEST_CASE(malformed_json_row_names_the_column) {
  const std::string ts =
      R"("created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:04:05Z")";
  const std::string geoid_rest = R"("weight":1,"meta":{},)" + ts;
  const std::string good = R"({"raw":"r","echo":"e","lang_axis":"l","tags":[],)" + geoid_rest + "}";
  MustDecode("g1", IdentityType::kGeoid, good);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{broken", "not a JSON object"},
      {"{}", "raw"},
      {R"({"raw":1,"echo":"e","lang_axis":"l","tags":[],)" + geoid_rest + "}", "raw"},
      {R"({"raw":"r","lang_axis":"l","tags":[],)" + geoid_rest + "}", "echo"},
      {R"({"raw":"r","echo":"e","tags":[],)" + geoid_rest + "}", "lang_axis"},
      {R"({"raw":"r","echo":"e","lang_axis":"l","tags":[1],)" + geoid_rest + "}", "tags"},
      {R"({"raw":"r","echo":"e","lang_axis":"l","tags":[],"weight":"1","meta":{},)" + ts + "}",
       "weight"},
      {R"({"raw":"r","echo":"e","lang_axis":"l","tags":[],"weight":-1,"meta":{},)" + ts + "}",
       "weight"},
      {R"({"raw":"r","echo":"e","lang_axis":"l","tags":[],"weight":1,"meta":[],)" + ts + "}",
       "meta"},
      {R"({"raw":"r","echo":"e","lang_axis":"l","tags":[],"weight":1,"meta":{},)"
       R"("created_at":"yesterday","updated_at":"2024-01-02T03:04:05Z"})",
       "created_at"},
      {R"({"raw":"r","echo":"e","lang_axis":"l","tags":[],"weight":1,"meta":{},)"
       R"("created_at":"2024-01-02T03:04:05Z","updated_at":5})",
       "updated_at"},
  };
  for (const auto& [row, field] : cases) {
    BOOST_TEST_CONTEXT(row) { CheckCorrupt("g1", IdentityType::kGeoid, row, field); }
  }
  CheckCorrupt("s1", IdentityType::kScar, "{" + geoid_rest + "}", "related_ids");
}

BOOST_AUTO_TEST_SUITE_END()
