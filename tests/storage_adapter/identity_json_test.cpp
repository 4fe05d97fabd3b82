#include "kimera/identity_json.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace kimera {
namespace {

using Json = nlohmann::json;

// 2026-11-26T12:00:00Z.
constexpr Micros kNoon = 1'795'694'400'000'000;

Micros ParseOk(std::string_view text) {
  Micros micros = -1;
  const Status s = ParseTimestamp(text, &micros);
  BOOST_TEST(s.ok(), text << ": " << s.ToString());
  return micros;
}

Identity Awkward() {
  Identity identity;
  identity.id = "awk/ward \"quoted\" \\ 東京 🙂";
  identity.identity_type = IdentityType::kScar;
  identity.raw = "line1\nline2\ttab \x01 control, naïve, emoji 🙂🚀";
  identity.echo = "";
  identity.lang_axis = "ja";
  identity.tags = {"", "ü", "a\"b", "a", "a"};
  identity.weight = 0.1;
  identity.related_ids = {"x", "y/z", "日本"};
  identity.meta = Json::parse(R"({
      "terms": [{"term": "délta", "intensity": 3}, {"term": "x", "intensity": 2.5}],
      "nested": {"a": {"b": [1, 2.0, -3, {"c": null}], "empty": {}, "list": []}},
      "big_u": 18446744073709551615, "big_i": -9223372036854775808,
      "int": 1, "float": 1.0, "tiny": 5e-324, "bool": true,
      "unicode": "\u00e9\ud83d\ude42", "escaped": "quote \" slash \\ nl \n"})");
  identity.created_at = 1'764'115'034'769'354;
  identity.updated_at = kNoon;
  return identity;
}

void ExpectFieldError(const Json& object, const std::string& field) {
  Identity out;
  const Status s = IdentityFromJson(object, &out);
  BOOST_TEST_CONTEXT("field " << field) {
    BOOST_TEST(s.IsInvalidArgument());
    BOOST_TEST(s.message().find("field '" + field + "'") != std::string::npos, s.message());
  }
}

