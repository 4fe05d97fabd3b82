#include "kimera/config_loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kimera/metrics_endpoint.h"

using kimera::KimeraConfig;
using kimera::Status;

namespace {

// Every field of a config, by a dotted name, as text: two configs are alike
// when their dumps are, and a diff names the fields a key moved.
using Dump = std::map<std::string, std::string>;

std::string F(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}
std::string B(bool v) { return v ? "true" : "false"; }

Dump DumpOf(const KimeraConfig& c) {
  const auto& s = c.storage;
  const auto& m = c.plugin.metrics;
  const auto& e = c.plugin.entropy;
  const auto& d = c.decay;
  const auto& w = c.dual_write;
  return {
      {"storage.path", c.db_path},
      {"storage.block_cache_bytes", std::to_string(s.block_cache_bytes)},
      {"storage.bloom_bits_per_key", std::to_string(s.bloom_bits_per_key)},
      {"storage.sync_writes", B(s.sync_writes)},
      {"storage.disable_wal", B(s.disable_wal)},
      {"storage.write_buffer_bytes", std::to_string(s.write_buffer_bytes)},
      {"storage.max_background_jobs", std::to_string(s.max_background_jobs)},
      {"storage.reserved_disk_bytes", std::to_string(s.reserved_disk_bytes)},
      {"storage.create_if_missing", B(s.create_if_missing)},
      {"storage.read_only", B(s.read_only)},
      {"storage.salvage", B(s.salvage)},
      {"metrics.enabled", B(m.enabled)},
      {"metrics.serve", B(m.serve)},
      {"metrics.bind_address", m.bind_address},
      {"metrics.port", std::to_string(m.port)},
      {"metrics.detailed", B(m.detailed)},
      {"metrics.basic_auth_user", m.basic_auth_user},
      {"metrics.basic_auth_password", m.basic_auth_password},
      {"entropy.base_tau_seconds", F(e.decay.base_tau_seconds)},
      {"entropy.k", F(e.decay.k)},
      {"entropy.low_entropy_below", F(e.low_entropy_below)},
      {"entropy.high_entropy_from", F(e.high_entropy_from)},
      {"entropy.change_rate_window_seconds", F(e.change_rate_window_seconds)},
      {"entropy.earliest_timestamp_seconds", std::to_string(e.earliest_timestamp_seconds)},
      {"entropy.max_future_seconds", std::to_string(e.max_future_seconds)},
      {"index.separate_path", c.plugin.index.separate_path},
      {"decay.sweep_interval_seconds", std::to_string(d.sweep_interval_seconds)},
      {"decay.verification_sample", std::to_string(d.verification_sample)},
      {"decay.chunk_size", std::to_string(d.chunk_size)},
      {"decay.sweep_duty_cycle", F(d.sweep_duty_cycle)},
      {"decay.apply_interval_seconds", std::to_string(d.apply_interval_seconds)},
      {"dual_write.enabled", B(w.enabled)},
      {"dual_write.secondary", w.secondary},
      {"dual_write.secondary_format", w.secondary_format},
      {"dual_write.mode", kimera::DualWriteModeName(w.mode)},
      {"dual_write.read_from", kimera::ReadSourceName(w.read_from)},
      {"dual_write.inline_sample_rate", F(w.inline_sample_rate)},
      {"dual_write.shadow_read_rate", F(w.shadow_read_rate)},
      {"dual_write.sweep_interval_seconds", F(w.sweep_interval_seconds)},
      {"dual_write.sweep_rate_per_second", F(w.sweep_rate_per_second)},
      {"dual_write.audit_log_max_entries", std::to_string(w.audit_log_max_entries)},
      {"dual_write.repair_retry_initial_ms", F(w.repair_retry_initial_ms)},
      {"dual_write.repair_retry_max_ms", F(w.repair_retry_max_ms)},
  };
}

// The fields whose value in `after` differs from `before`, with that value.
Dump Changed(const Dump& before, const Dump& after) {
  Dump changed;
  for (const auto& [field, value] : after) {
    if (before.at(field) != value) changed[field] = value;
  }
  return changed;
}

std::string Text(const Dump& dump) {
  std::string text;
  for (const auto& [field, value] : dump) text += field + "=" + value + "\n";
  return text;
}

// "section.key" of every `key = value` line of TOML text.
std::set<std::string> KeysIn(const std::string& toml) {
  std::set<std::string> keys;
  std::istringstream in(toml);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.starts_with('[')) {
      section = line.substr(1, line.find(']') - 1);
    } else if (const auto eq = line.find(" ="); eq != std::string::npos && !line.starts_with('#')) {
      keys.insert(section + "." + line.substr(0, eq));
    }
  }
  return keys;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A folder of config files, removed at the end of the test.
