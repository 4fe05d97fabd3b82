#include "kimera/identity.h"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace kimera {
namespace {

using Json = nlohmann::json;

Identity Geoid(std::string id = "g1") {
  Identity identity;
  identity.id = std::move(id);
  return identity;
}

Identity WithTerms(const Json& terms) {
  Identity identity = Geoid();
  identity.meta["terms"] = terms;
  return identity;
}

Json EqualTerms(int count) {
  Json terms = Json::array();
  for (int i = 0; i < count; ++i) {
    std::string name = "t";
    name += std::to_string(i);
    terms.push_back({{"term", name}, {"intensity", 1.0}});
  }
  return terms;
}

bool Near(double actual, double expected, double tolerance = 1e-12) {
  if (expected == 0) return std::fabs(actual) <= tolerance;
  return std::fabs(actual - expected) / std::fabs(expected) <= tolerance;
}

// The message must name both the field and the id, as the contract says.
void ExpectRejected(const Identity& identity, const std::string& field) {
  const Status s = Validate(identity);
  BOOST_TEST_CONTEXT("field " << field) {
    BOOST_TEST(s.IsInvalidArgument());
    BOOST_TEST(s.message().find("field '" + field + "'") != std::string::npos, s.message());
    BOOST_TEST(s.message().find("identity '" + DisplayId(identity.id) + "'") != std::string::npos,
               s.message());
  }
}

const std::string kBadUtf8 = "ok\xC3\x28";

}  // namespace

BOOST_AUTO_TEST_SUITE(identity)

BOOST_AUTO_TEST_CASE(type_names_round_trip) {
  BOOST_TEST(std::string(IdentityTypeName(IdentityType::kGeoid)) == "geoid");
  BOOST_TEST(std::string(IdentityTypeName(IdentityType::kScar)) == "scar");
  BOOST_TEST((ParseIdentityType("scar") == IdentityType::kScar));
  BOOST_TEST((ParseIdentityType("geoid") == IdentityType::kGeoid));
  BOOST_TEST(!ParseIdentityType("blob").has_value());
  BOOST_TEST(!ParseIdentityType("Scar").has_value());
}

BOOST_AUTO_TEST_CASE(equal_terms_give_log2_of_count) {
  for (int n = 0; n <= 10; ++n) {
    const Identity identity = WithTerms(EqualTerms(1 << n));
    BOOST_TEST(Near(Entropy(identity), n), "n=" << n << " H=" << Entropy(identity));
  }
}

BOOST_AUTO_TEST_CASE(intensities_one_one_two_give_one_and_a_half_bits) {
  const Identity identity =
      WithTerms(Json::parse(R"([{"intensity":1},{"intensity":1.0},{"intensity":2}])"));
  BOOST_TEST(Near(Entropy(identity), 1.5));
}

BOOST_AUTO_TEST_CASE(one_tag_gives_zero) {
  Identity identity = Geoid();
  identity.tags = {"only"};
  BOOST_TEST(Entropy(identity) == 0.0);
}

BOOST_AUTO_TEST_CASE(tags_count_duplicates) {
  Identity identity = Geoid();
  identity.tags = {"a", "a", "b", "c"};
  BOOST_TEST(Near(Entropy(identity), 2.0));
}

BOOST_AUTO_TEST_CASE(no_terms_no_tags_gives_zero) { BOOST_TEST(Entropy(Geoid()) == 0.0); }

BOOST_AUTO_TEST_CASE(four_relations_with_weight_half_give_one_bit) {
  Identity identity = Geoid("s1");
  identity.identity_type = IdentityType::kScar;
  identity.related_ids = {"a", "b", "c", "d"};
  identity.weight = 0.5;
  BOOST_TEST(Near(Entropy(identity), 1.0));
}

BOOST_AUTO_TEST_CASE(scar_with_one_relation_gives_zero_and_ignores_terms) {
  Identity identity = WithTerms(EqualTerms(4));
  identity.identity_type = IdentityType::kScar;
  identity.related_ids = {"a"};
  BOOST_TEST(Entropy(identity) == 0.0);
}