Json Minimal() { return Json{{"id", "m1"}}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(identity_json)

BOOST_AUTO_TEST_CASE(awkward_identity_round_trips) {
  const Identity original = Awkward();
  BOOST_REQUIRE(Validate(original).ok());
  Identity back;
  const Status s = IdentityFromJson(IdentityToJson(original), &back);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  BOOST_TEST((back == original));
  BOOST_TEST(back.meta["big_u"].is_number_unsigned());
  BOOST_TEST(back.meta["big_u"].get<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(back.meta["big_i"].get<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(back.meta["int"].is_number_integer());
  BOOST_TEST(back.meta["float"].is_number_float());
}

BOOST_AUTO_TEST_CASE(awkward_identity_round_trips_through_text) {
  const Identity original = Awkward();
  for (const std::string& text :
       {IdentityToJson(original).dump(), IdentityToJsonLine(original),
        IdentityToJsonLine(original, std::pair{1.5, 2.5}), IdentityToJson(original).dump(2)}) {
    Identity back;
    const Status s = IdentityFromJsonText(text, &back);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString() << " in " << text);
    BOOST_TEST((back == original));
  }
}

BOOST_AUTO_TEST_CASE(empty_identity_round_trips) {
  Identity original;
  original.id = std::string("e");
  Identity back;
  BOOST_REQUIRE(IdentityFromJson(IdentityToJson(original), &back).ok());
  BOOST_TEST((back == original));
  BOOST_TEST(IdentityToJson(original)["tags"] == Json::array());
  BOOST_TEST(IdentityToJson(original)["meta"] == Json::object());
}

BOOST_AUTO_TEST_CASE(missing_fields_take_defaults) {
  Identity out;
  BOOST_REQUIRE(IdentityFromJson(Minimal(), &out).ok());
  BOOST_TEST(out.id == "m1");
  BOOST_TEST((out.identity_type == IdentityType::kGeoid));
  BOOST_TEST(out.weight == 1.0);
  BOOST_TEST(out.tags.empty());
  BOOST_TEST(out.meta == Json::object());
  BOOST_TEST(out.created_at == 0);
  BOOST_TEST(out.updated_at == 0);
}

BOOST_AUTO_TEST_CASE(unknown_top_level_keys_are_kept_and_computed_ones_dropped) {
  Json object = Minimal();
  object["entropy"] = 3.2;
  object["effective_tau"] = 1.0e6;
  object["something_else"] = Json::array({1, 2});
  object["content"] = "legacy text";
  object["metadata"] = Json{{"source", "reference"}, {"n", {1, 2.5, nullptr}}};
  object["zero"] = nullptr;
  const Json expected = {{"something_else", {1, 2}},
                         {"content", "legacy text"},
                         {"metadata", {{"source", "reference"}, {"n", {1, 2.5, nullptr}}}},
                         {"zero", nullptr}};
  Identity out;
  BOOST_REQUIRE(IdentityFromJson(object, &out).ok());
  BOOST_TEST(out.extra == expected);
  BOOST_TEST(!out.extra.contains("entropy"));
  BOOST_TEST(!out.extra.contains("effective_tau"));
  BOOST_TEST(!out.extra.contains("id"));
  // The text path moves the values instead of copying them: same result.
  Identity from_text;
  BOOST_REQUIRE(IdentityFromJsonText(object.dump(), &from_text).ok());
  BOOST_TEST((from_text == out));
  BOOST_TEST(from_text.extra == expected);
}

BOOST_AUTO_TEST_CASE(no_unknown_keys_leave_extra_empty) {
  Identity out;
  BOOST_REQUIRE(IdentityFromJson(IdentityToJson(Awkward()), &out).ok());
  BOOST_TEST(out.extra.empty());
  BOOST_REQUIRE(
      IdentityFromJsonText(IdentityToJsonLine(Awkward(), std::pair{1.0, 2.0}), &out).ok());
  BOOST_TEST(out.extra.empty());
}

BOOST_AUTO_TEST_CASE(line_escapes_as_nlohmann_and_appends_after_what_is_there) {
  Identity identity;
  identity.id = "q\"\\\b\f\n\r\t\x01\x1f/\u00e9\u6771";
  identity.raw = "plain";
  identity.tags = {"a", "b\n"};
  identity.weight = -0.0;
  identity.meta = Json{{"x", "\x02"}};
  const std::string line = IdentityToJsonLine(identity, std::pair{-0.0, 1e300});
  // Every string as nlohmann writes it with ensure_ascii off, -0.0 as 0.0.
  const std::string id_json = Json(identity.id).dump();
  BOOST_TEST(line.rfind("{\"id\": " + id_json + ", ", 0) == 0, line);
  BOOST_TEST(line.find(R"("tags": ["a", "b\n"], "weight": 0.0,)") != std::string::npos, line);
  BOOST_TEST(line.find(R"("meta": {"x":"\u0002"})") != std::string::npos, line);
  BOOST_TEST(line.find(R"("entropy": 0.0, "effective_tau": 1e+300})") != std::string::npos, line);
  std::string buffer = "[1, ";
  AppendIdentityJsonLine(identity, std::pair{-0.0, 1e300}, &buffer);
  BOOST_TEST(buffer == "[1, " + line);
}

BOOST_AUTO_TEST_CASE(extra_keys_round_trip_through_every_output) {
  Identity original = Awkward();
  original.extra["content"] = "legacy \"content\" 東京\n";
  original.extra["metadata"] =
      Json::parse(R"({"b": [1, {"c": false}], "a": 1.0, "u": 18446744073709551615})");
  original.extra["a key with \"quotes\""] = Json::object();
  BOOST_REQUIRE(Validate(original).ok());
  for (const std::string& text :
       {IdentityToJson(original).dump(), IdentityToJsonLine(original),
        IdentityToJsonLine(original, std::pair{1.5, 2.5}), IdentityToJson(original).dump(2)}) {
    Identity back;
    const Status s = IdentityFromJsonText(text, &back);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString() << " in " << text);
    BOOST_TEST((back == original), text);
    BOOST_TEST(back.extra == original.extra, text);
    BOOST_TEST(back.extra["metadata"]["a"].is_number_float());
  }
  Identity back;
  BOOST_REQUIRE(IdentityFromJson(IdentityToJson(original), &back).ok());
  BOOST_TEST(back.extra == original.extra);
  BOOST_TEST(IdentityToJson(original).size() == 14u);
}

BOOST_AUTO_TEST_CASE(json_line_writes_extra_keys_after_the_fields_and_before_entropy) {
  Identity identity;
  identity.id = std::string("g");  // Not = "g": GCC 12 reports a false -Wrestrict.
  identity.extra["metadata"] = Json{{"k", 1}};
  identity.extra["content"] = "c";
  const std::string line = IdentityToJsonLine(identity, std::pair{0.5, 7.0});
  BOOST_TEST(line ==
                 R"({"id": "g", "identity_type": "geoid", "raw": "", "echo": "", "lang_axis": "", )"
                 R"("tags": [], "weight": 1.0, "related_ids": [], "meta": {}, )"
                 R"("created_at": "1970-01-01T00:00:00+00:00", )"
                 R"("updated_at": "1970-01-01T00:00:00+00:00", "content": "c", )"
                 R"("metadata": {"k":1}, "entropy": 0.5, "effective_tau": 7.0})",
             line);
}

BOOST_AUTO_TEST_CASE(reserved_extra_keys_are_never_written) {
  // Validate refuses them; the writers still never repeat a field.
  Identity identity;
  identity.id = "g";
  identity.extra["raw"] = "second raw";
  identity.extra["entropy"] = 99;
  identity.extra["content"] = "c";
  const Json j = IdentityToJson(identity);
  BOOST_TEST(j["raw"] == "");
  BOOST_TEST(!j.contains("entropy"));
  BOOST_TEST(j["content"] == "c");
  const std::string line = IdentityToJsonLine(identity);
  BOOST_TEST(line.find("second raw") == std::string::npos, line);
  BOOST_TEST(line.find("99") == std::string::npos, line);
}

BOOST_AUTO_TEST_CASE(rejects_extra_keys_nested_too_deep) {
  Json deep = Json::object();
  for (int d = 0; d < kMaxMetaDepth + 2; ++d) deep = {{"d", deep}};
  Json object = Minimal();
  object["content"] = deep;
  ExpectFieldError(object, "content");
  Identity out;
  const Status s = IdentityFromJsonText(object.dump(), &out);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("field 'content") != std::string::npos, s.message());
  BOOST_TEST(s.message().find("'m1'") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(output_has_exactly_the_reference_fields) {
  const Json j = IdentityToJson(Awkward());
  BOOST_TEST(j.size() == 11u);
  for (const char* field : {"id", "identity_type", "raw", "echo", "lang_axis", "tags", "weight",
                            "related_ids", "meta", "created_at", "updated_at"}) {
    BOOST_TEST(j.contains(field), field);
  }
  BOOST_TEST(j["identity_type"] == "scar");
  BOOST_TEST(j["created_at"] == "2025-11-25T23:57:14.769354+00:00");
  BOOST_TEST(j["updated_at"] == "2026-11-26T12:00:00+00:00");
}

BOOST_AUTO_TEST_CASE(json_line_keeps_reference_order_and_appends_entropy) {
  Identity identity;
  identity.id = "g";
  identity.weight = 1.0;
  identity.created_at = kNoon;
  identity.updated_at = kNoon + 1;
  identity.meta = Json{{"k", 1}};
  BOOST_TEST(IdentityToJsonLine(identity) ==
             R"({"id": "g", "identity_type": "geoid", "raw": "", "echo": "", "lang_axis": "", )"
             R"("tags": [], "weight": 1.0, "related_ids": [], "meta": {"k":1}, )"
             R"("created_at": "2026-11-26T12:00:00+00:00", )"
             R"("updated_at": "2026-11-26T12:00:00.000001+00:00"})");
  const std::string line = IdentityToJsonLine(identity, std::pair{0.1, 1'209'600.0});
  BOOST_TEST(line.ends_with(R"("entropy": 0.1, "effective_tau": 1209600.0})"), line);
  const Json parsed = Json::parse(IdentityToJsonLine(identity, std::pair{1.0 / 3.0, 1e20}));
  BOOST_TEST(parsed["entropy"].get<double>() == 1.0 / 3.0);
  BOOST_TEST(parsed["effective_tau"].get<double>() == 1e20);
}

BOOST_AUTO_TEST_CASE(json_line_escapes_control_characters) {
  Identity identity;
  identity.id = "q\"\\\n\x01";
  const Json parsed = Json::parse(IdentityToJsonLine(identity));
  BOOST_TEST(parsed["id"] == identity.id);
}

BOOST_AUTO_TEST_CASE(weight_is_written_as_a_double) {
  Identity identity;
  identity.id = std::string("w");
  BOOST_TEST(IdentityToJson(identity)["weight"].is_number_float());
  BOOST_TEST(IdentityToJson(identity).dump().find("\"weight\":1.0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(integer_weight_is_accepted) {
  Json object = Minimal();
  object["weight"] = 2;
  Identity out;
  BOOST_REQUIRE(IdentityFromJson(object, &out).ok());
  BOOST_TEST(out.weight == 2.0);
}

BOOST_AUTO_TEST_CASE(rejects_boolean_weight) {
  Json object = Minimal();
  object["weight"] = true;
  ExpectFieldError(object, "weight");
  object["weight"] = "1.0";
  ExpectFieldError(object, "weight");
}

BOOST_AUTO_TEST_CASE(rejects_negative_weight_naming_the_id) {
  Json object = Minimal();
  object["weight"] = -1;
  Identity out;
  const Status s = IdentityFromJson(object, &out);
  BOOST_TEST(s.message() == "identity 'm1': field 'weight' must be finite and >= 0 (got -1)");
}

BOOST_AUTO_TEST_CASE(rejects_wrong_types_naming_the_field) {
  const std::pair<const char*, Json> cases[] = {
      {"raw", 1},           {"echo", Json::array()}, {"lang_axis", nullptr}, {"tags", "a"},
      {"related_ids", 3},   {"meta", Json::array()}, {"meta", "x"},          {"created_at", 12},
      {"updated_at", true}, {"identity_type", 1},
  };
  for (const auto& [field, value] : cases) {
    Json object = Minimal();
    object[field] = value;
    ExpectFieldError(object, field);
  }
  Json object = Minimal();
  object["tags"] = Json::array({"a", 2});
  ExpectFieldError(object, "tags[1]");
  object = Minimal();
  object["related_ids"] = Json::array({nullptr});
  ExpectFieldError(object, "related_ids[0]");
}

BOOST_AUTO_TEST_CASE(rejects_missing_or_non_string_id) {
  ExpectFieldError(Json{{"raw", "x"}}, "id");
  ExpectFieldError(Json{{"id", 5}}, "id");
  ExpectFieldError(Json{{"id", ""}}, "id");
}

BOOST_AUTO_TEST_CASE(rejects_non_object_input) {
  Identity out;
  BOOST_TEST(IdentityFromJson(Json::array(), &out).IsInvalidArgument());
  BOOST_TEST(IdentityFromJsonText("[1, 2]", &out).IsInvalidArgument());
}

BOOST_AUTO_TEST_CASE(rejects_unknown_identity_type) {
  Json object = Minimal();
  object["identity_type"] = "blob";
  ExpectFieldError(object, "identity_type");
  Identity out;
  BOOST_TEST(IdentityFromJson(object, &out).message().find("blob") != std::string::npos);
  object["identity_type"] = "scar";
  BOOST_REQUIRE(IdentityFromJson(object, &out).ok());
  BOOST_TEST((out.identity_type == IdentityType::kScar));
}

BOOST_AUTO_TEST_CASE(errors_leave_the_output_untouched) {
  Identity out;
  out.id = "keep";
  Json object = Minimal();
  object["weight"] = false;
  BOOST_TEST(!IdentityFromJson(object, &out).ok());
  BOOST_TEST(out.id == "keep");
}

BOOST_AUTO_TEST_CASE(malformed_json_text_gives_an_error) {
  Identity out;
  for (const char* text :
       {"", "{", R"({"id": "x",})", R"({"id": "x"} trailing)", "nul", "{\"id\": \"\xFF\"}"}) {
    const Status s = IdentityFromJsonText(text, &out);
    BOOST_TEST(s.IsInvalidArgument(), text);
    BOOST_TEST(s.message().find("JSON") != std::string::npos, s.message());
  }
  const Status s = IdentityFromJsonText(R"({"id": "x",})", &out);
  BOOST_TEST(s.message().find("column 12") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(deeply_nested_json_text_is_rejected_without_crashing) {
  std::string text = R"({"id": "d", "meta": {"x": )";
  text += std::string(200'000, '[');
  text += std::string(200'000, ']');
  text += "}}";
  Identity out;
  const Status s = IdentityFromJsonText(text, &out);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("meta.x") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(deeply_nested_json_object_is_rejected_without_crashing) {
  std::string text = R"({"id": "d", "meta": {"x": )";
  text += std::string(200'000, '[');
  text += std::string(200'000, ']');
  text += "}}";
  const Json object = Json::parse(text);
  Identity out;
  const Status s = IdentityFromJson(object, &out);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("field 'meta'") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(parses_timestamps_with_and_without_offset) {
  BOOST_TEST(ParseOk("2026-11-26T12:00:00") == kNoon);
  BOOST_TEST(ParseOk("2026-11-26T12:00:00Z") == kNoon);
  BOOST_TEST(ParseOk("2026-11-26T12:00:00+00:00") == kNoon);
  BOOST_TEST(ParseOk("2026-11-26 12:00:00") == kNoon);
  BOOST_TEST(ParseOk("2026-11-26T14:00:00+02:00") == kNoon);
  BOOST_TEST(ParseOk("2026-11-26T14:30:00+0230") == kNoon);
  BOOST_TEST(ParseOk("2026-11-26T07:00:00-05:00") == kNoon);
  BOOST_TEST(ParseOk("2026-11-26T12:00") == kNoon);
  BOOST_TEST(ParseOk("2026-11-26") == kNoon - 12 * 3'600'000'000LL);
  BOOST_TEST(ParseOk("1970-01-01T00:00:00Z") == 0);
  BOOST_TEST(ParseOk("1969-12-31T23:59:59.999999Z") == -1);
}

BOOST_AUTO_TEST_CASE(parses_fractional_seconds_truncating_to_micros) {
  BOOST_TEST(ParseOk("2026-11-26T12:00:00.5Z") == kNoon + 500'000);
  BOOST_TEST(ParseOk("2026-11-26T12:00:00.123456+00:00") == kNoon + 123'456);
  BOOST_TEST(ParseOk("2026-11-26T12:00:00.1234569") == kNoon + 123'456);
  BOOST_TEST(ParseOk("2026-11-26T12:00:00.999999999") == kNoon + 999'999);
  BOOST_TEST(ParseOk("2026-11-26 13:00:00.000001+01:00") == kNoon + 1);
}

BOOST_AUTO_TEST_CASE(leap_days_are_handled) {
  BOOST_TEST(ParseOk("2024-02-29T00:00:00Z") + 86'400'000'000LL == ParseOk("2024-03-01T00:00:00Z"));
  BOOST_TEST(ParseOk("2000-02-29T00:00:00Z") > 0);
  Micros out = 0;
  BOOST_TEST(!ParseTimestamp("1900-02-29T00:00:00", &out).ok());
  BOOST_TEST(!ParseTimestamp("2023-02-29T00:00:00", &out).ok());
}

BOOST_AUTO_TEST_CASE(rejects_invalid_timestamps) {
  for (const char* text : {"",
                           "2026",
                           "2026-13-01T00:00:00",
                           "2026-00-10T00:00:00",
                           "2026-02-30T00:00:00",
                           "2026-04-31T00:00:00",
                           "2026-11-26T24:00:00",
                           "2026-11-26T12:60:00",
                           "2026-11-26T12:00:60",
                           "2026-11-26T12:00:00.",
                           "2026-11-26T12:00:00.1234567890",
                           "2026-11-26T12:00:00+25:00",
                           "2026-11-26T12:00:00+02:",
                           "2026-11-26T12:00:00 UTC",
                           "2026-11-26X12:00:00",
                           "26-11-2026",
                           "2026-11-26T12:00:00Zjunk",
                           "0000-01-01T00:00:00",
                           "2026-1-26T12:00:00",
                           "２０２６-11-26"}) {
    Micros out = 42;
    const Status s = ParseTimestamp(text, &out);
    BOOST_TEST(s.IsInvalidArgument(), "accepted '" << text << "'");
    BOOST_TEST(out == 42);
  }
}

BOOST_AUTO_TEST_CASE(invalid_timestamp_in_json_names_the_field) {
  Json object = Minimal();
  object["created_at"] = "2026-02-30T00:00:00";
  ExpectFieldError(object, "created_at");
  object = Minimal();
  object["updated_at"] = "yesterday";
  ExpectFieldError(object, "updated_at");
  Identity out;
  BOOST_TEST(IdentityFromJson(object, &out).message().find("'m1'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(formats_timestamps_like_python_isoformat) {
  BOOST_TEST(FormatTimestamp(kNoon) == "2026-11-26T12:00:00+00:00");
  BOOST_TEST(FormatTimestamp(1'764'115'034'769'354) == "2025-11-25T23:57:14.769354+00:00");
  BOOST_TEST(FormatTimestamp(kNoon + 1) == "2026-11-26T12:00:00.000001+00:00");
  BOOST_TEST(FormatTimestamp(0) == "1970-01-01T00:00:00+00:00");
  BOOST_TEST(FormatTimestamp(-1) == "1969-12-31T23:59:59.999999+00:00");
  BOOST_TEST(FormatTimestamp(ParseOk("0001-01-01T00:00:00")) == "0001-01-01T00:00:00+00:00");
  BOOST_TEST(FormatTimestamp(ParseOk("9999-12-31T23:59:59.999999")) ==
             "9999-12-31T23:59:59.999999+00:00");
  // Extreme values are outside Python's range but must not crash.
  BOOST_TEST(!FormatTimestamp(std::numeric_limits<Micros>::min()).empty());
  BOOST_TEST(!FormatTimestamp(std::numeric_limits<Micros>::max()).empty());
}

BOOST_AUTO_TEST_CASE(writes_no_negative_zero) {
  Identity identity;
  identity.id = "one_term";
  identity.weight = -0.0;
  identity.meta["terms"] = Json::array({{{"term", "a"}, {"intensity", 2}}});
  const double entropy = Entropy(identity);  // -(1 * log2 1) is -0.0.
  const std::string line = IdentityToJsonLine(identity, std::make_pair(entropy, 1.0));
  BOOST_TEST(line.find("-0.0") == std::string::npos, line);
  BOOST_TEST(line.find("\"entropy\": 0.0") != std::string::npos, line);
  BOOST_TEST(line.find("\"weight\": 0.0") != std::string::npos, line);
}

BOOST_AUTO_TEST_CASE(missing_id_names_the_unknown_keys) {
  Identity out;
  Status s = IdentityFromJsonText(R"({"identity": "x"})", &out);
  BOOST_TEST(s.message() == "identity: field 'id' is missing (unknown key 'identity')");
  s = IdentityFromJsonText(R"({"a": 1, "b": 2, "c": 3, "d": 4, "raw": "r"})", &out);
  BOOST_TEST(s.message() ==
             "identity: field 'id' is missing (unknown keys 'a', 'b', 'c' and 1 more)");
  s = IdentityFromJsonText(R"({"raw": "r"})", &out);
  BOOST_TEST(s.message() == "identity: field 'id' is missing");
}

BOOST_AUTO_TEST_CASE(format_then_parse_is_identity) {
  for (Micros m = -5'000'000'000'000'000; m < 250'000'000'000'000'000; m += 7'777'777'777'777) {
    BOOST_TEST(ParseOk(FormatTimestamp(m)) == m);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera
