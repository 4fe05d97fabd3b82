// Checks the C++ model against values computed by the reference Python
// implementation (tests/data/reference_sample.jsonl).
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "kimera/identity.h"
#include "kimera/identity_json.h"

namespace kimera {
namespace {

using Json = nlohmann::json;

std::string SamplePath() {
  constexpr const char* kName = "reference_sample.jsonl";
  if (const char* dir = std::getenv("KIMERA_TEST_DATA"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/" + kName;
  }
  // Run by hand outside meson: __FILE__ is relative to the build folder, so
  // also try the layout seen from the repository root.
  std::string here = __FILE__;
  here.erase(here.find_last_of('/') + 1);
  for (std::string candidate :
       {here + "../data/", std::string("tests/data/"), std::string("../tests/data/")}) {
    candidate += kName;
    if (std::ifstream(candidate).good()) return candidate;
  }
  return std::string("tests/data/") + kName;
}

std::vector<Json> LoadSample() {
  std::ifstream in(SamplePath());
  BOOST_REQUIRE_MESSAGE(in.good(), "cannot open " << SamplePath());
  std::vector<Json> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(Json::parse(line));
  }
  return lines;
}

const std::vector<Json>& Sample() {
  static const std::vector<Json> sample = LoadSample();
  return sample;
}

double RelativeError(double actual, double expected) {
  if (expected == 0) return std::fabs(actual);
  return std::fabs(actual - expected) / std::fabs(expected);
}

constexpr double kTolerance = 1e-12;

Identity Parse(const Json& line) {
  Identity identity;
  const Status s = IdentityFromJson(line["identity"], &identity);
  BOOST_REQUIRE_MESSAGE(s.ok(), line["note"] << ": " << s.ToString());
  return identity;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reference)

BOOST_AUTO_TEST_CASE(sample_is_not_empty) { BOOST_TEST(Sample().size() >= 60u); }

BOOST_AUTO_TEST_CASE(entropy_and_tau_match_the_reference) {
  for (const Json& line : Sample()) {
    const Identity identity = Parse(line);
    const Json& expected = line["expected"];
    const double h = Entropy(identity);
    const double tau = EffectiveTau(h);
    BOOST_TEST_CONTEXT(line["note"] << " " << identity.id) {
      BOOST_TEST(RelativeError(h, expected["entropy"].get<double>()) <= kTolerance,
                 "H=" << h << " expected " << expected["entropy"]);
      BOOST_TEST(RelativeError(tau, expected["effective_tau"].get<double>()) <= kTolerance,
                 "tau=" << tau << " expected " << expected["effective_tau"]);
    }
  }
}

BOOST_AUTO_TEST_CASE(age_and_decay_match_the_reference) {
  for (const Json& line : Sample()) {
    const Identity identity = Parse(line);
    const Json& expected = line["expected"];
    Micros now = 0;
    BOOST_REQUIRE(ParseTimestamp(expected["now"].get<std::string>(), &now).ok());
    const double age = static_cast<double>(now - identity.created_at) / 1e6;
    const double decay = DecayFactor(age, EffectiveTau(Entropy(identity)));
    BOOST_TEST_CONTEXT(line["note"] << " " << identity.id) {
      BOOST_TEST(RelativeError(age, expected["age_seconds_at_now"].get<double>()) <= kTolerance,
                 "age=" << age);
      BOOST_TEST(RelativeError(decay, expected["decay_factor_at_now"].get<double>()) <= kTolerance,
                 "decay=" << decay << " expected " << expected["decay_factor_at_now"]);
    }
  }
}

BOOST_AUTO_TEST_CASE(json_output_round_trips_every_field) {
  for (const Json& line : Sample()) {
    const Identity identity = Parse(line);
    const Json& input = line["identity"];
    BOOST_TEST_CONTEXT(line["note"] << " " << identity.id) {
      BOOST_TEST(IdentityToJson(identity) == input);
      BOOST_TEST(Json::parse(IdentityToJsonLine(identity)) == input);
      BOOST_TEST(IdentityToJson(identity)["created_at"].get<std::string>() ==
                 input["created_at"].get<std::string>());
      BOOST_TEST(IdentityToJson(identity)["updated_at"].get<std::string>() ==
                 input["updated_at"].get<std::string>());
    }
  }
}

BOOST_AUTO_TEST_CASE(exported_lines_with_computed_fields_import_unchanged) {
  for (const Json& line : Sample()) {
    const Identity identity = Parse(line);
    const double h = Entropy(identity);
    const std::string text = IdentityToJsonLine(identity, std::pair{h, EffectiveTau(h)});
    Identity back;
    BOOST_REQUIRE(IdentityFromJsonText(text, &back).ok());
    BOOST_TEST((back == identity));
    BOOST_TEST(Json::parse(text)["entropy"].get<double>() == h);
  }
}

// Boolean intensities, which the sample does not hold. The reference keeps a
// term when isinstance(x, (int, float)) and x > 0, and Python's True is the
// int 1. Expected values were computed by that rule in Python (sum in list
// order, -sum p * log2 p) and printed with repr().
BOOST_AUTO_TEST_CASE(boolean_intensities_match_the_reference) {
  struct Case {
    const char* note;
    const char* terms;
    double entropy;
    double effective_tau;
  };
  const Case cases[] = {
      {"only true, twice", R"([{"intensity": true}, {"intensity": true}])", 1.0, 1330560.0},
      {"only booleans",
       R"([{"intensity": true}, {"intensity": false}, {"intensity": true}, {"intensity": true},
           {"intensity": false}])",
       1.584962500721156, 1401317.0640872312},
      {"only false, tags present", R"([{"intensity": false}, {"intensity": false}])", 0.0,
       1209600.0},
      {"mixed true, false and numbers",
       R"([{"intensity": true}, {"intensity": 3}, {"intensity": false}, {"intensity": 0.5},
           {"intensity": "2"}, {"intensity": null}])",
       1.224394445405986, 1357702.752116308},
      {"true with zero numbers",
       R"([{"intensity": 0}, {"intensity": true}, {"intensity": 0.0}, {"intensity": -2},
           {"intensity": false}])",
       0.0, 1209600.0},
      {"two true with zero numbers",
       R"([{"intensity": true}, {"intensity": 0}, {"intensity": true}, {"intensity": 0.0}])", 1.0,
       1330560.0},
  };
  for (const Case& c : cases) {
    Json input = {{"id", "bool_terms"},
                  {"identity_type", "geoid"},
                  {"tags", {"a", "b"}},
                  {"meta", {{"terms", Json::parse(c.terms)}}}};
    Identity identity;
    const Status s = IdentityFromJson(input, &identity);
    BOOST_TEST_CONTEXT(c.note) {
      BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
      const double h = Entropy(identity);
      BOOST_TEST(RelativeError(h, c.entropy) <= kTolerance, "H=" << h << " expected " << c.entropy);
      BOOST_TEST(RelativeError(EffectiveTau(h), c.effective_tau) <= kTolerance);
      // Booleans stay booleans on the way out.
      BOOST_TEST(IdentityToJson(identity)["meta"]["terms"] == input["meta"]["terms"]);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kimera