class ConfigFolder {
 public:
  ConfigFolder() {
    std::random_device rd;
    folder_ = std::filesystem::temp_directory_path() /
              ("kimera-config-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(folder_);
  }
  ~ConfigFolder() {
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }
  ConfigFolder(const ConfigFolder&) = delete;
  ConfigFolder& operator=(const ConfigFolder&) = delete;

  // Writes `text` to file `name` of the folder; returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string Path(const std::string& name) const { return (folder_ / name).string(); }

 private:
  std::filesystem::path folder_;
};

// Clears the variables the loader reads for the test and puts back what the
// process had afterwards.
class ScopedEnvironment {
 public:
  static constexpr std::array<const char*, 5> kNames = {
      "KIMERA_METRICS_ENABLED", "KIMERA_METRICS_PORT", "KIMERA_METRICS_DETAILED",
      "KIMERA_ID_DUAL_WRITE", "KIMERA_CONFIG"};

  ScopedEnvironment() {
    for (const char* name : kNames) {
      const char* v = std::getenv(name);
      saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
      ::unsetenv(name);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

  void Set(const char* name, const std::string& value) const { ::setenv(name, value.c_str(), 1); }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

KimeraConfig MustParse(const std::string& text) {
  KimeraConfig config;
  const Status s = kimera::ParseConfig(text, "test.toml", &config);
  BOOST_REQUIRE_MESSAGE(s.ok(), text << " -> " << s.ToString());
  return config;
}

// One key set away from its default and the fields it must move.
struct KeyCase {
  std::string toml;
  Dump changed;
};

const std::vector<KeyCase>& EveryKey() {
  static const std::vector<KeyCase> cases = {
      {"[storage]\npath = \"/srv/kimera\"", {{"storage.path", "/srv/kimera"}}},
      {"[storage]\nblock_cache_mb = 3", {{"storage.block_cache_bytes", "3145728"}}},
      {"[storage]\nbloom_bits_per_key = 0", {{"storage.bloom_bits_per_key", "0"}}},
      {"[storage]\nsync_writes = true", {{"storage.sync_writes", "true"}}},
      {"[storage]\ndisable_wal = true", {{"storage.disable_wal", "true"}}},
      {"[storage]\nwrite_buffer_mb = 1", {{"storage.write_buffer_bytes", "1048576"}}},
      {"[storage]\nmax_background_jobs = 64", {{"storage.max_background_jobs", "64"}}},
      {"[storage]\nreserved_disk_mb = 0", {{"storage.reserved_disk_bytes", "0"}}},
      {"[metrics]\nenabled = false", {{"metrics.enabled", "false"}}},
      {"[metrics]\nbind_address = \"0.0.0.0\"", {{"metrics.bind_address", "0.0.0.0"}}},
      {"[metrics]\nport = 0", {{"metrics.port", "0"}}},
      {"[metrics]\ndetailed = true", {{"metrics.detailed", "true"}}},
      {"[metrics]\nbasic_auth_user = \"scraper\"\nbasic_auth_password = \"s3cret\"",
       {{"metrics.basic_auth_user", "scraper"}, {"metrics.basic_auth_password", "s3cret"}}},
      {"[entropy]\nbase_tau_seconds = 60.0", {{"entropy.base_tau_seconds", F(60)}}},
      {"[entropy]\nk = 0.25", {{"entropy.k", F(0.25)}}},
      {"[entropy]\nlow_entropy_below = 0.5", {{"entropy.low_entropy_below", F(0.5)}}},
      {"[entropy]\nhigh_entropy_from = 4.5", {{"entropy.high_entropy_from", F(4.5)}}},
      {"[entropy]\nchange_rate_window_seconds = 3600.0",
       {{"entropy.change_rate_window_seconds", F(3600)}}},
      {"[entropy]\nearliest_timestamp_seconds = -100",
       {{"entropy.earliest_timestamp_seconds", "-100"}}},
      {"[entropy]\nmax_future_seconds = 10", {{"entropy.max_future_seconds", "10"}}},
      {"[index]\nseparate_path = \"/srv/index\"", {{"index.separate_path", "/srv/index"}}},
      {"[decay]\nsweep_interval_seconds = 0", {{"decay.sweep_interval_seconds", "0"}}},
      {"[decay]\nverification_sample = 7", {{"decay.verification_sample", "7"}}},
      {"[decay]\nchunk_size = 16777216", {{"decay.chunk_size", "16777216"}}},
      {"[decay]\napply_interval_seconds = 3600", {{"decay.apply_interval_seconds", "3600"}}},
      {"[decay]\nsweep_duty_cycle = 1.0", {{"decay.sweep_duty_cycle", F(1)}}},
      {"[dual_write]\nenabled = true", {{"dual_write.enabled", "true"}}},
      {"[dual_write]\nsecondary = \"/srv/second\"", {{"dual_write.secondary", "/srv/second"}}},
      {"[dual_write]\nsecondary_format = \"current\"",
       {{"dual_write.secondary_format", "current"}}},
      {"[dual_write]\nmode = \"best_effort\"",
       {{"dual_write.mode", kimera::DualWriteModeName(kimera::DualWriteMode::kBestEffort)}}},
      {"[dual_write]\nread_from = \"secondary\"",
       {{"dual_write.read_from", kimera::ReadSourceName(kimera::ReadSource::kSecondary)}}},
      {"[dual_write]\ninline_sample_rate = 0.25", {{"dual_write.inline_sample_rate", F(0.25)}}},
      {"[dual_write]\nshadow_read_rate = 1.0", {{"dual_write.shadow_read_rate", F(1)}}},
      {"[dual_write]\nsweep_interval_seconds = 30.5",
       {{"dual_write.sweep_interval_seconds", F(30.5)}}},
      {"[dual_write]\nsweep_rate_per_second = 0.0", {{"dual_write.sweep_rate_per_second", F(0)}}},
      {"[dual_write]\naudit_log_max_entries = 5", {{"dual_write.audit_log_max_entries", "5"}}},
      {"[dual_write]\nrepair_retry_initial_ms = 1.0",
       {{"dual_write.repair_retry_initial_ms", F(1)}}},
      {"[dual_write]\nrepair_retry_max_ms = 1000.0", {{"dual_write.repair_retry_max_ms", F(1000)}}},
  };
  return cases;
}

// A text that must be refused, the key (or section) its error names and the
// reason it gives.
struct BadCase {
  std::string toml;
  std::string names;
  std::string reason;
};

void CheckRefused(const BadCase& c) {
  BOOST_TEST_CONTEXT(c.toml) {
    KimeraConfig config;
    config.db_path = "untouched";
    const Status s = kimera::ParseConfig(c.toml, "bad.toml", &config);
    BOOST_TEST(s.IsInvalidArgument(), s.ToString());
    BOOST_TEST(s.message().starts_with("bad.toml: "), s.message());
    BOOST_TEST(s.message().find(c.names) != std::string::npos, s.message());
    BOOST_TEST(s.message().find(c.reason) != std::string::npos, s.message());
    BOOST_TEST(config.db_path == "untouched");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_loader)

BOOST_AUTO_TEST_CASE(empty_text_gives_every_default) {
  const KimeraConfig config = MustParse("");
  BOOST_TEST(config.source == "test.toml");
  Dump expected = DumpOf(KimeraConfig{});
  BOOST_TEST(Text(Changed(expected, DumpOf(config))) == "");
  // The documented defaults themselves, not only the struct's.
  BOOST_TEST(config.db_path == "./kimera-data");
  BOOST_TEST(config.plugin.metrics.port == 8080);
  BOOST_TEST(config.plugin.metrics.bind_address == "127.0.0.1");
  BOOST_TEST(config.dual_write.secondary == "legacy");
  BOOST_TEST(config.storage.block_cache_bytes == std::size_t{256} << 20);
}

BOOST_AUTO_TEST_CASE(empty_sections_give_every_default) {
  const KimeraConfig config =
      MustParse("[storage]\n[metrics]\n[entropy]\n[index]\n[decay]\n[dual_write]\n");
  BOOST_TEST(Text(Changed(DumpOf(KimeraConfig{}), DumpOf(config))) == "");
}

BOOST_AUTO_TEST_CASE(each_key_sets_its_field_and_no_other) {
  const Dump defaults = DumpOf(KimeraConfig{});
  for (const KeyCase& c : EveryKey()) {
    BOOST_TEST_CONTEXT(c.toml) {
      const Dump changed = Changed(defaults, DumpOf(MustParse(c.toml)));
      BOOST_TEST((changed == c.changed), "changed:\n" << Text(changed));
    }
  }
}

BOOST_AUTO_TEST_CASE(all_keys_together_set_all_fields) {
  std::map<std::string, std::string> sections;
  Dump expected = DumpOf(KimeraConfig{});
  for (const KeyCase& c : EveryKey()) {
    const auto eol = c.toml.find('\n');
    sections[c.toml.substr(0, eol)] += c.toml.substr(eol + 1) + "\n";
    for (const auto& [field, value] : c.changed) expected[field] = value;
  }
  std::string text;
  for (const auto& [header, keys] : sections) text += header + "\n" + keys;
  const Dump parsed = DumpOf(MustParse(text));
  BOOST_TEST((parsed == expected), "differs:\n" << Text(Changed(expected, parsed)));
}

BOOST_AUTO_TEST_CASE(kimera_toml_lists_every_key_at_its_default) {
  const char* root = std::getenv("KIMERA_SOURCE_ROOT");
  BOOST_REQUIRE_MESSAGE(root != nullptr, "KIMERA_SOURCE_ROOT is not set");
  const std::string text = ReadText(std::string(root) + "/kimera.toml");
  BOOST_TEST(Text(Changed(DumpOf(KimeraConfig{}), DumpOf(MustParse(text)))) == "");

  std::set<std::string> known;
  for (const KeyCase& c : EveryKey()) known.merge(KeysIn(c.toml));
  const std::set<std::string> listed = KeysIn(text);
  BOOST_TEST(listed == known);
}

BOOST_AUTO_TEST_CASE(integers_are_taken_where_a_number_is_expected) {
  const KimeraConfig config = MustParse("[entropy]\nk = 2\nbase_tau_seconds = 100\n");
  BOOST_TEST(config.plugin.entropy.decay.k == 2.0);
  BOOST_TEST(config.plugin.entropy.decay.base_tau_seconds == 100.0);
}

BOOST_AUTO_TEST_CASE(range_bounds_are_inclusive) {
  const KimeraConfig low = MustParse(
      "[metrics]\nport = 0\n[storage]\nmax_background_jobs = 1\n"
      "[decay]\nchunk_size = 1\nsweep_duty_cycle = 0.01\n"
      "[dual_write]\ninline_sample_rate = 0.0\naudit_log_max_entries = 1\n");
  BOOST_TEST(low.plugin.metrics.port == 0);
  BOOST_TEST(low.storage.max_background_jobs == 1);
  BOOST_TEST(low.decay.chunk_size == 1u);
  BOOST_TEST(low.decay.sweep_duty_cycle == 0.01);
  BOOST_TEST(low.dual_write.audit_log_max_entries == 1u);
  const KimeraConfig high = MustParse(
      "[metrics]\nport = 65535\n[storage]\nbloom_bits_per_key = 64\n"
      "[dual_write]\ninline_sample_rate = 1.0\n");
  BOOST_TEST(high.plugin.metrics.port == 65535);
  BOOST_TEST(high.storage.bloom_bits_per_key == 64);
  BOOST_TEST(high.dual_write.inline_sample_rate == 1.0);
}

BOOST_AUTO_TEST_CASE(ipv6_bind_address_follows_server_support) {
  KimeraConfig config;
  const Status s = kimera::ParseConfig("[metrics]\nbind_address = \"::1\"", "v6.toml", &config);
  if (kimera::MetricsEndpoint::SupportsIpv6()) {
    BOOST_TEST(s.ok(), s.ToString());
    BOOST_TEST(config.plugin.metrics.bind_address == "::1");
  } else {
    BOOST_TEST(s.IsInvalidArgument());
    BOOST_TEST(s.message().find("metrics.bind_address") != std::string::npos, s.message());
  }
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_sections_are_refused_by_name) {
  for (const BadCase& c : std::vector<BadCase>{
           {"[storage]\nbogus = 1", "'storage.bogus'", "not a known setting"},
           {"[index]\npath = \"x\"", "'index.path'", "not a known setting"},
           {"[dual_write]\nenable = true", "'dual_write.enable'", "not a known setting"},
           {"[nosuch]\nkey = 1", "'nosuch'", "not a known setting"},
           {"port = 8080", "'port'", "not a known setting"},
           {"storage = 1", "'storage'", "must be a table"},
       }) {
    CheckRefused(c);
  }
}

BOOST_AUTO_TEST_CASE(wrong_types_are_refused_naming_the_key) {
  for (const BadCase& c : std::vector<BadCase>{
           {"[metrics]\nport = \"8080\"", "'metrics.port'", "must be an integer"},
           {"[metrics]\nport = 80.5", "'metrics.port'", "must be an integer"},
           {"[metrics]\nenabled = 1", "'metrics.enabled'", "must be true or false"},
           {"[storage]\nsync_writes = \"yes\"", "'storage.sync_writes'", "must be true or false"},
           {"[storage]\npath = 5", "'storage.path'", "must be a string"},
           {"[entropy]\nk = \"0.1\"", "'entropy.k'", "must be a number"},
           {"[decay]\nchunk_size = 10.0", "'decay.chunk_size'", "must be an integer"},
           {"[dual_write]\nmode = 1", "'dual_write.mode'", "must be a string"},
           {"[dual_write]\nsweep_rate_per_second = true", "'dual_write.sweep_rate_per_second'",
            "must be a number"},
       }) {
    CheckRefused(c);
  }
}

BOOST_AUTO_TEST_CASE(values_out_of_range_are_refused_with_range_and_value) {
  for (const BadCase& c : std::vector<BadCase>{
           {"[metrics]\nport = 65536", "'metrics.port'", "0..65535 (got 65536)"},
           {"[metrics]\nport = -1", "'metrics.port'", "(got -1)"},
           {"[storage]\nbloom_bits_per_key = 65", "'storage.bloom_bits_per_key'", "0..64"},
           {"[storage]\nmax_background_jobs = 0", "'storage.max_background_jobs'", "1..64"},
           {"[storage]\nblock_cache_mb = -1", "'storage.block_cache_mb'", "(got -1)"},
           {"[entropy]\nk = -0.5", "'entropy.k'", "(got -0.5)"},
           {"[entropy]\nk = nan", "'entropy.k'", "must be in"},
           {"[entropy]\nbase_tau_seconds = 0.0", "'entropy.base_tau_seconds'", "(got 0)"},
           {"[entropy]\nchange_rate_window_seconds = 3601.0",
            "'entropy.change_rate_window_seconds'", "(got 3601)"},
           {"[entropy]\nmax_future_seconds = -1", "'entropy.max_future_seconds'", "(got -1)"},
           {"[decay]\nchunk_size = 0", "'decay.chunk_size'", "(got 0)"},
           {"[decay]\nchunk_size = 16777217", "'decay.chunk_size'", "(got 16777217)"},
           {"[decay]\nsweep_duty_cycle = 0.0", "'decay.sweep_duty_cycle'", "(got 0)"},
           {"[dual_write]\ninline_sample_rate = 1.5", "'dual_write.inline_sample_rate'",
            "(got 1.5)"},
           {"[dual_write]\nshadow_read_rate = inf", "'dual_write.shadow_read_rate'", "must be in"},
           {"[dual_write]\naudit_log_max_entries = 0", "'dual_write.audit_log_max_entries'",
            "(got 0)"},
           {"[dual_write]\nrepair_retry_initial_ms = 0.5", "'dual_write.repair_retry_initial_ms'",
            "(got 0.5)"},
       }) {
    CheckRefused(c);
  }
}

BOOST_AUTO_TEST_CASE(impossible_values_are_refused_with_the_reason) {
  for (const BadCase& c : std::vector<BadCase>{
           {"[entropy]\nlow_entropy_below = 5.0", "'entropy.low_entropy_below'",
            "'entropy.high_entropy_from'"},
           {"[dual_write]\nmode = \"lazy\"", "'dual_write.mode'", "(got \"lazy\")"},
           {"[dual_write]\nread_from = \"tertiary\"", "'dual_write.read_from'",
            "(got \"tertiary\")"},
           {"[dual_write]\nsecondary_format = \"parquet\"", "'dual_write.secondary_format'",
            "(got \"parquet\")"},
           {"[dual_write]\nsecondary = \"\"", "'dual_write.secondary'", "not empty"},
           {"[metrics]\nbind_address = \"localhost\"", "'metrics.bind_address'", "localhost"},
           {"[metrics]\nbasic_auth_user = \"scraper\"", "'metrics.basic_auth_password'",
            "not empty"},
           {"[metrics]\nbasic_auth_password = \"s3cret\"", "'metrics.basic_auth_password'",
            "without 'metrics.basic_auth_user'"},
           {"[metrics]\nbasic_auth_user = \"a:b\"\nbasic_auth_password = \"p\"",
            "'metrics.basic_auth_user'", "':'"},
       }) {
    CheckRefused(c);
  }
}

BOOST_AUTO_TEST_CASE(syntax_error_names_file_line_and_column) {
  KimeraConfig config;
  const Status s =
      kimera::ParseConfig("[storage]\nsync_writes = true\npath = \"open\n", "broken.toml", &config);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().starts_with("broken.toml:3:"), s.message());
}

BOOST_AUTO_TEST_CASE(parse_ignores_the_environment) {
  ScopedEnvironment env;
  env.Set("KIMERA_METRICS_PORT", "9100");
  env.Set("KIMERA_ID_DUAL_WRITE", "1");
  const KimeraConfig config = MustParse("");
  BOOST_TEST(config.plugin.metrics.port == 8080);
  BOOST_TEST(!config.dual_write.enabled);
}

BOOST_AUTO_TEST_CASE(load_without_path_or_variable_gives_defaults) {
  ScopedEnvironment env;
  KimeraConfig config;
  config.db_path = "stale";
  const Status s = kimera::LoadConfig("", &config);
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(config.source == "(defaults)");
  BOOST_TEST(Text(Changed(DumpOf(KimeraConfig{}), DumpOf(config))) == "");
}

BOOST_AUTO_TEST_CASE(load_reads_the_file_and_names_it_as_source) {
  ScopedEnvironment env;
  ConfigFolder folder;
  const std::string path =
      folder.Write("kimera.toml", "[storage]\npath = \"/srv/db\"\n[metrics]\nport = 9200\n");
  KimeraConfig config;
  BOOST_REQUIRE(kimera::LoadConfig(path, &config).ok());
  BOOST_TEST(config.source == path);
  BOOST_TEST(config.db_path == "/srv/db");
  BOOST_TEST(config.plugin.metrics.port == 9200);
}

BOOST_AUTO_TEST_CASE(load_error_names_the_file_and_the_key) {
  ScopedEnvironment env;
  ConfigFolder folder;
  const std::string path = folder.Write("bad.toml", "[metrics]\nport = 70000\n");
  KimeraConfig config;
  const Status s = kimera::LoadConfig(path, &config);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().starts_with(path + ": "), s.message());
  BOOST_TEST(s.message().find("'metrics.port'") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(missing_file_and_folder_are_refused_by_name) {
  ScopedEnvironment env;
  ConfigFolder folder;
  for (const std::string& path : {folder.Path("absent.toml"), folder.Path("")}) {
    BOOST_TEST_CONTEXT(path) {
      KimeraConfig config;
      const Status s = kimera::LoadConfig(path, &config);
      BOOST_TEST(s.IsInvalidArgument());
      BOOST_TEST(s.message().find(path) != std::string::npos, s.message());
      BOOST_TEST(s.message().find("cannot read config file") != std::string::npos, s.message());
    }
  }
}

BOOST_AUTO_TEST_CASE(unreadable_file_is_refused_by_name) {
  if (::geteuid() == 0) {
    BOOST_TEST_MESSAGE("skipped: root reads any file");
    return;
  }
  ScopedEnvironment env;
  ConfigFolder folder;
  const std::string path = folder.Write("secret.toml", "[metrics]\nport = 1\n");
  BOOST_REQUIRE(::chmod(path.c_str(), 0) == 0);
  KimeraConfig config;
  const Status s = kimera::LoadConfig(path, &config);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find(path) != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(kimera_config_names_the_file_only_when_no_path_is_given) {
  ScopedEnvironment env;
  ConfigFolder folder;
  const std::string from_env = folder.Write("env.toml", "[metrics]\nport = 1111\n");
  const std::string given = folder.Write("given.toml", "[metrics]\nport = 2222\n");
  env.Set("KIMERA_CONFIG", from_env);
  KimeraConfig config;
  BOOST_REQUIRE(kimera::LoadConfig("", &config).ok());
  BOOST_TEST(config.source == from_env);
  BOOST_TEST(config.plugin.metrics.port == 1111);
  BOOST_REQUIRE(kimera::LoadConfig(given, &config).ok());
  BOOST_TEST(config.source == given);
  BOOST_TEST(config.plugin.metrics.port == 2222);

  env.Set("KIMERA_CONFIG", folder.Path("absent.toml"));
  const Status s = kimera::LoadConfig("", &config);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find(folder.Path("absent.toml")) != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(environment_overrides_the_file) {
  ScopedEnvironment env;
  ConfigFolder folder;
  const std::string path = folder.Write(
      "kimera.toml",
      "[metrics]\nenabled = true\nport = 1234\ndetailed = false\n[dual_write]\nenabled = false\n");
  env.Set("KIMERA_METRICS_ENABLED", "0");
  env.Set("KIMERA_METRICS_PORT", "9100");
  env.Set("KIMERA_METRICS_DETAILED", "1");
  env.Set("KIMERA_ID_DUAL_WRITE", "1");
  KimeraConfig config;
  BOOST_REQUIRE(kimera::LoadConfig(path, &config).ok());
  BOOST_TEST(!config.plugin.metrics.enabled);
  BOOST_TEST(config.plugin.metrics.port == 9100);
  BOOST_TEST(config.plugin.metrics.detailed);
  BOOST_TEST(config.dual_write.enabled);

  env.Set("KIMERA_METRICS_ENABLED", "1");
  env.Set("KIMERA_METRICS_PORT", "0");
  env.Set("KIMERA_METRICS_DETAILED", "0");
  env.Set("KIMERA_ID_DUAL_WRITE", "0");
  BOOST_REQUIRE(kimera::ApplyEnvironment(&config).ok());
  BOOST_TEST(config.plugin.metrics.enabled);
  BOOST_TEST(config.plugin.metrics.port == 0);
  BOOST_TEST(!config.plugin.metrics.detailed);
  BOOST_TEST(!config.dual_write.enabled);
}

BOOST_AUTO_TEST_CASE(unset_environment_changes_nothing) {
  ScopedEnvironment env;
  KimeraConfig config = MustParse("[metrics]\nport = 4321\ndetailed = true\n");
  const Dump before = DumpOf(config);
  BOOST_REQUIRE(kimera::ApplyEnvironment(&config).ok());
  BOOST_TEST(Text(Changed(before, DumpOf(config))) == "");
}

BOOST_AUTO_TEST_CASE(bad_environment_value_is_refused_naming_the_variable) {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"KIMERA_METRICS_ENABLED", "yes"}, {"KIMERA_METRICS_DETAILED", "2"},
      {"KIMERA_ID_DUAL_WRITE", "on"},    {"KIMERA_METRICS_PORT", "abc"},
      {"KIMERA_METRICS_PORT", "70000"},  {"KIMERA_METRICS_PORT", "-1"},
      {"KIMERA_METRICS_PORT", ""},       {"KIMERA_METRICS_PORT", "80x"},
  };
  for (const auto& [name, value] : cases) {
    BOOST_TEST_CONTEXT(name << "=" << value) {
      ScopedEnvironment env;
      env.Set(name, value);
      KimeraConfig config;
      const Status applied = kimera::ApplyEnvironment(&config);
      BOOST_TEST(applied.IsInvalidArgument());
      BOOST_TEST(applied.message().find(name) != std::string::npos, applied.message());
      const Status loaded = kimera::LoadConfig("", &config);
      BOOST_TEST(loaded.IsInvalidArgument());
      BOOST_TEST(loaded.message().find(name) != std::string::npos, loaded.message());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