BOOST_AUTO_TEST_CASE(zero_negative_missing_and_non_numeric_intensities_are_ignored) {
  const Identity identity = WithTerms(Json::parse(R"([
      {"intensity": 1}, {"intensity": 1},
      {"intensity": 0}, {"intensity": -3.5}, {"term": "none"}, {"intensity": false},
      {"intensity": "2"}, {"intensity": null}, {"intensity": [2]}, {"intensity": {"x": 2}}])"));
  BOOST_TEST(Near(Entropy(identity), 1.0));
}

// The reference keeps isinstance(x, (int, float)) and x > 0; in Python True
// is the int 1.
BOOST_AUTO_TEST_CASE(true_intensity_counts_as_one) {
  BOOST_TEST(Entropy(WithTerms(Json::parse(R"([{"intensity": true}, {"intensity": true}])"))) ==
             1.0);
  BOOST_TEST(Near(Entropy(WithTerms(Json::parse(
                      R"([{"intensity": true}, {"intensity": true}, {"intensity": 2}])"))),
                  1.5));
}

BOOST_AUTO_TEST_CASE(false_intensity_is_dropped) {
  const Identity identity = WithTerms(Json::parse(
      R"([{"intensity": true}, {"intensity": false}, {"intensity": 1}, {"intensity": false}])"));
  BOOST_TEST(Entropy(identity) == 1.0);
}

BOOST_AUTO_TEST_CASE(mixed_true_false_and_numbers) {
  const Identity identity = WithTerms(Json::parse(R"([
      {"intensity": 3}, {"intensity": false}, {"intensity": true}, {"intensity": "1"},
      {"intensity": 0}, {"intensity": null}])"));
  BOOST_TEST(Near(Entropy(identity), -(0.75 * std::log2(0.75) + 0.25 * std::log2(0.25))));
}

BOOST_AUTO_TEST_CASE(one_true_among_zero_numbers_gives_zero_and_ignores_tags) {
  Identity identity = WithTerms(Json::parse(
      R"([{"intensity": 0}, {"intensity": true}, {"intensity": 0.0}, {"intensity": -1}])"));
  identity.tags = {"a", "b"};
  BOOST_TEST(Entropy(identity) == 0.0);
}

BOOST_AUTO_TEST_CASE(accepts_boolean_intensities) {
  const Identity identity =
      WithTerms(Json::parse(R"([{"intensity": true}, {"intensity": false}])"));
  BOOST_TEST(Validate(identity).ok(), Validate(identity).ToString());
}

BOOST_AUTO_TEST_CASE(non_object_terms_are_ignored) {
  const Identity identity =
      WithTerms(Json::parse(R"([1, "x", [1], null, {"intensity": 3}, {"intensity": 3}])"));
  BOOST_TEST(Near(Entropy(identity), 1.0));
}

BOOST_AUTO_TEST_CASE(empty_terms_list_ignores_tags) {
  Identity identity = WithTerms(Json::array());
  identity.tags = {"a", "b", "c", "d"};
  BOOST_TEST(Entropy(identity) == 0.0);
}

BOOST_AUTO_TEST_CASE(terms_without_a_positive_intensity_ignore_tags) {
  Identity identity = WithTerms(Json::parse(R"([{"intensity": 0}, {"intensity": false}])"));
  identity.tags = {"a", "b"};
  BOOST_TEST(Entropy(identity) == 0.0);
}

BOOST_AUTO_TEST_CASE(terms_that_are_not_a_list_fall_back_to_tags) {
  Identity identity = Geoid();
  identity.meta["terms"] = "not a list";
  identity.tags = {"a", "b"};
  BOOST_TEST(Near(Entropy(identity), 1.0));
}

BOOST_AUTO_TEST_CASE(ten_thousand_equal_terms_give_log2_ten_thousand) {
  const Identity identity = WithTerms(EqualTerms(10'000));
  BOOST_TEST(Near(Entropy(identity), std::log2(10'000.0)));
}

BOOST_AUTO_TEST_CASE(effective_tau_uses_base_and_k) {
  BOOST_TEST(EffectiveTau(0.0) == 1'209'600.0);
  BOOST_TEST(Near(EffectiveTau(2.0), 1'209'600.0 * 1.2));
  BOOST_TEST(Near(EffectiveTau(3.0, DecayParams{100.0, 0.5}), 250.0));
}

BOOST_AUTO_TEST_CASE(decay_halves_at_half_life) {
  for (double h : {0.0, 1.0, 3.5, 10.0}) {
    const double tau = EffectiveTau(h);
    BOOST_TEST(Near(DecayFactor(tau * std::log(2.0), tau), 0.5), "H=" << h);
  }
}

BOOST_AUTO_TEST_CASE(decay_is_a_semigroup) {
  const double tau = EffectiveTau(2.7);
  for (double a : {0.0, 10.0, 86'400.0, 1e6}) {
    for (double b : {0.0, 1.0, 3'600.0, 5e6}) {
      BOOST_TEST(Near(DecayFactor(a + b, tau), DecayFactor(a, tau) * DecayFactor(b, tau)),
                 "a=" << a << " b=" << b);
    }
  }
}

BOOST_AUTO_TEST_CASE(decay_is_zero_when_tau_not_positive) {
  BOOST_TEST(DecayFactor(10.0, 0.0) == 0.0);
  BOOST_TEST(DecayFactor(10.0, -5.0) == 0.0);
  BOOST_TEST(DecayFactor(0.0, 0.0) == 0.0);
  BOOST_TEST(DecayFactor(0.0, 100.0) == 1.0);
}

BOOST_AUTO_TEST_CASE(decay_passes_negative_age_through) {
  BOOST_TEST(DecayFactor(-100.0, 100.0) > 1.0);
}

BOOST_AUTO_TEST_CASE(accepts_a_well_formed_identity) {
  Identity identity = WithTerms(EqualTerms(3));
  identity.raw = "東京 naïve 🙂";
  identity.tags = {"a", "ü"};
  identity.meta["nested"] = {{"deep", {1, 2, {{"k", "v"}}}}};
  BOOST_TEST(Validate(identity).ok(), Validate(identity).ToString());
}

BOOST_AUTO_TEST_CASE(rejects_empty_id) { ExpectRejected(Geoid(""), "id"); }

BOOST_AUTO_TEST_CASE(rejects_id_longer_than_512_bytes) {
  BOOST_TEST(Validate(Geoid(std::string(512, 'x'))).ok());
  ExpectRejected(Geoid(std::string(513, 'x')), "id");
}

BOOST_AUTO_TEST_CASE(rejects_invalid_utf8_id) { ExpectRejected(Geoid("id\xFF"), "id"); }

BOOST_AUTO_TEST_CASE(rejects_nan_inf_and_negative_weight) {
  for (double w :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(), -1.0}) {
    Identity identity = Geoid();
    identity.weight = w;
    ExpectRejected(identity, "weight");
  }
  Identity identity = Geoid("abc");
  identity.weight = -1;
  BOOST_TEST(Validate(identity).message() ==
             "identity 'abc': field 'weight' must be finite and >= 0 (got -1)");
  identity.weight = 0;
  BOOST_TEST(Validate(identity).ok());
}

BOOST_AUTO_TEST_CASE(rejects_scar_weight_that_would_overflow_entropy_and_tau) {
  Identity scar = Geoid("s1");
  scar.identity_type = IdentityType::kScar;
  scar.related_ids = {"a", "b"};
  scar.weight = 1e300;
  ExpectRejected(scar, "weight");
  scar.weight = kMaxScarWeight;
  BOOST_TEST(Validate(scar).ok());
  BOOST_TEST(Entropy(scar) == kMaxScarWeight);
  // A geoid's weight is not in its entropy: any finite value is data.
  Identity geoid = Geoid();
  geoid.weight = 1e300;
  BOOST_TEST(Validate(geoid).ok());
}

BOOST_AUTO_TEST_CASE(keeps_reference_arithmetic_for_self_and_duplicate_relations) {
  Identity scar = Geoid("s1");
  scar.identity_type = IdentityType::kScar;
  scar.related_ids = {"s1", "g"};
  BOOST_TEST(Validate(scar).ok());
  BOOST_TEST(Entropy(scar) == 1.0);
  scar.related_ids = {"a", "a", "b", "b"};
  BOOST_TEST(Validate(scar).ok());
  BOOST_TEST(Entropy(scar) == 2.0);
}

BOOST_AUTO_TEST_CASE(rejects_updated_at_before_created_at) {
  Identity identity = Geoid();
  identity.created_at = 2'000'000;
  identity.updated_at = 1'000'000;
  ExpectRejected(identity, "updated_at");
  identity.updated_at = 2'000'000;
  BOOST_TEST(Validate(identity).ok());
  identity.updated_at = 0;  // "Set it at store time."
  BOOST_TEST(Validate(identity).ok());
}

BOOST_AUTO_TEST_CASE(rejects_nan_intensity) {
  Json terms = EqualTerms(3);
  terms[2]["intensity"] = std::numeric_limits<double>::quiet_NaN();
  ExpectRejected(WithTerms(terms), "meta.terms[2].intensity");
}

BOOST_AUTO_TEST_CASE(rejects_infinite_intensity) {
  Json terms = EqualTerms(2);
  terms[0]["intensity"] = -std::numeric_limits<double>::infinity();
  ExpectRejected(WithTerms(terms), "meta.terms[0].intensity");
}

BOOST_AUTO_TEST_CASE(rejects_invalid_utf8_in_each_string_field) {
  {
    Identity identity = Geoid();
    identity.raw = kBadUtf8;
    ExpectRejected(identity, "raw");
  }
  {
    Identity identity = Geoid();
    identity.echo = kBadUtf8;
    ExpectRejected(identity, "echo");
  }
  {
    Identity identity = Geoid();
    identity.lang_axis = kBadUtf8;
    ExpectRejected(identity, "lang_axis");
  }
  {
    Identity identity = Geoid();
    identity.tags = {"fine", kBadUtf8};
    ExpectRejected(identity, "tags[1]");
  }
  {
    Identity identity = Geoid();
    identity.related_ids = {kBadUtf8};
    ExpectRejected(identity, "related_ids[0]");
  }
}

BOOST_AUTO_TEST_CASE(rejects_invalid_utf8_inside_meta) {
  {
    Identity identity = Geoid();
    identity.meta["a"]["b"] = Json::array({"x", kBadUtf8});
    ExpectRejected(identity, "meta.a.b[1]");
  }
  {
    Identity identity = Geoid();
    identity.meta["a"][kBadUtf8] = 1;
    const Status s = Validate(identity);
    BOOST_TEST(s.IsInvalidArgument());
    BOOST_TEST(s.message().find("meta.a.") != std::string::npos, s.message());
    BOOST_TEST(s.message().find("'g1'") != std::string::npos, s.message());
  }
}

BOOST_AUTO_TEST_CASE(rejects_meta_that_is_not_an_object) {
  for (const Json& meta : {Json::array(), Json(3), Json("x"), Json(nullptr)}) {
    Identity identity = Geoid();
    identity.meta = meta;
    ExpectRejected(identity, "meta");
  }
}

BOOST_AUTO_TEST_CASE(rejects_meta_nested_deeper_than_the_limit) {
  auto nested = [](int depth) {
    Json meta = Json::object();
    for (int i = 1; i < depth; ++i) meta = Json{{"n", std::move(meta)}};
    return meta;
  };
  Identity identity = Geoid();
  identity.meta = nested(kMaxMetaDepth);
  BOOST_TEST(Validate(identity).ok(), Validate(identity).ToString());
  identity.meta = nested(kMaxMetaDepth + 1);
  const Status s = Validate(identity);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("field 'meta.n.n") != std::string::npos, s.message());
  BOOST_TEST(s.message().find("'g1'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(survives_very_deep_meta) {
  Json meta = Json::array();
  for (int i = 0; i < 100'000; ++i) meta = Json::array({std::move(meta)});
  Identity identity = Geoid();
  identity.meta = Json{{"deep", std::move(meta)}};
  BOOST_TEST(Validate(identity).IsInvalidArgument());
}

BOOST_AUTO_TEST_CASE(extra_keys_take_no_part_in_entropy_or_decay) {
  // Extra keys that look like the fields entropy reads must still be ignored.
  Json look_alike = Json{{"terms", {{{"term", "x"}, {"intensity", 9}}, {{"intensity", 1}}}},
                         {"tags", {"a", "b", "c"}}};
  std::vector<Identity> identities;
  identities.push_back(WithTerms(EqualTerms(3)));
  identities.push_back(Geoid());
  identities.back().tags = {"a", "b"};
  identities.push_back(Geoid());
  identities.push_back(Geoid());
  identities.back().identity_type = IdentityType::kScar;
  identities.back().related_ids = {"a", "b", "c", "d"};
  identities.back().weight = 0.5;
  for (const Identity& plain : identities) {
    Identity with_extra = plain;
    with_extra.extra["content"] = "text of many words";
    with_extra.extra["metadata"] = look_alike;
    with_extra.extra["terms"] = look_alike["terms"];
    with_extra.extra["related"] = {"x", "y", "z"};
    BOOST_REQUIRE(Validate(with_extra).ok());
    BOOST_TEST(Entropy(with_extra) == Entropy(plain));
    BOOST_TEST(EffectiveTau(Entropy(with_extra)) == EffectiveTau(Entropy(plain)));
    Identity scaled = with_extra;
    ScaleWeights(&scaled, 0.5);
    BOOST_TEST(scaled.extra == with_extra.extra);
  }
}

BOOST_AUTO_TEST_CASE(accepts_extra_keys_of_any_json_value) {
  Identity identity = Geoid();
  identity.extra = Json{{"content", "c"},
                        {"metadata", {{"a", {1, 2.5, true, nullptr}}}},
                        {"n", 3},
                        {"null", nullptr},
                        {"list", Json::array()}};
  BOOST_TEST(Validate(identity).ok(), Validate(identity).ToString());
  identity.extra = Json::object();
  BOOST_TEST(Validate(identity).ok());
  identity.extra = nullptr;
  BOOST_TEST(Validate(identity).ok());
}

BOOST_AUTO_TEST_CASE(rejects_reserved_extra_keys) {
  for (const char* key :
       {"id", "identity_type", "raw", "echo", "lang_axis", "tags", "weight", "related_ids", "meta",
        "created_at", "updated_at", "entropy", "effective_tau"}) {
    BOOST_TEST(IsReservedKey(key), key);
    Identity identity = Geoid();
    identity.extra[key] = "x";
    ExpectRejected(identity, key);
  }
  for (const char* key : {"content", "metadata", "decay_applied_at", "Raw", ""}) {
    BOOST_TEST(!IsReservedKey(key), key);
  }
}

BOOST_AUTO_TEST_CASE(rejects_bad_extra_values) {
  Identity identity = Geoid();
  identity.extra = Json::array({1});
  ExpectRejected(identity, "extra");
  identity.extra = Json{{"content", kBadUtf8}};
  ExpectRejected(identity, "content");
  identity.extra = Json{{"metadata", {{"x", std::numeric_limits<double>::quiet_NaN()}}}};
  ExpectRejected(identity, "metadata.x");
  identity.extra = Json::object();
  identity.extra[kBadUtf8] = 1;
  BOOST_TEST(Validate(identity).IsInvalidArgument());

  // Each value may nest as deep as meta, and no deeper.
  auto nested = [](int depth) {
    Json value = Json::object();
    for (int i = 1; i < depth; ++i) value = Json{{"n", std::move(value)}};
    return value;
  };
  identity.extra = Json{{"metadata", nested(kMaxMetaDepth)}};
  BOOST_TEST(Validate(identity).ok(), Validate(identity).ToString());
  identity.extra = Json{{"metadata", nested(kMaxMetaDepth + 1)}};
  const Status s = Validate(identity);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("field 'metadata.n.n") != std::string::npos, s.message());
  BOOST_TEST(s.message().find("'g1'") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(empty_extra_compares_equal_whether_null_or_empty_object) {
  Identity a = Geoid();
  Identity b = Geoid();
  b.extra = Json::object();
  BOOST_TEST((a == b));
  b.extra["content"] = "c";
  BOOST_TEST(!(a == b));
  a.extra["content"] = "c";
  BOOST_TEST((a == b));
  a.extra["content"] = "d";
  BOOST_TEST(!(a == b));
}

BOOST_AUTO_TEST_CASE(utf8_validation_follows_the_standard) {
  BOOST_TEST(IsValidUtf8(""));
  BOOST_TEST(IsValidUtf8("plain ascii that is longer than eight bytes"));
  BOOST_TEST(IsValidUtf8("\xC3\xA9\xE6\x9D\xB1\xF0\x9F\x99\x82"));
  BOOST_TEST(IsValidUtf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF
  BOOST_TEST(!IsValidUtf8("\xC0\xAF"));                 // overlong '/'
  BOOST_TEST(!IsValidUtf8("\xE0\x80\xAF"));             // overlong
  BOOST_TEST(!IsValidUtf8("\xED\xA0\x80"));             // surrogate
  BOOST_TEST(!IsValidUtf8("\xF4\x90\x80\x80"));         // above U+10FFFF
  BOOST_TEST(!IsValidUtf8("abcdefgh\xE6\x9D"));         // truncated at the end
  BOOST_TEST(!IsValidUtf8("\x80"));                     // lone continuation
  BOOST_TEST(!IsValidUtf8(std::string("abc\xFF", 4)));  // never valid
}

BOOST_AUTO_TEST_CASE(display_id_escapes_and_truncates) {
  BOOST_TEST(DisplayId("abc") == "abc");
  BOOST_TEST(DisplayId("é\x01\xFF") == "é\\x01\\xff");
  BOOST_TEST(DisplayId(std::string(100, 'x')) == std::string(64, 'x') + "...");
}

BOOST_AUTO_TEST_CASE(scale_weights_scales_weight_and_numeric_intensities) {
  Identity identity = WithTerms(Json::parse(
      R"([{"intensity": 2}, {"intensity": 1.5}, {"intensity": true}, "x", {}, {"intensity": false},
          {"intensity": "3"}])"));
  identity.weight = 4.0;
  ScaleWeights(&identity, 0.5);
  BOOST_TEST(identity.weight == 2.0);
  const Json& terms = identity.meta["terms"];
  BOOST_TEST(terms[0]["intensity"].get<double>() == 1.0);
  BOOST_TEST(terms[1]["intensity"].get<double>() == 0.75);
  // Python's True * 0.5 and False * 0.5.
  BOOST_TEST(terms[2]["intensity"].is_number_float());
  BOOST_TEST(terms[2]["intensity"].get<double>() == 0.5);
  BOOST_TEST(terms[3] == Json("x"));
  BOOST_TEST(terms[4] == Json::object());
  BOOST_TEST(terms[5]["intensity"].is_number_float());
  BOOST_TEST(terms[5]["intensity"].get<double>() == 0.0);
  BOOST_TEST(terms[6]["intensity"] == Json("3"));
}

BOOST_AUTO_TEST_CASE(scaling_equal_terms_keeps_entropy) {
  Identity identity = WithTerms(EqualTerms(8));
  ScaleWeights(&identity, 0.25);
  BOOST_TEST(Near(Entropy(identity), 3.0));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera
